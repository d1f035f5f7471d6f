/*
 * devices/virtio/virtio-mem.c - the guest memory table: mapping regions
 * received from a front-end and translating guest (GPA) and front-end (UVA)
 * addresses with bounds and overflow checks.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "qcontext/devices/virtio/virtio-mem.h"

G_DEFINE_QUARK(virtio - error - quark, virtio_error)

/* True if [start, start + len) does not wrap around 2^64 (len > 0). */
static bool range_ok(uint64_t start, uint64_t len)
{
    return len > 0 && len - 1 <= UINT64_MAX - start;
}

/* Offset of @addr in [base, base + size), or false if outside. */
static bool in_range(uint64_t addr, uint64_t base, uint64_t size, uint64_t *off)
{
    uint64_t o = addr - base; /* wraps to a huge value when addr < base */

    if (o >= size) {
        return false;
    }
    *off = o;
    return true;
}

/* The alignment mmap() needs for @fd: its huge page size on hugetlbfs. */
static size_t map_alignment(int fd, const struct stat *st)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    struct statfs fs;

    if (fstatfs(fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC && st->st_blksize > 0 &&
        ((size_t)st->st_blksize & ((size_t)st->st_blksize - 1)) == 0 &&
        (size_t)st->st_blksize > page) {
        return (size_t)st->st_blksize;
    }
    return page;
}

static bool region_check(int fd, struct stat *st, uint64_t gpa, uint64_t size,
                         uint64_t uva, uint64_t off, GError **errp)
{
    if (fstat(fd, st) < 0) {
        g_set_error(errp, VIRTIO_ERROR, 0, "memory region fd: %s", g_strerror(errno));
        return false;
    }
    if (!S_ISREG(st->st_mode)) {
        g_set_error_literal(errp, VIRTIO_ERROR, 0,
                            "memory region fd is not a shared memory file");
        return false;
    }
    if (size == 0) {
        g_set_error_literal(errp, VIRTIO_ERROR, 0, "memory region of size 0");
        return false;
    }
    if (!range_ok(gpa, size) || !range_ok(uva, size) || !range_ok(off, size) ||
        size > SIZE_MAX / 2) {
        g_set_error(errp, VIRTIO_ERROR, 0,
                    "memory region 0x%" PRIx64 "+0x%" PRIx64 " wraps around", gpa,
                    size);
        return false;
    }
    if (size > (uint64_t)st->st_size || off > (uint64_t)st->st_size - size) {
        g_set_error(errp, VIRTIO_ERROR, 0,
                    "memory region 0x%" PRIx64 "+0x%" PRIx64 " at offset 0x%" PRIx64
                    " is larger than its file (%" PRIu64 " bytes)",
                    gpa, size, off, (uint64_t)st->st_size);
        return false;
    }
    return true;
}

bool virtio_mem_region_map(VirtioMemRegion *r, int fd, uint64_t gpa, uint64_t size,
                           uint64_t uva, uint64_t mmap_offset, GError **errp)
{
    struct stat st;
    size_t align, delta, len;
    void *base;

    memset(r, 0, sizeof(*r));
    if (!region_check(fd, &st, gpa, size, uva, mmap_offset, errp)) {
        return false;
    }
    align = map_alignment(fd, &st);
    delta = mmap_offset & (align - 1);
    len = (delta + size + align - 1) & ~(align - 1);
    base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
                (off_t)(mmap_offset - delta));
    if (base == MAP_FAILED) {
        g_set_error(errp, VIRTIO_ERROR, 0,
                    "cannot map memory region 0x%" PRIx64 "+0x%" PRIx64 ": %s", gpa,
                    size, g_strerror(errno));
        return false;
    }
    r->gpa = gpa;
    r->size = size;
    r->uva = uva;
    r->mmap_offset = mmap_offset;
    r->map_base = base;
    r->map_len = len;
    r->host = (uint8_t *)base + delta;
    return true;
}

void virtio_mem_region_unmap(VirtioMemRegion *r)
{
    if (r->map_base) {
        munmap(r->map_base, r->map_len);
    }
    memset(r, 0, sizeof(*r));
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    /* Both ranges are non-wrapping: compare their last bytes. */
    return a <= b + (blen - 1) && b <= a + (alen - 1);
}

bool virtio_mem_table_insert(VirtioMemTable *t, const VirtioMemRegion *r, GError **errp)
{
    unsigned i, pos = t->nregions;

    if (t->nregions >= VIRTIO_MEM_MAX_REGIONS) {
        g_set_error(errp, VIRTIO_ERROR, 0, "more than %d memory regions",
                    VIRTIO_MEM_MAX_REGIONS);
        return false;
    }
    for (i = 0; i < t->nregions; i++) {
        const VirtioMemRegion *o = &t->regions[i];

        if (overlaps(r->gpa, r->size, o->gpa, o->size) ||
            overlaps(r->uva, r->size, o->uva, o->size)) {
            g_set_error(errp, VIRTIO_ERROR, 0,
                        "memory region 0x%" PRIx64 "+0x%" PRIx64
                        " overlaps region 0x%" PRIx64 "+0x%" PRIx64,
                        r->gpa, r->size, o->gpa, o->size);
            return false;
        }
        if (pos == t->nregions && r->gpa < o->gpa) {
            pos = i;
        }
    }
    memmove(&t->regions[pos + 1], &t->regions[pos],
            (t->nregions - pos) * sizeof(t->regions[0]));
    t->regions[pos] = *r;
    t->nregions++;
    return true;
}

int virtio_mem_table_find(const VirtioMemTable *t, uint64_t gpa, uint64_t size,
                          uint64_t uva)
{
    for (unsigned i = 0; i < t->nregions; i++) {
        const VirtioMemRegion *r = &t->regions[i];

        if (r->gpa == gpa && r->size == size && r->uva == uva) {
            return (int)i;
        }
    }
    return -1;
}

void virtio_mem_table_remove(VirtioMemTable *t, unsigned idx)
{
    g_return_if_fail(idx < t->nregions);
    virtio_mem_region_unmap(&t->regions[idx]);
    memmove(&t->regions[idx], &t->regions[idx + 1],
            (t->nregions - idx - 1) * sizeof(t->regions[0]));
    t->nregions--;
    memset(&t->regions[t->nregions], 0, sizeof(t->regions[0]));
}

void virtio_mem_table_clear(VirtioMemTable *t)
{
    for (unsigned i = 0; i < t->nregions; i++) {
        virtio_mem_region_unmap(&t->regions[i]);
    }
    t->nregions = 0;
}

/* The region holding guest address @gpa, and the offset of @gpa in it. */
static const VirtioMemRegion *find_gpa(const VirtioMemTable *t, uint64_t gpa,
                                       uint64_t *off)
{
    for (unsigned i = 0; i < t->nregions; i++) {
        if (in_range(gpa, t->regions[i].gpa, t->regions[i].size, off)) {
            return &t->regions[i];
        }
    }
    return NULL;
}

void *virtio_mem_gpa_to_host(const VirtioMemTable *t, uint64_t gpa, uint64_t len)
{
    const VirtioMemRegion *r;
    uint64_t off;

    if (len == 0 || !(r = find_gpa(t, gpa, &off)) || len > r->size - off) {
        return NULL;
    }
    return r->host + off;
}

void *virtio_mem_uva_to_host(const VirtioMemTable *t, uint64_t uva, uint64_t len)
{
    uint64_t off;

    for (unsigned i = 0; i < t->nregions && len > 0; i++) {
        const VirtioMemRegion *r = &t->regions[i];

        if (in_range(uva, r->uva, r->size, &off)) {
            return len <= r->size - off ? r->host + off : NULL;
        }
    }
    return NULL;
}

int virtio_mem_gpa_to_iov(const VirtioMemTable *t, uint64_t gpa, uint64_t len,
                          struct iovec *iov, unsigned cap)
{
    unsigned n = 0;

    if (len == 0) {
        return 0;
    }
    if (!range_ok(gpa, len)) {
        return -EFAULT;
    }
    while (len > 0) {
        uint64_t off, chunk;
        const VirtioMemRegion *r = find_gpa(t, gpa, &off);

        if (!r) {
            return -EFAULT;
        }
        if (n == cap) {
            return -E2BIG;
        }
        chunk = MIN(len, r->size - off);
        iov[n].iov_base = r->host + off;
        iov[n].iov_len = chunk;
        n++;
        len -= chunk;
        gpa += chunk; /* no wrap: [gpa, gpa + len) was checked above */
    }
    return (int)n;
}

bool virtio_mem_read(const VirtioMemTable *t, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *p = buf;

    if (len == 0) {
        return true;
    }
    if (!range_ok(gpa, len)) {
        return false;
    }
    while (len > 0) {
        uint64_t off, chunk;
        const VirtioMemRegion *r = find_gpa(t, gpa, &off);

        if (!r) {
            return false;
        }
        chunk = MIN(len, r->size - off);
        memcpy(p, r->host + off, chunk);
        p += chunk;
        len -= chunk;
        gpa += chunk;
    }
    return true;
}
