/*
 * tests/qom/test-qom-fuzz.c - randomized (but repeatable: fixed seeds)
 * option strings fed to the object layer: qom_opts_parse() round trips and
 * rejects, qom_object_new_from_string() for contexts and devices either
 * creates a working object (which then deletes cleanly) or fails with a
 * readable one-line UTF-8 error, and failed creations leave no thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "qcontext/devices/device.h"
#include "qcontext/qcontext.h"
#include "qcontext/qom/object.h"

#define OBJS QOM_CONTAINER_OBJECTS
#define DEVS QOM_CONTAINER_DEVICES

/* ---- helpers ------------------------------------------------------------ */

static guint thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    guint n = 0;

    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

/* Threads of deleted contexts may take a moment to be reaped. */
static void assert_threads_back_to(guint baseline)
{
    for (int i = 0; i < 200 && thread_count() > baseline; i++) {
        g_usleep(5000);
    }
    g_assert_cmpuint(thread_count(), <=, baseline);
}

/* A failure must come with a clear message: non-empty, UTF-8, one line. */
static void assert_good_error(GError *err, const char *input)
{
    if (!err) {
        g_error("no error and no object for '%s'", g_strescape(input, NULL));
    }
    g_assert_nonnull(err->message);
    g_assert_cmpuint(strlen(err->message), >, 0);
    if (!g_utf8_validate(err->message, -1, NULL) || strchr(err->message, '\n')) {
        g_autofree char *esc = g_strescape(err->message, NULL);
        g_error("bad error message (not one valid UTF-8 line): \"%s\"", esc);
    }
}

static const char *pick(GRand *r, const char *const *list, guint n)
{
    return list[g_rand_int_range(r, 0, n)];
}
#define PICK(r, list) pick(r, list, G_N_ELEMENTS(list))

/* Random printable-ish text, with option metacharacters and bad bytes. */
static void append_random_text(GRand *r, GString *s, guint max)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        "9",
        "-",
        "_",
        ".",
        ",",
        ",,",
        "=",
        " ",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xff",
        "\xc3",
        "\x80",
        "\xed\xa0\x80",
        "\n",
        "\t",
        "\"",
        "'",
        "\\",
        "%s",
        "%n",
        "0x",
        "k",
    };
    guint n = g_rand_int_range(r, 0, max + 1);

    for (guint i = 0; i < n; i++) {
        g_string_append(s, PICK(r, pieces));
    }
}

/* Escape commas the way the option syntax wants (",," for a literal ','). */
static void append_escaped(GString *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        g_string_append_c(s, *p);
        if (*p == ',') {
            g_string_append_c(s, ',');
        }
    }
}

/* ---- qom_opts_parse ----------------------------------------------------- */

/* Well-formed key/value lists survive escaping and parsing unchanged. */
static void test_opts_roundtrip(void)
{
    GRand *r = g_rand_new_with_seed(0x0b7501);

    for (int iter = 0; iter < 1500; iter++) {
        guint n = g_rand_int_range(r, 1, 8);
        g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) vals = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) in = g_string_new(NULL);
        GError *err = NULL;
        GArray *opts;

        for (guint i = 0; i < n; i++) {
            GString *k = g_string_new(NULL);
            GString *v = g_string_new(NULL);

            g_string_append_printf(k, "k%u", i); /* unique, non-empty */
            append_random_text(r, k, 3);
            g_strdelimit(k->str, "=", '_');
            if (g_rand_int_range(r, 0, 20) == 0) {
                for (int j = 0; j < 10000; j++) {
                    g_string_append_c(v, "ab,=\xc3"[j % 5]);
                }
            } else {
                append_random_text(r, v, 12);
            }
            if (i) {
                g_string_append_c(in, ',');
            }
            append_escaped(in, k->str);
            g_string_append_c(in, '=');
            append_escaped(in, v->str);
            g_ptr_array_add(keys, g_string_free(k, FALSE));
            g_ptr_array_add(vals, g_string_free(v, FALSE));
        }
        opts = qom_opts_parse(in->str, g_rand_boolean(r) ? "type" : NULL, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(opts->len, ==, n);
        for (guint i = 0; i < n; i++) {
            QomOpt *o = &g_array_index(opts, QomOpt, i);
            g_assert_cmpstr(o->key, ==, keys->pdata[i]);
            g_assert_cmpstr(o->value, ==, vals->pdata[i]);
            g_assert_cmpstr(qom_opts_get(opts, keys->pdata[i]), ==, vals->pdata[i]);
        }
        qom_opts_free(opts);
    }
    g_rand_free(r);
}

/* Arbitrary strings: a result whose keys are sane, or a clear error. */
static void test_opts_random(void)
{
    GRand *r = g_rand_new_with_seed(0x0b7502);

    for (int iter = 0; iter < 3000; iter++) {
        g_autoptr(GString) in = g_string_new(NULL);
        const char *implied = g_rand_boolean(r) ? "type" : NULL;
        GError *err = NULL;
        GArray *opts;

        append_random_text(r, in, 30);
        opts = qom_opts_parse(in->str, implied, &err);
        if (!opts) {
            assert_good_error(err, in->str);
            g_assert_true(err->domain == QOM_ERROR);
            g_error_free(err);
            continue;
        }
        g_assert_no_error(err);
        for (guint i = 0; i < opts->len; i++) {
            QomOpt *o = &g_array_index(opts, QomOpt, i);
            g_assert_cmpuint(strlen(o->key), >, 0);
            g_assert_nonnull(o->value);
            /* A key never swallows an '=' unless it is the implied one. */
            g_assert_true(!strchr(o->key, '=') || (i == 0 && implied));
            for (guint j = 0; j < i; j++) {
                g_assert_cmpstr(g_array_index(opts, QomOpt, j).key, !=, o->key);
            }
        }
        qom_opts_free(opts);
    }
    g_rand_free(r);
}

/* ---- values ------------------------------------------------------------- */

static const char *const int_values[] = {
    "0",
    "1",
    "-1",
    "-0",
    "+1",
    " 1",
    "1 ",
    "007",
    "127",
    "128",
    "255",
    "256",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "0x0",
    "0x7fffffffffffffff",
    "0x8000000000000000",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "-0x1",
    "0X1f",
    "0x",
    "0x0x1",
    "0xg",
    "1k",
    "1K",
    "64k",
    "1M",
    "2G",
    "1T",
    "16383T",
    "16384T",
    "99999999999T",
    "1P",
    "1kk",
    "k",
    "1.5",
    "1e3",
    "",
    "fast",
    "1,,2",
};

static const char *const bool_values[] = {
    "on", "off", "yes", "no", "true", "false", "ON", "1", "0", "", "y", "onn",
};

static const char *const misspellings[] = {
    "threadd", "thread",      "Threaded",   "poll_max_ns", "poll-max-n",
    "fdmonn",  "cpu-afinity", "intervl-us", "contxt",      "ID",
    "idd",     "typ",         "",           "=",           " id",
};

/* A value for @pspec: mostly plausible, sometimes hostile. */
static void append_clean_value(GRand *r, GString *s, GParamSpec *pspec, GPtrArray *ids)
{
    static const char *const ints[] = {"0", "1", "100", "0x10", "4096"};

    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        g_string_append(s, g_rand_boolean(r) ? "on" : "off");
    } else if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        GEnumClass *ec = G_PARAM_SPEC_ENUM(pspec)->enum_class;
        g_string_append(s, ec->values[g_rand_int_range(r, 0, ec->n_values)].value_nick);
    } else if (G_IS_PARAM_SPEC_OBJECT(pspec)) {
        g_string_append(s, ids->len
                               ? (char *)ids->pdata[g_rand_int_range(r, 0, ids->len)]
                               : "main");
    } else if (G_IS_PARAM_SPEC_STRING(pspec)) {
        g_string_append(s, "0");
    } else {
        g_string_append(s, PICK(r, ints));
    }
}

static void append_value(GRand *r, GString *s, GParamSpec *pspec, GPtrArray *ids)
{
    int dice = g_rand_int_range(r, 0, 10);

    if (dice == 0) {
        append_random_text(r, s, 20);
    } else if (dice == 1 && g_rand_int_range(r, 0, 8) == 0) {
        for (int i = 0; i < 10000; i++) {
            g_string_append_c(s, '7');
        }
    } else if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        g_string_append(s, PICK(r, bool_values));
    } else if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        GEnumClass *ec = G_PARAM_SPEC_ENUM(pspec)->enum_class;
        if (g_rand_int_range(r, 0, 4)) {
            g_string_append(
                s, ec->values[g_rand_int_range(r, 0, ec->n_values)].value_nick);
        } else {
            g_string_append(s, PICK(r, int_values));
        }
    } else if (G_IS_PARAM_SPEC_OBJECT(pspec)) {
        if (ids->len && g_rand_int_range(r, 0, 3)) {
            g_string_append(s, ids->pdata[g_rand_int_range(r, 0, ids->len)]);
        } else {
            static const char *const links[] = {"main", "", "nope", "1bad", "a b"};
            g_string_append(s, PICK(r, links));
        }
    } else if (G_IS_PARAM_SPEC_STRING(pspec)) {
        static const char *const cpus[] = {"0", "0-1", "0,,1", "1-0", "9999", "-", "x"};
        if (g_rand_boolean(r)) {
            g_string_append(s, PICK(r, cpus));
        } else {
            append_random_text(r, s, 10);
        }
    } else {
        g_string_append(s, PICK(r, int_values));
    }
}

/* ---- option strings ----------------------------------------------------- */

typedef struct {
    GRand *rand;
    char **types;      /* registered names plus some that are not */
    GPtrArray *pspecs; /* every property of every registered type */
    GPtrArray *ids;    /* ids currently in use (for duplicates and links) */
    guint serial;
    gboolean clean; /* this string: only real keys and plausible values */
    guint created, failed;
    GHashTable *codes; /* error codes seen */
} Fuzz;

static void append_id(Fuzz *f, GString *s)
{
    static const char *const bad_ids[] = {
        "", "1abc", "-x", "a b", "a/b", "\xc3\xa9t\xc3\xa9", "a\xff", "a,,b", "_x",
    };
    int dice = g_rand_int_range(f->rand, 0, 10);

    if (dice < 6) {
        g_string_append_printf(s, "fz%u", f->serial++);
    } else if (dice < 8 && f->ids->len) {
        g_string_append(s, f->ids->pdata[g_rand_int_range(f->rand, 0, f->ids->len)]);
    } else if (dice < 9) {
        g_string_append(s, PICK(f->rand, bad_ids));
    } else {
        g_string_append_c(s, 'L');
        for (int i = 0; i < 10000; i++) {
            g_string_append_c(s, 'a' + i % 26);
        }
    }
}

static void append_element(Fuzz *f, GString *s, GType type)
{
    GRand *r = f->rand;
    int dice = g_rand_int_range(r, 0, 20);
    GParamSpec *pspec = f->pspecs->pdata[g_rand_int_range(r, 0, f->pspecs->len)];
    g_autofree GParamSpec **own = NULL;
    guint n_own = 0;

    if (type) {
        GObjectClass *klass = g_type_class_ref(type);
        own = g_object_class_list_properties(klass, &n_own);
        g_type_class_unref(klass);
    }
    if (n_own && (dice < 14 || f->clean)) {
        pspec = own[g_rand_int_range(r, 0, n_own)];
    }
    if (f->clean || !n_own) {
        if (n_own && (pspec->flags & G_PARAM_WRITABLE)) {
            g_string_append_printf(s, "%s=", pspec->name);
            append_clean_value(r, s, pspec, f->ids);
        } else {
            g_string_append(s, "threaded=off");
        }
        return;
    }
    if (dice == 14) {
        g_string_append(s, PICK(r, misspellings));
    } else {
        g_string_append(s, pspec->name);
    }
    if (dice == 15) {
        return; /* bare key: implied "on" */
    }
    g_string_append_c(s, '=');
    if (dice == 16) {
        append_random_text(r, s, 6); /* "=value" junk, or nothing */
    } else {
        append_value(r, s, pspec, f->ids);
    }
}

/* Build "TYPE,id=ID,key=value,..." with random defects; *@type_out gets
 * the GType of the chosen type name (or 0). */
static char *gen_object_string(Fuzz *f, const char *forced_type, GType *type_out)
{
    GRand *r = f->rand;
    GString *s = g_string_new(NULL);
    const char *type_name =
        forced_type ? forced_type
                    : f->types[g_rand_int_range(r, 0, g_strv_length(f->types))];
    GType type = qom_type_lookup(type_name);
    guint n = g_rand_int_range(r, 0, 5);
    gboolean id_done = FALSE;

    *type_out = type;
    f->clean = g_rand_int_range(r, 0, 3) == 0;
    if (g_rand_int_range(r, 0, 12)) {
        g_string_append(s, type_name);
    } else {
        g_string_append_printf(s, "id=x%u,type=%s", f->serial++, type_name);
        id_done = TRUE;
    }
    for (guint i = 0; i <= n; i++) {
        g_string_append_c(s, ',');
        if (!id_done && (i == n || g_rand_int_range(r, 0, 3) == 0)) {
            id_done = TRUE;
            if (f->clean) {
                g_string_append_printf(s, "id=fz%u", f->serial++);
                continue;
            }
            if (g_rand_int_range(r, 0, 15) == 0) {
                g_string_truncate(s, s->len - 1); /* no id at all */
                continue;
            }
            g_string_append(s, "id=");
            append_id(f, s);
            continue;
        }
        switch (f->clean ? 3 : g_rand_int_range(r, 0, 30)) {
        case 0:
            g_string_append_c(s, ','); /* ",," inside the element */
            break;
        case 1:
            g_string_append(s, "=x"); /* '=' without key */
            continue;
        case 2:
            continue; /* empty element */
        default:
            break;
        }
        append_element(f, s, type);
    }
    if (!f->clean && g_rand_int_range(r, 0, 20) == 0) {
        g_string_append_c(s, ','); /* trailing comma */
    }
    return g_string_free(s, FALSE);
}

static void fuzz_init(Fuzz *f, guint32 seed)
{
    g_auto(GStrv) names = qom_type_list(QOM_TYPE_OBJECT);
    GStrvBuilder *b = g_strv_builder_new();

    f->rand = g_rand_new_with_seed(seed);
    f->pspecs = g_ptr_array_new();
    f->ids = g_ptr_array_new_with_free_func(g_free);
    f->serial = 0;
    f->created = f->failed = 0;
    f->codes = g_hash_table_new(NULL, NULL);
    for (guint i = 0; names[i]; i++) {
        GObjectClass *klass = g_type_class_ref(qom_type_lookup(names[i]));
        guint n;
        g_autofree GParamSpec **ps = g_object_class_list_properties(klass, &n);

        for (guint j = 0; j < n; j++) {
            g_ptr_array_add(f->pspecs, ps[j]);
        }
        g_type_class_unref(klass);
        g_strv_builder_add(b, names[i]);
        g_strv_builder_add(b, names[i]); /* real types twice as likely */
    }
    g_strv_builder_add_many(b, "device", "aio-qcontex", "", "help", "GLIB-QCONTEXT",
                            "glib-qcontext\xff", NULL);
    f->types = g_strv_builder_end(b);
    g_strv_builder_unref(b);
}

static void fuzz_clear(Fuzz *f)
{
    g_rand_free(f->rand);
    g_strfreev(f->types);
    g_ptr_array_unref(f->pspecs);
    g_ptr_array_unref(f->ids);
    g_hash_table_unref(f->codes);
}

/*
 * One attempt in @container: on success the object must be complete,
 * findable, of the asked type, and must delete cleanly (unless @keep, in
 * which case its id joins f->ids).
 */
static QomObject *try_create(Fuzz *f, const char *container, GType base,
                             const char *optarg, GType type, gboolean keep)
{
    GError *err = NULL;
    QomObject *obj = qom_object_new_from_string(container, base, optarg, &err);
    g_autofree char *id = NULL;
    QomObject *found;

    if (!obj) {
        assert_good_error(err, optarg);
        g_assert_true(err->domain == QOM_ERROR);
        g_hash_table_add(f->codes, GINT_TO_POINTER(err->code));
        g_error_free(err);
        f->failed++;
        return NULL;
    }
    f->created++;
    g_assert_no_error(err);
    g_assert_true(qom_object_is_completed(obj));
    g_assert_true(G_TYPE_CHECK_INSTANCE_TYPE(obj, type));
    id = g_strdup(qom_object_get_id(obj));
    g_assert_true(qom_id_is_valid(id));
    found = qom_container_find(container, id);
    g_assert_true(found == obj);
    g_object_unref(found);
    if (keep) {
        g_ptr_array_add(f->ids, g_strdup(id));
        return obj;
    }
    g_assert_true(qom_container_del(container, id, &err));
    g_assert_no_error(err);
    g_assert_null(qom_container_find(container, id));
    return NULL;
}

static void del_kept(Fuzz *f, const char *container)
{
    for (guint i = f->ids->len; i-- > 0;) {
        GError *err = NULL;
        g_assert_true(qom_container_del(container, f->ids->pdata[i], &err));
        g_assert_no_error(err);
    }
    g_ptr_array_set_size(f->ids, 0);
}

/* ---- objects ------------------------------------------------------------ */

static void test_objects_random(void)
{
    guint baseline = thread_count();
    GList *before = qom_container_list(OBJS);
    guint n_before = g_list_length(before);
    GList *after;
    Fuzz f;

    g_list_free_full(before, g_object_unref);
    fuzz_init(&f, 0x0b7503);
    for (int iter = 0; iter < 2500; iter++) {
        GType type;
        g_autofree char *in = gen_object_string(&f, NULL, &type);
        /* Keep a few objects alive so that duplicates and links happen. */
        gboolean keep = f.ids->len < 6 && g_rand_int_range(f.rand, 0, 8) == 0;

        try_create(&f, OBJS, QCONTEXT_TYPE, in, type, keep);
        if (iter % 500 == 499) {
            del_kept(&f, OBJS);
        }
    }
    del_kept(&f, OBJS);
    g_test_message("%u created, %u refused, %u error codes", f.created, f.failed,
                   g_hash_table_size(f.codes));
    /* The generator reaches both outcomes and most kinds of error. */
    g_assert_cmpuint(f.created, >=, 100);
    g_assert_cmpuint(f.failed, >=, 1000);
    g_assert_cmpuint(g_hash_table_size(f.codes), >=, 6);
    fuzz_clear(&f);
    after = qom_container_list(OBJS);
    g_assert_cmpuint(g_list_length(after), ==, n_before);
    g_list_free_full(after, g_object_unref);
    assert_threads_back_to(baseline);
}

/* Valid strings built from known-good values must always succeed. */
static void test_objects_valid(void)
{
    static const char *const good[] = {
        "glib-qcontext",
        "glib-qcontext,threaded=off",
        "aio-qcontext,poll-max-ns=0x7fffffffffffffff,poll-grow=0,poll-shrink=2",
        "aio-qcontext,fdmon=poll,threaded=no",
        "aio-qcontext,fdmon=epoll",
        "aio-qcontext,threaded=yes",
        "glib-qcontext,threaded=on,cpu-affinity=0",
        "type=aio-qcontext,poll-grow=0x10,poll-shrink=0",
    };
    guint baseline = thread_count();
    Fuzz f;

    fuzz_init(&f, 0x0b7504);
    for (guint i = 0; i < 40; i++) {
        g_autofree char *in = g_strdup_printf("%s,id=v%u", PICK(f.rand, good), i);
        GError *err = NULL;
        QomObject *obj = qom_object_new_from_string(OBJS, QCONTEXT_TYPE, in, &err);

        g_assert_no_error(err);
        g_assert_nonnull(obj);
        g_assert_true(qom_container_del(OBJS, qom_object_get_id(obj), &err));
        g_assert_no_error(err);
    }
    fuzz_clear(&f);
    assert_threads_back_to(baseline);
}

/* ---- devices and their context links ------------------------------------ */

static void create_ok(const char *container, const char *optarg)
{
    GError *err = NULL;

    g_assert_nonnull(
        qom_object_new_from_string(container, QOM_TYPE_OBJECT, optarg, &err));
    g_assert_no_error(err);
}

/* Device realize and deletion are asynchronous: run main until all are gone. */
static void wait_devices_gone(void)
{
    GList *live;

    while ((live = devices_get_live())) {
        g_list_free_full(live, g_object_unref);
        qcontext_iterate(qcontext_get_main(), FALSE);
        g_usleep(1000);
    }
}

static void test_device_links(void)
{
    guint baseline = thread_count();
    GError *err = NULL;
    Fuzz f;

    create_ok(OBJS, "aio-qcontext,id=fzc-aio,threaded=on");
    create_ok(OBJS, "glib-qcontext,id=fzc-glib,threaded=on");
    create_ok(OBJS, "glib-qcontext,id=fzc-idle"); /* no thread: refused */
    create_ok(DEVS, "ticker,id=fzd-keep,context=fzc-aio,interval-us=100000");
    fuzz_init(&f, 0x0b7505);
    g_ptr_array_add(f.ids, g_strdup("fzc-aio"));
    g_ptr_array_add(f.ids, g_strdup("fzc-glib"));
    g_ptr_array_add(f.ids, g_strdup("fzc-idle"));
    g_ptr_array_add(f.ids, g_strdup("fzd-keep"));
    for (int iter = 0; iter < 400; iter++) {
        GType type;
        const char *t = g_rand_int_range(f.rand, 0, 4) ? "ticker" : NULL;
        g_autofree char *in = gen_object_string(&f, t, &type);

        try_create(&f, DEVS, DEVICE_TYPE, in, type, FALSE);
    }
    g_ptr_array_set_size(f.ids, 0);
    g_test_message("%u devices created, %u refused", f.created, f.failed);
    g_assert_cmpuint(f.created, >=, 20);
    g_assert_cmpuint(f.failed, >=, 100);
    fuzz_clear(&f);

    /* A context in use by a device cannot go; afterwards it can. */
    g_assert_false(qom_container_del(OBJS, "fzc-aio", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_IN_USE);
    assert_good_error(err, "fzc-aio");
    g_clear_error(&err);
    g_assert_true(qom_container_del(DEVS, "fzd-keep", &err));
    g_assert_no_error(err);
    wait_devices_gone();
    for (const char *const *id =
             (const char *const[]){"fzc-aio", "fzc-glib", "fzc-idle", NULL};
         *id; id++) {
        g_assert_true(qom_container_del(OBJS, *id, &err));
        g_assert_no_error(err);
    }
    assert_threads_back_to(baseline);
}

/*
 * Start and stop one context thread before any baseline is taken: the
 * first thread makes runtimes start helpers of their own (TSan's
 * background thread), which would otherwise count as leaked.
 */
static void warm_up_threads(void)
{
    g_autoptr(GError) err = NULL;
    QomObject *obj =
        qom_object_new_from_string(QOM_CONTAINER_OBJECTS, QCONTEXT_TYPE,
                                   "glib-qcontext,id=warmup,threaded=on", &err);

    g_assert_no_error(err);
    g_assert_nonnull(obj);
    g_assert_true(qom_container_del(QOM_CONTAINER_OBJECTS, "warmup", &err));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL)); /* devices default to "main" */
    devices_register_types();
    warm_up_threads();
    g_test_add_func("/qom-fuzz/opts/roundtrip", test_opts_roundtrip);
    g_test_add_func("/qom-fuzz/opts/random", test_opts_random);
    g_test_add_func("/qom-fuzz/objects/valid", test_objects_valid);
    g_test_add_func("/qom-fuzz/objects/random", test_objects_random);
    g_test_add_func("/qom-fuzz/devices/links", test_device_links);
    return g_test_run();
}
