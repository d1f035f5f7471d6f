/*
 * block/block.h - block I/O on an AioContext: one interface, three backends.
 *
 * A BlockBackend is an open file or block device whose requests complete on
 * the home thread of the AioContext that owns it.  The backend is chosen at
 * open time, with QEMU's aio= names:
 *   "threads"  - preadv/pwritev/fdatasync on the context's thread pool
 *   "native"   - Linux AIO (libaio): io_submit, completions on an eventfd
 *   "io_uring" - io_uring (liburing): a ring per backend, completions on an
 *                eventfd registered with the ring
 * The native and io_uring backends are best used with BLK_F_DIRECT (O_DIRECT,
 * cache=none); without it the kernel may run them synchronously.
 *
 * Threading: everything except blk_open() and blk_set_aio_context() must be
 * called on the home thread of the backend's AioContext.  Completion
 * callbacks run on that thread, from the context's handlers, never from
 * inside the submitting call.  See docs/block.md.
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

typedef struct BlockBackend BlockBackend;

/** The I/O backends (QEMU's aio= option). */
typedef enum {
    BLOCK_AIO_THREADS,  /**< "threads": the thread pool */
    BLOCK_AIO_NATIVE,   /**< "native": Linux AIO (libaio) */
    BLOCK_AIO_IO_URING, /**< "io_uring": liburing */
} BlockAioMode;

/** blk_open() flags. */
enum {
    BLK_F_RDONLY = 1 << 0, /**< open read-only; writes fail with -EBADF */
    BLK_F_DIRECT = 1 << 1, /**< O_DIRECT (cache=none): bypass the page cache */
};

/** Error domain of block/. */
#define BLOCK_ERROR (block_error_quark())
/** block_error_quark: the GQuark behind the error domain macro above. */
GQuark block_error_quark(void);

/** Error codes in BLOCK_ERROR. */
typedef enum {
    BLOCK_ERROR_FAILED,      /**< any other failure */
    BLOCK_ERROR_INVALID,     /**< a bad argument (mode name, file type...) */
    BLOCK_ERROR_OPEN,        /**< the file could not be opened */
    BLOCK_ERROR_NO_DIRECT,   /**< the file system refuses O_DIRECT */
    BLOCK_ERROR_UNAVAILABLE, /**< the kernel refuses the backend (io_setup...) */
    BLOCK_ERROR_BUSY,        /**< requests are in flight */
} BlockErrorCode;

/**
 * block_aio_mode_parse: parse "threads", "native" or "io_uring" into @mode.
 * Returns false and sets @errp (listing the valid names) otherwise.
 */
bool block_aio_mode_parse(const char *str, BlockAioMode *mode, GError **errp);

/** block_aio_mode_to_string: the name of @mode ("threads", "native"...). */
const char *block_aio_mode_to_string(BlockAioMode mode);

/**
 * blk_open: open @filename (a regular file or a block device) for I/O with
 * backend @mode, owned by @ctx.  @flags: BLK_F_RDONLY, BLK_F_DIRECT.  Fails
 * with a message naming the file if it cannot be opened, if the file system
 * does not support O_DIRECT, or if the kernel refuses the backend (io_uring
 * disabled, Linux AIO limits reached).  Any thread.
 */
BlockBackend *blk_open(AioContext *ctx, const char *filename, BlockAioMode mode,
                       int flags, GError **errp);

/**
 * blk_close: close @blk (NULL is a no-op).  Requests still in flight are
 * first waited for (their callbacks run).  Not from a completion callback.
 */
void blk_close(BlockBackend *blk);

/** blk_getlength: the size of @blk in bytes, or -errno. */
int64_t blk_getlength(BlockBackend *blk);

/**
 * blk_get_alignment: the alignment that request offsets and lengths must
 * have: 1 without BLK_F_DIRECT; with it, the logical block size (BLKSSZGET
 * for block devices, statx's direct I/O alignment or a probe for files;
 * 4096 if unknown).  Misaligned requests fail with -EINVAL.
 */
size_t blk_get_alignment(BlockBackend *blk);

/**
 * blk_get_mem_alignment: the alignment that buffers should have for direct
 * I/O (at least what the kernel demands; 1 without BLK_F_DIRECT).
 */
size_t blk_get_mem_alignment(BlockBackend *blk);

/**
 * blk_blockalign: allocate @size bytes aligned for any request on @blk
 * (page aligned).  Free with free().  Never NULL.
 */
void *blk_blockalign(BlockBackend *blk, size_t size);

/** blk_get_aio_mode: the backend of @blk. */
BlockAioMode blk_get_aio_mode(BlockBackend *blk);

/** blk_get_flags: the BLK_F_* flags @blk was opened with. */
int blk_get_flags(BlockBackend *blk);

/** blk_get_aio_context: the AioContext that runs @blk's completions. */
AioContext *blk_get_aio_context(BlockBackend *blk);

/**
 * blk_aio_preadv: read into @iov (@iovcnt entries; copied, the buffers must
 * stay valid until the callback) from @offset.  @cb(@opaque, ret) runs on
 * the context's home thread with 0 once everything was read, or -errno.
 * Reads past the end of the file fill the rest with zeros; short reads are
 * resubmitted.  Errors found before submission (bad arguments) also reach
 * @cb, from a BH.
 */
void blk_aio_preadv(BlockBackend *blk, int64_t offset, const struct iovec *iov,
                    int iovcnt, BlockCompletionFunc *cb, void *opaque);

/**
 * blk_aio_pwritev: write @iov (@iovcnt entries) at @offset; as
 * blk_aio_preadv().  Short writes are resubmitted; a write that makes no
 * progress fails with -EIO.  -EBADF on a read-only backend.
 */
void blk_aio_pwritev(BlockBackend *blk, int64_t offset, const struct iovec *iov,
                     int iovcnt, BlockCompletionFunc *cb, void *opaque);

/**
 * blk_aio_flush: make the writes completed so far durable (fdatasync);
 * @cb(@opaque, ret) as above.  The native backend falls back to the thread
 * pool if the kernel refuses IOCB_CMD_FDSYNC.
 */
void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque);

/**
 * blk_io_plug: start a batch: requests submitted until the matching
 * blk_io_unplug() are collected and handed to the kernel together (one
 * io_submit() / io_uring_enter()).  Nests.  No effect on the threads backend.
 */
void blk_io_plug(BlockBackend *blk);

/** blk_io_unplug: end a batch; the outermost one submits what was collected. */
void blk_io_unplug(BlockBackend *blk);

/** Counters of one BlockBackend (home thread; see blk_get_stats()). */
typedef struct BlockStats {
    uint64_t requests;       /**< reads, writes and flushes submitted */
    uint64_t kernel_submits; /**< io_submit()/io_uring_enter() calls (0 for threads) */
    uint64_t resubmits;      /**< short transfers whose rest was resubmitted */
    uint64_t errors;         /**< requests completed with an error */
} BlockStats;

/** blk_get_stats: copy @blk's counters into @stats.  Home thread. */
void blk_get_stats(BlockBackend *blk, BlockStats *stats);

/** blk_in_flight: requests submitted whose callback has not run yet. */
int blk_in_flight(BlockBackend *blk);

/**
 * blk_drain: poll @blk's context (aio_poll(ctx, true)) until no request of
 * @blk is in flight.  Home thread only; not from a completion callback.
 */
void blk_drain(BlockBackend *blk);

/**
 * blk_set_aio_context: move @blk to @new_ctx: its completions will run on
 * @new_ctx's home thread.  Only while no request is in flight (drain
 * first) and outside blk_io_plug(); fails with BLOCK_ERROR_BUSY otherwise.
 * Any thread, as long as neither context is using @blk meanwhile.
 */
bool blk_set_aio_context(BlockBackend *blk, AioContext *new_ctx, GError **errp);

G_END_DECLS

#endif /* BLOCK_BLOCK_H */
