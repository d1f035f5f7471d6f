/*
 * frontend/fe-mem.h - guest memory of the front-end: memfd regions shared
 * with the back-end, guest-physical <-> host translation, and a small
 * allocator that hands out rings and I/O buffers.
 *
 * Each region is one memfd mapped MAP_SHARED at a host address (the
 * "user address" of vhost-user) and placed at a guest-physical address
 * (what descriptors carry).  Regions never overlap in either space.
 *
 * Thread safety: fe_mem_alloc()/fe_mem_free() may be called from any
 * thread; adding regions and freeing the FeMem may not race with anything.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_MEM_H
#define FRONTEND_FE_MEM_H

#include <stdint.h>

#include <glib.h>

#include "frontend/fe-error.h"

G_BEGIN_DECLS

/** Guest-physical address of the first region of fe_mem_new(). */
#define FE_MEM_GPA_BASE 0x40000000ull

/** Most regions one FeMem holds (more than SET_MEM_TABLE's 8: ADD_MEM_REG). */
#define FE_MEM_MAX_REGIONS 32

/** One shared region. */
typedef struct FeMemRegion {
    int fd;               /**< the memfd (owned by the FeMem) */
    uint8_t *hva;         /**< where this process maps it */
    uint64_t gpa;         /**< guest-physical address of its first byte */
    uint64_t size;        /**< bytes (a multiple of the page size) */
    uint64_t mmap_offset; /**< offset of the region in @fd (0 here) */
} FeMemRegion;

typedef struct FeMem FeMem;

/**
 * fe_mem_new: guest memory with one region of @size bytes (rounded up to
 * the page size) at FE_MEM_GPA_BASE.  The pages are allocated lazily.
 */
FeMem *fe_mem_new(uint64_t size, GError **errp);

/**
 * fe_mem_add_region: add a region of @size bytes at guest address @gpa
 * (page aligned; must not overlap another region).  Returns its index, or
 * -1 with @errp set.  Tell a started back-end with fe_conn_add_mem_reg().
 */
int fe_mem_add_region(FeMem *m, uint64_t gpa, uint64_t size, GError **errp);

/** fe_mem_free: unmap and close every region.  NULL is allowed. */
void fe_mem_free(FeMem *m);

/** fe_mem_n_regions: the number of regions. */
unsigned fe_mem_n_regions(const FeMem *m);

/** fe_mem_region: region @i (< fe_mem_n_regions()). */
const FeMemRegion *fe_mem_region(const FeMem *m, unsigned i);

/**
 * fe_mem_alloc: @size bytes aligned to @align (a power of two, at least 1)
 * from any region, zero-filled.  Returns the host pointer and stores its
 * guest address in *@gpa_out (if not NULL); NULL when no region has room.
 */
void *fe_mem_alloc(FeMem *m, size_t size, size_t align, uint64_t *gpa_out);

/** fe_mem_release: give back a block of fe_mem_alloc().  NULL is allowed. */
void fe_mem_release(FeMem *m, void *hva);

/**
 * fe_mem_translate: the host address of guest range [@gpa, @gpa + @len),
 * or NULL if the range is not inside one region (overflow-safe).
 */
void *fe_mem_translate(const FeMem *m, uint64_t gpa, uint64_t len);

/** fe_mem_gpa: the guest address of host pointer @hva; 0 if not guest memory. */
uint64_t fe_mem_gpa(const FeMem *m, const void *hva);

/** fe_mem_end: one past the highest guest address of any region. */
uint64_t fe_mem_end(const FeMem *m);

G_END_DECLS

#endif /* FRONTEND_FE_MEM_H */
