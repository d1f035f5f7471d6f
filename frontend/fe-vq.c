/*
 * frontend/fe-vq.c - split virtqueue, driver side (virtio 1.x 2.7).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "qcontext/aio/atomic.h"
#include "frontend/fe-vq.h"

/* The driver's private record of one head. */
typedef struct {
    void *token;    /* NULL: not outstanding */
    uint16_t ndesc; /* descriptors of the main table it holds */
} FeVqHead;

struct FeVq {
    FeMem *mem;
    unsigned index, size;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    struct vring_desc *indirect; /* size * max_indirect entries, or NULL */
    uint64_t indirect_gpa;
    unsigned max_indirect;
    gboolean use_indirect, event_idx;

    uint16_t *next; /* private chain links (never read back from the table) */
    FeVqHead *heads;
    uint16_t free_head;
    unsigned num_free, outstanding;
    uint16_t avail_idx;  /* next avail slot (== avail->idx once published) */
    uint16_t kicked_idx; /* avail_idx at the last kick decision */
    uint16_t last_used;  /* next used slot to harvest */
    uint16_t seen_used;  /* used->idx as last read: harvest up to it first */
    gboolean cb_enabled;

    int kick_fd, call_fd, watch_fd;
    uint64_t kicks; /* kick eventfd writes */
    char *error;
};

/* ------------------------------------------------------------------------ */
/* Setup                                                                      */
/* ------------------------------------------------------------------------ */

static size_t avail_bytes(unsigned size)
{
    return sizeof(struct vring_avail) + sizeof(uint16_t) * (size + 1);
}

static size_t used_bytes(unsigned size)
{
    return sizeof(struct vring_used) + sizeof(struct vring_used_elem) * size +
           sizeof(uint16_t);
}

static void init_free_list(FeVq *vq)
{
    for (unsigned i = 0; i < vq->size; i++) {
        vq->next[i] = (uint16_t)(i + 1);
    }
    vq->free_head = 0;
    vq->num_free = vq->size;
    vq->outstanding = 0;
}

static gboolean alloc_rings(FeVq *vq, GError **errp)
{
    uint64_t gpa;

    /* 64-byte alignment (beyond the spec's 16/2/4) keeps the parts on
     * separate cache lines. */
    vq->desc = fe_mem_alloc(vq->mem, sizeof(struct vring_desc) * vq->size, 64, &gpa);
    vq->avail = fe_mem_alloc(vq->mem, avail_bytes(vq->size), 64, &gpa);
    vq->used = fe_mem_alloc(vq->mem, used_bytes(vq->size), 64, &gpa);
    if (vq->max_indirect) {
        vq->indirect = fe_mem_alloc(
            vq->mem, sizeof(struct vring_desc) * vq->size * vq->max_indirect, 16,
            &vq->indirect_gpa);
    }
    if (!vq->desc || !vq->avail || !vq->used || (vq->max_indirect && !vq->indirect)) {
        g_set_error(errp, FE_ERROR, FE_ERROR_NOSPACE,
                    "Guest memory is too small for queue %u of size %u", vq->index,
                    vq->size);
        return FALSE;
    }
    return TRUE;
}

FeVq *fe_vq_new(FeMem *mem, unsigned index, unsigned size, uint64_t features,
                unsigned max_indirect, GError **errp)
{
    FeVq *vq;

    if (size == 0 || size > FE_VQ_MAX_SIZE || (size & (size - 1))) {
        g_set_error(errp, FE_ERROR, FE_ERROR_INVALID,
                    "Queue size %u is not a power of two in 1..%d", size,
                    FE_VQ_MAX_SIZE);
        return NULL;
    }
    vq = g_new0(FeVq, 1);
    vq->mem = mem;
    vq->index = index;
    vq->size = size;
    vq->event_idx = !!(features & (1ull << VIRTIO_RING_F_EVENT_IDX));
    if (features & (1ull << VIRTIO_RING_F_INDIRECT_DESC)) {
        vq->max_indirect = MIN(max_indirect, size);
    }
    vq->use_indirect = vq->max_indirect > 0;
    vq->next = g_new(uint16_t, size);
    vq->heads = g_new0(FeVqHead, size);
    vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    vq->watch_fd = -1;
    vq->cb_enabled = TRUE;
    if (vq->kick_fd < 0 || vq->call_fd < 0) {
        int err = errno;

        g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "eventfd: %s", g_strerror(err));
        fe_vq_free(vq);
        return NULL;
    }
    if (!alloc_rings(vq, errp)) {
        fe_vq_free(vq);
        return NULL;
    }
    init_free_list(vq);
    return vq;
}

void fe_vq_free(FeVq *vq)
{
    if (!vq) {
        return;
    }
    if (vq->kick_fd >= 0) {
        close(vq->kick_fd);
    }
    if (vq->call_fd >= 0) {
        close(vq->call_fd);
    }
    fe_mem_release(vq->mem, vq->desc);
    fe_mem_release(vq->mem, vq->avail);
    fe_mem_release(vq->mem, vq->used);
    fe_mem_release(vq->mem, vq->indirect);
    g_free(vq->next);
    g_free(vq->heads);
    g_free(vq->error);
    g_free(vq);
}

unsigned fe_vq_index(const FeVq *vq)
{
    return vq->index;
}

unsigned fe_vq_size(const FeVq *vq)
{
    return vq->size;
}

int fe_vq_kick_fd(const FeVq *vq)
{
    return vq->kick_fd;
}

int fe_vq_call_fd(const FeVq *vq)
{
    return vq->call_fd;
}

void fe_vq_addr(const FeVq *vq, VhostUserVringAddr *out)
{
    memset(out, 0, sizeof(*out));
    out->index = vq->index;
    out->desc_user_addr = (uint64_t)(uintptr_t)vq->desc;
    out->used_user_addr = (uint64_t)(uintptr_t)vq->used;
    out->avail_user_addr = (uint64_t)(uintptr_t)vq->avail;
}

void fe_vq_set_indirect(FeVq *vq, gboolean on)
{
    vq->use_indirect = on && vq->max_indirect > 0;
}

void fe_vq_set_watch_fd(FeVq *vq, int fd)
{
    vq->watch_fd = fd;
}

/* ------------------------------------------------------------------------ */
/* Adding chains                                                              */
/* ------------------------------------------------------------------------ */

static uint16_t *used_event(FeVq *vq)
{
    return &vq->avail->ring[vq->size];
}

static uint16_t *avail_event(FeVq *vq)
{
    return (uint16_t *)&vq->used->ring[vq->size];
}

static void write_desc(struct vring_desc *d, const FeVqBuf *b, uint16_t flags,
                       uint16_t next)
{
    d->addr = b->gpa;
    d->len = b->len;
    d->flags = flags | (b->write ? VRING_DESC_F_WRITE : 0);
    d->next = next;
}

/* Take one descriptor off the free list. */
static uint16_t take_desc(FeVq *vq)
{
    uint16_t i = vq->free_head;

    vq->free_head = vq->next[i];
    vq->num_free--;
    return i;
}

/* Publish @head in the next avail slot. */
static void publish(FeVq *vq, uint16_t head)
{
    qatomic_set(&vq->avail->ring[vq->avail_idx & (vq->size - 1)], head);
    vq->avail_idx++;
    /* release: the descriptors and the ring entry are visible before the
     * index; pairs with the back-end's smp_rmb() after it reads avail->idx */
    qatomic_store_release(&vq->avail->idx, vq->avail_idx);
}

static uint16_t add_indirect(FeVq *vq, const FeVqBuf *bufs, unsigned n)
{
    uint16_t head = take_desc(vq);
    struct vring_desc *table = &vq->indirect[(size_t)head * vq->max_indirect];
    FeVqBuf table_buf = {
        .gpa = vq->indirect_gpa + sizeof(*table) * (size_t)head * vq->max_indirect,
        .len = (uint32_t)(sizeof(*table) * n),
    };

    for (unsigned i = 0; i < n; i++) {
        write_desc(&table[i], &bufs[i], i + 1 < n ? VRING_DESC_F_NEXT : 0,
                   i + 1 < n ? (uint16_t)(i + 1) : 0);
    }
    write_desc(&vq->desc[head], &table_buf, VRING_DESC_F_INDIRECT, 0);
    vq->next[head] = vq->free_head; /* not a chain: keep the link tidy */
    vq->heads[head].ndesc = 1;
    return head;
}

static uint16_t add_direct(FeVq *vq, const FeVqBuf *bufs, unsigned n)
{
    uint16_t head = vq->free_head, i = head;

    for (unsigned k = 0; k < n; k++) {
        i = take_desc(vq);
        write_desc(&vq->desc[i], &bufs[k], k + 1 < n ? VRING_DESC_F_NEXT : 0,
                   k + 1 < n ? vq->free_head : 0);
    }
    vq->heads[head].ndesc = (uint16_t)n;
    return head;
}

int fe_vq_add(FeVq *vq, const FeVqBuf *bufs, unsigned n, void *token)
{
    gboolean indirect = vq->use_indirect && n > 1 && n <= vq->max_indirect;
    uint16_t head;

    g_return_val_if_fail(token && n > 0, -1);
    if (vq->error || vq->num_free < (indirect ? 1 : n)) {
        return -1;
    }
    head = indirect ? add_indirect(vq, bufs, n) : add_direct(vq, bufs, n);
    vq->heads[head].token = token;
    vq->outstanding++;
    publish(vq, head);
    return head;
}

gboolean fe_vq_kick(FeVq *vq)
{
    uint16_t old = vq->kicked_idx, new = vq->avail_idx;
    gboolean need;

    /* full fence: avail->idx is visible before we read the back-end's
     * suppression state; pairs with the back-end's smp_mb() between writing
     * avail_event (or clearing VRING_USED_F_NO_NOTIFY) and re-reading
     * avail->idx, so one of us sees the other's write */
    smp_mb();
    if (vq->event_idx) {
        need = vring_need_event(qatomic_read(avail_event(vq)), new, old);
    } else {
        need = !(qatomic_read(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
    }
    vq->kicked_idx = new;
    if (need && new != old) {
        fe_vq_notify(vq);
        return TRUE;
    }
    return FALSE;
}

uint64_t fe_vq_kicks(const FeVq *vq)
{
    return vq->kicks;
}

void fe_vq_notify(FeVq *vq)
{
    uint64_t one = 1;
    ssize_t ret;

    vq->kicks++;
    do {
        ret = write(vq->kick_fd, &one, sizeof(one));
    } while (ret < 0 && errno == EINTR);
    /* EAGAIN: the counter is saturated, the back-end is signalled already */
}

/* ------------------------------------------------------------------------ */
/* Harvesting                                                                 */
/* ------------------------------------------------------------------------ */

static void set_error(FeVq *vq, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void set_error(FeVq *vq, const char *fmt, ...)
{
    va_list ap;

    if (vq->error) {
        return;
    }
    va_start(ap, fmt);
    vq->error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void free_chain(FeVq *vq, uint16_t head)
{
    uint16_t last = head;

    for (unsigned k = 1; k < vq->heads[head].ndesc; k++) {
        last = vq->next[last];
    }
    vq->next[last] = vq->free_head;
    vq->free_head = head;
    vq->num_free += vq->heads[head].ndesc;
    vq->heads[head].token = NULL;
    vq->heads[head].ndesc = 0;
    vq->outstanding--;
}

void *fe_vq_get_used(FeVq *vq, uint32_t *len)
{
    struct vring_used_elem *e;
    uint32_t id;
    void *token;

    if (vq->error) {
        return NULL;
    }
    if (vq->last_used == vq->seen_used) {
        /* One read of the index per batch, not per element: the back-end
         * writes that line at each completion, every read may miss.
         * acquire: the elements up to it are read after the index; pairs
         * with the back-end's smp_wmb() (or release) before it publishes
         * used->idx */
        vq->seen_used = qatomic_load_acquire(&vq->used->idx);
        if (vq->last_used == vq->seen_used) {
            return NULL;
        }
    }
    e = &vq->used->ring[vq->last_used & (vq->size - 1)];
    id = qatomic_read(&e->id);
    if (id >= vq->size || !vq->heads[id].token) {
        set_error(vq, "queue %u: the back-end returned %s head %u at used index %u",
                  vq->index, id >= vq->size ? "out-of-range" : "a non-outstanding", id,
                  vq->last_used);
        return NULL;
    }
    if (len) {
        *len = qatomic_read(&e->len);
    }
    token = vq->heads[id].token;
    free_chain(vq, (uint16_t)id);
    vq->last_used++;
    return token;
}

gboolean fe_vq_enable_cb(FeVq *vq)
{
    if (vq->event_idx) {
        qatomic_set(used_event(vq), vq->last_used);
    } else {
        qatomic_set(&vq->avail->flags, 0);
    }
    vq->cb_enabled = TRUE;
    /* full fence: used_event (or the flag) is visible before we re-read
     * used->idx; pairs with the back-end's smp_mb() between publishing
     * used->idx and reading used_event (or avail->flags) */
    smp_mb();
    return qatomic_read(&vq->used->idx) == vq->last_used;
}

void fe_vq_disable_cb(FeVq *vq)
{
    /* with EVENT_IDX, flags stay 0 (virtio 2.7.10): an old used_event
     * already lets at most one more notification through */
    if (!vq->event_idx) {
        qatomic_set(&vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
    }
    vq->cb_enabled = FALSE;
}

gboolean fe_vq_wait(FeVq *vq, int timeout_ms, GError **errp)
{
    struct pollfd pfd[2] = {{.fd = vq->call_fd, .events = POLLIN},
                            {.fd = vq->watch_fd, .events = 0}};
    gint64 deadline =
        timeout_ms < 0 ? -1 : g_get_monotonic_time() + timeout_ms * 1000ll;

    for (;;) {
        gint64 left =
            deadline < 0 ? -1 : (deadline - g_get_monotonic_time() + 999) / 1000;
        int ret =
            poll(pfd, vq->watch_fd >= 0 ? 2 : 1, deadline < 0 ? -1 : (int)MAX(left, 0));
        uint64_t v;

        if (ret < 0 && errno == EINTR) {
            continue;
        }
        if (ret < 0) {
            int err = errno;

            g_set_error(errp, FE_ERROR, FE_ERROR_FAILED, "poll: %s", g_strerror(err));
            return FALSE;
        }
        if (ret == 0) {
            g_set_error(errp, FE_ERROR, FE_ERROR_TIMEOUT,
                        "Queue %u: no completion from the back-end within %d ms",
                        vq->index, timeout_ms);
            return FALSE;
        }
        if (pfd[0].revents & POLLIN) {
            while (read(vq->call_fd, &v, sizeof(v)) < 0 && errno == EINTR) {
            }
            return TRUE;
        }
        if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            g_set_error(errp, FE_ERROR, FE_ERROR_DISCONNECTED,
                        "Queue %u: the vhost-user back-end disconnected", vq->index);
            return FALSE;
        }
    }
}

unsigned fe_vq_outstanding(const FeVq *vq)
{
    return vq->outstanding;
}

unsigned fe_vq_num_free(const FeVq *vq)
{
    return vq->num_free;
}

uint16_t fe_vq_avail_idx(const FeVq *vq)
{
    return vq->avail_idx;
}

uint16_t fe_vq_last_used_idx(const FeVq *vq)
{
    return vq->last_used;
}

uint16_t fe_vq_used_idx(const FeVq *vq)
{
    /* acquire pairs with the back-end's smp_wmb() before publishing used->idx */
    return qatomic_load_acquire(&vq->used->idx);
}

const char *fe_vq_error(const FeVq *vq)
{
    return vq->error;
}

void fe_vq_reset(FeVq *vq, void (*abort_fn)(void *token, void *opaque), void *opaque)
{
    for (unsigned h = 0; h < vq->size; h++) {
        void *token = vq->heads[h].token;

        vq->heads[h] = (FeVqHead){0};
        if (token && abort_fn) {
            abort_fn(token, opaque);
        }
    }
    memset(vq->desc, 0, sizeof(struct vring_desc) * vq->size);
    memset(vq->avail, 0, avail_bytes(vq->size));
    memset(vq->used, 0, used_bytes(vq->size));
    vq->avail_idx = vq->kicked_idx = vq->last_used = vq->seen_used = 0;
    g_clear_pointer(&vq->error, g_free);
    init_free_list(vq);
}

/* ------------------------------------------------------------------------ */
/* Raw access                                                                 */
/* ------------------------------------------------------------------------ */

struct vring_desc *fe_vq_desc_table(FeVq *vq)
{
    return vq->desc;
}

struct vring_avail *fe_vq_avail(FeVq *vq)
{
    return vq->avail;
}

struct vring_used *fe_vq_used(FeVq *vq)
{
    return vq->used;
}

gboolean fe_vq_reserve(FeVq *vq, unsigned n, uint16_t *ids)
{
    if (n == 0 || vq->num_free < n) {
        return FALSE;
    }
    for (unsigned k = 0; k < n; k++) {
        ids[k] = take_desc(vq);
    }
    return TRUE;
}

void fe_vq_push_raw(FeVq *vq, const uint16_t *ids, unsigned n, void *token)
{
    g_return_if_fail(token && n > 0);
    /* the private links follow the reservation, whatever the table says */
    for (unsigned k = 0; k + 1 < n; k++) {
        vq->next[ids[k]] = ids[k + 1];
    }
    vq->heads[ids[0]].token = token;
    vq->heads[ids[0]].ndesc = (uint16_t)n;
    vq->outstanding++;
    publish(vq, ids[0]);
}

void fe_vq_push_head(FeVq *vq, uint16_t head)
{
    publish(vq, head);
}

void fe_vq_set_avail_idx(FeVq *vq, uint16_t idx)
{
    vq->avail_idx = idx;
    /* release pairs with the back-end's smp_rmb() after reading avail->idx */
    qatomic_store_release(&vq->avail->idx, idx);
}
