/*
 * devices/pipe/pipe-qemud-echo.c - "qemud:echo": every qemud message comes
 * back as one message with the same payload (for tests and as an example of
 * a qemud service).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include "qcontext/devices/pipe/pipe.h"

static PipeOpenStatus qecho_open(QemudClient *cl, const char *args, void *opaque,
                                 void **client_opaque)
{
    return PIPE_OPEN_OK;
}

static void qecho_recv(QemudClient *cl, const uint8_t *msg, size_t len,
                       void *client_opaque)
{
    if (!pipe_qemud_send(cl, msg, len)) {
        pipe_qemud_close(cl); /* a guest that does not read its answers */
    }
}

static void qecho_close(QemudClient *cl, void *client_opaque)
{
}

static const QemudServiceOps qecho_ops = {
    .open = qecho_open,
    .recv = qecho_recv,
    .close = qecho_close,
};

__attribute__((constructor)) static void qecho_register(void)
{
    pipe_qemud_service_register("echo", &qecho_ops, NULL, NULL);
}
