/*
 * devices/pipe/pipe-echo.c - the "echo" pipe service: every byte the guest
 * sends comes back; when the guest shuts down its sending side, the service
 * shuts down its own once everything is echoed.
 *
 * It keeps nothing itself: what the guest's credit does not let it send yet
 * stays in the channel (recv takes only what was sent) until @writable.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include "qcontext/devices/pipe/pipe.h"

static PipeOpenStatus echo_open(PipeChannel *ch, const char *args, void *opaque,
                                void **chan_opaque)
{
    return PIPE_OPEN_OK;
}

static size_t echo_recv(PipeChannel *ch, const uint8_t *data, size_t len,
                        void *chan_opaque)
{
    return pipe_channel_send(ch, data, len);
}

static void echo_writable(PipeChannel *ch, void *chan_opaque)
{
    pipe_channel_resume_recv(ch);
}

static void echo_eof(PipeChannel *ch, void *chan_opaque)
{
    pipe_channel_shutdown_send(ch); /* after the echoes already queued */
}

static void echo_close(PipeChannel *ch, void *chan_opaque)
{
}

static const PipeServiceOps echo_ops = {
    .open = echo_open,
    .recv = echo_recv,
    .writable = echo_writable,
    .eof = echo_eof,
    .close = echo_close,
};

PIPE_SERVICE_REGISTER(echo, "echo", &echo_ops, NULL)
