/*
 * aio/bh.c - bottom halves: the lock-free BH list, the BH state machine,
 * the rounds (slices) aio_bh_poll() runs, and the per-thread free lists of
 * oneshot BH memory.
 *
 * The state machine is described with a diagram in docs/aio.md ("Bottom
 * halves"); the comments here name the barrier each barrier pairs with.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include <glib.h>

#include "qcontext/aio/aio.h"
#include "aio-internal.h"

/* ------------------------------------------------------------------------ */
/* Bottom halves (see docs/aio.md, "Bottom halves")                          */
/* ------------------------------------------------------------------------ */

enum {
    BH_PENDING = 1,   /* in ctx->bh_list or in a slice being run */
    BH_SCHEDULED = 2, /* run the callback when dequeued */
    BH_DELETED = 4,   /* free when dequeued */
    BH_ONESHOT = 8,   /* free after running */
    BH_IDLE = 16,     /* scheduled without notify; not progress */
};

struct QEMUBH {
    QEMUBH *next; /* ctx->bh_list or a slice; a free list once freed (first:
                   * the only field left unpoisoned there under ASan) */
    AioContext *ctx;
    QEMUBHFunc *cb;
    void *opaque;
    unsigned flags; /* atomic */
    bool oneshot;   /* freed after it ran, to a thread's free list */
};

/* A round of BHs taken from ctx->bh_list, in scheduling order. */
struct AioBHSlice {
    QEMUBH *head;
    AioBHSlice *next; /* newer slice (nested aio_poll) */
};

/* ------------------------------------------------------------------------ */
/* Oneshot BH memory: a free list per thread                                 */
/* ------------------------------------------------------------------------ */

/*
 * A oneshot BH is allocated by the thread that schedules it and freed by
 * the target's home thread once it ran.  Freed oneshots go on the freeing
 * thread's own free list, which that thread's next aio_bh_schedule_oneshot()
 * takes from: in a ping-pong between two loops each thread frees what the
 * other sent and reuses it for its reply, so a hop allocates nothing and no
 * atomic or cache line is shared for the memory.  (A thread that only
 * sends allocates, one that only receives keeps at most BH_FREE_MAX.)  The
 * list is freed when its thread exits.  Under AddressSanitizer a BH on a
 * free list is poisoned but for its link, so that a use after free is
 * still caught.
 */
#define BH_FREE_MAX 64

#ifdef AIO_ASAN
#include <sanitizer/asan_interface.h>
#define BH_POISON(bh)                                                                  \
    ASAN_POISON_MEMORY_REGION((char *)(bh) + sizeof(QEMUBH *),                         \
                              sizeof(QEMUBH) - sizeof(QEMUBH *))
#define BH_UNPOISON(bh) ASAN_UNPOISON_MEMORY_REGION(bh, sizeof(QEMUBH))
#else
#define BH_POISON(bh) ((void)(bh))
#define BH_UNPOISON(bh) ((void)(bh))
#endif

typedef struct {
    QEMUBH *head;
    unsigned len;
    bool armed; /* the thread-exit destructor is set */
} BHFreeList;

static pthread_key_t bh_free_key;
static pthread_once_t bh_free_once = PTHREAD_ONCE_INIT;
static __thread BHFreeList bh_free;

static void bh_free_thread_exit(void *opaque)
{
    BHFreeList *l = opaque;

    while (l->head) {
        QEMUBH *bh = l->head;

        l->head = bh->next;
        BH_UNPOISON(bh);
        g_free(bh);
    }
    l->len = 0;
    l->armed = false; /* a later free on this thread (another destructor) re-arms */
}

static void bh_free_key_init(void)
{
    if (pthread_key_create(&bh_free_key, bh_free_thread_exit) != 0) {
        g_error("aio: cannot create the BH free-list key");
    }
}

/* Memory for a oneshot BH: the calling thread's free list, else malloc. */
static QEMUBH *bh_mem_take(void)
{
    QEMUBH *bh = bh_free.head;

    if (bh) {
        bh_free.head = bh->next;
        bh_free.len--;
        BH_UNPOISON(bh);
        return bh;
    }
    return g_new(QEMUBH, 1);
}

/* A oneshot BH's memory goes on the calling thread's free list. */
static void bh_mem_put(QEMUBH *bh)
{
    if (bh_free.len >= BH_FREE_MAX) {
        g_free(bh);
        return;
    }
    if (G_UNLIKELY(!bh_free.armed)) {
        /* A non-NULL value makes the destructor run at thread exit. */
        pthread_once(&bh_free_once, bh_free_key_init);
        pthread_setspecific(bh_free_key, &bh_free);
        bh_free.armed = true;
    }
    bh->next = bh_free.head;
    BH_POISON(bh);
    bh_free.head = bh;
    bh_free.len++;
}

/* A BH with its fields set.  A oneshot is not in bh_count: it belongs to
 * the context, which frees it if it never ran. */
static QEMUBH *aio_bh_alloc(AioContext *ctx, QEMUBHFunc *cb, void *opaque, bool oneshot)
{
    QEMUBH *bh;

    bh = oneshot ? bh_mem_take() : g_new(QEMUBH, 1);
    bh->ctx = ctx;
    bh->cb = cb;
    bh->opaque = opaque;
    bh->next = NULL;
    bh->flags = 0;
    bh->oneshot = oneshot;
    if (!oneshot) {
        __atomic_fetch_add(&ctx->bh_count, 1, __ATOMIC_RELAXED);
    }
    return bh;
}

static void aio_bh_free(QEMUBH *bh)
{
    if (!bh->oneshot) {
        __atomic_fetch_sub(&bh->ctx->bh_count, 1, __ATOMIC_RELAXED);
        g_free(bh);
        return;
    }
    bh_mem_put(bh);
}

/*
 * Set @new_flags and BH_PENDING; the thread that sets BH_PENDING pushes the
 * BH on ctx->bh_list.  Lock-free, any thread.
 */
static void aio_bh_enqueue(QEMUBH *bh, unsigned new_flags, bool notify)
{
    AioContext *ctx = bh->ctx;
    unsigned old_flags;

    /*
     * Pairs with the fetch_and in aio_bh_dequeue(): the push below starts
     * only after the dequeuer has finished with bh->next.
     */
    old_flags = __atomic_fetch_or(&bh->flags, BH_PENDING | new_flags, __ATOMIC_SEQ_CST);
    if (!(old_flags & BH_PENDING)) {
        QEMUBH *head = __atomic_load_n(&ctx->bh_list, __ATOMIC_RELAXED);

        /*
         * Release, pairing with the home thread's acquire exchange in
         * aio_bh_take_list() and acquire loads in aio_bh_timeout_ns() and
         * aio_bh_reap_deleted(): bh->next and everything the callback will
         * read are visible to them.
         */
        do {
            bh->next = head;
        } while (!__atomic_compare_exchange_n(&ctx->bh_list, &head, bh, true,
                                              __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    }
    if (notify) {
        aio_notify(ctx);
    }
}

/* Pop the first BH of @slice; *flags gets its flags before they were reset. */
static QEMUBH *aio_bh_dequeue(AioBHSlice *slice, unsigned *flags)
{
    QEMUBH *bh = slice->head;

    if (!bh) {
        return NULL;
    }
    slice->head = bh->next;
    /*
     * Pairs with the fetch_or in aio_bh_enqueue(): bh->next was read above,
     * before BH_PENDING is cleared and another thread may push @bh again.
     */
    *flags = __atomic_fetch_and(&bh->flags, ~(BH_PENDING | BH_SCHEDULED | BH_IDLE),
                                __ATOMIC_SEQ_CST);
    return bh;
}

QEMUBH *aio_bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_val_if_fail(ctx != NULL && cb != NULL, NULL);
    return aio_bh_alloc(ctx, cb, opaque, false);
}

void aio_bh_schedule_oneshot(AioContext *ctx, QEMUBHFunc *cb, void *opaque)
{
    g_return_if_fail(ctx != NULL && cb != NULL);
    aio_bh_enqueue(aio_bh_alloc(ctx, cb, opaque, true), BH_SCHEDULED | BH_ONESHOT,
                   true);
}

void qemu_bh_schedule(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    aio_bh_enqueue(bh, BH_SCHEDULED, true);
}

void qemu_bh_schedule_idle(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    /*
     * The home thread computes its next timeout after this and sees the
     * idle BH (10 ms cap).  Another thread cannot change the timeout of a
     * poller that is already asleep, so it notifies (cheap unless the
     * poller sleeps) to keep the 10 ms promise.
     */
    aio_bh_enqueue(bh, BH_SCHEDULED | BH_IDLE, !aio_in_home_thread(bh->ctx));
}

void qemu_bh_cancel(QEMUBH *bh)
{
    g_return_if_fail(bh != NULL);
    /* The BH stays queued if pending; the dequeuer skips it. */
    __atomic_fetch_and(&bh->flags, ~BH_SCHEDULED, __ATOMIC_RELAXED);
}

void qemu_bh_delete(QEMUBH *bh)
{
    if (!bh) {
        return;
    }
    /* Freed by the home thread when dequeued: never while being walked. */
    __atomic_fetch_and(&bh->flags, ~BH_SCHEDULED, __ATOMIC_RELAXED);
    aio_bh_enqueue(bh, BH_DELETED, !aio_in_home_thread(bh->ctx));
}

/* Take ctx->bh_list as a new slice in scheduling (FIFO) order. */
static QEMUBH *aio_bh_take_list(AioContext *ctx)
{
    QEMUBH *lifo, *fifo = NULL;

    /*
     * No atomic exchange while the list is empty (most iterations): a BH
     * pushed right after this load is as one pushed right after the
     * exchange, its aio_notify() brings the loop round again.
     */
    if (!__atomic_load_n(&ctx->bh_list, __ATOMIC_RELAXED)) {
        return NULL;
    }
    /* Acquire: pairs with the release CAS in aio_bh_enqueue(). */
    lifo = __atomic_exchange_n(&ctx->bh_list, NULL, __ATOMIC_ACQUIRE);

    while (lifo) {
        QEMUBH *next = lifo->next;

        lifo->next = fifo;
        fifo = lifo;
        lifo = next;
    }
    return fifo;
}

bool aio_bh_poll(AioContext *ctx)
{
    AioBHSlice slice = {.head = aio_bh_take_list(ctx)};
    AioBHSlice *s;
    bool progress = false;
    uint64_t ran = 0;

    if (!slice.head && !ctx->bh_slice_head) {
        return false;
    }
    if (ctx->bh_slice_tail) {
        ctx->bh_slice_tail->next = &slice;
    } else {
        ctx->bh_slice_head = &slice;
    }
    ctx->bh_slice_tail = &slice;

    /*
     * Run the oldest slices first: a nested aio_poll() from a BH finishes
     * the rounds of the outer calls, which then find nothing left.
     */
    while ((s = ctx->bh_slice_head) != NULL) {
        unsigned flags;
        QEMUBH *bh = aio_bh_dequeue(s, &flags);

        if (!bh) {
            ctx->bh_slice_head = s->next;
            if (!ctx->bh_slice_head) {
                ctx->bh_slice_tail = NULL;
            }
            continue;
        }
        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                progress = true;
            }
            ran++;
            bh->cb(bh->opaque);
        }
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            aio_bh_free(bh);
        }
    }
    if (ran) {
        aio_stat_add(&ctx->stats.dispatches, ran);
    }
    return progress;
}

/*
 * The timeout a list of BHs asks for: 0, 10 ms for idle ones, or -1.  A
 * deleted BH is not work: it is freed by the next round that runs anyway
 * (as in QEMU), instead of costing a round of its own with no progress.
 */
static int64_t aio_bh_list_timeout(QEMUBH *bh, int64_t timeout)
{
    for (; bh; bh = bh->next) {
        unsigned flags = __atomic_load_n(&bh->flags, __ATOMIC_RELAXED);

        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                return 0;
            }
            timeout = 10 * SCALE_MS;
        }
    }
    return timeout;
}

/* 0 if a BH is scheduled, 10 ms if only idle ones, else -1.  Home thread. */
int64_t aio_bh_timeout_ns(AioContext *ctx)
{
    /*
     * Only the home thread unlinks BHs, and pushers only change the head, so the chain
     * below the head is stable.  Acquire: pairs with the release CAS in
     * aio_bh_enqueue().
     */
    int64_t timeout =
        aio_bh_list_timeout(__atomic_load_n(&ctx->bh_list, __ATOMIC_ACQUIRE), -1);

    for (AioBHSlice *s = ctx->bh_slice_head; s && timeout != 0; s = s->next) {
        timeout = aio_bh_list_timeout(s->head, timeout);
    }
    return timeout;
}

void aio_bh_free_all(AioContext *ctx)
{
    QEMUBH *bh = aio_bh_take_list(ctx);
    unsigned leaked;

    while (bh) {
        QEMUBH *next = bh->next;
        unsigned flags = __atomic_load_n(&bh->flags, __ATOMIC_RELAXED);

        /* Deleted BHs and unrun oneshots belong to us; others to their owner. */
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            aio_bh_free(bh);
        } else {
            __atomic_fetch_and(&bh->flags, ~(BH_PENDING | BH_SCHEDULED),
                               __ATOMIC_RELAXED);
        }
        bh = next;
    }
    leaked = __atomic_load_n(&ctx->bh_count, __ATOMIC_RELAXED);
    if (leaked) {
        g_warning("AioContext %p freed with %u bottom half(s) not deleted", (void *)ctx,
                  leaked);
    }
}

/*
 * Free the deleted BHs of ctx->bh_list without running any callback: what
 * the next aio_bh_poll() would do with them.  For the GSource, whose
 * prepare does not count deleted BHs as work (no round of their own), so
 * that they do not pile up while the AioContext dispatches nothing.  Home
 * thread, outside aio_bh_poll() (no slice being run).  BHs that are still
 * scheduled (pushed meanwhile, or idle ones) are put back in order.
 */
void aio_bh_reap_deleted(AioContext *ctx)
{
    /* Acquire: pairs with the release CAS in aio_bh_enqueue(). */
    QEMUBH *head = __atomic_load_n(&ctx->bh_list, __ATOMIC_ACQUIRE);
    AioBHSlice taken = {0};
    QEMUBH *bh;
    unsigned flags;
    bool any = false;

    if (!head || ctx->bh_slice_head) {
        return;
    }
    /* The chain below the head is stable (see aio_bh_timeout_ns()). */
    for (bh = head; bh && !any; bh = bh->next) {
        any = !(__atomic_load_n(&bh->flags, __ATOMIC_RELAXED) & BH_SCHEDULED);
    }
    if (!any) {
        return;
    }
    taken.head = aio_bh_take_list(ctx);
    while ((bh = aio_bh_dequeue(&taken, &flags)) != NULL) {
        if (flags & BH_DELETED) {
            aio_bh_free(bh);
        } else if (flags & BH_SCHEDULED) {
            aio_bh_enqueue(bh, flags & (BH_SCHEDULED | BH_IDLE), false);
        }
        /* else cancelled: off the list, as aio_bh_poll() leaves it */
    }
}
