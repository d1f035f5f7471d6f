/*
 * devices/virtio/virtio-mem.h - the guest memory table of a virtio device
 * whose memory is shared by its front-end (vhost-user).
 *
 * Each region is a range of guest physical addresses (GPA) that the
 * front-end also knows by its own virtual address (UVA), backed by a file
 * (a memfd, a hugetlbfs or tmpfs file) that we map at @host.  Every address
 * a guest or a front-end hands us is translated here, with full bounds and
 * overflow checks: an address range is accepted only if every byte of it is
 * inside the table.  A range may span several regions; the iovec form then
 * returns one iovec per piece.
 *
 * Threading: the table is changed only while no queue uses it (every ring
 * stopped); translations are read-only and may run on any number of queue
 * threads at once.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VIRTIO_MEM_H
#define QCONTEXT_DEVICES_VIRTIO_MEM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>

G_BEGIN_DECLS

/** Error domain of devices/virtio/ (every error is a one-line message). */
#define VIRTIO_ERROR (virtio_error_quark())
/** virtio_error_quark: the GQuark behind the error domain macro above. */
GQuark virtio_error_quark(void);

/** Most regions a table holds (what GET_MAX_MEM_SLOTS reports). */
#define VIRTIO_MEM_MAX_REGIONS 32

/** One mapped region. */
typedef struct VirtioMemRegion {
    uint64_t gpa;         /**< guest physical address of its first byte */
    uint64_t size;        /**< bytes, > 0 */
    uint64_t uva;         /**< the front-end's address of its first byte */
    uint64_t mmap_offset; /**< offset of its first byte in the file */
    uint8_t *host;        /**< our address of its first byte */
    void *map_base;       /**< what mmap() returned (page aligned) */
    size_t map_len;       /**< length of that mapping */
} VirtioMemRegion;

/** The regions of one device, sorted by @gpa, never overlapping. */
typedef struct VirtioMemTable {
    unsigned nregions;                               /**< regions in use */
    VirtioMemRegion regions[VIRTIO_MEM_MAX_REGIONS]; /**< sorted by gpa */
} VirtioMemTable;

/**
 * virtio_mem_region_map: validate and map one region of @fd (not consumed:
 * the caller closes it; the mapping stays valid without it).  Refused with
 * a one-line error: a file that is not a regular file (memfd, tmpfs,
 * hugetlbfs), @size 0, a GPA, UVA or offset range that wraps around 2^64,
 * or a range larger than the file.  On success fills @r.
 */
bool virtio_mem_region_map(VirtioMemRegion *r, int fd, uint64_t gpa, uint64_t size,
                           uint64_t uva, uint64_t mmap_offset, GError **errp);

/** virtio_mem_region_unmap: undo virtio_mem_region_map() (no-op if unmapped). */
void virtio_mem_region_unmap(VirtioMemRegion *r);

/**
 * virtio_mem_table_insert: add the mapped region @r to @t (which then owns
 * its mapping).  Fails, leaving @t unchanged and @r still the caller's, if
 * the table is full or @r overlaps a region of @t in guest physical or
 * front-end address space.
 */
bool virtio_mem_table_insert(VirtioMemTable *t, const VirtioMemRegion *r,
                             GError **errp);

/**
 * virtio_mem_table_find: the index of the region with exactly this @gpa,
 * @size and @uva (as REM_MEM_REG identifies one), or -1.
 */
int virtio_mem_table_find(const VirtioMemTable *t, uint64_t gpa, uint64_t size,
                          uint64_t uva);

/** virtio_mem_table_remove: unmap region @idx of @t and drop it from the table. */
void virtio_mem_table_remove(VirtioMemTable *t, unsigned idx);

/** virtio_mem_table_clear: unmap every region; @t is empty afterwards. */
void virtio_mem_table_clear(VirtioMemTable *t);

/**
 * virtio_mem_gpa_to_host: our pointer to guest range [@gpa, @gpa + @len),
 * which must lie inside one region, or NULL.  @len 0 is refused (NULL).
 */
void *virtio_mem_gpa_to_host(const VirtioMemTable *t, uint64_t gpa, uint64_t len);

/**
 * virtio_mem_uva_to_host: as virtio_mem_gpa_to_host() for a range of the
 * front-end's virtual addresses (vhost-user ring addresses).
 */
void *virtio_mem_uva_to_host(const VirtioMemTable *t, uint64_t uva, uint64_t len);

/**
 * virtio_mem_gpa_to_iov: translate guest range [@gpa, @gpa + @len) into at
 * most @cap iovecs (one per region it crosses) at @iov.  Returns the number
 * of iovecs written (0 when @len is 0), -EFAULT if any byte is outside the
 * table (or the range wraps), -E2BIG if more than @cap iovecs are needed.
 */
int virtio_mem_gpa_to_iov(const VirtioMemTable *t, uint64_t gpa, uint64_t len,
                          struct iovec *iov, unsigned cap);

/**
 * virtio_mem_read: copy guest range [@gpa, @gpa + @len) to @buf, across
 * regions if needed.  False (nothing meaningful in @buf) if any byte is
 * outside the table.
 */
bool virtio_mem_read(const VirtioMemTable *t, uint64_t gpa, void *buf, size_t len);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VIRTIO_MEM_H */
