/*
 * qcontext/aio-qcontext-internal.h - what the files of aio-qcontext share:
 * the instance struct, the per-iteration records, and the QSource poll-fd
 * bookkeeping of aio-qcontext-fds.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_AIO_QCONTEXT_INTERNAL_H
#define QCONTEXT_AIO_QCONTEXT_INTERNAL_H

#include <pthread.h>

#include "qcontext/aio-qcontext.h"
#include "qcontext-internal.h"

G_BEGIN_DECLS

/* A source as seen by one iteration. */
typedef struct {
    QSource *src; /* a reference */
    guint gen;
    gboolean ready;
} AqEntry;

/* One fd of the sources, registered with the AioContext. */
typedef struct {
    AioQContext *self;
    int fd;
    int events;     /* registered G_IO_IN/G_IO_OUT */
    int want;       /* scratch: what the sources want */
    int revents;    /* recorded by the handlers in aio_poll() */
    gboolean stale; /* removed by a source since the last sync: re-register */
} AqFd;

struct _AioQContext {
    QContext parent;

    AioContext *aio;
    QEMUTimer *deadline; /* ends a blocking aio_poll at the sources' timeout */

    /* properties */
    pthread_mutex_t params_lock; /* serializes poll parameter updates */
    int64_t poll_max_ns;         /* under params_lock */
    int64_t poll_grow;
    int64_t poll_shrink;
    int64_t aio_max_batch; /* under params_lock, like the two below */
    int thread_pool_min;
    int thread_pool_max;
    AioFdMonKind fdmon; /* construct-only */

    pthread_mutex_t lock; /* protects @sources */
    GPtrArray *sources;   /* QSource *, the binding's reference each */
    int nsources;         /* atomic (written under lock): sources->len */
    int fds_dirty;        /* atomic: sources or their poll fds changed */

    /* Leaf lock (taken under a source's poll lock by the hooks). */
    pthread_mutex_t removed_lock;
    GArray *removed; /* int: fd numbers removed by a source since the last sync */

    /* Iteration state: only the iterating thread touches it. */
    GArray *entries;         /* AqEntry */
    GHashTable *fds;         /* fd -> AqFd */
    gboolean deadline_fired; /* the deadline timer ran in this aio_poll */
    gboolean fd_ready;       /* one of our fd handlers ran in this aio_poll */
    gboolean aio_progress;   /* aio_poll did work of its own (BHs, devices) */
    QContextPhase phase;
};

/*
 * aq_mark_dirty: the sources or their poll fds changed: mark the fd set
 * dirty (release, pairs with the acq_rel exchange in round_begin()) and
 * wake the iterating thread.  Any thread.
 */
void aq_mark_dirty(AioQContext *self);

/* The hooks that follow an attached source's poll fds (aq_mark_dirty()). */
extern const QSourceHooks aq_hooks;

/*
 * aq_sync_fds: register each fd the sources of self->entries want, with
 * the union of their events (fds removed meanwhile anew).  The iterating
 * thread, outside aio_poll(), once it consumed the dirty flag.
 */
void aq_sync_fds(AioQContext *self);

/*
 * aq_copy_revents: copy what the handlers recorded into @entry's poll fds,
 * unless its binding is gone (then the fds are the caller's again).
 */
void aq_copy_revents(AioQContext *self, AqEntry *entry);

G_END_DECLS

#endif /* QCONTEXT_AIO_QCONTEXT_INTERNAL_H */
