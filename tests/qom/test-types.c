/*
 * tests/qom/test-types.c - object types used only by the qom tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "test-types.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static GString *unparent_log;

static void log_unparent(QomObject *obj)
{
    pthread_mutex_lock(&log_lock);
    if (!unparent_log) {
        unparent_log = g_string_new(NULL);
    }
    g_string_append_printf(unparent_log, "%s%s", unparent_log->len ? " " : "",
                           qom_object_get_id(obj));
    pthread_mutex_unlock(&log_lock);
}

char *test_unparent_log_take(void)
{
    char *s;

    pthread_mutex_lock(&log_lock);
    s = unparent_log ? g_string_free(unparent_log, FALSE) : g_strdup("");
    unparent_log = NULL;
    pthread_mutex_unlock(&log_lock);
    return s;
}

/* ---- test-abstract / test-ctx ---------------------------------------------- */

G_DEFINE_ABSTRACT_TYPE(TestAbstract, test_abstract, QOM_TYPE_OBJECT)

static void test_abstract_class_init(TestAbstractClass *klass)
{
    QOM_OBJECT_CLASS(klass)->unparent = log_unparent;
}

static void test_abstract_init(TestAbstract *self)
{
}

struct _TestCtx {
    TestAbstract parent;
};

G_DEFINE_TYPE(TestCtx, test_ctx, TEST_TYPE_ABSTRACT)

static void test_ctx_class_init(TestCtxClass *klass)
{
}

static void test_ctx_init(TestCtx *self)
{
}

GType test_mode_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        {TEST_MODE_POLL, "TEST_MODE_POLL", "poll"},
        {TEST_MODE_EPOLL, "TEST_MODE_EPOLL", "epoll"},
        {TEST_MODE_IO_URING, "TEST_MODE_IO_URING", "io_uring"},
        {0, NULL, NULL},
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("TestMode", values));
    }
    return type;
}

/* ---- test-thing ---------------------------------------------------------- */

struct _TestThing {
    QomObject parent;
    gint i, count;
    guint u, small_size;
    glong l;
    gulong ul;
    gint64 i64;
    guint64 u64, buf_size;
    gint8 ch;
    guint8 uch;
    gboolean flag, threaded;
    double ratio, scale;
    char *name;
    char *paths; /* a map: paths.NAME=VALUE */
    TestMode mode;
    QomObject *peer, *context;
};

G_DEFINE_TYPE(TestThing, test_thing, QOM_TYPE_OBJECT)

enum {
    P_0,
    P_I,
    P_COUNT,
    P_U,
    P_L,
    P_UL,
    P_I64,
    P_U64,
    P_CH,
    P_UCH,
    P_FLAG,
    P_RATIO,
    P_SCALE,
    P_NAME,
    P_MODE,
    P_BUF_SIZE,
    P_SMALL_SIZE,
    P_THREADED,
    P_STATE,
    P_PEER,
    P_CONTEXT,
    P_PATHS,
    N_P
};

static void test_thing_set_property(GObject *object, guint id, const GValue *v,
                                    GParamSpec *pspec)
{
    TestThing *t = TEST_THING(object);

    switch (id) {
    case P_I:
        t->i = g_value_get_int(v);
        break;
    case P_COUNT:
        t->count = g_value_get_int(v);
        break;
    case P_U:
        t->u = g_value_get_uint(v);
        break;
    case P_L:
        t->l = g_value_get_long(v);
        break;
    case P_UL:
        t->ul = g_value_get_ulong(v);
        break;
    case P_I64:
        t->i64 = g_value_get_int64(v);
        break;
    case P_U64:
        t->u64 = g_value_get_uint64(v);
        break;
    case P_CH:
        t->ch = g_value_get_schar(v);
        break;
    case P_UCH:
        t->uch = g_value_get_uchar(v);
        break;
    case P_FLAG:
        t->flag = g_value_get_boolean(v);
        break;
    case P_RATIO:
        t->ratio = g_value_get_double(v);
        break;
    case P_SCALE:
        t->scale = g_value_get_double(v);
        break;
    case P_PATHS:
        g_free(t->paths);
        t->paths = g_value_dup_string(v);
        break;
    case P_NAME:
        g_free(t->name);
        t->name = g_value_dup_string(v);
        break;
    case P_MODE:
        t->mode = g_value_get_enum(v);
        break;
    case P_BUF_SIZE:
        t->buf_size = g_value_get_uint64(v);
        break;
    case P_SMALL_SIZE:
        t->small_size = g_value_get_uint(v);
        break;
    case P_THREADED:
        t->threaded = g_value_get_boolean(v);
        break;
    case P_PEER:
        g_clear_object(&t->peer);
        t->peer = g_value_dup_object(v);
        break;
    case P_CONTEXT:
        g_clear_object(&t->context);
        t->context = g_value_dup_object(v);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void test_thing_get_property(GObject *object, guint id, GValue *v,
                                    GParamSpec *pspec)
{
    TestThing *t = TEST_THING(object);

    switch (id) {
    case P_I:
        g_value_set_int(v, t->i);
        break;
    case P_COUNT:
        g_value_set_int(v, t->count);
        break;
    case P_U:
        g_value_set_uint(v, t->u);
        break;
    case P_L:
        g_value_set_long(v, t->l);
        break;
    case P_UL:
        g_value_set_ulong(v, t->ul);
        break;
    case P_I64:
        g_value_set_int64(v, t->i64);
        break;
    case P_U64:
        g_value_set_uint64(v, t->u64);
        break;
    case P_CH:
        g_value_set_schar(v, t->ch);
        break;
    case P_UCH:
        g_value_set_uchar(v, t->uch);
        break;
    case P_FLAG:
        g_value_set_boolean(v, t->flag);
        break;
    case P_RATIO:
        g_value_set_double(v, t->ratio);
        break;
    case P_SCALE:
        g_value_set_double(v, t->scale);
        break;
    case P_NAME:
        g_value_set_string(v, t->name);
        break;
    case P_PATHS:
        g_value_set_string(v, t->paths);
        break;
    case P_MODE:
        g_value_set_enum(v, t->mode);
        break;
    case P_BUF_SIZE:
        g_value_set_uint64(v, t->buf_size);
        break;
    case P_SMALL_SIZE:
        g_value_set_uint(v, t->small_size);
        break;
    case P_THREADED:
        g_value_set_boolean(v, t->threaded);
        break;
    case P_STATE:
        g_value_set_string(v, t->flag ? "flagged" : "plain");
        break;
    case P_PEER:
        g_value_set_object(v, t->peer);
        break;
    case P_CONTEXT:
        g_value_set_object(v, t->context);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void test_thing_dispose(GObject *object)
{
    TestThing *t = TEST_THING(object);

    g_clear_object(&t->peer);
    g_clear_object(&t->context);
    G_OBJECT_CLASS(test_thing_parent_class)->dispose(object);
}

static void test_thing_finalize(GObject *object)
{
    g_free(TEST_THING(object)->name);
    g_free(TEST_THING(object)->paths);
    G_OBJECT_CLASS(test_thing_parent_class)->finalize(object);
}

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

static void test_thing_class_init(TestThingClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GParamSpec *p[N_P] = {NULL};

    oc->set_property = test_thing_set_property;
    oc->get_property = test_thing_get_property;
    oc->dispose = test_thing_dispose;
    oc->finalize = test_thing_finalize;
    QOM_OBJECT_CLASS(klass)->unparent = log_unparent;

    p[P_I] = g_param_spec_int("i", NULL, "A small integer", -1000, 1000, 7, RW);
    p[P_COUNT] = g_param_spec_int("count", NULL, "Any int", G_MININT, G_MAXINT, 0, RW);
    p[P_U] = g_param_spec_uint("u", NULL, "An unsigned", 0, G_MAXUINT, 0, RW);
    p[P_L] = g_param_spec_long("l", NULL, "A long", G_MINLONG, G_MAXLONG, 0, RW);
    p[P_UL] = g_param_spec_ulong("ul", NULL, "An unsigned long", 0, G_MAXULONG, 0, RW);
    p[P_I64] = g_param_spec_int64("i64", NULL, "A non-negative int64", 0, G_MAXINT64,
                                  32768, RW);
    p[P_U64] = g_param_spec_uint64("u64", NULL, "A uint64", 0, G_MAXUINT64, 0, RW);
    p[P_CH] = g_param_spec_char("ch", NULL, "A char", G_MININT8, G_MAXINT8, 0, RW);
    p[P_UCH] = g_param_spec_uchar("uch", NULL, "A uchar", 0, G_MAXUINT8, 0, RW);
    p[P_FLAG] = g_param_spec_boolean("flag", NULL, "A flag", FALSE, RW);
    p[P_RATIO] = g_param_spec_double("ratio", NULL, "A ratio", 0.0, 1.0, 0.5, RW);
    p[P_SCALE] = g_param_spec_double("scale", NULL, "A scale", -G_MAXDOUBLE,
                                     G_MAXDOUBLE, 1.0, RW);
    p[P_NAME] = g_param_spec_string("name", NULL, "A name", NULL, RW);
    p[P_MODE] = g_param_spec_enum("mode", NULL, "The mode", TEST_TYPE_MODE,
                                  TEST_MODE_EPOLL, RW);
    p[P_BUF_SIZE] =
        g_param_spec_uint64("buf-size", NULL, "Buffer size", 0, G_MAXUINT64, 65536, RW);
    p[P_SMALL_SIZE] =
        g_param_spec_uint("small-size", NULL, "A 32-bit size", 0, G_MAXUINT, 4096, RW);
    p[P_THREADED] = g_param_spec_boolean("threaded", NULL, "Run a thread", FALSE,
                                         RW | G_PARAM_CONSTRUCT_ONLY);
    p[P_STATE] = g_param_spec_string("state", NULL, "Read-only state", NULL,
                                     G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    p[P_PEER] = g_param_spec_object("peer", NULL, "Another thing", TEST_TYPE_THING, RW);
    p[P_CONTEXT] =
        g_param_spec_object("context", NULL, "The context", TEST_TYPE_ABSTRACT, RW);
    p[P_PATHS] =
        g_param_spec_string("paths", NULL, "Named paths (paths.NAME=PATH)", NULL, RW);
    qom_param_spec_mark_map(p[P_PATHS]);
    qom_param_spec_mark_size(p[P_BUF_SIZE]);
    qom_param_spec_mark_size(p[P_SMALL_SIZE]);
    g_object_class_install_properties(oc, N_P, p);
}

static void test_thing_init(TestThing *t)
{
    t->i = 7;
    t->i64 = 32768;
    t->ratio = 0.5;
    t->scale = 1.0;
    t->mode = TEST_MODE_EPOLL;
    t->buf_size = 65536;
    t->small_size = 4096;
}

/* ---- test-fail ----------------------------------------------------------- */

struct _TestFail {
    QomObject parent;
    gboolean fail;
    gboolean thread_started;
    pthread_t thread;
    int pipe_fds[2];
    int null_fd;
};

G_DEFINE_TYPE(TestFail, test_fail, QOM_TYPE_OBJECT)

enum { PF_0, PF_FAIL, N_PF };

static void *test_fail_thread(void *opaque)
{
    TestFail *f = opaque;
    char c;

    /* Runs until the write end is closed. */
    while (read(f->pipe_fds[0], &c, 1) > 0) {
    }
    return NULL;
}

static gboolean test_fail_complete(QomObject *obj, GError **errp)
{
    TestFail *f = TEST_FAIL(obj);

    if (!QOM_OBJECT_CLASS(test_fail_parent_class)->complete(obj, errp)) {
        return FALSE;
    }
    if (pipe2(f->pipe_fds, O_CLOEXEC) < 0) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "pipe failed");
        return FALSE;
    }
    f->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (pthread_create(&f->thread, NULL, test_fail_thread, f) != 0) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "thread failed");
        return FALSE;
    }
    f->thread_started = TRUE;
    if (f->fail) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_FAILED, "%s: told to fail",
                    qom_object_get_id(obj));
        return FALSE;
    }
    return TRUE;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void test_fail_dispose(GObject *object)
{
    TestFail *f = TEST_FAIL(object);

    close_fd(&f->pipe_fds[1]); /* the thread's read returns 0 */
    if (f->thread_started) {
        pthread_join(f->thread, NULL);
        f->thread_started = FALSE;
    }
    close_fd(&f->pipe_fds[0]);
    close_fd(&f->null_fd);
    G_OBJECT_CLASS(test_fail_parent_class)->dispose(object);
}

static void test_fail_set_property(GObject *object, guint id, const GValue *v,
                                   GParamSpec *pspec)
{
    if (id == PF_FAIL) {
        TEST_FAIL(object)->fail = g_value_get_boolean(v);
    } else {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void test_fail_get_property(GObject *object, guint id, GValue *v,
                                   GParamSpec *pspec)
{
    if (id == PF_FAIL) {
        g_value_set_boolean(v, TEST_FAIL(object)->fail);
    } else {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void test_fail_class_init(TestFailClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = test_fail_dispose;
    oc->set_property = test_fail_set_property;
    oc->get_property = test_fail_get_property;
    QOM_OBJECT_CLASS(klass)->complete = test_fail_complete;
    QOM_OBJECT_CLASS(klass)->unparent = log_unparent;
    g_object_class_install_property(oc, PF_FAIL,
                                    g_param_spec_boolean("fail", NULL,
                                                         "Fail in complete", FALSE,
                                                         RW | G_PARAM_CONSTRUCT_ONLY));
}

static void test_fail_init(TestFail *f)
{
    f->pipe_fds[0] = f->pipe_fds[1] = f->null_fd = -1;
}

void test_types_register(void)
{
    qom_type_register("test-abstract", TEST_TYPE_ABSTRACT);
    qom_type_register("test-ctx", TEST_TYPE_CTX);
    qom_type_register("test-thing", TEST_TYPE_THING);
    qom_type_register("test-fail", TEST_TYPE_FAIL);
}
