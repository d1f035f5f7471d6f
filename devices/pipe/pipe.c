/*
 * devices/pipe/pipe.c - the pipe logic of one pipe device: every guest
 * connection to its vsock port is a channel; the channel reads the
 * "pipe:NAME\0" handshake, opens the named service, answers the status byte
 * (open-reply=on) and then carries bytes between the guest and the service
 * until either side closes.
 *
 * A channel is an in-process vsock endpoint (VsockLocal): the guest's credit
 * bounds what it holds each way, and its callbacks run on the pipe's
 * context, which may be another thread than the vsock muxer's.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include <string.h>

#include "pipe-internal.h"

#define PIPE_PREFIX "pipe:"
#define PIPE_PREFIX_LEN 5

struct PipeHost {
    gint refs;
    void (*gone)(void *opaque); /* pipe_host_release() */
    void *gone_opaque;
    VsockMux *mux; /* pipe_host_new()'s, else NULL */
    AioContext *ctx;
    uint32_t port;
    bool open_reply;
    GHashTable *options;
    gint channels;
};

typedef enum {
    CH_NAMING, /* reading "pipe:NAME\0" */
    CH_OPEN,   /* the service has it */
    CH_FAILED, /* the open failed; the RST is on its way */
    CH_CLOSED, /* gone: no callback any more */
} PipeChannelState;

struct PipeChannel {
    PipeHost *host;
    VsockLocal *local;
    PipeChannelState state;
    bool closing; /* the service closed it */
    bool eof_told;
    char name[PIPE_PREFIX_LEN + PIPE_NAME_MAX + 1];
    size_t name_len;
    PipeService *svc;
    void *chan_opaque;
    QEMUBH *deliver_bh;
};

static void host_unref(PipeHost *ph)
{
    /* Acq_rel: the last channel sees the host as the device left it. */
    if (__atomic_sub_fetch(&ph->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        void (*gone)(void *opaque) = ph->gone;
        void *gone_opaque = ph->gone_opaque;

        g_hash_table_unref(ph->options);
        aio_context_unref(ph->ctx);
        g_free(ph);
        if (gone) {
            gone(gone_opaque);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */
/* ------------------------------------------------------------------------ */

/* The open failed with @status: tell the guest (open-reply) and reset. */
static void ch_fail(PipeChannel *ch, PipeOpenStatus status)
{
    uint8_t byte = status;

    g_debug("pipe: open of '%s' failed with status %d", ch->name, status);
    ch->state = CH_FAILED;
    if (ch->host->open_reply) {
        vsock_local_send(ch->local, &byte, 1);
    }
    vsock_local_close(ch->local, true); /* the RST follows the status byte */
}

static void ch_open(PipeChannel *ch)
{
    const char *args;
    PipeOpenStatus status;
    uint8_t ok = PIPE_OPEN_OK;

    if (strncmp(ch->name, PIPE_PREFIX, PIPE_PREFIX_LEN) != 0) {
        ch_fail(ch, PIPE_OPEN_UNKNOWN);
        return;
    }
    ch->svc = pipe_service_lookup(ch->name + PIPE_PREFIX_LEN, &args);
    if (!ch->svc) {
        ch_fail(ch, PIPE_OPEN_UNKNOWN);
        return;
    }
    status = ch->svc->ops->open(ch, args, ch->svc->opaque, &ch->chan_opaque);
    if (status != PIPE_OPEN_OK) {
        g_clear_pointer(&ch->svc, pipe_service_unref);
        ch_fail(ch,
                status == PIPE_OPEN_UNKNOWN ? PIPE_OPEN_UNKNOWN : PIPE_OPEN_REFUSED);
        return;
    }
    ch->state = CH_OPEN;
    if (ch->host->open_reply && vsock_local_send(ch->local, &ok, 1) != 1) {
        pipe_channel_close(ch); /* a guest that gives no credit at all */
    }
}

/* Take the name up to its NUL; opens the channel once it is complete. */
static void ch_read_name(PipeChannel *ch)
{
    const uint8_t *data;
    size_t n;

    while (ch->state == CH_NAMING && (n = vsock_local_peek(ch->local, &data)) > 0) {
        size_t room = sizeof(ch->name) - ch->name_len;
        const uint8_t *nul = memchr(data, '\0', MIN(n, room));
        size_t take = nul ? (size_t)(nul - data) + 1 : MIN(n, room);

        memcpy(ch->name + ch->name_len, data, take);
        ch->name_len += take;
        vsock_local_consume(ch->local, take);
        if (nul) {
            ch_open(ch);
        } else if (ch->name_len == sizeof(ch->name)) {
            ch->name[sizeof(ch->name) - 1] = '\0';
            ch_fail(ch, PIPE_OPEN_UNKNOWN); /* no NUL: not a name we know */
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

/* Drop what the guest sends to a channel that is closing or failed. */
static void ch_discard(PipeChannel *ch)
{
    const uint8_t *data;
    size_t n;

    while ((n = vsock_local_peek(ch->local, &data)) > 0) {
        vsock_local_consume(ch->local, n);
    }
}

static void ch_deliver(PipeChannel *ch)
{
    const uint8_t *data;
    size_t n;

    if (ch->state == CH_NAMING) {
        ch_read_name(ch);
    }
    while (ch->state == CH_OPEN && !ch->closing &&
           (n = vsock_local_peek(ch->local, &data)) > 0) {
        size_t used = ch->svc->ops->recv(ch, data, n, ch->chan_opaque);

        used = MIN(used, n); /* (MIN evaluates its arguments twice) */
        vsock_local_consume(ch->local, used);
        if (used < n) {
            return; /* the service resumes us */
        }
    }
    if (ch->state == CH_FAILED || ch->closing) {
        ch_discard(ch); /* nothing survives a close */
        return;
    }
    if (ch->state == CH_OPEN && !ch->eof_told && vsock_local_eof(ch->local)) {
        ch->eof_told = true;
        if (ch->svc->ops->eof) {
            ch->svc->ops->eof(ch, ch->chan_opaque);
        }
    }
}

static void ch_deliver_bh(void *opaque)
{
    ch_deliver(opaque);
}

static void ch_on_readable(VsockLocal *local, void *opaque)
{
    ch_deliver(opaque);
}

static void ch_on_writable(VsockLocal *local, void *opaque)
{
    PipeChannel *ch = opaque;

    if (ch->state == CH_OPEN && !ch->closing && ch->svc->ops->writable) {
        ch->svc->ops->writable(ch, ch->chan_opaque);
    }
}

static void ch_on_closed(VsockLocal *local, void *opaque)
{
    PipeChannel *ch = opaque;
    PipeHost *ph = ch->host;
    bool was_open = ch->state == CH_OPEN;

    ch->state = CH_CLOSED;
    if (was_open) {
        ch->svc->ops->close(ch, ch->chan_opaque);
    }
    if (ch->svc) {
        pipe_service_unref(ch->svc);
    }
    qemu_bh_delete(ch->deliver_bh);
    vsock_local_release(ch->local);
    __atomic_sub_fetch(&ph->channels, 1, __ATOMIC_RELAXED);
    g_free(ch);
    host_unref(ph);
}

static const VsockLocalOps ch_local_ops = {
    .readable = ch_on_readable,
    .writable = ch_on_writable,
    .closed = ch_on_closed,
};

/* A guest connection to our port (on the muxer's thread). */
bool pipe_host_accept(VsockLocal *local, void *opaque)
{
    PipeHost *ph = opaque;
    PipeChannel *ch = g_new0(PipeChannel, 1);

    __atomic_add_fetch(&ph->refs, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&ph->channels, 1, __ATOMIC_RELAXED);
    ch->host = ph;
    ch->local = local;
    ch->state = CH_NAMING;
    ch->deliver_bh = aio_bh_new(ph->ctx, ch_deliver_bh, ch);
    vsock_local_attach(local, ph->ctx, &ch_local_ops, ch);
    return true;
}

/* ------------------------------------------------------------------------ */
/* The channel API                                                           */
/* ------------------------------------------------------------------------ */

size_t pipe_channel_send(PipeChannel *ch, const void *data, size_t len)
{
    if (ch->state != CH_OPEN || ch->closing) {
        return 0;
    }
    return vsock_local_send(ch->local, data, len);
}

void pipe_channel_resume_recv(PipeChannel *ch)
{
    qemu_bh_schedule(ch->deliver_bh);
}

void pipe_channel_shutdown_send(PipeChannel *ch)
{
    if (ch->state == CH_OPEN) {
        vsock_local_shutdown_send(ch->local);
    }
}

void pipe_channel_close(PipeChannel *ch)
{
    if (ch->state == CH_OPEN && !ch->closing) {
        ch->closing = true;
        vsock_local_close(ch->local, false);
        qemu_bh_schedule(ch->deliver_bh); /* drop what is kept */
    }
}

const char *pipe_channel_name(PipeChannel *ch)
{
    return ch->name + PIPE_PREFIX_LEN;
}

uint32_t pipe_channel_guest_port(PipeChannel *ch)
{
    return vsock_local_guest_port(ch->local);
}

const char *pipe_channel_option(PipeChannel *ch, const char *key)
{
    return g_hash_table_lookup(ch->host->options, key);
}

AioContext *pipe_channel_aio_context(PipeChannel *ch)
{
    return ch->host->ctx;
}

/* ------------------------------------------------------------------------ */
/* The host                                                                  */
/* ------------------------------------------------------------------------ */

PipeHost *pipe_host_create(AioContext *ctx, const PipeHostConfig *cfg)
{
    PipeHost *ph = g_new0(PipeHost, 1);

    ph->refs = 1;
    ph->ctx = ctx;
    aio_context_ref(ctx);
    ph->port = cfg->port;
    ph->open_reply = cfg->open_reply;
    ph->options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (cfg->options) {
        GHashTableIter it;
        gpointer k, v;

        g_hash_table_iter_init(&it, cfg->options);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            g_hash_table_insert(ph->options, g_strdup(k), g_strdup(v));
        }
    }
    return ph;
}

void pipe_host_release(PipeHost *ph, void (*gone)(void *opaque), void *opaque)
{
    ph->gone = gone;
    ph->gone_opaque = opaque;
    host_unref(ph);
}

PipeHost *pipe_host_new(VsockMux *mux, AioContext *ctx, const PipeHostConfig *cfg,
                        GError **errp)
{
    PipeHost *ph = pipe_host_create(ctx, cfg);

    if (!vsock_mux_bind_port(mux, cfg->port, pipe_host_accept, ph, errp)) {
        host_unref(ph);
        return NULL;
    }
    ph->mux = mux;
    return ph;
}

void pipe_host_free(PipeHost *ph)
{
    if (ph) {
        vsock_mux_unbind_port(ph->mux, ph->port);
        host_unref(ph);
    }
}

unsigned pipe_host_channels(PipeHost *ph)
{
    return __atomic_load_n(&ph->channels, __ATOMIC_RELAXED);
}
