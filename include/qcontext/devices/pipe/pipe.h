/*
 * devices/pipe/pipe.h - guest pipes (the Android emulator's AndroidPipe)
 * over vsock: many named channels with explicit open and close, and the C
 * API for writing a pipe service.
 *
 * Every guest connection to the pipe device's vsock port is a channel.  Its
 * first bytes name a service: "pipe:NAME\0".  With open-reply on, the host
 * answers one status byte (PIPE_OPEN_OK = 0, PIPE_OPEN_UNKNOWN = 1,
 * PIPE_OPEN_REFUSED = 2); a non-zero status is followed by an RST.  With
 * open-reply off nothing is sent, and a failed open is an RST.  Then bytes
 * flow both ways until either side closes; nothing survives a close.
 *
 * A service is a set of callbacks registered under a name, from anywhere
 * (its own file, a test, a plugin) with pipe_service_register(); the device
 * needs no change.  NAME matches a service registered as NAME, or else as
 * the part of NAME before its first ':' (then the rest is the service's
 * argument: "unix:db" opens service "unix" with argument "db").
 *
 * Threads: a service's callbacks, and the pipe_channel_*() calls it makes,
 * run on the pipe device's context thread.  Registration is thread-safe.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_PIPE_PIPE_H
#define QCONTEXT_DEVICES_PIPE_PIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "qcontext/aio/aio.h"
#include "qcontext/devices/vsock/vsock.h"

G_BEGIN_DECLS

/** Error domain of the pipe device logic. */
#define PIPE_ERROR (pipe_error_quark())
/** pipe_error_quark: the GQuark behind PIPE_ERROR. */
GQuark pipe_error_quark(void);

/** The longest service name a guest may send (without "pipe:" and the NUL). */
#define PIPE_NAME_MAX 255

/** The status byte of open-reply=on. */
typedef enum {
    PIPE_OPEN_OK = 0,
    PIPE_OPEN_UNKNOWN = 1,
    PIPE_OPEN_REFUSED = 2,
} PipeOpenStatus;

/** One open pipe between a guest and a service (opaque). */
typedef struct PipeChannel PipeChannel;
/** The pipe logic of one pipe device: a port and its channels (opaque). */
typedef struct PipeHost PipeHost;

/**
 * PipeServiceOps: a pipe service.  @chan_opaque is what @open stored.
 * @open: a guest opened a channel to this service; @args is the text after
 *   "SERVICE:" in the name ("" if none).  Return PIPE_OPEN_OK (after setting
 *   *@chan_opaque if you like) or PIPE_OPEN_REFUSED.  Required.
 * @recv: guest bytes.  Return how many you took; the rest is kept (the
 *   guest's credit bounds it) and offered again after
 *   pipe_channel_resume_recv().  Required.
 * @writable: pipe_channel_send() takes bytes again after it took fewer than
 *   asked.  May be NULL.
 * @eof: the guest sends nothing more (it shut down its sending side).
 *   May be NULL.
 * @close: the channel is gone (guest close or RST, the service's own
 *   pipe_channel_close() completed, device removal).  Called exactly once
 *   for every channel @open accepted; free @chan_opaque here.  Required.
 */
typedef struct PipeServiceOps {
    PipeOpenStatus (*open)(PipeChannel *ch, const char *args, void *opaque,
                           void **chan_opaque);
    size_t (*recv)(PipeChannel *ch, const uint8_t *data, size_t len, void *chan_opaque);
    void (*writable)(PipeChannel *ch, void *chan_opaque);
    void (*eof)(PipeChannel *ch, void *chan_opaque);
    void (*close)(PipeChannel *ch, void *chan_opaque);
} PipeServiceOps;

/**
 * pipe_service_register: make service @name available to every pipe device
 * (existing ones too).  @ops must stay valid until unregistered; @opaque is
 * passed to @open.  Fails if @name is empty, too long, or taken.
 */
bool pipe_service_register(const char *name, const PipeServiceOps *ops, void *opaque,
                           GError **errp);

/**
 * pipe_service_unregister: remove service @name: new opens of it are
 * unknown; channels already open keep working until closed.
 */
void pipe_service_unregister(const char *name);

/**
 * PIPE_SERVICE_REGISTER: in a service's own .c file, register it at load
 * time (a constructor; the library is linked whole).
 *
 *   PIPE_SERVICE_REGISTER(echo, "echo", &echo_ops, NULL)
 */
#define PIPE_SERVICE_REGISTER(ID, NAME, OPS, OPAQUE)                                   \
    __attribute__((constructor)) static void pipe_service_ctor_##ID(void)              \
    {                                                                                  \
        pipe_service_register(NAME, OPS, OPAQUE, NULL);                                \
    }

/**
 * pipe_channel_send: queue up to @len bytes for the guest; returns how many
 * were taken: never more than the guest's vsock credit allows (minus what is
 * queued).  If fewer than @len, @writable is called when more can be taken.
 * 0 once the channel is closing.
 */
size_t pipe_channel_send(PipeChannel *ch, const void *data, size_t len);

/** pipe_channel_resume_recv: offer the kept guest bytes to @recv again (soon). */
void pipe_channel_resume_recv(PipeChannel *ch);

/**
 * pipe_channel_shutdown_send: the service sends nothing more; the guest
 * reads end-of-file after the queued bytes.  It may still send to us.
 */
void pipe_channel_shutdown_send(PipeChannel *ch);

/**
 * pipe_channel_close: close the channel once the queued bytes are delivered
 * (the guest reads end-of-file; its writes fail).  @close follows.
 */
void pipe_channel_close(PipeChannel *ch);

/** pipe_channel_name: the service name the guest opened (without "pipe:"). */
const char *pipe_channel_name(PipeChannel *ch);

/** pipe_channel_guest_port: the guest's vsock port of this channel. */
uint32_t pipe_channel_guest_port(PipeChannel *ch);

/**
 * pipe_channel_option: the value of the pipe device's option @key (e.g.
 * "unix.db" for `unix.db=/run/db.sock`), or NULL.
 */
const char *pipe_channel_option(PipeChannel *ch, const char *key);

/** pipe_channel_aio_context: the AioContext the channel's callbacks run on. */
AioContext *pipe_channel_aio_context(PipeChannel *ch);

/* ------------------------------------------------------------------------ */
/* The pipe logic of one pipe device                                          */
/* ------------------------------------------------------------------------ */

/**
 * PipeHostConfig: @port: the vsock port served; @open_reply: send the status
 * byte; @options: "KEY" -> "VALUE" strings services may read (unix.NAME ->
 * PATH), copied; may be NULL.
 */
typedef struct PipeHostConfig {
    uint32_t port;       /**< the vsock port served */
    bool open_reply;     /**< send the status byte */
    GHashTable *options; /**< "KEY" -> "VALUE" for services; may be NULL */
} PipeHostConfig;

/**
 * pipe_host_new: serve pipes on @mux's port @cfg->port, with the services'
 * callbacks on @ctx.  Any thread.
 */
PipeHost *pipe_host_new(VsockMux *mux, AioContext *ctx, const PipeHostConfig *cfg,
                        GError **errp);

/**
 * pipe_host_free: stop serving (on @mux's thread): every channel is reset
 * and gets its @close on the pipe's context; the last one frees what is
 * left.
 */
void pipe_host_free(PipeHost *ph);

/**
 * pipe_host_create: the pipe logic for @cfg, its services on @ctx, serving
 * no port yet: bind pipe_host_accept() with @ph as opaque to a vsock port
 * yourself (e.g. through the vhost-user-vsock device).  Any thread.
 */
PipeHost *pipe_host_create(AioContext *ctx, const PipeHostConfig *cfg);

/**
 * pipe_host_accept: the VsockAcceptFn of a PipeHost (@opaque: the host):
 * every guest connection it accepts is a channel.  Muxer thread.
 */
bool pipe_host_accept(VsockLocal *local, void *opaque);

/**
 * pipe_host_release: drop the creator's reference to a pipe_host_create()
 * host, after its port was unbound (its channels are being reset).
 * @gone(@opaque) runs, if not NULL, once the last channel is closed and the
 * host freed: on the calling thread if no channel was left, else on @ctx's.
 */
void pipe_host_release(PipeHost *ph, void (*gone)(void *opaque), void *opaque);

/** pipe_host_channels: channels open now (any thread). */
unsigned pipe_host_channels(PipeHost *ph);

/* ------------------------------------------------------------------------ */
/* qemud framing                                                             */
/* ------------------------------------------------------------------------ */

/** The longest qemud message: its length is 4 hex digits. */
#define PIPE_QEMUD_MAX_MSG 0xffff

/** A client of a qemud-framed service (opaque). */
typedef struct QemudClient QemudClient;

/**
 * QemudServiceOps: a service spoken with the emulator's qemud framing
 * (each message is 4 lowercase hex digits of length, then the payload),
 * opened by the guest as "pipe:qemud:NAME".  Callbacks as PipeServiceOps,
 * but @recv gets one whole message.
 */
typedef struct QemudServiceOps {
    /** a guest opened the service, as PipeServiceOps.open */
    PipeOpenStatus (*open)(QemudClient *cl, const char *args, void *opaque,
                           void **client_opaque);
    /** one whole message from the guest */
    void (*recv)(QemudClient *cl, const uint8_t *msg, size_t len, void *client_opaque);
    /** the client is gone, as PipeServiceOps.close */
    void (*close)(QemudClient *cl, void *client_opaque);
} QemudServiceOps;

/** pipe_qemud_service_register: register "qemud:@name" (see above). */
bool pipe_qemud_service_register(const char *name, const QemudServiceOps *ops,
                                 void *opaque, GError **errp);

/**
 * pipe_qemud_send: frame and queue message @msg (at most
 * PIPE_QEMUD_MAX_MSG bytes); false if it is too long or the client's queue
 * (256 KiB) is full.
 */
bool pipe_qemud_send(QemudClient *cl, const void *msg, size_t len);

/** pipe_qemud_close: close the client's channel after its queued messages. */
void pipe_qemud_close(QemudClient *cl);

/** pipe_qemud_channel: the channel under @cl. */
PipeChannel *pipe_qemud_channel(QemudClient *cl);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_PIPE_PIPE_H */
