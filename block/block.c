/*
 * block/block.c - BlockBackend: open (probe sizes and alignment, check the
 * backend), close, what a device needs to know, statistics.  The queues a
 * backend has on each context are in block-queue.c, requests in
 * block-request.c.
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
#define BLK_SECTOR_SIZE 512

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
/* Sizes and alignment                                                        */
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
 * Direct I/O alignment of a regular file (offsets and lengths; buffers in
 * *@mem), or 0 if unknown.  statx() knows (Linux >= 6.1); else the disk's
 * logical block size.  Probing with reads would not do: reads of holes
 * succeed whatever their alignment.
 */
static size_t file_dio_alignment(int fd, const struct stat *st, size_t *mem)
{
#ifdef STATX_DIOALIGN
    struct statx stx;

    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
        *mem = MAX(stx.stx_dio_mem_align, 1);
        return stx.stx_dio_offset_align;
    }
#endif
    return sysfs_logical_block_size(st->st_dev);
}

/* request_alignment and mem_alignment: 1 without O_DIRECT. */
static void probe_alignment(BlockBackend *blk, const struct stat *st)
{
    BlockInfo *info = &blk->info;
    size_t align = 0, mem = 0;
    int sector_size = 0;

    info->request_alignment = info->mem_alignment = 1;
    if (!(blk->flags & BLK_F_DIRECT)) {
        return;
    }
    if (S_ISBLK(st->st_mode)) {
        if (ioctl(blk->fd, BLKSSZGET, &sector_size) == 0 && sector_size > 0) {
            align = sector_size;
        }
    } else {
        align = file_dio_alignment(blk->fd, st, &mem);
    }
    info->request_alignment = align ? align : BLK_DEFAULT_ALIGNMENT;
    info->mem_alignment = mem ? mem : info->request_alignment;
}

/* Round @v up to a power of two (v >= 1). */
static uint32_t pow2_ceil(size_t v)
{
    uint32_t p = 1;

    while (p < v && p < (UINT32_C(1) << 30)) {
        p <<= 1;
    }
    return p;
}

static void probe_block_sizes(BlockBackend *blk, const struct stat *st)
{
    BlockInfo *info = &blk->info;
    unsigned int pbs = 0;
    int lbs = 0;

    if (S_ISBLK(st->st_mode) && ioctl(blk->fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
        info->logical_block_size = pow2_ceil(lbs);
    } else {
        info->logical_block_size = BLK_SECTOR_SIZE;
    }
    info->logical_block_size =
        MAX(info->logical_block_size, pow2_ceil(info->request_alignment));
    if (S_ISBLK(st->st_mode) && ioctl(blk->fd, BLKPBSZGET, &pbs) == 0 && pbs > 0) {
        info->physical_block_size = pow2_ceil(pbs);
    } else {
        info->physical_block_size = BLK_DEFAULT_ALIGNMENT; /* file systems' blocks */
    }
    info->physical_block_size =
        MAX(info->physical_block_size, info->logical_block_size);
}

/* The fields that do not depend on the file. */
static void info_init_common(BlockBackend *blk, uint64_t size)
{
    BlockInfo *info = &blk->info;

    info->size = size;
    info->read_only = blk->flags & BLK_F_RDONLY;
    info->direct = blk->flags & BLK_F_DIRECT;
    info->max_iov = IOV_MAX;
    info->discard_unmap = blk->flags & BLK_F_DISCARD_UNMAP;
    info->max_discard_bytes = BLOCK_MAX_DISCARD_BYTES;
    info->discard_alignment = info->physical_block_size;
    info->max_write_zeroes_bytes = BLOCK_MAX_WRITE_ZEROES_BYTES;
    info->write_zeroes_may_unmap = info->discard_unmap;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                    */
/* ------------------------------------------------------------------------ */

/* @filename opened with O_RDWR failed with @err: is it only not writable? */
static bool only_not_writable(const char *filename, int oflags, int err)
{
    int fd;

    if (err != EACCES && err != EPERM && err != EROFS && err != ETXTBSY) {
        return false;
    }
    fd = open(filename, (oflags & ~O_ACCMODE) | O_RDONLY);
    if (fd < 0) {
        return false;
    }
    close(fd);
    return true;
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
    if (!(flags & BLK_F_RDONLY) && only_not_writable(filename, oflags, err)) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_READ_ONLY,
                    "Could not open '%s' for writing: %s (use readonly=on)", filename,
                    g_strerror(err));
        return -1;
    }
    g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_OPEN, "Could not open '%s': %s",
                filename, g_strerror(err));
    return -1;
}

/* The size of the open @fd (a regular file or a block device), or -errno. */
static int64_t fd_size(int fd, const struct stat *st)
{
    off_t end;

    if (S_ISREG(st->st_mode)) {
        return st->st_size;
    }
    end = lseek(fd, 0, SEEK_END);
    return end < 0 ? -errno : end;
}

static BlockBackend *blk_alloc(int flags, const BlockDriverOps *ops)
{
    BlockBackend *blk = g_new0(BlockBackend, 1);

    blk_queue_slot_init();
    blk->refcnt = 1;
    blk->fd = -1;
    blk->flags = flags;
    blk->ops = ops;
    pthread_mutex_init(&blk->lock, NULL);
    blk->queues = g_ptr_array_new();
    return blk;
}

static void blk_free(BlockBackend *blk)
{
    g_assert(blk->queues->len == 0);
    if (blk->fd >= 0) {
        close(blk->fd);
    }
    g_ptr_array_unref(blk->queues);
    pthread_mutex_destroy(&blk->lock);
    g_free(blk->filename);
    g_free(blk);
}

/* Fill blk->info from the open file; false with @errp set on failure. */
static bool blk_probe_file(BlockBackend *blk, GError **errp)
{
    struct stat st;
    int64_t size;

    if (fstat(blk->fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "'%s' is neither a regular file nor a block device", blk->filename);
        return false;
    }
    size = fd_size(blk->fd, &st);
    if (size < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_FAILED,
                    "Could not get the size of '%s': %s", blk->filename,
                    g_strerror((int)-size));
        return false;
    }
    probe_alignment(blk, &st);
    probe_block_sizes(blk, &st);
    info_init_common(blk, size);
    return true;
}

BlockBackend *blk_open(const char *filename, BlockAioMode mode, int flags,
                       GError **errp)
{
    BlockBackend *blk;

    g_return_val_if_fail(filename != NULL, NULL);
    if ((unsigned)mode >= G_N_ELEMENTS(mode_ops)) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID, "invalid aio mode %d",
                    mode);
        return NULL;
    }
    blk = blk_alloc(flags, mode_ops[mode]);
    blk->mode = mode;
    blk->filename = g_strdup(filename);
    blk->fd = blk_open_fd(filename, flags, errp);
    if (blk->fd < 0 || !blk_probe_file(blk, errp)) {
        blk_free(blk);
        return NULL;
    }
    if (blk->ops->probe && !blk->ops->probe(blk, errp)) {
        g_prefix_error(errp, "'%s' (aio=%s): ", filename, blk->ops->name);
        blk_free(blk);
        return NULL;
    }
    return blk;
}

BlockBackend *blk_new_null(uint64_t size, int64_t latency_ns, int flags, GError **errp)
{
    BlockBackend *blk;

    if (size == 0 || size > (uint64_t)INT64_MAX) {
        g_set_error(
            errp, BLOCK_ERROR, BLOCK_ERROR_INVALID,
            "the size of a null drive must be in [1, 2^63-1], got %" G_GUINT64_FORMAT,
            size);
        return NULL;
    }
    if (latency_ns < 0) {
        g_set_error(errp, BLOCK_ERROR, BLOCK_ERROR_INVALID,
                    "latency-ns must not be negative");
        return NULL;
    }
    blk = blk_alloc(flags & ~BLK_F_DIRECT, &blk_null_ops);
    blk->null_latency_ns = latency_ns;
    blk->info.request_alignment = blk->info.mem_alignment = 1;
    blk->info.logical_block_size = blk->info.physical_block_size = BLK_SECTOR_SIZE;
    info_init_common(blk, size);
    return blk;
}

void blk_ref(BlockBackend *blk)
{
    __atomic_fetch_add(&blk->refcnt, 1, __ATOMIC_RELAXED);
}

void blk_unref(BlockBackend *blk)
{
    /* Acq_rel: the last unref sees every queue's and the opener's writes. */
    if (__atomic_sub_fetch(&blk->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        blk_free(blk);
    }
}

void blk_close(BlockBackend *blk)
{
    if (!blk) {
        return;
    }
    blk_queues_close(blk);
    blk_unref(blk);
}

/* ------------------------------------------------------------------------ */
/* Properties                                                                 */
/* ------------------------------------------------------------------------ */

void blk_get_info(BlockBackend *blk, BlockInfo *info)
{
    *info = blk->info;
}

int64_t blk_getlength(BlockBackend *blk)
{
    return (int64_t)blk->info.size;
}

bool blk_is_read_only(BlockBackend *blk)
{
    return blk->info.read_only;
}

const char *blk_get_filename(BlockBackend *blk)
{
    return blk->filename;
}

BlockAioMode blk_get_aio_mode(BlockBackend *blk)
{
    return blk->mode;
}

int blk_get_flags(BlockBackend *blk)
{
    return blk->flags;
}

void *blk_blockalign(BlockBackend *blk, size_t size)
{
    size_t align = MAX(MAX(blk->info.request_alignment, blk->info.mem_alignment),
                       BLK_DEFAULT_ALIGNMENT);
    void *p = NULL;

    if (posix_memalign(&p, align, size ? size : 1) != 0) {
        g_error("blk_blockalign: out of memory (%zu bytes)", size);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                 */
/* ------------------------------------------------------------------------ */

void blk_stats_add(BlockStats *to, const BlockStats *from)
{
    to->requests += blk_stat_read(&from->requests);
    to->kernel_submits += blk_stat_read(&from->kernel_submits);
    to->resubmits += blk_stat_read(&from->resubmits);
    to->errors += blk_stat_read(&from->errors);
    to->bounced += blk_stat_read(&from->bounced);
    to->queues_created += blk_stat_read(&from->queues_created);
    to->queues_released += blk_stat_read(&from->queues_released);
}

void blk_get_stats(BlockBackend *blk, BlockStats *stats)
{
    memset(stats, 0, sizeof(*stats));
    pthread_mutex_lock(&blk->lock);
    blk_stats_add(stats, &blk->retired);
    for (guint i = 0; i < blk->queues->len; i++) {
        BlockQueue *q = g_ptr_array_index(blk->queues, i);
        blk_stats_add(stats, &q->stats);
    }
    pthread_mutex_unlock(&blk->lock);
}

int blk_in_flight(BlockBackend *blk)
{
    int n = 0;

    pthread_mutex_lock(&blk->lock);
    for (guint i = 0; i < blk->queues->len; i++) {
        BlockQueue *q = g_ptr_array_index(blk->queues, i);
        n += __atomic_load_n(&q->in_flight, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&blk->lock);
    return n;
}

int blk_get_queue_count(BlockBackend *blk)
{
    int n;

    pthread_mutex_lock(&blk->lock);
    n = (int)blk->queues->len;
    pthread_mutex_unlock(&blk->lock);
    return n;
}
