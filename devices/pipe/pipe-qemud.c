/*
 * devices/pipe/pipe-qemud.c - the Android emulator's qemud framing on pipe
 * channels: a service registered with pipe_qemud_service_register(NAME) is
 * opened by the guest as "pipe:qemud:NAME", and every message, both ways, is
 * 4 hex digits of payload length ("%04x") followed by the payload.
 *
 * Incoming: the adapter takes every byte, holds at most one message (64 KiB)
 * and hands whole messages to the service.  A length that is not 4 hex
 * digits closes the channel.  Outgoing: framed messages wait in a queue of
 * at most 256 KiB until the guest's credit lets them through.  When the
 * guest shuts down its sending side, ours follows once the queue is sent.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include <stdio.h>
#include <string.h>

#include "qcontext/devices/pipe/pipe.h"

#define QEMUD_HDR 4
#define QEMUD_OUT_MAX (256 * 1024)

typedef struct QemudService {
    const QemudServiceOps *ops;
    void *opaque;
} QemudService;

struct QemudClient {
    PipeChannel *ch;
    QemudService *svc;
    void *client_opaque;
    char hdr[QEMUD_HDR];
    size_t hdr_len;
    uint8_t *msg;
    size_t msg_len, msg_got;
    GByteArray *out;
    bool close_when_sent;
    bool shut_when_sent; /* the guest is done: so are we, once sent */
    bool broken;         /* bad framing: the rest is dropped */
};

static PipeOpenStatus qemud_open(PipeChannel *ch, const char *args, void *opaque,
                                 void **chan_opaque)
{
    QemudService *svc = opaque;
    QemudClient *cl = g_new0(QemudClient, 1);
    PipeOpenStatus status;

    cl->ch = ch;
    cl->svc = svc;
    cl->out = g_byte_array_new();
    status = svc->ops->open(cl, args, svc->opaque, &cl->client_opaque);
    if (status != PIPE_OPEN_OK) {
        g_byte_array_unref(cl->out);
        g_free(cl);
        return status;
    }
    *chan_opaque = cl;
    return PIPE_OPEN_OK;
}

static void qemud_flush(QemudClient *cl)
{
    size_t n = pipe_channel_send(cl->ch, cl->out->data, cl->out->len);

    g_byte_array_remove_range(cl->out, 0, n);
    if (cl->out->len == 0 && cl->close_when_sent) {
        pipe_channel_close(cl->ch);
    } else if (cl->out->len == 0 && cl->shut_when_sent) {
        pipe_channel_shutdown_send(cl->ch);
    }
}

/* The 4-digit length, or -1 if it is not hex. */
static int qemud_parse_len(const char *hdr)
{
    int len = 0;

    for (int i = 0; i < QEMUD_HDR; i++) {
        int d = g_ascii_xdigit_value(hdr[i]);

        if (d < 0) {
            return -1;
        }
        len = len * 16 + d;
    }
    return len;
}

/* One message is complete: hand it over and start the next. */
static void qemud_deliver(QemudClient *cl)
{
    cl->svc->ops->recv(cl, cl->msg, cl->msg_len, cl->client_opaque);
    g_clear_pointer(&cl->msg, g_free);
    cl->hdr_len = cl->msg_len = cl->msg_got = 0;
}

static size_t qemud_recv(PipeChannel *ch, const uint8_t *data, size_t len,
                         void *chan_opaque)
{
    QemudClient *cl = chan_opaque;
    size_t used = 0;

    while (used < len && !cl->broken) {
        if (cl->hdr_len < QEMUD_HDR) {
            cl->hdr[cl->hdr_len++] = data[used++];
            if (cl->hdr_len == QEMUD_HDR) {
                int n = qemud_parse_len(cl->hdr);

                if (n < 0) {
                    g_debug("pipe: qemud:%s: bad message header, closed",
                            pipe_channel_name(ch));
                    cl->broken = true;
                    pipe_channel_close(ch);
                    break;
                }
                cl->msg_len = n;
                cl->msg = g_malloc(MAX(n, 1));
            }
        } else {
            size_t take = MIN(len - used, cl->msg_len - cl->msg_got);

            memcpy(cl->msg + cl->msg_got, data + used, take);
            cl->msg_got += take;
            used += take;
        }
        if (cl->hdr_len == QEMUD_HDR && cl->msg_got == cl->msg_len) {
            qemud_deliver(cl);
        }
    }
    return len; /* all taken: at most one message is held */
}

static void qemud_writable(PipeChannel *ch, void *chan_opaque)
{
    qemud_flush(chan_opaque);
}

/* The guest sends no more messages: ours end once the queue is sent. */
static void qemud_eof(PipeChannel *ch, void *chan_opaque)
{
    QemudClient *cl = chan_opaque;

    cl->shut_when_sent = true;
    qemud_flush(cl);
}

static void qemud_close(PipeChannel *ch, void *chan_opaque)
{
    QemudClient *cl = chan_opaque;

    cl->svc->ops->close(cl, cl->client_opaque);
    g_free(cl->msg);
    g_byte_array_unref(cl->out);
    g_free(cl);
}

static const PipeServiceOps qemud_pipe_ops = {
    .open = qemud_open,
    .recv = qemud_recv,
    .writable = qemud_writable,
    .eof = qemud_eof,
    .close = qemud_close,
};

bool pipe_qemud_service_register(const char *name, const QemudServiceOps *ops,
                                 void *opaque, GError **errp)
{
    g_autofree char *full = g_strdup_printf("qemud:%s", name);
    QemudService *svc = g_new(QemudService, 1);

    *svc = (QemudService){ops, opaque};
    if (!ops || !ops->open || !ops->recv || !ops->close ||
        !pipe_service_register(full, &qemud_pipe_ops, svc, errp)) {
        g_free(svc);
        if (errp && !*errp) {
            g_set_error(errp, PIPE_ERROR, 0,
                        "qemud service '%s': open, recv and close are required", name);
        }
        return false;
    }
    return true; /* @svc lives as long as the registration (the process) */
}

bool pipe_qemud_send(QemudClient *cl, const void *msg, size_t len)
{
    char hdr[QEMUD_HDR + 1];

    if (len > PIPE_QEMUD_MAX_MSG || cl->close_when_sent ||
        cl->out->len + QEMUD_HDR + len > QEMUD_OUT_MAX) {
        return false;
    }
    snprintf(hdr, sizeof(hdr), "%04zx", len);
    g_byte_array_append(cl->out, (const uint8_t *)hdr, QEMUD_HDR);
    g_byte_array_append(cl->out, msg, len);
    qemud_flush(cl);
    return true;
}

void pipe_qemud_close(QemudClient *cl)
{
    cl->close_when_sent = true;
    qemud_flush(cl);
}

PipeChannel *pipe_qemud_channel(QemudClient *cl)
{
    return cl->ch;
}
