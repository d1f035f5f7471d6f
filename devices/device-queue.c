/*
 * devices/device-queue.c - planes (the control plane and the request
 * queues): request accounting and the sources a plane registers, which the
 * base class attaches, detaches and carries from context to context.
 *
 * fd handlers, event notifiers and timers are registered on the AioContext
 * with the device's own callbacks (no wrapper on the hot path); the plane
 * only remembers them.  A moving timer keeps its expiry.  A BH goes through
 * a small wrapper so that a schedule from another thread while the plane is
 * between two contexts is kept (pending) and run once the plane is attached
 * again.
 *
 * SPDX-License-Identifier: MIT
 */
#include "device-internal.h"

typedef struct {
    DeviceSource src;
    int fd;
    IOHandler *io_read;
    IOHandler *io_write;
    AioPollFn *io_poll;
    IOHandler *io_poll_ready;
    void *opaque;
} DeviceFdSource;

typedef struct {
    DeviceSource src;
    EventNotifier *e;
    EventNotifierHandler *io_read;
    AioPollFn *io_poll;
    EventNotifierHandler *io_poll_ready;
    EventNotifierHandler *io_poll_begin;
    EventNotifierHandler *io_poll_end;
} DeviceNotifierSource;

struct DeviceBH {
    DeviceSource src;
    QEMUBHFunc *cb;
    void *opaque;
    QEMUBH *qbh;     /* on the attached AioContext; q->bh_lock */
    AioContext *aio; /* the same AioContext or NULL; atomic, written under bh_lock */
    int pending;     /* atomic: scheduled and not yet run */
};

struct DeviceTimer {
    DeviceSource src;
    QEMUClockType type;
    int scale;
    QEMUTimerCB *cb;
    void *opaque;
    QEMUTimer *qt;     /* while attached */
    int64_t expire_ns; /* while detached: when to fire, or -1 */
};

const char *device_queue_state_str(DeviceQueueState state)
{
    static const char *const names[] = {
        [DEVICE_QUEUE_DETACHED] = "detached", [DEVICE_QUEUE_STOPPED] = "stopped",
        [DEVICE_QUEUE_RUNNING] = "running",   [DEVICE_QUEUE_STOPPING] = "stopping",
        [DEVICE_QUEUE_MOVING] = "moving",
    };
    return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "unknown";
}

DeviceQueue *device_queue_new(Device *dev, int index, QContext *ctx)
{
    DeviceQueue *q = g_new0(DeviceQueue, 1);

    q->dev = dev;
    q->index = index;
    q->ctx = g_object_ref(ctx);
    q->state = DEVICE_QUEUE_DETACHED;
    g_queue_init(&q->sources);
    pthread_mutex_init(&q->bh_lock, NULL);
    return q;
}

void device_queue_free(DeviceQueue *q)
{
    if (!q) {
        return;
    }
    device_queue_free_sources(q);
    pthread_mutex_destroy(&q->bh_lock);
    g_clear_object(&q->ctx);
    g_free(q);
}

void device_queue_set_state(DeviceQueue *q, DeviceQueueState state)
{
    device_lock(q->dev);
    q->state = state;
    device_unlock(q->dev);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */
/* ------------------------------------------------------------------------ */

Device *device_queue_get_device(DeviceQueue *q)
{
    return q->dev;
}

int device_queue_get_index(DeviceQueue *q)
{
    return q->index;
}

QContext *device_queue_get_context(DeviceQueue *q)
{
    QContext *ctx;

    device_lock(q->dev);
    ctx = g_object_ref(q->ctx);
    device_unlock(q->dev);
    return ctx;
}

DeviceQueueState device_queue_get_state(DeviceQueue *q)
{
    DeviceQueueState state;

    device_lock(q->dev);
    state = q->state;
    device_unlock(q->dev);
    return state;
}

AioContext *device_queue_get_aio_context(DeviceQueue *q)
{
    AioContext *aio = qatomic_read(&q->aio);

    return aio && in_aio_context_home_thread(aio) ? aio : NULL;
}

gboolean device_queue_in_thread(DeviceQueue *q)
{
    return device_queue_get_aio_context(q) != NULL;
}

void device_queue_get_stats(DeviceQueue *q, DeviceStats *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->started = qatomic_read(&q->started);
    stats->completed = qatomic_read(&q->completed);
    stats->failed = qatomic_read(&q->failed);
    stats->in_flight = (guint64)MAX(0, qatomic_read(&q->in_flight));
    stats->moves = qatomic_read(&q->moves);
}

/* ------------------------------------------------------------------------ */
/* Request accounting                                                        */
/* ------------------------------------------------------------------------ */

void device_queue_request_begin(DeviceQueue *q)
{
    qatomic_add_relaxed(&q->started, 1);
    /* SEQ_CST like the decrement in device_queue_request_end(): a begin on
     * another thread is seen by the stop step's load (step_stop()). */
    qatomic_inc(&q->in_flight);
}

void device_queue_request_end(DeviceQueue *q, gboolean success)
{
    qatomic_add_relaxed(success ? &q->completed : &q->failed, 1);
    /*
     * Store-load pattern with the engine's stop step, which sets draining
     * and then reads in_flight; here we decrement in_flight and then read
     * draining.  Both sides are SEQ_CST, so at least one sees the other
     * and the end of the drain is noticed.
     */
    if (__atomic_sub_fetch(&q->in_flight, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&q->draining, __ATOMIC_SEQ_CST)) {
        device_engine_drained(q);
    }
}

/* ------------------------------------------------------------------------ */
/* Tracked sources                                                           */
/* ------------------------------------------------------------------------ */

/* Registration is for the plane's thread, or for a detached plane. */
static gboolean queue_may_register(DeviceQueue *q, const char *what)
{
    AioContext *aio = qatomic_read(&q->aio);

    if (aio && !in_aio_context_home_thread(aio)) {
        g_critical("device '%s': %s of queue %d called off its thread",
                   device_get_id(q->dev), what, q->index);
        return FALSE;
    }
    return TRUE;
}

static void source_link(DeviceQueue *q, DeviceSource *src, DeviceSourceKind kind)
{
    src->kind = kind;
    src->q = q;
    src->link.data = src;
    g_queue_push_tail_link(&q->sources, &src->link);
}

static void source_unlink(DeviceSource *src)
{
    g_queue_unlink(&src->q->sources, &src->link);
}

static DeviceSource *source_find(DeviceQueue *q, DeviceSourceKind kind,
                                 gconstpointer key)
{
    for (GList *l = q->sources.head; l; l = l->next) {
        DeviceSource *src = l->data;
        if (src->kind != kind) {
            continue;
        }
        if ((kind == DEVICE_SRC_FD &&
             ((DeviceFdSource *)src)->fd == GPOINTER_TO_INT(key)) ||
            (kind == DEVICE_SRC_NOTIFIER && ((DeviceNotifierSource *)src)->e == key)) {
            return src;
        }
    }
    return NULL;
}

static void fd_source_register(DeviceFdSource *s, AioContext *aio, gboolean on)
{
    if (on) {
        aio_set_fd_handler(aio, s->fd, s->io_read, s->io_write, s->io_poll,
                           s->io_poll_ready, s->opaque);
    } else {
        aio_set_fd_handler(aio, s->fd, NULL, NULL, NULL, NULL, NULL);
    }
}

void device_queue_set_fd_handler(DeviceQueue *q, int fd, IOHandler *io_read,
                                 IOHandler *io_write, AioPollFn *io_poll,
                                 IOHandler *io_poll_ready, void *opaque)
{
    DeviceFdSource *s;
    AioContext *aio = qatomic_read(&q->aio);
    gboolean remove = !io_read && !io_write && !io_poll;

    if (!queue_may_register(q, "set_fd_handler")) {
        return;
    }
    s = (DeviceFdSource *)source_find(q, DEVICE_SRC_FD, GINT_TO_POINTER(fd));
    if (remove) {
        if (s) {
            if (aio) {
                fd_source_register(s, aio, FALSE);
            }
            source_unlink(&s->src);
            g_free(s);
        }
        return;
    }
    if (!s) {
        s = g_new0(DeviceFdSource, 1);
        s->fd = fd;
        source_link(q, &s->src, DEVICE_SRC_FD);
    }
    s->io_read = io_read;
    s->io_write = io_write;
    s->io_poll = io_poll;
    s->io_poll_ready = io_poll_ready;
    s->opaque = opaque;
    if (aio) {
        fd_source_register(s, aio, TRUE);
    }
}

static void notifier_source_register(DeviceNotifierSource *s, AioContext *aio,
                                     gboolean on)
{
    if (!on) {
        aio_set_event_notifier(aio, s->e, NULL, NULL, NULL);
        return;
    }
    aio_set_event_notifier(aio, s->e, s->io_read, s->io_poll, s->io_poll_ready);
    if (s->io_poll_begin || s->io_poll_end) {
        aio_set_event_notifier_poll(aio, s->e, s->io_poll_begin, s->io_poll_end);
    }
}

void device_queue_set_event_notifier(DeviceQueue *q, EventNotifier *e,
                                     EventNotifierHandler *io_read, AioPollFn *io_poll,
                                     EventNotifierHandler *io_poll_ready)
{
    DeviceNotifierSource *s;
    AioContext *aio = qatomic_read(&q->aio);

    if (!queue_may_register(q, "set_event_notifier")) {
        return;
    }
    s = (DeviceNotifierSource *)source_find(q, DEVICE_SRC_NOTIFIER, e);
    if (!io_read && !io_poll) {
        if (s) {
            if (aio) {
                notifier_source_register(s, aio, FALSE);
            }
            source_unlink(&s->src);
            g_free(s);
        }
        return;
    }
    if (!s) {
        s = g_new0(DeviceNotifierSource, 1);
        s->e = e;
        source_link(q, &s->src, DEVICE_SRC_NOTIFIER);
    }
    s->io_read = io_read;
    s->io_poll = io_poll;
    s->io_poll_ready = io_poll_ready;
    if (aio) {
        notifier_source_register(s, aio, TRUE);
    }
}

void device_queue_set_event_notifier_poll(DeviceQueue *q, EventNotifier *e,
                                          EventNotifierHandler *io_poll_begin,
                                          EventNotifierHandler *io_poll_end)
{
    DeviceNotifierSource *s;
    AioContext *aio = qatomic_read(&q->aio);

    if (!queue_may_register(q, "set_event_notifier_poll")) {
        return;
    }
    s = (DeviceNotifierSource *)source_find(q, DEVICE_SRC_NOTIFIER, e);
    if (!s) {
        g_critical("device '%s': set_event_notifier_poll of queue %d: no such "
                   "notifier",
                   device_get_id(q->dev), q->index);
        return;
    }
    s->io_poll_begin = io_poll_begin;
    s->io_poll_end = io_poll_end;
    if (aio) {
        aio_set_event_notifier_poll(aio, e, io_poll_begin, io_poll_end);
    }
}

/* BHs ---------------------------------------------------------------------- */

static void device_bh_cb(void *opaque)
{
    DeviceBH *bh = opaque;

    /* Pairs with the exchange in device_bh_schedule(): a schedule whose
     * exchange comes after this one also schedules the BH again, so it
     * runs once more; one before it is consumed here. */
    if (qatomic_xchg(&bh->pending, 0)) {
        bh->cb(bh->opaque);
    }
}

/* Plane's thread (or detached).  Called with q->bh_lock held. */
static void bh_source_register(DeviceBH *bh, AioContext *aio, gboolean on)
{
    if (on) {
        bh->qbh = aio_bh_new(aio, device_bh_cb, bh);
        qatomic_set(&bh->aio, aio);
        /* A schedule from another thread set pending before taking bh_lock
         * (held here); one from this thread came before in program order. */
        if (qatomic_read(&bh->pending)) {
            qemu_bh_schedule(bh->qbh);
        }
    } else {
        qatomic_set(&bh->aio, NULL);
        g_clear_pointer(&bh->qbh, qemu_bh_delete);
    }
}

DeviceBH *device_queue_bh_new(DeviceQueue *q, QEMUBHFunc *cb, void *opaque)
{
    DeviceBH *bh = g_new0(DeviceBH, 1);
    AioContext *aio = qatomic_read(&q->aio);

    queue_may_register(q, "bh_new");
    bh->cb = cb;
    bh->opaque = opaque;
    source_link(q, &bh->src, DEVICE_SRC_BH);
    if (aio) {
        pthread_mutex_lock(&q->bh_lock);
        bh_source_register(bh, aio, TRUE);
        pthread_mutex_unlock(&q->bh_lock);
    }
    return bh;
}

void device_bh_schedule(DeviceBH *bh)
{
    AioContext *cur = qemu_get_current_aio_context();
    DeviceQueue *q = bh->src.q;

    /*
     * On the plane's own thread nothing can detach it concurrently (detach
     * runs on this thread), so qbh is stable and device_bh_cb() runs here
     * too: no lock, no ordering needed on the hot path.
     */
    if (cur && qatomic_read(&bh->aio) == cur) {
        qatomic_set(&bh->pending, 1);
        qemu_bh_schedule(bh->qbh);
        return;
    }
    /* Pairs with the exchange in device_bh_cb(); under bh_lock it is also
     * seen by the next attach if the plane is between two contexts. */
    qatomic_xchg(&bh->pending, 1);
    pthread_mutex_lock(&q->bh_lock);
    if (bh->qbh) {
        qemu_bh_schedule(bh->qbh);
    }
    pthread_mutex_unlock(&q->bh_lock);
}

void device_bh_cancel(DeviceBH *bh)
{
    /* Plane's thread: pairs with the exchange in device_bh_schedule() as
     * device_bh_cb()'s does (a schedule after this one wins). */
    qatomic_xchg(&bh->pending, 0);
    if (bh->qbh) {
        qemu_bh_cancel(bh->qbh);
    }
}

void device_bh_delete(DeviceBH *bh)
{
    DeviceQueue *q;

    if (!bh) {
        return;
    }
    q = bh->src.q;
    queue_may_register(q, "bh_delete");
    pthread_mutex_lock(&q->bh_lock);
    if (bh->qbh) {
        bh_source_register(bh, NULL, FALSE);
    }
    pthread_mutex_unlock(&q->bh_lock);
    source_unlink(&bh->src);
    g_free(bh);
}

/* Timers ------------------------------------------------------------------- */

static void timer_source_register(DeviceTimer *t, AioContext *aio, gboolean on)
{
    if (on) {
        t->qt = aio_timer_new(aio, t->type, t->scale, t->cb, t->opaque);
        if (t->expire_ns >= 0) {
            timer_mod_ns(t->qt, t->expire_ns);
        }
    } else {
        t->expire_ns = timer_pending(t->qt) ? timer_expire_time_ns(t->qt) : -1;
        g_clear_pointer(&t->qt, timer_free);
    }
}

DeviceTimer *device_queue_timer_new(DeviceQueue *q, QEMUClockType type, int scale,
                                    QEMUTimerCB *cb, void *opaque)
{
    DeviceTimer *t = g_new0(DeviceTimer, 1);
    AioContext *aio = qatomic_read(&q->aio);

    queue_may_register(q, "timer_new");
    t->type = type;
    t->scale = scale;
    t->cb = cb;
    t->opaque = opaque;
    t->expire_ns = -1;
    source_link(q, &t->src, DEVICE_SRC_TIMER);
    if (aio) {
        timer_source_register(t, aio, TRUE);
    }
    return t;
}

void device_timer_mod(DeviceTimer *t, int64_t expire_time)
{
    if (t->qt) {
        timer_mod(t->qt, expire_time);
    } else {
        t->expire_ns = expire_time * t->scale;
    }
}

void device_timer_del(DeviceTimer *t)
{
    if (t->qt) {
        timer_del(t->qt);
    }
    t->expire_ns = -1;
}

gboolean device_timer_pending(DeviceTimer *t)
{
    return t->qt ? timer_pending(t->qt) : t->expire_ns >= 0;
}

void device_timer_free(DeviceTimer *t)
{
    if (!t) {
        return;
    }
    queue_may_register(t->src.q, "timer_free");
    g_clear_pointer(&t->qt, timer_free);
    source_unlink(&t->src);
    g_free(t);
}

/* Attach / detach ----------------------------------------------------------- */

static void source_register(DeviceSource *src, AioContext *aio, gboolean on)
{
    switch (src->kind) {
    case DEVICE_SRC_FD:
        fd_source_register((DeviceFdSource *)src, aio, on);
        break;
    case DEVICE_SRC_NOTIFIER:
        notifier_source_register((DeviceNotifierSource *)src, aio, on);
        break;
    case DEVICE_SRC_BH:
        bh_source_register((DeviceBH *)src, aio, on);
        break;
    case DEVICE_SRC_TIMER:
        timer_source_register((DeviceTimer *)src, aio, on);
        break;
    }
}

void device_queue_attach_sources(DeviceQueue *q, AioContext *aio)
{
    g_assert(!q->aio);
    pthread_mutex_lock(&q->bh_lock);
    qatomic_set(&q->aio, aio);
    for (GList *l = q->sources.head; l; l = l->next) {
        source_register(l->data, aio, TRUE);
    }
    pthread_mutex_unlock(&q->bh_lock);
}

void device_queue_detach_sources(DeviceQueue *q)
{
    AioContext *aio = q->aio;

    g_assert(aio);
    pthread_mutex_lock(&q->bh_lock);
    for (GList *l = q->sources.head; l; l = l->next) {
        source_register(l->data, aio, FALSE);
    }
    qatomic_set(&q->aio, NULL);
    pthread_mutex_unlock(&q->bh_lock);
}

void device_queue_free_sources(DeviceQueue *q)
{
    DeviceSource *src;

    g_assert(!q->aio);
    while ((src = g_queue_peek_head(&q->sources))) {
        source_unlink(src);
        g_free(src);
    }
}
