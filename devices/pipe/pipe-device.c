/*
 * devices/pipe/pipe-device.c - the pipe device: every guest connection to
 * one port of a vhost-user-vsock device is a pipe (pipe.c), its services
 * running on the pipe device's own context.
 *
 *   -device pipe,id=ID,vsock=VSOCKDEV,port=PORT[,context=CTX]
 *           [,open-reply=on|off][,unix.NAME=PATH...]
 *
 * Realize binds the port on the vsock device (from main: the binding is
 * thread-safe), so the port is served when device_add replies.  Deletion:
 * the control plane's quiesce unbinds it (its channels are reset), and the
 * control plane does not drain until the last channel's service was
 * closed, so nothing of the device runs once it is gone.  If the vsock
 * device goes first, its channels are reset with it and the port is simply
 * no longer served.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include "qcontext/aio/atomic.h"
#include "qcontext/devices/pipe/pipe.h"
#include "qcontext/devices/vsock/vhost-user-vsock.h"

#define PIPE_DEVICE_TYPE (pipe_device_get_type())
G_DECLARE_FINAL_TYPE(PipeDevice, pipe_device, QDEV, PIPE_DEVICE, Device)

struct _PipeDevice {
    Device parent;

    /* Properties. */
    VhostUserVsock *vsock;
    guint port;
    gboolean open_reply;
    char *unix_map; /* "NAME=PATH" lines (unix.NAME=PATH options) */

    PipeHost *host;     /* until the close */
    bool close_started; /* control thread */
    bool close_request; /* atomic: a control-plane request holds the drain */
};

G_DEFINE_FINAL_TYPE(PipeDevice, pipe_device, DEVICE_TYPE)
DEVICE_REGISTER_TYPE("pipe", pipe_device_get_type)

enum { PROP_0, PROP_VSOCK, PROP_PORT, PROP_OPEN_REPLY, PROP_UNIX, N_PROPS };
static GParamSpec *pipe_dev_props[N_PROPS];

static const char *pd_id(PipeDevice *pd)
{
    return device_get_id(DEVICE(pd));
}

/* ------------------------------------------------------------------------ */
/* Realize                                                                   */
/* ------------------------------------------------------------------------ */

static gboolean pd_check(PipeDevice *pd, GError **errp)
{
    if (!pd->vsock) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': vsock= is required (the id of a vhost-user-vsock "
                    "device)",
                    pd_id(pd));
        return FALSE;
    }
    if (pd->port == 0 || pd->port == G_MAXUINT32) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "device '%s': port= is required (1 to 4294967294)", pd_id(pd));
        return FALSE;
    }
    return TRUE;
}

/* unix.NAME=PATH -> the pipe logic's options ("unix.NAME" -> PATH). */
static GHashTable *pd_options(PipeDevice *pd, GError **errp)
{
    g_autoptr(GHashTable) map = qom_map_parse(pd->unix_map, errp);
    GHashTable *options;
    GHashTableIter it;
    gpointer k, v;

    if (!map) {
        g_prefix_error(errp, "device '%s': unix: ", pd_id(pd));
        return NULL;
    }
    options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_iter_init(&it, map);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!*(char *)v) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                        "device '%s': unix.%s has an empty path", pd_id(pd), (char *)k);
            g_hash_table_unref(options);
            return NULL;
        }
        g_hash_table_insert(options, g_strdup_printf("unix.%s", (char *)k),
                            g_strdup(v));
    }
    return options;
}

static gboolean pd_realize(Device *dev, GError **errp)
{
    PipeDevice *pd = QDEV_PIPE_DEVICE(dev);
    g_autoptr(GHashTable) options = NULL;
    PipeHostConfig cfg;

    if (!pd_check(pd, errp) || !(options = pd_options(pd, errp))) {
        return FALSE;
    }
    cfg = (PipeHostConfig){
        .port = pd->port, .open_reply = pd->open_reply, .options = options};
    pd->host =
        pipe_host_create(qcontext_get_aio_context(device_get_context(dev)), &cfg);
    if (!vhost_user_vsock_bind_port(pd->vsock, pd->port, pipe_host_accept, pd->host,
                                    errp)) {
        g_prefix_error(errp, "device '%s': ", pd_id(pd));
        pipe_host_release(pd->host, NULL, NULL);
        pd->host = NULL;
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Deletion                                                                  */
/* ------------------------------------------------------------------------ */

/* Main: the last channel is closed; let the deletion go on. */
static void pd_host_gone_main(void *opaque)
{
    PipeDevice *pd = opaque;

    if (qatomic_xchg(&pd->close_request, false)) {
        device_queue_request_end(device_get_control(DEVICE(pd)), TRUE);
    }
    g_object_unref(pd);
}

/* Any thread: the host is freed. */
static void pd_host_gone(void *opaque)
{
    aio_bh_schedule_oneshot(qcontext_get_aio_context(qcontext_get_main()),
                            pd_host_gone_main, opaque);
}

/* Control thread: stop serving the port once; @hold_drain: wait for it. */
static void pd_start_close(PipeDevice *pd, bool hold_drain)
{
    PipeHost *ph = pd->host;

    if (pd->close_started) {
        return;
    }
    pd->close_started = true;
    pd->host = NULL;
    vhost_user_vsock_unbind_port(pd->vsock, pd->port);
    if (hold_drain) {
        device_queue_request_begin(device_get_control(DEVICE(pd)));
        qatomic_set(&pd->close_request, true);
    }
    g_object_ref(pd); /* dropped on main */
    pipe_host_release(ph, pd_host_gone, pd);
}

static void pd_queue_quiesce(Device *dev, DeviceQueue *q)
{
    if (device_queue_get_index(q) < 0 && device_is_deleting(dev)) {
        pd_start_close(QDEV_PIPE_DEVICE(dev), true);
    }
}

static void pd_queue_detach(Device *dev, DeviceQueue *q)
{
    if (device_queue_get_index(q) < 0 && device_is_deleting(dev)) {
        pd_start_close(QDEV_PIPE_DEVICE(dev), false); /* if not started yet */
    }
}

static void pd_unrealize(Device *dev)
{
    PipeDevice *pd = QDEV_PIPE_DEVICE(dev);

    if (qatomic_xchg(&pd->close_request, false)) {
        /* The drain was cut short: the channels close on their own. */
        device_queue_request_end(device_get_control(dev), FALSE);
    }
}

static gboolean pd_check_move(Device *dev, int queue, QContext *ctx, GError **errp)
{
    if (ctx == device_get_context(dev)) {
        return TRUE;
    }
    g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "device '%s': a pipe device does not move: its services run on "
                "context '%s'",
                device_get_id(dev), qcontext_get_name(device_get_context(dev)));
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* GObject plumbing                                                          */
/* ------------------------------------------------------------------------ */

static void pd_set_property(GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
    PipeDevice *pd = QDEV_PIPE_DEVICE(object);

    switch (prop_id) {
    case PROP_VSOCK:
        g_clear_object(&pd->vsock);
        pd->vsock = g_value_dup_object(value);
        break;
    case PROP_PORT:
        pd->port = g_value_get_uint(value);
        break;
    case PROP_OPEN_REPLY:
        pd->open_reply = g_value_get_boolean(value);
        break;
    case PROP_UNIX:
        g_free(pd->unix_map);
        pd->unix_map = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void pd_get_property(GObject *object, guint prop_id, GValue *value,
                            GParamSpec *pspec)
{
    PipeDevice *pd = QDEV_PIPE_DEVICE(object);

    switch (prop_id) {
    case PROP_VSOCK:
        g_value_set_object(value, pd->vsock);
        break;
    case PROP_PORT:
        g_value_set_uint(value, pd->port);
        break;
    case PROP_OPEN_REPLY:
        g_value_set_boolean(value, pd->open_reply);
        break;
    case PROP_UNIX:
        g_value_set_string(value, pd->unix_map);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void pd_dispose(GObject *object)
{
    g_clear_object(&QDEV_PIPE_DEVICE(object)->vsock);
    G_OBJECT_CLASS(pipe_device_parent_class)->dispose(object);
}

static void pd_finalize(GObject *object)
{
    g_free(QDEV_PIPE_DEVICE(object)->unix_map);
    G_OBJECT_CLASS(pipe_device_parent_class)->finalize(object);
}

static void pipe_device_class_init(PipeDeviceClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    DeviceClass *dc = QDEV_DEVICE_CLASS(klass);
    GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    object_class->set_property = pd_set_property;
    object_class->get_property = pd_get_property;
    object_class->dispose = pd_dispose;
    object_class->finalize = pd_finalize;
    dc->realize = pd_realize;
    dc->unrealize = pd_unrealize;
    dc->queue_quiesce = pd_queue_quiesce;
    dc->queue_detach = pd_queue_detach;
    dc->check_move = pd_check_move;
    dc->max_queues = 1;

    pipe_dev_props[PROP_VSOCK] = g_param_spec_object(
        "vsock", "vsock device",
        "The vhost-user-vsock device whose port this device serves (required)",
        VHOST_USER_VSOCK_TYPE, flags);
    pipe_dev_props[PROP_PORT] = g_param_spec_uint(
        "port", "Port",
        "The vsock port (on the host, CID 2) whose connections are pipes (required)", 0,
        G_MAXUINT32, 0, flags);
    pipe_dev_props[PROP_OPEN_REPLY] = g_param_spec_boolean(
        "open-reply", "Open reply",
        "Answer a pipe's open with a status byte (0 open, 1 unknown service, 2 "
        "refused); off: a failed open is only an RST",
        TRUE, flags);
    pipe_dev_props[PROP_UNIX] = g_param_spec_string(
        "unix", "unix: services",
        "unix.NAME=PATH: the guest may open pipe:unix:NAME, forwarded to the host "
        "socket PATH (only the names listed)",
        NULL, flags);
    g_object_class_install_properties(object_class, N_PROPS, pipe_dev_props);
    qom_param_spec_mark_map(pipe_dev_props[PROP_UNIX]);
}

static void pipe_device_init(PipeDevice *pd)
{
    pd->open_reply = TRUE;
}
