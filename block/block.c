/*
 * block/block.c - BlockBackend: open, validate and finish requests, batching,
 * context moves.  The backends behind blk->ops move requests to the kernel.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fs.h>

#include "block-internal.h"

#define BLK_DEFAULT_ALIGNMENT 4096

GQuark block_error_quark(void)
{
    return g_quark_from_static_string("block-error-quark");
}

/* The backend of each mode; its ->name is the mode's aio= name. */
static const BlockDriverOps *const mode_ops[] = {
    [BLOCK_AIO_THREADS] = &blk_threads_ops,
    [BLOCK_AIO_NATIVE] = &blk_native_ops,
    [BLOCK_AIO_IO_URING] = &blk_io_uring_ops,
};

bool block_aio_mode_parse(const char *str, BlockAioMode *mode, GError **errp)
{
    for (size_t i = 0; i < G_N_ELEMENTS(mode_ops); i++) {
        if (str && strcmp(str, mode_ops[i]->name) == 0) {
            *mode = (BlockAioMode)i;
            return true;
        }
    }
    g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                "invalid aio mode '%s' (expected 'threads', 'native' or 'io_uring')",
                str ? str : "");
    return false;
}

const char *block_aio_mode_to_string(BlockAioMode mode)
{
    if ((unsigned)mode >= G_N_ELEMENTS(mode_ops)) {
        return "unknown";
    }
    return mode_ops[mode]->name;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */
/* ------------------------------------------------------------------------ */

static size_t read_size_file(const char *path)
{
    char *text = NULL;
    size_t size = 0;

    if (g_file_get_contents(path, &text, NULL, NULL)) {
        size = g_ascii_strtoull(text, NULL, 10);
    }
    g_free(text);
    return size;
}

/* The logical block size of the disk holding a file (sysfs), or 0. */
static size_t sysfs_logical_block_size(dev_t dev)
{
    char *dir = g_strdup_printf("/sys/dev/block/%u:%u", major(dev), minor(dev));
    char *path = g_build_filename(dir, "queue", "logical_block_size", NULL);
    size_t size = read_size_file(path);

    if (!size) { /* a partition: the queue is its disk's */
        g_free(path);
        path = g_build_filename(dir, "..", "queue", "logical_block_size", NULL);
        size = read_size_file(path);
    }
    g_free(path);
    g_free(dir);
    return size;
}

/*
 * Direct I/O alignment of a regular file, or 0 if unknown.  statx() knows
 * (Linux >= 6.1); else the disk's logical block size.  Probing with reads
 * would not do: reads of holes succeed whatever their alignment.
 */
static size_t file_dio_alignment(BlockBackend *blk, const struct stat *st)
{
#ifdef STATX_DIOALIGN
    struct statx stx;

    if (statx(blk->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
        blk->mem_alignment = MAX(stx.stx_dio_mem_align, 1);
        return stx.stx_dio_offset_align;
    }
#endif
    return sysfs_logical_block_size(st->st_dev);
}

static void blk_probe_alignment(BlockBackend *blk, const struct stat *st)
{
    size_t align = 0;
    int sector_size = 0;

    blk->alignment = blk->mem_alignment = 1;
    if (!(blk->flags & BLK_F_DIRECT)) {
        return;
    }
    blk->mem_alignment = 0;
    if (S_ISBLK(st->st_mode)) {
        if (ioctl(blk->fd, BLKSSZGET, &sector_size) == 0 && sector_size > 0) {
            align = sector_size;
        }
    } else {
        align = file_dio_alignment(blk, st);
    }
    blk->alignment = align ? align : BLK_DEFAULT_ALIGNMENT;
    if (!blk->mem_alignment) {
        blk->mem_alignment = blk->alignment;
    }
}

static int blk_open_fd(const char *filename, int flags, GError **errp)
{
    int oflags = O_CLOEXEC | ((flags & BLK_F_RDONLY) ? O_RDONLY : O_RDWR);
    int fd = open(filename, oflags | ((flags & BLK_F_DIRECT) ? O_DIRECT : 0));
    int err = errno;

    if (fd >= 0) {
        return fd;
    }
    if ((flags & BLK_F_DIRECT) && err == EINVAL) {
        /* Does it open without O_DIRECT?  Then the file system refused it. */
        fd = open(filename, oflags);
        if (fd >= 0) {
            close(fd);
            g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_NO_DIRECT,
                        "'%s': the file system does not support O_DIRECT (cache=none)",
                        filename);
            return -1;
        }
    }
    g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_OPEN, "Could not open '%s': %s",
                filename, g_strerror(err));
    return -1;
}

BlockBackend *blk_open(AioContext *ctx, const char *filename, BlockAioMode mode,
                       int flags, GError **errp)
{
    BlockBackend *blk;
    struct stat st;
    int fd;

    g_return_val_if_fail(ctx != NULL && filename != NULL, NULL);
    if ((unsigned)mode >= G_N_ELEMENTS(mode_ops)) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID, "invalid aio mode %d",
                    mode);
        return NULL;
    }
    fd = blk_open_fd(filename, flags, errp);
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "'%s' is neither a regular file nor a block device", filename);
        close(fd);
        return NULL;
    }
    blk = g_new0(BlockBackend, 1);
    blk->ctx = ctx;
    blk->filename = g_strdup(filename);
    blk->fd = fd;
    blk->flags = flags;
    blk->mode = mode;
    blk->ops = mode_ops[mode];
    blk_probe_alignment(blk, &st);
    if (!blk->ops->open(blk, errp)) {
        g_prefix_error(errp, "'%s' (aio=%s): ", filename, blk->ops->name);
        close(fd);
        g_free(blk->filename);
        g_free(blk);
        return NULL;
    }
    return blk;
}

void blk_drain(BlockBackend *blk)
{
    while (blk->in_flight > 0) {
        aio_poll(blk->ctx, true);
    }
}

void blk_close(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    blk_drain(blk);
    blk->ops->close(blk);
    close(blk->fd);
    g_free(blk->filename);
    g_free(blk);
}

/* ------------------------------------------------------------------------ */
/* Properties                                                                 */
/* ------------------------------------------------------------------------ */

int64_t blk_getlength(BlockBackend *blk)
{
    struct stat st;
    off_t end;

    if (fstat(blk->fd, &st) < 0) {
        return -errno;
    }
    if (S_ISREG(st.st_mode)) {
        return st.st_size;
    }
    end = lseek(blk->fd, 0, SEEK_END);
    return end < 0 ? -errno : end;
}

size_t blk_get_alignment(BlockBackend *blk)
{
    return blk->alignment;
}

size_t blk_get_mem_alignment(BlockBackend *blk)
{
    return blk->mem_alignment;
}

void *blk_blockalign(BlockBackend *blk, size_t size)
{
    size_t align = MAX(MAX(blk->alignment, blk->mem_alignment), BLK_DEFAULT_ALIGNMENT);
    void *p = NULL;

    if (posix_memalign(&p, align, size ? size : 1) != 0) {
        g_error("blk_blockalign: out of memory (%zu bytes)", size);
    }
    return p;
}

BlockAioMode blk_get_aio_mode(BlockBackend *blk)
{
    return blk->mode;
}

int blk_get_flags(BlockBackend *blk)
{
    return blk->flags;
}

AioContext *blk_get_aio_context(BlockBackend *blk)
{
    return blk->ctx;
}

void blk_get_stats(BlockBackend *blk, BlockStats *stats)
{
    *stats = blk->stats;
}

int blk_in_flight(BlockBackend *blk)
{
    return blk->in_flight;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                   */
/* ------------------------------------------------------------------------ */

static void request_finish(BlockRequest *req, int ret)
{
    BlockBackend *blk = req->blk;

    blk->in_flight--;
    if (ret < 0) {
        blk->stats.errors++;
    }
    if (req->cb) {
        req->cb(req->opaque, ret);
    }
    g_free(req);
}

/* Drop @n transferred bytes from the front of req's iovec. */
static void request_advance(BlockRequest *req, size_t n)
{
    req->offset += n;
    req->bytes -= n;
    while (n > 0 && req->iovcnt > 0) {
        size_t step = MIN(n, req->iov->iov_len);

        req->iov->iov_base = (char *)req->iov->iov_base + step;
        req->iov->iov_len -= step;
        n -= step;
        if (req->iov->iov_len == 0) {
            req->iov++;
            req->iovcnt--;
        }
    }
    while (req->iovcnt > 0 && req->iov->iov_len == 0) {
        req->iov++;
        req->iovcnt--;
    }
}

static void request_zero_rest(BlockRequest *req)
{
    for (int i = 0; i < req->iovcnt; i++) {
        memset(req->iov[i].iov_base, 0, req->iov[i].iov_len);
    }
}

/*
 * A short transfer of @n bytes: resubmit the rest (true), or decide the
 * final result in *@ret (false).  A read that stops at end of file (no
 * progress, or under O_DIRECT an unaligned stop) zero-fills the rest.
 */
static bool request_short(BlockRequest *req, size_t n, int *ret)
{
    BlockBackend *blk = req->blk;

    request_advance(req, n);
    if (req->type == BLOCK_REQ_READ) {
        if (n == 0 || (req->offset % blk->alignment) != 0) {
            request_zero_rest(req);
            *ret = 0;
            return false;
        }
    } else if (n == 0) {
        *ret = -EIO;
        return false;
    }
    blk->stats.resubmits++;
    blk->ops->submit(blk, req);
    return true;
}

void blk_request_done(BlockRequest *req, ssize_t ret)
{
    int final = ret < 0 ? (int)ret : 0;

    if (ret >= 0 && req->type != BLOCK_REQ_FLUSH && (size_t)ret < req->bytes) {
        if (request_short(req, ret, &final)) {
            return;
        }
    }
    request_finish(req, final);
}

static void fail_bh(void *opaque)
{
    BlockRequest *req = opaque;

    request_finish(req, (int)req->u.result);
}

void blk_request_fail_bh(BlockRequest *req, int ret)
{
    req->u.result = ret;
    aio_bh_schedule_oneshot(req->blk->ctx, fail_bh, req);
}

static int request_check(BlockBackend *blk, BlockReqType type, int64_t offset,
                         const struct iovec *iov, int iovcnt, size_t *bytes)
{
    size_t total = 0;

    if (type == BLOCK_REQ_WRITE && (blk->flags & BLK_F_RDONLY)) {
        return -EBADF;
    }
    if (type == BLOCK_REQ_FLUSH) {
        return 0;
    }
    if (offset < 0 || iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov)) {
        return -EINVAL;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total) {
            return -EINVAL;
        }
        total += iov[i].iov_len;
    }
    if ((uint64_t)offset + total > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    /* O_DIRECT: the kernel would not always notice (holes read fine). */
    if ((offset % blk->alignment) != 0 || (total % blk->alignment) != 0) {
        return -EINVAL;
    }
    *bytes = total;
    return 0;
}

static void blk_submit(BlockBackend *blk, BlockReqType type, int64_t offset,
                       const struct iovec *iov, int iovcnt, BlockCompletionFunc *cb,
                       void *opaque)
{
    size_t bytes = 0;
    int ret = request_check(blk, type, offset, iov, iovcnt, &bytes);
    int n = (ret == 0 && type != BLOCK_REQ_FLUSH) ? iovcnt : 0;
    BlockRequest *req = g_malloc0(sizeof(*req) + n * sizeof(struct iovec));

    req->blk = blk;
    req->type = type;
    req->offset = offset;
    req->bytes = bytes;
    req->cb = cb;
    req->opaque = opaque;
    req->link.data = req;
    if (n > 0) {
        memcpy(req->iov_copy, iov, n * sizeof(struct iovec));
    }
    req->iov = req->iov_copy;
    req->iovcnt = n;
    blk->in_flight++;
    blk->stats.requests++;
    if (ret < 0) {
        blk_request_fail_bh(req, ret);
    } else if (type != BLOCK_REQ_FLUSH && bytes == 0) {
        blk_request_fail_bh(req, 0); /* nothing to transfer */
    } else {
        blk->ops->submit(blk, req);
    }
}

void blk_aio_preadv(BlockBackend *blk, int64_t offset, const struct iovec *iov,
                    int iovcnt, BlockCompletionFunc *cb, void *opaque)
{
    blk_submit(blk, BLOCK_REQ_READ, offset, iov, iovcnt, cb, opaque);
}

void blk_aio_pwritev(BlockBackend *blk, int64_t offset, const struct iovec *iov,
                     int iovcnt, BlockCompletionFunc *cb, void *opaque)
{
    blk_submit(blk, BLOCK_REQ_WRITE, offset, iov, iovcnt, cb, opaque);
}

void blk_aio_flush(BlockBackend *blk, BlockCompletionFunc *cb, void *opaque)
{
    blk_submit(blk, BLOCK_REQ_FLUSH, 0, NULL, 0, cb, opaque);
}

/* ------------------------------------------------------------------------ */
/* Batching and context moves                                                 */
/* ------------------------------------------------------------------------ */

void blk_io_plug(BlockBackend *blk)
{
    blk->plug_depth++;
}

void blk_io_unplug(BlockBackend *blk)
{
    g_return_if_fail(blk->plug_depth > 0);
    if (--blk->plug_depth == 0 && blk->ops->unplug) {
        blk->ops->unplug(blk);
    }
}

bool blk_set_aio_context(BlockBackend *blk, AioContext *new_ctx, GError **errp)
{
    if (blk->in_flight > 0 || blk->plug_depth > 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_BUSY,
                    "'%s' cannot change context: %d request(s) in flight%s",
                    blk->filename, blk->in_flight, blk->plug_depth ? ", plugged" : "");
        return false;
    }
    if (new_ctx == blk->ctx) {
        return true;
    }
    if (blk->ops->detach_aio_context) {
        blk->ops->detach_aio_context(blk);
    }
    blk->ctx = new_ctx;
    if (blk->ops->attach_aio_context) {
        blk->ops->attach_aio_context(blk);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* The kernel-queue backends' shared state                                    */
/* ------------------------------------------------------------------------ */

void *blk_kq_new(BlockBackend *blk, size_t size, const BlockKqHandlers *handlers,
                 GError **errp)
{
    BlockKernelQueue *q;
    int ret;

    g_assert(size >= sizeof(BlockKernelQueue));
    q = g_malloc0(size);
    q->blk = blk;
    q->handlers = handlers;
    g_queue_init(&q->pending);
    ret = event_notifier_init(&q->e, false);
    if (ret < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_FAILED,
                    "cannot create the completion eventfd: %s", g_strerror(-ret));
        g_free(q);
        return NULL;
    }
    return q;
}

void blk_kq_free(BlockKernelQueue *q)
{
    event_notifier_cleanup(&q->e);
    g_free(q);
}

void blk_kq_start(BlockBackend *blk, BlockKernelQueue *q)
{
    blk->opaque = q;
    blk_kq_attach(blk);
}

void blk_kq_attach(BlockBackend *blk)
{
    BlockKernelQueue *q = blk->opaque;

    aio_set_event_notifier(blk->ctx, &q->e, q->handlers->io_read, q->handlers->io_poll,
                           q->handlers->io_poll_ready);
}

void blk_kq_detach(BlockBackend *blk)
{
    BlockKernelQueue *q = blk->opaque;

    aio_set_event_notifier(blk->ctx, &q->e, NULL, NULL, NULL);
}
