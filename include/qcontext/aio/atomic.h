/*
 * aio/atomic.h - memory-ordering helpers with QEMU's names.
 *
 * Two uses: (1) ordered atomics on shared variables between threads of this
 * process; (2) standalone fences for memory shared with another party that
 * does not use C11 atomics on the same objects, such as a split virtqueue in
 * guest memory: the guest writes a descriptor, then (after its own write
 * barrier) the avail index; the device reads the avail index, then (after
 * smp_rmb()) the descriptor.
 *
 * The rule of the house: every ordered atomic and every fence names, in a
 * comment beside it, the barrier or ordered access it pairs with ("pairs with
 * the smp_wmb() in vring_push()").  A fence with no pair orders nothing.
 *
 * ThreadSanitizer does not model standalone fences: where one ordered
 * access suffices (publish an index with qatomic_store_release(), read it
 * with qatomic_load_acquire()), prefer it to a relaxed access plus a fence,
 * so that TSan sees the happens-before edge too.
 *
 * qatomic_read()/qatomic_set() are relaxed accesses: they keep the compiler
 * from tearing or caching a value that another thread (or the guest) changes,
 * and order nothing.  Use them for every access to shared memory that is not
 * otherwise ordered, including fields of guest-visible rings.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_AIO_ATOMIC_H
#define QCONTEXT_AIO_ATOMIC_H

/** barrier: compiler barrier; no CPU ordering. */
#define barrier() __asm__ __volatile__("" ::: "memory")

/**
 * smp_mb: full fence.  Orders every earlier load and store before every
 * later one, including store -> load (the case acquire/release cannot do:
 * "publish my flag, then read yours", as in the notify_me protocol or the
 * virtqueue's used_event/avail_event handshake).
 */
#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/**
 * smp_rmb: read fence.  Earlier loads happen before later loads (e.g. read
 * avail->idx, smp_rmb(), then read the ring entries it covers).
 */
#define smp_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/**
 * smp_wmb: write fence.  Earlier stores are visible before later stores
 * (e.g. fill the used ring entry, smp_wmb(), then publish used->idx).
 */
#define smp_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/** qatomic_read: relaxed atomic load of *@ptr. */
#define qatomic_read(ptr) __atomic_load_n(ptr, __ATOMIC_RELAXED)

/** qatomic_set: relaxed atomic store of @val to *@ptr. */
#define qatomic_set(ptr, val) __atomic_store_n(ptr, val, __ATOMIC_RELAXED)

/**
 * qatomic_load_acquire: load *@ptr; later loads and stores of this thread
 * happen after it.  Pairs with a qatomic_store_release() (or a smp_wmb()
 * before a plain store) on the same location.
 */
#define qatomic_load_acquire(ptr) __atomic_load_n(ptr, __ATOMIC_ACQUIRE)

/**
 * qatomic_store_release: store @val to *@ptr; earlier loads and stores of
 * this thread happen before it.  Pairs with a qatomic_load_acquire() (or a
 * plain load followed by smp_rmb()) on the same location.
 */
#define qatomic_store_release(ptr, val) __atomic_store_n(ptr, val, __ATOMIC_RELEASE)

/** qatomic_xchg: atomically store @val to *@ptr, return the old value; full fence. */
#define qatomic_xchg(ptr, val) __atomic_exchange_n(ptr, val, __ATOMIC_SEQ_CST)

/**
 * qatomic_cmpxchg: if *@ptr == @old, store @new; return the value *@ptr had
 * (== @old on success).  Full fence.
 */
#define qatomic_cmpxchg(ptr, old, new)                                                 \
    ({                                                                                 \
        __typeof__(*(ptr)) qatomic_old_ = (old);                                       \
        (void)__atomic_compare_exchange_n(ptr, &qatomic_old_, new, false,              \
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);         \
        qatomic_old_;                                                                  \
    })

/** qatomic_fetch_add: add @n to *@ptr, return the old value; full fence. */
#define qatomic_fetch_add(ptr, n) __atomic_fetch_add(ptr, n, __ATOMIC_SEQ_CST)

/** qatomic_fetch_sub: subtract @n from *@ptr, return the old value; full fence. */
#define qatomic_fetch_sub(ptr, n) __atomic_fetch_sub(ptr, n, __ATOMIC_SEQ_CST)

/** qatomic_inc: *@ptr += 1; full fence. */
#define qatomic_inc(ptr) ((void)__atomic_fetch_add(ptr, 1, __ATOMIC_SEQ_CST))

/** qatomic_dec: *@ptr -= 1; full fence. */
#define qatomic_dec(ptr) ((void)__atomic_fetch_sub(ptr, 1, __ATOMIC_SEQ_CST))

/**
 * qatomic_add_relaxed: *@ptr += @n with no ordering (statistics counters
 * read by other threads).
 */
#define qatomic_add_relaxed(ptr, n) ((void)__atomic_fetch_add(ptr, n, __ATOMIC_RELAXED))

#endif /* QCONTEXT_AIO_ATOMIC_H */
