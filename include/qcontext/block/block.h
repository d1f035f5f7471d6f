/*
 * block/block.h - block I/O: one BlockBackend, used from any number of
 * AioContexts at once.
 *
 * A BlockBackend is an open raw file or block device (or a "null" drive
 * that has no file).  It has no home context: each request names the
 * AioContext it is submitted from, must be made on that context's home
 * thread, and completes on that same thread.  Each AioContext that submits
 * to a backend gets its own queue there (an io_uring ring, a Linux AIO
 * context, or nothing more than counters for the thread pool), created on
 * first use and released when unused: by blk_detach_aio_context() (a
 * device's queue moved away), when the AioContext is freed, or when the
 * backend is closed.  Finding that queue takes no lock: it hangs off the
 * AioContext (aio_context_get_slot()) and only its home thread touches it.
 *
 * The I/O backend is chosen at open time with QEMU's aio= names:
 *   "threads"  - preadv/pwritev/fdatasync on the context's thread pool
 *   "native"   - Linux AIO (libaio): io_submit, completions on an eventfd
 *   "io_uring" - io_uring (liburing): a ring per context, completions on an
 *                eventfd registered with the ring
 * Discard and write-zeroes (fallocate, BLKDISCARD) run on the context's
 * thread pool with every backend.
 *
 * Zero copy: the caller's buffers go straight to the kernel.  With
 * BLK_F_DIRECT (O_DIRECT, cache=none) a request whose buffers the kernel
 * would refuse (an address not aligned to BlockInfo.mem_alignment, or an
 * iovec length not a multiple of BlockInfo.request_alignment) is bounced
 * through an aligned buffer instead of failed (counted in
 * BlockStats.bounced).  Offsets and total lengths must be multiples of
 * BlockInfo.request_alignment (the logical block size with O_DIRECT, 1
 * otherwise).
 *
 * Results: a callback gets 0 on success or -errno: -EINVAL for a bad
 * argument or misaligned offset/length, -ERANGE for a range beyond the
 * drive's size, -EROFS for a write, discard or write-zeroes on a read-only
 * backend, -ENOMEM if a bounce buffer cannot be allocated, -ENODEV if the
 * backend is being closed (a caller's bug: nothing may be submitted after
 * blk_close()), and the kernel's error otherwise.  Callbacks never run
 * inside the submitting call.
 *
 * See docs/block.md.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include <stdint.h>
#include <sys/uio.h>

#include "qcontext/aio/aio.h"
#include "qcontext/aio/thread-pool.h"

G_BEGIN_DECLS

/** An open drive: a file or a null disk, usable from many contexts (opaque). */
typedef struct BlockBackend BlockBackend;

/** The I/O backends (QEMU's aio= option). */
typedef enum {
    BLOCK_AIO_THREADS,  /**< "threads": the thread pool */
    BLOCK_AIO_NATIVE,   /**< "native": Linux AIO (libaio) */
    BLOCK_AIO_IO_URING, /**< "io_uring": liburing */
} BlockAioMode;

/** blk_open() / blk_new_null() flags. */
enum {
    BLK_F_RDONLY = 1 << 0, /**< read-only: writes fail with -EROFS */
    BLK_F_DIRECT = 1 << 1, /**< O_DIRECT (cache=none): bypass the page cache */
    BLK_F_DISCARD_UNMAP =
        1 << 2, /**< discard=unmap: discards punch holes (else ignored) */
};

/** blk_aio_pwrite_zeroes() flags. */
enum {
    BLK_ZERO_MAY_UNMAP =
        1 << 0, /**< the range may be deallocated (with discard=unmap) */
};

/** Error domain of block/. */
#define BLOCK_ERROR (block_error_quark())
/** block_error_quark: the GQuark behind the error domain macro above. */
GQuark block_error_quark(void);

/** Error codes in BLOCK_ERROR. */
typedef enum {
    BLOCK_ERROR_FAILED,      /**< any other failure */
    BLOCK_ERROR_INVALID,     /**< a bad argument (mode name, file type, size...) */
    BLOCK_ERROR_OPEN,        /**< the file could not be opened */
    BLOCK_ERROR_NO_DIRECT,   /**< the file system refuses O_DIRECT */
    BLOCK_ERROR_UNAVAILABLE, /**< the kernel refuses the backend (io_setup...) */
    BLOCK_ERROR_READ_ONLY,   /**< the file is not writable (use readonly=on) */
} BlockErrorCode;

/**
 * block_aio_mode_parse: parse "threads", "native" or "io_uring" into @mode.
 * Returns false and sets @errp (listing the valid names) otherwise.
 */
bool block_aio_mode_parse(const char *str, BlockAioMode *mode, GError **errp);

/** block_aio_mode_to_string: the name of @mode ("threads", "native"...). */
const char *block_aio_mode_to_string(BlockAioMode mode);

/* ------------------------------------------------------------------------ */
/* Opening and closing (any thread)                                           */
/* ------------------------------------------------------------------------ */

/**
 * blk_open: open @filename (a regular file or a block device) with I/O
 * backend @mode.  @flags: BLK_F_RDONLY, BLK_F_DIRECT, BLK_F_DISCARD_UNMAP.
 * The size is taken now (a file that grows later keeps its old size here).
 * Fails with a one-line message naming the file if it cannot be opened, is
 * not writable without BLK_F_RDONLY (BLOCK_ERROR_READ_ONLY), if the file
 * system does not support O_DIRECT, or if the kernel refuses the backend
 * (io_uring disabled, Linux AIO limits reached: probed here, so that a bad
 * choice fails at start-up and not at the first request).  Any thread.
 */
BlockBackend *blk_open(const char *filename, BlockAioMode mode, int flags,
                       GError **errp);

/**
 * blk_new_null: a backend with no file, of @size bytes (> 0): reads return
 * zeroes, writes, flushes, discards and write-zeroes succeed and are
 * dropped (QEMU's null-co with read-zeroes=on).  Every request completes
 * @latency_ns after submission (0: at the context's next iteration).
 * @flags: BLK_F_RDONLY, BLK_F_DISCARD_UNMAP.  Any thread.
 */
BlockBackend *blk_new_null(uint64_t size, int64_t latency_ns, int flags, GError **errp);

/**
 * blk_close: close @blk (NULL is a no-op).  Nothing may be submitted to
 * @blk any more.  Never blocks and never polls: each context's queue is
 * released on that context's thread once its requests have completed (at
 * once for a queue of the calling thread's context with nothing in
 * flight); the file is closed when the last queue is gone.  A request that
 * is still in flight completes normally.  Any thread.
 */
void blk_close(BlockBackend *blk);

/* ------------------------------------------------------------------------ */
/* What a device needs to know (any thread)                                    */
/* ------------------------------------------------------------------------ */

/** What a backend offers: size, block sizes, discard and write-zeroes limits. */
typedef struct BlockInfo {
    uint64_t size;                /**< bytes; requests must stay within */
    bool read_only;               /**< BLK_F_RDONLY: VIRTIO_BLK_F_RO */
    bool direct;                  /**< BLK_F_DIRECT (O_DIRECT) */
    uint32_t logical_block_size;  /**< >= 512, a power of two; >= request_alignment */
    uint32_t physical_block_size; /**< >= logical_block_size (4096 for files) */
    uint32_t request_alignment;   /**< offsets and lengths: multiples of this */
    uint32_t mem_alignment;       /**< buffers not aligned to this are bounced */
    uint32_t max_iov;             /**< iovec entries per request (IOV_MAX) */
    bool discard_unmap;           /**< discard=unmap (false: discards do nothing) */
    uint64_t max_discard_bytes;   /**< the longest discard */
    uint32_t discard_alignment;   /**< discards deallocate whole units of this */
    uint64_t max_write_zeroes_bytes; /**< the longest write-zeroes */
    bool write_zeroes_may_unmap;     /**< BLK_ZERO_MAY_UNMAP can deallocate */
} BlockInfo;

/** blk_get_info: fill @info (constant for the life of @blk).  Any thread. */
void blk_get_info(BlockBackend *blk, BlockInfo *info);

/** blk_getlength: the size of @blk in bytes (BlockInfo.size). */
int64_t blk_getlength(BlockBackend *blk);

/** blk_is_read_only: TRUE if @blk was opened with BLK_F_RDONLY. */
bool blk_is_read_only(BlockBackend *blk);

/** blk_get_filename: the file name, or NULL for a null backend. */
const char *blk_get_filename(BlockBackend *blk);

/** blk_get_aio_mode: the I/O backend of @blk (BLOCK_AIO_THREADS for null). */
BlockAioMode blk_get_aio_mode(BlockBackend *blk);

/** blk_get_flags: the BLK_F_* flags @blk was opened with. */
int blk_get_flags(BlockBackend *blk);

/**
 * blk_blockalign: allocate @size bytes aligned for any request on @blk
 * (page aligned).  Free with free().  Never NULL.
 */
void *blk_blockalign(BlockBackend *blk, size_t size);

/* ------------------------------------------------------------------------ */
/* Requests (on the home thread of @ctx; NULL = the caller's current context) */
/* ------------------------------------------------------------------------ */

/**
 * blk_aio_preadv: read into @iov (@iovcnt entries, at most BlockInfo.max_iov;
 * the array is copied, the buffers must stay valid until the callback) from
 * @offset.  @cb(@opaque, ret) runs on @ctx's home thread with 0 once
 * everything was read, or -errno (see the top of this file).  A short read
 * (the file shrank underneath) is resubmitted, and zero-filled at the end
 * of the file.  The first request from @ctx creates @ctx's queue.
 */
void blk_aio_preadv(BlockBackend *blk, AioContext *ctx, int64_t offset,
                    const struct iovec *iov, int iovcnt, BlockCompletionFunc *cb,
                    void *opaque);

/**
 * blk_aio_pwritev: write @iov (@iovcnt entries) at @offset; as
 * blk_aio_preadv().  Short writes are resubmitted; a write that makes no
 * progress fails with -EIO.  -EROFS on a read-only backend.
 */
void blk_aio_pwritev(BlockBackend *blk, AioContext *ctx, int64_t offset,
                     const struct iovec *iov, int iovcnt, BlockCompletionFunc *cb,
                     void *opaque);

/**
 * blk_aio_flush: make the writes completed so far durable (fdatasync);
 * @cb(@opaque, ret) as above.  The native backend falls back to the thread
 * pool if the kernel refuses IOCB_CMD_FDSYNC.
 */
void blk_aio_flush(BlockBackend *blk, AioContext *ctx, BlockCompletionFunc *cb,
                   void *opaque);

/**
 * blk_aio_pdiscard: the guest no longer needs [@offset, @offset + @bytes).
 * With discard=unmap the range is deallocated (a hole is punched in a file:
 * it then reads as zeroes; BLKDISCARD on a block device); with
 * discard=ignore nothing happens.  Succeeds where the file system cannot
 * discard.  @bytes <= BlockInfo.max_discard_bytes.  -EROFS if read-only.
 */
void blk_aio_pdiscard(BlockBackend *blk, AioContext *ctx, int64_t offset, int64_t bytes,
                      BlockCompletionFunc *cb, void *opaque);

/**
 * blk_aio_pwrite_zeroes: make [@offset, @offset + @bytes) read as zeroes.
 * With BLK_ZERO_MAY_UNMAP and discard=unmap the range may be deallocated
 * (punched); otherwise it stays allocated (FALLOC_FL_ZERO_RANGE, or
 * writing zeroes where the file system cannot).  @bytes <=
 * BlockInfo.max_write_zeroes_bytes.  -EROFS if read-only.
 */
void blk_aio_pwrite_zeroes(BlockBackend *blk, AioContext *ctx, int64_t offset,
                           int64_t bytes, int flags, BlockCompletionFunc *cb,
                           void *opaque);

/**
 * blk_io_plug: start a batch on @ctx's queue: requests submitted until the
 * matching blk_io_unplug() are collected and handed to the kernel together
 * (one io_submit() / io_uring_enter()), or sooner once aio-max-batch of
 * them are waiting (aio_context_get_aio_max_batch(); 0: the queue depth,
 * 128).  Nests.  No effect on the threads and null backends.
 */
void blk_io_plug(BlockBackend *blk, AioContext *ctx);

/** blk_io_unplug: end a batch; the outermost one submits what was collected. */
void blk_io_unplug(BlockBackend *blk, AioContext *ctx);

/**
 * blk_drain: poll @ctx (aio_poll(ctx, true)) until none of @blk's requests
 * submitted from @ctx is in flight.  Home thread of @ctx; not from a
 * completion callback, not inside blk_io_plug() (what the batch collected
 * would never be submitted).
 */
void blk_drain(BlockBackend *blk, AioContext *ctx);

/**
 * blk_detach_aio_context: @ctx will not submit to @blk for a while (a
 * device's queue moved away): release @ctx's queue now, or as soon as its
 * requests have completed.  Home thread of @ctx, outside blk_io_plug().
 * A later request simply creates a new queue.
 */
void blk_detach_aio_context(BlockBackend *blk, AioContext *ctx);

/* ------------------------------------------------------------------------ */
/* Statistics (any thread)                                                    */
/* ------------------------------------------------------------------------ */

/** Counters of one BlockBackend, summed over its queues (past and present). */
typedef struct BlockStats {
    uint64_t requests;        /**< requests submitted (all types) */
    uint64_t kernel_submits;  /**< io_submit()/io_uring_enter() calls (0 for threads) */
    uint64_t resubmits;       /**< short transfers whose rest was resubmitted */
    uint64_t errors;          /**< requests completed with an error */
    uint64_t bounced;         /**< requests bounced for misaligned buffers */
    uint64_t queues_created;  /**< per-context queues created */
    uint64_t queues_released; /**< per-context queues released */
} BlockStats;

/**
 * blk_get_stats: a snapshot of @blk's counters.  Any thread (each counter
 * is read atomically; counters of a busy queue may be slightly behind).
 */
void blk_get_stats(BlockBackend *blk, BlockStats *stats);

/** blk_in_flight: requests submitted whose callback has not run, all contexts. */
int blk_in_flight(BlockBackend *blk);

/** blk_get_queue_count: the per-context queues @blk has right now. */
int blk_get_queue_count(BlockBackend *blk);

G_END_DECLS

#endif /* BLOCK_BLOCK_H */
