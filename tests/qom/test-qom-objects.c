/*
 * tests/qom/test-qom-objects.c - creation from options, links, containers,
 * cleanup after failed completion, live property access, concurrency.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <stdlib.h>
#include <pthread.h>
#include <unistd.h>

#include "test-types.h"

#define OBJS QOM_CONTAINER_OBJECTS

static QomObject *create(const char *optarg, GError **errp)
{
    return qom_object_new_from_string(OBJS, QOM_TYPE_OBJECT, optarg, errp);
}

static guint container_len(const char *container)
{
    GList *list = qom_container_list(container);
    guint n = g_list_length(list);

    g_list_free_full(list, g_object_unref);
    return n;
}

static void del_ok(const char *container, const char *id)
{
    GError *err = NULL;

    g_assert_true(qom_container_del(container, id, &err));
    g_assert_no_error(err);
}

/* ---- creation ------------------------------------------------------------- */

static void test_create(void)
{
    GError *err = NULL;
    QomObject *obj = create("test-thing,id=t1,i=5,flag=on,name=x,,y,mode=poll,"
                            "buf-size=1M,threaded=on,ratio=0.25",
                            &err);
    QomObject *found;
    g_autofree char *name = NULL;
    gint i;
    gboolean flag, threaded;
    guint64 buf_size;
    TestMode mode;
    double ratio;

    g_assert_no_error(err);
    g_assert_true(TEST_IS_THING(obj));
    g_assert_cmpstr(qom_object_get_id(obj), ==, "t1");
    g_assert_cmpstr(qom_object_get_type_name(obj), ==, "test-thing");
    g_assert_true(qom_object_is_completed(obj));
    g_object_get(obj, "i", &i, "flag", &flag, "name", &name, "mode", &mode, "buf-size",
                 &buf_size, "threaded", &threaded, "ratio", &ratio, NULL);
    g_assert_cmpint(i, ==, 5);
    g_assert_true(flag);
    g_assert_true(threaded);
    g_assert_cmpstr(name, ==, "x,y");
    g_assert_cmpint(mode, ==, TEST_MODE_POLL);
    g_assert_cmpuint(buf_size, ==, 1 << 20);
    g_assert_cmpfloat(ratio, ==, 0.25);

    found = qom_container_find(OBJS, "t1");
    g_assert_true(found == obj);
    g_object_unref(found);
    g_assert_null(qom_container_find(QOM_CONTAINER_DEVICES, "t1"));

    /* The same id may live in another container. */
    obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, QOM_TYPE_OBJECT,
                                     "test-ctx,id=t1", &err);
    g_assert_no_error(err);
    g_assert_true(TEST_IS_CTX(obj));
    del_ok(QOM_CONTAINER_DEVICES, "t1");
    del_ok(OBJS, "t1");
    g_free(test_unparent_log_take());
}

static void assert_create_error(GType base, const char *optarg, int code,
                                const char *message)
{
    guint before = container_len(OBJS);
    GError *err = NULL;

    g_assert_null(qom_object_new_from_string(OBJS, base, optarg, &err));
    g_assert_error(err, QOM_ERROR, code);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
    g_assert_cmpuint(container_len(OBJS), ==, before);
    g_assert_null(qom_container_find(OBJS, "a"));
}

static void test_create_errors(void)
{
    GType base = QOM_TYPE_OBJECT;
    GError *err = NULL;

    assert_create_error(base, "foo,id=a", QOM_ERROR_UNKNOWN_TYPE,
                        "unknown object type 'foo'");
    assert_create_error(base, "test-abstract,id=a", QOM_ERROR_ABSTRACT_TYPE,
                        "object type 'test-abstract' is abstract");
    assert_create_error(TEST_TYPE_ABSTRACT, "test-thing,id=a", QOM_ERROR_UNKNOWN_TYPE,
                        "object type 'test-thing' is not a test-abstract");
    assert_create_error(base, "id=a", QOM_ERROR_MISSING, "parameter 'type' is missing");
    assert_create_error(base, "", QOM_ERROR_MISSING, "parameter 'type' is missing");
    assert_create_error(base, "test-thing", QOM_ERROR_MISSING,
                        "test-thing: parameter 'id' is missing");
    assert_create_error(base, "test-thing,i=3", QOM_ERROR_MISSING,
                        "test-thing: parameter 'id' is missing");
    assert_create_error(
        base, "test-thing,id=0ctx", QOM_ERROR_INVALID_ID,
        "invalid id '0ctx': an id starts with a letter and contains only "
        "letters, digits, '-', '.' and '_'");
    assert_create_error(
        base, "test-thing,id=a/b", QOM_ERROR_INVALID_ID,
        "invalid id 'a/b': an id starts with a letter and contains only "
        "letters, digits, '-', '.' and '_'");
    assert_create_error(base, "test-thing,id=a,thraded=on", QOM_ERROR_UNKNOWN_PROPERTY,
                        "unknown property 'thraded' for type 'test-thing'");
    assert_create_error(base, "test-thing,id=a,state=x", QOM_ERROR_INVALID_VALUE,
                        "test-thing: property 'state' is read-only");
    assert_create_error(base, "test-thing,id=a,i64=fast", QOM_ERROR_INVALID_VALUE,
                        "test-thing: property 'i64' expects an integer in [0, 2^63-1], "
                        "got 'fast'");
    assert_create_error(
        base, "test-thing,id=a,flag=maybe", QOM_ERROR_INVALID_VALUE,
        "test-thing: property 'flag' expects a boolean (on/off, yes/no, "
        "true/false), got 'maybe'");
    assert_create_error(base, "test-thing,id=a,id=b", QOM_ERROR_INVALID_VALUE,
                        "parameter 'id' is given more than once");

    g_assert_nonnull(create("test-ctx,id=ctx0", &err));
    g_assert_no_error(err);
    assert_create_error(base, "test-thing,id=ctx0", QOM_ERROR_DUPLICATE_ID,
                        "duplicate id 'ctx0'");
    /* A failed creation leaves the id free for the next one. */
    assert_create_error(base, "test-thing,id=a,i=9999", QOM_ERROR_INVALID_VALUE,
                        "test-thing: property 'i' expects an integer in [-1000, 1000], "
                        "got '9999'");
    g_assert_nonnull(create("test-thing,id=a", &err));
    g_assert_no_error(err);
    del_ok(OBJS, "a");
    del_ok(OBJS, "ctx0");
    g_free(test_unparent_log_take());
}

static void test_create_from_opts(void)
{
    GError *err = NULL;
    GArray *opts = qom_opts_parse("id=o1,i=-3", NULL, &err);
    QomObject *obj;
    gint i;

    g_assert_no_error(err);
    obj = qom_object_new_from_opts(OBJS, QOM_TYPE_OBJECT, "test-thing", opts, &err);
    g_assert_no_error(err);
    g_object_get(obj, "i", &i, NULL);
    g_assert_cmpint(i, ==, -3);
    qom_opts_free(opts);
    del_ok(OBJS, "o1");
    g_free(test_unparent_log_take());
}

static void test_completion_flag(void)
{
    QomObject *obj = g_object_new(TEST_TYPE_CTX, "id", "x", NULL);
    GError *err = NULL;

    g_assert_false(qom_object_is_completed(obj));
    g_assert_true(g_initable_init(G_INITABLE(obj), NULL, &err));
    g_assert_no_error(err);
    g_assert_true(qom_object_is_completed(obj));
    g_assert_true(g_initable_init(G_INITABLE(obj), NULL, &err)); /* once is enough */
    g_object_unref(obj);
}

/* ---- links ---------------------------------------------------------------- */

static void test_links(void)
{
    GError *err = NULL;
    QomObject *ctx0 = create("test-ctx,id=ctx0", &err);
    QomObject *drive0 = create("test-thing,id=drive0", &err);
    QomObject *dev0 = qom_object_new_from_string(QOM_CONTAINER_DEVICES, QOM_TYPE_OBJECT,
                                                 "test-ctx,id=dev0", &err);
    QomObject *t, *context = NULL, *peer = NULL;
    char *s;

    g_assert_no_error(err);
    t = create("test-thing,id=t2,context=ctx0,peer=drive0", &err);
    g_assert_no_error(err);
    g_object_get(t, "context", &context, "peer", &peer, NULL);
    g_assert_true(context == ctx0);
    g_assert_true(peer == drive0);
    g_clear_object(&context);
    g_clear_object(&peer);
    s = qom_property_to_string(t, "context", &err);
    g_assert_cmpstr(s, ==, "ctx0");
    g_free(s);

    /* Links also find objects in "devices"; "" clears a link. */
    g_assert_true(qom_object_set_property_str(t, "context", "dev0", &err));
    g_object_get(t, "context", &context, NULL);
    g_assert_true(context == dev0);
    g_clear_object(&context);
    g_assert_true(qom_object_set_property_str(t, "context", "", &err));
    g_object_get(t, "context", &context, NULL);
    g_assert_null(context);
    s = qom_property_to_string(t, "context", &err);
    g_assert_cmpstr(s, ==, "");
    g_free(s);

    assert_create_error(QOM_TYPE_OBJECT, "test-thing,id=a,context=ctx9",
                        QOM_ERROR_NOT_FOUND,
                        "'context' refers to 'ctx9', which does not exist");
    assert_create_error(QOM_TYPE_OBJECT, "test-thing,id=a,context=drive0",
                        QOM_ERROR_INVALID_VALUE,
                        "'context' refers to 'drive0', which is not a test-abstract");
    assert_create_error(QOM_TYPE_OBJECT, "test-thing,id=a,peer=ctx0",
                        QOM_ERROR_INVALID_VALUE,
                        "'peer' refers to 'ctx0', which is not a test-thing");

    del_ok(OBJS, "t2");
    del_ok(OBJS, "drive0");
    del_ok(OBJS, "ctx0");
    del_ok(QOM_CONTAINER_DEVICES, "dev0");
    g_free(test_unparent_log_take());
}

/* ---- containers ----------------------------------------------------------- */

#define BOX "test-box"

static QomObject *new_ctx(const char *id)
{
    return g_object_new(TEST_TYPE_CTX, "id", id, NULL);
}

static void add_ok(const char *id)
{
    QomObject *obj = new_ctx(id);
    GError *err = NULL;

    g_assert_true(qom_container_add(BOX, obj, &err));
    g_assert_no_error(err);
    g_object_unref(obj);
}

static void assert_add_error(const char *id, int code, const char *message)
{
    QomObject *obj = new_ctx(id);
    GError *err = NULL;

    g_assert_false(qom_container_add(BOX, obj, &err));
    g_assert_error(err, QOM_ERROR, code);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
    g_object_unref(obj);
}

static char *list_ids(const char *container)
{
    GList *list = qom_container_list(container);
    GString *s = g_string_new(NULL);

    for (GList *l = list; l; l = l->next) {
        g_string_append_printf(s, "%s%s", s->len ? " " : "",
                               qom_object_get_id(l->data));
    }
    g_list_free_full(list, g_object_unref);
    return g_string_free(s, FALSE);
}

#define ASSERT_IDS(container, expected)                                                \
    do {                                                                               \
        g_autofree char *ids_ = list_ids(container);                                   \
        g_assert_cmpstr(ids_, ==, expected);                                           \
    } while (0)

#define ASSERT_UNPARENTED(expected)                                                    \
    do {                                                                               \
        g_autofree char *log_ = test_unparent_log_take();                              \
        g_assert_cmpstr(log_, ==, expected);                                           \
    } while (0)

static void test_container_basic(void)
{
    QomObject *found, *weak;
    GError *err = NULL;

    g_assert_true(qom_id_is_valid("a"));
    g_assert_true(qom_id_is_valid("Ctx-0.a_b"));
    g_assert_false(qom_id_is_valid(""));
    g_assert_false(qom_id_is_valid(NULL));
    g_assert_false(qom_id_is_valid("_a"));
    g_assert_false(qom_id_is_valid("a b"));
    g_assert_null(qom_container_list("never-used"));
    g_assert_null(qom_container_find("never-used", "a"));

    add_ok("zeta");
    add_ok("alpha");
    add_ok("mid");
    ASSERT_IDS(BOX, "zeta alpha mid"); /* creation order, not sorted */
    assert_add_error("alpha", QOM_ERROR_DUPLICATE_ID, "duplicate id 'alpha'");
    assert_add_error("1x", QOM_ERROR_INVALID_ID,
                     "invalid id '1x': an id starts with a letter and contains only "
                     "letters, digits, '-', '.' and '_'");
    assert_add_error(NULL, QOM_ERROR_INVALID_ID,
                     "invalid id '': an id starts with a letter and contains only "
                     "letters, digits, '-', '.' and '_'");

    found = qom_container_find(BOX, "alpha");
    g_assert_nonnull(found);
    weak = found;
    g_object_add_weak_pointer(G_OBJECT(found), (gpointer *)&weak);
    del_ok(BOX, "alpha");
    ASSERT_UNPARENTED("alpha");
    g_assert_nonnull(weak); /* we still hold a reference */
    g_object_unref(found);
    g_assert_null(weak); /* the container's reference is gone too */
    g_assert_null(qom_container_find(BOX, "alpha"));
    ASSERT_IDS(BOX, "zeta mid");

    g_assert_false(qom_container_del(BOX, "alpha", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, "no object with id 'alpha'");
    g_clear_error(&err);

    add_ok("alpha"); /* the id is free again; it goes to the end */
    ASSERT_IDS(BOX, "zeta mid alpha");
    qom_container_del_all(BOX);
    ASSERT_UNPARENTED("alpha mid zeta");
    ASSERT_IDS(BOX, "");
}

static gboolean keep_check(QomObject *obj, GError **errp)
{
    if (g_str_has_prefix(qom_object_get_id(obj), "keep")) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE, "'%s' is used by dev0",
                    qom_object_get_id(obj));
        return FALSE;
    }
    return !g_str_has_prefix(qom_object_get_id(obj), "silent");
}

static void test_container_del_check(void)
{
    GError *err = NULL;

    add_ok("keep0");
    add_ok("silent0");
    add_ok("free0");
    qom_container_set_del_check(keep_check);
    g_assert_false(qom_container_del(BOX, "keep0", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(err->message, ==, "'keep0' is used by dev0");
    g_clear_error(&err);
    g_assert_false(qom_container_del(BOX, "silent0", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    g_assert_cmpstr(err->message, ==, "'silent0' is in use");
    g_clear_error(&err);
    del_ok(BOX, "free0");
    ASSERT_UNPARENTED("free0");
    ASSERT_IDS(BOX, "keep0 silent0");

    /* Shutdown removes everything regardless of the check. */
    qom_container_del_all(BOX);
    qom_container_set_del_check(NULL);
    ASSERT_UNPARENTED("silent0 keep0");
    ASSERT_IDS(BOX, "");
}

/* ---- cleanup after a failed completion ------------------------------------ */

static guint count_dir(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *de;
    guint n = 0;

    g_assert_nonnull(dir);
    while ((de = readdir(dir))) {
        n += de->d_name[0] != '.';
    }
    closedir(dir);
    return n - (g_str_equal(path, "/proc/self/fd") ? 1 : 0); /* the DIR's own fd */
}

/*
 * A joined thread leaves /proc/self/task a moment after pthread_join()
 * returns; wait for the count (a condition, not a timing assertion).
 */
static guint count_threads_settled(guint expected)
{
    guint n = count_dir("/proc/self/task");

    for (int i = 0; i < 2000 && n != expected; i++) {
        g_usleep(1000);
        n = count_dir("/proc/self/task");
    }
    return n;
}

/* The task count once it stops changing (for a baseline). */
static guint count_threads_stable(void)
{
    guint last = count_dir("/proc/self/task");

    for (int i = 0; i < 200; i++) {
        guint now;

        g_usleep(5000);
        now = count_dir("/proc/self/task");
        if (now == last) {
            break;
        }
        last = now;
    }
    return last;
}

static void *noop_thread(void *opaque)
{
    return opaque;
}

static void test_failure_cleanup(void)
{
    guint threads, fds;
    GError *err = NULL;
    QomObject *obj;
    pthread_t warm_up;

    /* Sanitizers start a helper thread with the first thread: let them. */
    g_assert_cmpint(pthread_create(&warm_up, NULL, noop_thread, NULL), ==, 0);
    pthread_join(warm_up, NULL);
    threads = count_threads_stable();
    fds = count_dir("/proc/self/fd");

    for (int round = 0; round < 3; round++) {
        g_assert_null(create("test-fail,id=f1,fail=on", &err));
        g_assert_error(err, QOM_ERROR, QOM_ERROR_FAILED);
        g_assert_cmpstr(err->message, ==, "f1: told to fail");
        g_clear_error(&err);
        g_assert_null(qom_container_find(OBJS, "f1"));
        g_assert_cmpuint(count_threads_settled(threads), ==, threads);
        g_assert_cmpuint(count_dir("/proc/self/fd"), ==, fds);
    }
    ASSERT_UNPARENTED(""); /* never added, so never unparented */

    /* The id is free; a successful one holds a thread and three fds. */
    obj = create("test-fail,id=f1", &err);
    g_assert_no_error(err);
    g_assert_true(qom_object_is_completed(obj));
    g_assert_cmpuint(count_threads_settled(threads + 1), ==, threads + 1);
    g_assert_cmpuint(count_dir("/proc/self/fd"), ==, fds + 3);
    del_ok(OBJS, "f1");
    ASSERT_UNPARENTED("f1");
    g_assert_cmpuint(count_threads_settled(threads), ==, threads);
    g_assert_cmpuint(count_dir("/proc/self/fd"), ==, fds);
}

/* ---- live properties ------------------------------------------------------ */

static void assert_round_trip(QomObject *obj, const char *name, const char *expected)
{
    GError *err = NULL;
    g_autofree char *s1 = qom_property_to_string(obj, name, &err);
    g_autofree char *s2 = NULL;

    g_assert_no_error(err);
    g_assert_cmpstr(s1, ==, expected);
    g_assert_true(qom_object_set_property_str(obj, name, s1, &err));
    g_assert_no_error(err);
    s2 = qom_property_to_string(obj, name, &err);
    g_assert_cmpstr(s2, ==, s1);
}

static void test_round_trip(void)
{
    GError *err = NULL;
    QomObject *obj = create("test-thing,id=rt,i=-12,count=-2147483648,u=0xffffffff,"
                            "l=-5,ul=18446744073709551615,i64=9223372036854775807,"
                            "u64=0x10,ch=-128,uch=255,flag=yes,ratio=0.1,scale=-1e300,"
                            "name=a,,b,mode=io_uring,buf-size=64k,small-size=1G",
                            &err);

    g_assert_no_error(err);
    assert_round_trip(obj, "i", "-12");
    assert_round_trip(obj, "count", "-2147483648");
    assert_round_trip(obj, "u", "4294967295");
    assert_round_trip(obj, "l", "-5");
    assert_round_trip(obj, "ul", "18446744073709551615");
    assert_round_trip(obj, "i64", "9223372036854775807");
    assert_round_trip(obj, "u64", "16");
    assert_round_trip(obj, "ch", "-128");
    assert_round_trip(obj, "uch", "255");
    assert_round_trip(obj, "flag", "on");
    assert_round_trip(obj, "ratio", "0.10000000000000001");
    assert_round_trip(obj, "scale", "-1.0000000000000001e+300");
    assert_round_trip(obj, "name", "a,b");
    assert_round_trip(obj, "mode", "io_uring");
    assert_round_trip(obj, "buf-size", "65536");
    assert_round_trip(obj, "small-size", "1073741824");
    assert_round_trip(obj, "peer", "");
    g_assert_true(qom_object_set_property_str(obj, "peer", "rt", &err));
    assert_round_trip(obj, "peer", "rt");
    g_assert_true(qom_object_set_property_str(obj, "peer", "", &err)); /* no cycle */

    g_autofree char *state = qom_property_to_string(obj, "state", &err);
    g_assert_cmpstr(state, ==, "flagged");
    g_autofree char *id = qom_property_to_string(obj, "id", &err);
    g_assert_cmpstr(id, ==, "rt");
    del_ok(OBJS, "rt");
    g_free(test_unparent_log_take());
}

static void assert_set_error(QomObject *obj, const char *name, const char *str,
                             int code, const char *message)
{
    GError *err = NULL;

    g_assert_false(qom_object_set_property_str(obj, name, str, &err));
    g_assert_error(err, QOM_ERROR, code);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

static void test_set_property_str(void)
{
    GError *err = NULL;
    QomObject *obj = create("test-thing,id=t1,threaded=on", &err);
    gint i;

    g_assert_true(qom_object_set_property_str(obj, "i", "0x20", &err));
    g_assert_no_error(err);
    g_object_get(obj, "i", &i, NULL);
    g_assert_cmpint(i, ==, 32);
    assert_set_error(obj, "threaded", "off", QOM_ERROR_FAILED,
                     "property 'threaded' of 't1' cannot be changed after creation");
    assert_set_error(obj, "id", "t2", QOM_ERROR_FAILED,
                     "property 'id' of 't1' cannot be changed after creation");
    assert_set_error(obj, "state", "x", QOM_ERROR_FAILED,
                     "property 'state' of 't1' is read-only");
    assert_set_error(obj, "thraded", "on", QOM_ERROR_UNKNOWN_PROPERTY,
                     "unknown property 'thraded' for type 'test-thing'");
    assert_set_error(
        obj, "i", "fast", QOM_ERROR_INVALID_VALUE,
        "test-thing: property 'i' expects an integer in [-1000, 1000], got "
        "'fast'");
    g_object_get(obj, "i", &i, NULL);
    g_assert_cmpint(i, ==, 32); /* unchanged by the failures */

    g_assert_null(qom_property_to_string(obj, "nope", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY);
    g_assert_cmpstr(err->message, ==, "unknown property 'nope' for type 'test-thing'");
    g_clear_error(&err);
    del_ok(OBJS, "t1");
    g_free(test_unparent_log_take());
}

/* ---- concurrency ---------------------------------------------------------- */

#define RACE_THREADS 4
#define RACE_IDS 150

static int race_created[RACE_IDS];
static int race_deleted[RACE_IDS];

static void *race_create(void *opaque)
{
    for (int k = 0; k < RACE_IDS; k++) {
        g_autofree char *arg = g_strdup_printf("test-ctx,id=race%d", k);
        GError *err = NULL;

        if (create(arg, &err)) {
            __atomic_fetch_add(&race_created[k], 1, __ATOMIC_RELAXED);
        } else {
            g_assert_error(err, QOM_ERROR, QOM_ERROR_DUPLICATE_ID);
            g_error_free(err);
        }
        g_list_free_full(qom_container_list(OBJS), g_object_unref);
    }
    return NULL;
}

static void *race_delete(void *opaque)
{
    for (int k = 0; k < RACE_IDS; k++) {
        g_autofree char *id = g_strdup_printf("race%d", k);
        QomObject *obj = qom_container_find(OBJS, id);

        if (qom_container_del(OBJS, id, NULL)) {
            __atomic_fetch_add(&race_deleted[k], 1, __ATOMIC_RELAXED);
        }
        g_clear_object(&obj);
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *))
{
    pthread_t threads[RACE_THREADS];

    for (int t = 0; t < RACE_THREADS; t++) {
        g_assert_cmpint(pthread_create(&threads[t], NULL, fn, NULL), ==, 0);
    }
    for (int t = 0; t < RACE_THREADS; t++) {
        pthread_join(threads[t], NULL);
    }
}

static void test_concurrent_ids(void)
{
    run_threads(race_create);
    for (int k = 0; k < RACE_IDS; k++) {
        g_assert_cmpint(race_created[k], ==, 1);
    }
    g_assert_cmpuint(container_len(OBJS), ==, RACE_IDS);
    run_threads(race_delete);
    for (int k = 0; k < RACE_IDS; k++) {
        g_assert_cmpint(race_deleted[k], ==, 1);
    }
    g_assert_cmpuint(container_len(OBJS), ==, 0);
    g_autofree char *log = test_unparent_log_take();
    g_assert_cmpuint(strlen(log), >, 0);
}

/* ---- map properties -------------------------------------------------------- */

static void test_map_property(void)
{
    GError *err = NULL;
    QomObject *obj = create("test-thing,id=m1,paths.db=/run/db.sock,i=3,"
                            "paths.log=/a=b,,c",
                            &err);
    g_autofree char *paths = NULL;
    g_autoptr(GHashTable) map = NULL;

    g_assert_no_error(err);
    g_object_get(obj, "paths", &paths, NULL);
    g_assert_cmpstr(paths, ==, "db=/run/db.sock\nlog=/a=b,c");
    map = qom_map_parse(paths, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(g_hash_table_size(map), ==, 2);
    g_assert_cmpstr(g_hash_table_lookup(map, "db"), ==, "/run/db.sock");
    g_assert_cmpstr(g_hash_table_lookup(map, "log"), ==, "/a=b,c");
    del_ok(OBJS, "m1");

    /* Set whole, as qom-get shows it; an empty map. */
    obj = create("test-thing,id=m2,paths=x=1", &err);
    g_assert_no_error(err);
    del_ok(OBJS, "m2");
    g_clear_pointer(&map, g_hash_table_unref);
    map = qom_map_parse("", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(g_hash_table_size(map), ==, 0);

    /* Bad entries: an empty name, a dotted name, a non-map prefix. */
    g_assert_null(create("test-thing,id=m3,paths.=/x", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
    g_assert_cmpstr(err->message, ==, "test-thing: 'paths.' is not paths.NAME=VALUE");
    g_clear_error(&err);
    g_assert_null(create("test-thing,id=m3,paths.a.b=/x", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
    g_clear_error(&err);
    g_assert_null(create("test-thing,id=m3,name.a=/x", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY);
    g_clear_error(&err);

    /* qom_map_parse: not NAME=VALUE, a name twice. */
    g_assert_null(qom_map_parse("a=1\nnoequals", &err));
    g_assert_cmpstr(err->message, ==, "'noequals' is not NAME=VALUE");
    g_clear_error(&err);
    g_assert_null(qom_map_parse("a=1\na=2", &err));
    g_assert_cmpstr(err->message, ==, "'a' is given twice");
    g_clear_error(&err);
    g_assert_cmpuint(container_len(OBJS), ==, 0);
}

int main(int argc, char **argv)
{
    /*
     * GLib < 2.76 hands out GList/GHashTable/GString memory from a slice
     * allocator whose cross-thread recycling TSan cannot see (false races).
     * G_SLICE must be set before GLib's constructor runs, so re-exec once.
     */
    if (!getenv("G_SLICE")) {
        setenv("G_SLICE", "always-malloc", 1);
        execv("/proc/self/exe", argv);
    }
    g_test_init(&argc, &argv, NULL);
    test_types_register();
    g_test_add_func("/qom/create/basic", test_create);
    g_test_add_func("/qom/create/errors", test_create_errors);
    g_test_add_func("/qom/create/from-opts", test_create_from_opts);
    g_test_add_func("/qom/create/completion-flag", test_completion_flag);
    g_test_add_func("/qom/create/failure-cleanup", test_failure_cleanup);
    g_test_add_func("/qom/links", test_links);
    g_test_add_func("/qom/property/map", test_map_property);
    g_test_add_func("/qom/container/basic", test_container_basic);
    g_test_add_func("/qom/container/del-check", test_container_del_check);
    g_test_add_func("/qom/property/round-trip", test_round_trip);
    g_test_add_func("/qom/property/set-str", test_set_property_str);
    g_test_add_func("/qom/container/concurrent-ids", test_concurrent_ids);
    return g_test_run();
}
