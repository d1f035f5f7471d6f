/*
 * qcontext/aio-qcontext-fds.c - aio-qcontext: the poll fds of the attached
 * QSources as fd handlers of the AioContext.
 *
 * Poll-fd changes (any thread, through the QSourceHooks) only mark the fd
 * set dirty and wake the loop; the iterating thread brings the AioContext's
 * fd handlers in line at its next prepare (aq_sync_fds()), outside
 * aio_poll(), so that an AqFd is only freed while no handler can run.  The
 * handlers record what the fd monitor reported; check copies it into the
 * sources' GPollFDs (aq_copy_revents()).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include "aio-qcontext-internal.h"

/* ------------------------------------------------------------------------ */
/* Sources' poll fds as fd handlers                                          */
/* ------------------------------------------------------------------------ */

void aq_mark_dirty(AioQContext *self)
{
    /* Release pairs with the acq_rel exchange in round_begin(). */
    __atomic_store_n(&self->fds_dirty, 1, __ATOMIC_RELEASE);
    /* Wake the iterating thread to resync, unless we are that thread: a
     * pending notify would end its next aio_poll() before it looks at fds. */
    if (self->aio && !in_aio_context_home_thread(self->aio)) {
        aio_notify(self->aio);
    }
}

static void hook_poll_added(QSource *src, GPollFD *pfd, gpointer data)
{
    aq_mark_dirty(data);
}

/*
 * A removed fd number may come back in the same round for another file (a
 * reconnect: close, open, add).  Its number then looks unchanged, but the
 * fd monitor watched the closed file (epoll dropped it with the close):
 * remember the number so that the next sync registers it anew.
 */
static void hook_poll_removed(QSource *src, GPollFD *pfd, gpointer data)
{
    AioQContext *self = data;

    pthread_mutex_lock(&self->removed_lock);
    g_array_append_val(self->removed, pfd->fd);
    pthread_mutex_unlock(&self->removed_lock);
    aq_mark_dirty(self);
}

const QSourceHooks aq_hooks = {
    .add_poll = hook_poll_added,
    .remove_poll = hook_poll_removed,
};

/* Record what the fd monitor reported, HUP and ERR included, as GLib does. */
static void fd_ready(AqFd *f, int fallback)
{
    int revents = aio_fd_handler_revents(f->self->aio);

    f->revents |= revents ? revents : fallback;
    f->self->fd_ready = TRUE;
}

static void fd_read(void *opaque)
{
    fd_ready(opaque, G_IO_IN);
}

static void fd_write(void *opaque)
{
    fd_ready(opaque, G_IO_OUT);
}

static void collect_fd(GPollFD *pfd, gpointer opaque)
{
    AioQContext *self = opaque;
    AqFd *f = g_hash_table_lookup(self->fds, GINT_TO_POINTER(pfd->fd));

    if (!f) {
        f = g_new0(AqFd, 1);
        f->self = self;
        f->fd = pfd->fd;
        g_hash_table_insert(self->fds, GINT_TO_POINTER(pfd->fd), f);
    }
    if (pfd->events & (G_IO_IN | G_IO_PRI)) {
        f->want |= G_IO_IN;
    }
    if (pfd->events & G_IO_OUT) {
        f->want |= G_IO_OUT;
    }
}

/*
 * Register each fd the sources in self->entries want, with the union of
 * their events.  Called when the dirty flag was set, which must be
 * consumed before self->entries is taken: every change marks it dirty
 * after the change is visible, so a change is either seen by this round
 * or marks the next one dirty.
 */
/* Mark the fds removed since the last sync stale (they may be new files). */
static void take_removed(AioQContext *self)
{
    pthread_mutex_lock(&self->removed_lock);
    for (guint i = 0; i < self->removed->len; i++) {
        int fd = g_array_index(self->removed, int, i);
        AqFd *f = g_hash_table_lookup(self->fds, GINT_TO_POINTER(fd));

        if (f) {
            f->stale = TRUE;
        }
    }
    g_array_set_size(self->removed, 0);
    pthread_mutex_unlock(&self->removed_lock);
}

void aq_sync_fds(AioQContext *self)
{
    GHashTableIter iter;
    AqFd *f;

    take_removed(self);
    g_hash_table_iter_init(&iter, self->fds);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&f)) {
        f->want = 0;
    }
    for (guint i = 0; i < self->entries->len; i++) {
        qsource_foreach_poll(g_array_index(self->entries, AqEntry, i).src, collect_fd,
                             self);
    }
    g_hash_table_iter_init(&iter, self->fds);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&f)) {
        if (f->want != f->events || (f->stale && f->want)) {
            /* A new node: the monitor registers the fd's current file. */
            aio_set_fd_handler(self->aio, f->fd, f->want & G_IO_IN ? fd_read : NULL,
                               f->want & G_IO_OUT ? fd_write : NULL, NULL, NULL, f);
            f->events = f->want;
        }
        f->stale = FALSE;
        if (!f->events) {
            g_hash_table_iter_remove(&iter); /* frees f: no handler can run now */
        }
    }
}

typedef struct {
    AioQContext *self;
    AqEntry *entry;
    int live; /* -1: not looked up yet, else whether entry's binding is live */
} CopyRevents;

static void copy_revents(GPollFD *pfd, gpointer opaque)
{
    CopyRevents *c = opaque;
    AqFd *f;

    /*
     * Called under the source's poll lock.  qsource_unbind() ends the
     * generation first and takes that lock afterwards, so if the binding
     * is live here, detach has not returned yet; once it is gone, the fds
     * belong to the caller again and must not be written.
     */
    if (c->live < 0) {
        c->live = qsource_get_generation(c->entry->src) == c->entry->gen;
    }
    if (!c->live) {
        return;
    }
    f = g_hash_table_lookup(c->self->fds, GINT_TO_POINTER(pfd->fd));
    pfd->revents = f ? f->revents & (pfd->events | G_IO_ERR | G_IO_HUP | G_IO_NVAL) : 0;
}

void aq_copy_revents(AioQContext *self, AqEntry *entry)
{
    CopyRevents c = {.self = self, .entry = entry, .live = -1};

    qsource_foreach_poll(entry->src, copy_revents, &c);
}
