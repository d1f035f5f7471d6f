/*
 * frontend/fe-mem.c - memfd guest memory and its first-fit allocator.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend/fe-mem.h"

/* A free range of a region, as offsets from the region's start. */
typedef struct {
    uint64_t off, len;
} FeRange;

typedef struct {
    FeMemRegion r;
    GArray *free; /* FeRange, sorted by offset, never adjacent */
} FeRegion;

struct FeMem {
    pthread_mutex_t lock; /* the free lists and @blocks (pthread: TSan sees it) */
    GHashTable *blocks;   /* hva -> FeRange of the allocation (g_new) */
    FeRegion regions[FE_MEM_MAX_REGIONS];
    unsigned n;
};

G_DEFINE_QUARK(fe - error - quark, fe_error)

static uint64_t page_size(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

FeMem *fe_mem_new(uint64_t size, GError **errp)
{
    FeMem *m = g_new0(FeMem, 1);

    pthread_mutex_init(&m->lock, NULL);
    m->blocks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    if (fe_mem_add_region(m, FE_MEM_GPA_BASE, size, errp) < 0) {
        fe_mem_free(m);
        return NULL;
    }
    return m;
}

static gboolean overlaps(const FeMem *m, uint64_t gpa, uint64_t size)
{
    for (unsigned i = 0; i < m->n; i++) {
        const FeMemRegion *r = &m->regions[i].r;

        if (gpa < r->gpa + r->size && r->gpa < gpa + size) {
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean check_region(const FeMem *m, uint64_t gpa, uint64_t size, GError **errp)
{
    if (m->n == FE_MEM_MAX_REGIONS) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "Guest memory has its maximum of %d regions", FE_MEM_MAX_REGIONS);
        return FALSE;
    }
    if (size == 0 || size > (1ull << 46) || gpa % page_size() || gpa + size < gpa) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "Bad guest memory region: %" G_GUINT64_FORMAT
                    " bytes at 0x%" G_GINT64_MODIFIER "x",
                    size, gpa);
        return FALSE;
    }
    if (overlaps(m, gpa, size)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "Guest memory region at 0x%" G_GINT64_MODIFIER
                    "x overlaps another one",
                    gpa);
        return FALSE;
    }
    return TRUE;
}

static int map_memfd(uint64_t size, uint8_t **hva, GError **errp)
{
    int fd = memfd_create("qcontext-guest-ram", MFD_CLOEXEC);
    void *p;

    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        int err = errno;

        g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "Cannot create guest memory: %s",
                    g_strerror(err));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;

        g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "Cannot map guest memory: %s",
                    g_strerror(err));
        close(fd);
        return -1;
    }
    *hva = p;
    return fd;
}

int fe_mem_add_region(FeMem *m, uint64_t gpa, uint64_t size, GError **errp)
{
    FeRegion *reg;
    FeRange all;
    int fd;

    size = (size + page_size() - 1) & ~(page_size() - 1);
    if (!check_region(m, gpa, size, errp)) {
        return -1;
    }
    reg = &m->regions[m->n];
    fd = map_memfd(size, &reg->r.hva, errp);
    if (fd < 0) {
        return -1;
    }
    reg->r.fd = fd;
    reg->r.gpa = gpa;
    reg->r.size = size;
    reg->r.mmap_offset = 0;
    reg->free = g_array_new(FALSE, FALSE, sizeof(FeRange));
    all = (FeRange){.off = 0, .len = size};
    g_array_append_val(reg->free, all);
    return (int)m->n++;
}

void fe_mem_free(FeMem *m)
{
    if (!m) {
        return;
    }
    for (unsigned i = 0; i < m->n; i++) {
        munmap(m->regions[i].r.hva, m->regions[i].r.size);
        close(m->regions[i].r.fd);
        g_array_free(m->regions[i].free, TRUE);
    }
    g_hash_table_destroy(m->blocks);
    pthread_mutex_destroy(&m->lock);
    g_free(m);
}

unsigned fe_mem_n_regions(const FeMem *m)
{
    return m->n;
}

const FeMemRegion *fe_mem_region(const FeMem *m, unsigned i)
{
    g_return_val_if_fail(i < m->n, NULL);
    return &m->regions[i].r;
}

/* Carve [off, off + len) out of free range @k of @reg. */
static void take_range(FeRegion *reg, guint k, uint64_t off, uint64_t len)
{
    FeRange *f = &g_array_index(reg->free, FeRange, k);
    FeRange after = {.off = off + len, .len = f->off + f->len - (off + len)};

    f->len = off - f->off;
    if (f->len && after.len) {
        g_array_insert_val(reg->free, k + 1, after);
    } else if (after.len) {
        *f = after;
    } else if (!f->len) {
        g_array_remove_index(reg->free, k);
    }
}

/* first fit in @reg; G_MAXUINT64 if nothing fits */
static uint64_t region_alloc(FeRegion *reg, uint64_t size, uint64_t align)
{
    for (guint k = 0; k < reg->free->len; k++) {
        FeRange *f = &g_array_index(reg->free, FeRange, k);
        uint64_t gpa = (reg->r.gpa + f->off + align - 1) & ~(align - 1);
        uint64_t off = gpa - reg->r.gpa;

        if (off + size <= f->off + f->len) {
            take_range(reg, k, off, size);
            return off;
        }
    }
    return G_MAXUINT64;
}

void *fe_mem_alloc(FeMem *m, size_t size, size_t align, uint64_t *gpa_out)
{
    void *p = NULL;

    g_return_val_if_fail(align && !(align & (align - 1)), NULL);
    size = size ? (size + 7) & ~(size_t)7 : 8;
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < m->n && !p; i++) {
        FeRegion *reg = &m->regions[i];
        uint64_t off = region_alloc(reg, size, MAX(align, 8));
        FeRange *blk;

        if (off == G_MAXUINT64) {
            continue;
        }
        p = reg->r.hva + off;
        blk = g_new(FeRange, 1);
        *blk = (FeRange){.off = off, .len = size};
        g_hash_table_insert(m->blocks, p, blk);
        if (gpa_out) {
            *gpa_out = reg->r.gpa + off;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (p) {
        memset(p, 0, size);
    }
    return p;
}

/* Return [off, off + len) to @reg's sorted free list, merging neighbours. */
static void region_give_back(FeRegion *reg, uint64_t off, uint64_t len)
{
    guint k = 0;
    FeRange r = {.off = off, .len = len};

    while (k < reg->free->len && g_array_index(reg->free, FeRange, k).off < off) {
        k++;
    }
    g_array_insert_val(reg->free, k, r);
    if (k + 1 < reg->free->len) {
        FeRange *cur = &g_array_index(reg->free, FeRange, k);
        FeRange *next = cur + 1;

        if (cur->off + cur->len == next->off) {
            cur->len += next->len;
            g_array_remove_index(reg->free, k + 1);
        }
    }
    if (k > 0) {
        FeRange *prev = &g_array_index(reg->free, FeRange, k - 1);
        FeRange *cur = prev + 1;

        if (prev->off + prev->len == cur->off) {
            prev->len += cur->len;
            g_array_remove_index(reg->free, k);
        }
    }
}

static FeRegion *region_of_hva(FeMem *m, const void *hva)
{
    for (unsigned i = 0; i < m->n; i++) {
        FeRegion *reg = &m->regions[i];
        const uint8_t *p = hva;

        if (p >= reg->r.hva && p < reg->r.hva + reg->r.size) {
            return reg;
        }
    }
    return NULL;
}

void fe_mem_release(FeMem *m, void *hva)
{
    FeRange *blk;
    FeRegion *reg;

    if (!hva) {
        return;
    }
    pthread_mutex_lock(&m->lock);
    blk = g_hash_table_lookup(m->blocks, hva);
    reg = region_of_hva(m, hva);
    if (blk && reg) {
        region_give_back(reg, blk->off, blk->len);
        g_hash_table_remove(m->blocks, hva);
    } else {
        g_critical("fe_mem_release: %p was not allocated from this guest memory", hva);
    }
    pthread_mutex_unlock(&m->lock);
}

void *fe_mem_translate(const FeMem *m, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < m->n; i++) {
        const FeMemRegion *r = &m->regions[i].r;

        if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
            len <= r->size - (gpa - r->gpa)) {
            return r->hva + (gpa - r->gpa);
        }
    }
    return NULL;
}

uint64_t fe_mem_gpa(const FeMem *m, const void *hva)
{
    const FeRegion *reg = region_of_hva((FeMem *)m, hva);

    return reg ? reg->r.gpa + (uint64_t)((const uint8_t *)hva - reg->r.hva) : 0;
}

uint64_t fe_mem_end(const FeMem *m)
{
    uint64_t end = 0;

    for (unsigned i = 0; i < m->n; i++) {
        end = MAX(end, m->regions[i].r.gpa + m->regions[i].r.size);
    }
    return end;
}
