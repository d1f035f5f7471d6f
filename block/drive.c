/*
 * block/drive.c - "drive", the user-creatable object that owns a
 * BlockBackend (-drive, -object drive, object-add).
 *
 * Every property is fixed at creation (qom-set refuses them; they are not
 * GObject construct properties, so that an option the user did not give is
 * told apart from one given with the default value).  The completion step
 * checks that the options fit the format and opens the backend, so that a
 * bad -drive fails at start-up with one line.  The backend is closed when the drive is
 * finalized, i.e. after the last device that linked to it let go (the
 * devices' deletion veto refuses object-del before that).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "block"

#include "qcontext/block/drive.h"

typedef enum {
    DRIVE_CACHE_WRITEBACK,
    DRIVE_CACHE_NONE,
} DriveCache;

typedef enum {
    DRIVE_DISCARD_IGNORE,
    DRIVE_DISCARD_UNMAP,
} DriveDiscard;

struct _Drive {
    QomObject parent;

    /* properties, fixed at creation */
    char *file;
    DriveFormat format;
    BlockAioMode aio;
    DriveCache cache;
    gboolean readonly;
    DriveDiscard discard;
    guint64 size;
    gint64 latency_ns;
    gboolean size_set;
    gboolean latency_set;

    BlockBackend *blk; /* once completed */
};

G_DEFINE_FINAL_TYPE(Drive, drive, QOM_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_FILE,
    PROP_FORMAT,
    PROP_AIO,
    PROP_CACHE,
    PROP_READONLY,
    PROP_DISCARD,
    PROP_SIZE,
    PROP_LATENCY_NS,
    PROP_QUEUES,
    N_PROPS
};

static GParamSpec *props[N_PROPS];

/* ------------------------------------------------------------------------ */
/* The enums of the options                                                  */
/* ------------------------------------------------------------------------ */

static GType enum_type(gsize *once, const char *name, const GEnumValue *values)
{
    if (g_once_init_enter(once)) {
        g_once_init_leave(once, g_enum_register_static(name, values));
    }
    return *once;
}

static GType drive_format_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {DRIVE_FORMAT_RAW, "DRIVE_FORMAT_RAW", "raw"},
        {DRIVE_FORMAT_NULL, "DRIVE_FORMAT_NULL", "null"},
        {0, NULL, NULL},
    };
    return enum_type(&type, "DriveFormat", values);
}

static GType drive_aio_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {BLOCK_AIO_THREADS, "BLOCK_AIO_THREADS", "threads"},
        {BLOCK_AIO_NATIVE, "BLOCK_AIO_NATIVE", "native"},
        {BLOCK_AIO_IO_URING, "BLOCK_AIO_IO_URING", "io_uring"},
        {0, NULL, NULL},
    };
    return enum_type(&type, "DriveAio", values);
}

static GType drive_cache_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {DRIVE_CACHE_WRITEBACK, "DRIVE_CACHE_WRITEBACK", "writeback"},
        {DRIVE_CACHE_NONE, "DRIVE_CACHE_NONE", "none"},
        {0, NULL, NULL},
    };
    return enum_type(&type, "DriveCache", values);
}

static GType drive_discard_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {DRIVE_DISCARD_IGNORE, "DRIVE_DISCARD_IGNORE", "ignore"},
        {DRIVE_DISCARD_UNMAP, "DRIVE_DISCARD_UNMAP", "unmap"},
        {0, NULL, NULL},
    };
    return enum_type(&type, "DriveDiscard", values);
}

/* ------------------------------------------------------------------------ */
/* Completion: check the options against the format, open the backend       */
/* ------------------------------------------------------------------------ */

static int drive_flags(Drive *self)
{
    return (self->readonly ? BLK_F_RDONLY : 0) |
           (self->cache == DRIVE_CACHE_NONE ? BLK_F_DIRECT : 0) |
           (self->discard == DRIVE_DISCARD_UNMAP ? BLK_F_DISCARD_UNMAP : 0);
}

static BlockBackend *open_raw(Drive *self, GError **errp)
{
    if (!self->file || !*self->file) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING,
                    "parameter 'file' is missing (format=raw needs a file)");
        return NULL;
    }
    if (self->size_set) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "'size' is only valid with format=null (a raw drive has its "
                    "file's size)");
        return NULL;
    }
    if (self->latency_set) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "'latency-ns' is only valid with format=null");
        return NULL;
    }
    return blk_open(self->file, self->aio, drive_flags(self), errp);
}

static BlockBackend *open_null(Drive *self, GError **errp)
{
    if (self->file) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "format=null takes no 'file'");
        return NULL;
    }
    if (!self->size_set) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING,
                    "parameter 'size' is missing (format=null needs a size)");
        return NULL;
    }
    return blk_new_null(self->size, self->latency_ns, drive_flags(self) & ~BLK_F_DIRECT,
                        errp);
}

static gboolean drive_complete(QomObject *obj, GError **errp)
{
    Drive *self = BLOCK_DRIVE(obj);

    if (!QOM_OBJECT_CLASS(drive_parent_class)->complete(obj, errp)) {
        return FALSE;
    }
    self->blk = self->format == DRIVE_FORMAT_NULL ? open_null(self, errp)
                                                  : open_raw(self, errp);
    return self->blk != NULL;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */
/* ------------------------------------------------------------------------ */

BlockBackend *drive_get_blk(Drive *drive)
{
    g_return_val_if_fail(BLOCK_IS_DRIVE(drive), NULL);
    return drive->blk;
}

Drive *drive_find(const char *id, GError **errp)
{
    QomObject *obj = qom_container_find(QOM_CONTAINER_OBJECTS, id);

    if (!obj) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND, "no drive '%s'",
                    id ? id : "");
        return NULL;
    }
    if (!BLOCK_IS_DRIVE(obj)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND, "'%s' is not a drive", id);
        g_object_unref(obj);
        return NULL;
    }
    return BLOCK_DRIVE(obj);
}

char *drive_help(void)
{
    gboolean is_help = FALSE;

    block_register_types();
    return qom_help_string(QOM_TYPE_OBJECT, "object", "drive,help", &is_help, NULL);
}

void block_register_types(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        qom_type_register("drive", DRIVE_TYPE);
        g_once_init_leave(&done, 1);
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */
/* ------------------------------------------------------------------------ */

static void drive_set_property(GObject *obj, guint id, const GValue *value,
                               GParamSpec *pspec)
{
    Drive *self = BLOCK_DRIVE(obj);

    switch (id) {
    case PROP_FILE:
        g_free(self->file);
        self->file = g_value_dup_string(value);
        break;
    case PROP_FORMAT:
        self->format = g_value_get_enum(value);
        break;
    case PROP_AIO:
        self->aio = g_value_get_enum(value);
        break;
    case PROP_CACHE:
        self->cache = g_value_get_enum(value);
        break;
    case PROP_READONLY:
        self->readonly = g_value_get_boolean(value);
        break;
    case PROP_DISCARD:
        self->discard = g_value_get_enum(value);
        break;
    case PROP_SIZE:
        self->size = g_value_get_uint64(value);
        self->size_set = TRUE;
        break;
    case PROP_LATENCY_NS:
        self->latency_ns = g_value_get_int64(value);
        self->latency_set = TRUE;
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void drive_get_property(GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
    Drive *self = BLOCK_DRIVE(obj);

    switch (id) {
    case PROP_FILE:
        g_value_set_string(value, self->file);
        break;
    case PROP_FORMAT:
        g_value_set_enum(value, self->format);
        break;
    case PROP_AIO:
        g_value_set_enum(value, self->aio);
        break;
    case PROP_CACHE:
        g_value_set_enum(value, self->cache);
        break;
    case PROP_READONLY:
        g_value_set_boolean(value, self->readonly);
        break;
    case PROP_DISCARD:
        g_value_set_enum(value, self->discard);
        break;
    case PROP_SIZE:
        g_value_set_uint64(value,
                           self->blk ? (guint64)blk_getlength(self->blk) : self->size);
        break;
    case PROP_LATENCY_NS:
        g_value_set_int64(value, self->latency_ns);
        break;
    case PROP_QUEUES:
        g_value_set_int(value, self->blk ? blk_get_queue_count(self->blk) : 0);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void drive_finalize(GObject *obj)
{
    Drive *self = BLOCK_DRIVE(obj);

    g_clear_pointer(&self->blk, blk_close);
    g_free(self->file);
    G_OBJECT_CLASS(drive_parent_class)->finalize(obj);
}

static void drive_init(Drive *self)
{
    self->format = DRIVE_FORMAT_RAW;
    self->aio = BLOCK_AIO_THREADS;
    self->cache = DRIVE_CACHE_WRITEBACK;
    self->discard = DRIVE_DISCARD_IGNORE;
}

#define CONSTRUCT_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

/* qom-set: a drive's options are fixed once it exists. */
static gboolean drive_check_set(QomObject *obj, GParamSpec *pspec, const GValue *value,
                                GError **errp)
{
    g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED,
                "property '%s' of drive '%s' cannot be changed after creation",
                pspec->name, qom_object_get_id(obj));
    return FALSE;
}

static GParamSpec *enum_spec(const char *name, const char *blurb, GType type, int def)
{
    return g_param_spec_enum(name, name, blurb, type, def, CONSTRUCT_FLAGS);
}

static void drive_class_init(DriveClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QomObjectClass *qc = QOM_OBJECT_CLASS(klass);

    oc->set_property = drive_set_property;
    oc->get_property = drive_get_property;
    oc->finalize = drive_finalize;
    qc->complete = drive_complete;
    qc->check_set = drive_check_set;

    props[PROP_FILE] = g_param_spec_string(
        "file", "file", "The image: a raw file or a block device (format=raw)", NULL,
        CONSTRUCT_FLAGS);
    props[PROP_FORMAT] = enum_spec("format", "raw: a file; null: no file, reads zeroes",
                                   drive_format_get_type(), DRIVE_FORMAT_RAW);
    props[PROP_AIO] = enum_spec(
        "aio", "I/O backend: thread pool, Linux AIO or io_uring (a queue per context)",
        drive_aio_get_type(), BLOCK_AIO_THREADS);
    props[PROP_CACHE] = enum_spec("cache", "none: O_DIRECT, bypass the host page cache",
                                  drive_cache_get_type(), DRIVE_CACHE_WRITEBACK);
    props[PROP_READONLY] = g_param_spec_boolean(
        "readonly", "readonly", "Open read-only; writes and discards fail", FALSE,
        CONSTRUCT_FLAGS);
    props[PROP_DISCARD] =
        enum_spec("discard", "unmap: discards punch holes; ignore: they do nothing",
                  drive_discard_get_type(), DRIVE_DISCARD_IGNORE);
    props[PROP_SIZE] = g_param_spec_uint64(
        "size", "size", "Size in bytes of a format=null drive (k/M/G/T suffixes)", 0,
        G_MAXINT64, 0, CONSTRUCT_FLAGS);
    qom_param_spec_mark_size(props[PROP_SIZE]);
    props[PROP_LATENCY_NS] = g_param_spec_int64(
        "latency-ns", "latency-ns", "format=null: each request completes after this", 0,
        G_MAXINT64, 0, CONSTRUCT_FLAGS);
    props[PROP_QUEUES] = g_param_spec_int(
        "queues", "queues", "Per-context queues the drive has now (read-only)", 0,
        G_MAXINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}
