/*
 * test-monitor-fuzz: randomized (fixed seeds, so runs repeat) input for the
 * monitor: the JSON framer over random chunkings (exact messages for valid
 * streams, bounded errors and resynchronization for garbage), and the
 * in-process dispatcher over a socket (random and mutated "execute" objects
 * each get one well-formed reply; wrong argument types get an error with
 * "class" and "desc").
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>

#include "monitor-priv.h"
#include "monitor-stream.h"
#include "qcontext/qcontext.h"

#define DEADLINE_US (10 * G_USEC_PER_SEC)

/*
 * After any garbage these bytes bring the framer back between messages: a
 * raw newline inside a string restarts framing (documented), and of the two
 * quotes one opens a string whatever state the garbage left.
 */
static const char resync[] = "\"\n\"\n";

/* ---- random JSON text ----------------------------------------------------- */

static void gen_string(GRand *r, GString *s)
{
    static const char *const pieces[] = {
        "a",
        "Z",
        " ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\\\"",
        "\\\\",
        "\\n",
        "\\u00e9",
        "\\/",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "x\\\\\\\"y",
    };
    guint n = g_rand_int_range(r, 0, 8);

    g_string_append_c(s, '"');
    for (guint i = 0; i < n; i++) {
        g_string_append(s, pieces[g_rand_int_range(r, 0, G_N_ELEMENTS(pieces))]);
    }
    g_string_append_c(s, '"');
}

static void gen_space(GRand *r, GString *s, gboolean must)
{
    static const char ws[] = " \t\r\n";
    guint n = g_rand_int_range(r, must ? 1 : 0, 3);

    for (guint i = 0; i < n; i++) {
        g_string_append_c(s, ws[g_rand_int_range(r, 0, 4)]);
    }
}

static void gen_scalar(GRand *r, GString *s)
{
    static const char *const lits[] = {
        "true",
        "false",
        "null",
        "0",
        "-1",
        "3.25e-7",
        "9223372036854775807",
        "-9223372036854775808",
        "1e308",
    };

    if (g_rand_boolean(r)) {
        gen_string(r, s);
    } else {
        g_string_append(s, lits[g_rand_int_range(r, 0, G_N_ELEMENTS(lits))]);
    }
}

static void gen_value(GRand *r, GString *s, int depth)
{
    int kind = depth <= 0 ? 0 : g_rand_int_range(r, 0, 4);
    guint n = g_rand_int_range(r, 0, 4);

    if (kind < 2) {
        gen_scalar(r, s);
        return;
    }
    g_string_append_c(s, kind == 2 ? '[' : '{');
    for (guint i = 0; i < n; i++) {
        if (i) {
            g_string_append_c(s, ',');
        }
        gen_space(r, s, FALSE);
        if (kind == 3) {
            gen_string(r, s);
            g_string_append_c(s, ':');
            gen_space(r, s, FALSE);
        }
        gen_value(r, s, depth - 1);
    }
    g_string_append_c(s, kind == 2 ? ']' : '}');
}

/* ---- the framer ----------------------------------------------------------- */

typedef struct {
    GPtrArray *msgs; /* GBytes of each message; NULL entries for errors */
    guint errors;
    gsize max_len;
} Collect;

static void collect_cb(void *opaque, const char *msg, gsize len, const char *error)
{
    Collect *c = opaque;

    g_assert_true((msg == NULL) != (error == NULL));
    if (error) {
        g_assert_cmpuint(strlen(error), >, 0);
        g_assert_true(g_utf8_validate(error, -1, NULL));
        g_assert_null(strchr(error, '\n'));
        c->errors++;
        g_ptr_array_add(c->msgs, NULL);
        return;
    }
    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(len, <=, c->max_len);
    g_assert_cmpint(msg[len], ==, '\0');
    g_ptr_array_add(c->msgs, g_bytes_new(msg, len));
}

static void bytes_unref0(gpointer p)
{
    if (p) {
        g_bytes_unref(p);
    }
}

/* Feed @len bytes of @in in random chunks (1 byte up to all of it). */
static GPtrArray *frame_random(GRand *r, const char *in, gsize len, gsize max_len,
                               guint max_depth, guint *errors)
{
    Collect c = {g_ptr_array_new_with_free_func(bytes_unref0), 0, max_len};
    MonitorStream *s = monitor_stream_new(max_len, max_depth, collect_cb, &c);
    gsize off = 0;

    while (off < len) {
        gsize max_chunk = g_rand_boolean(r) ? 8 : len;
        gsize n = g_rand_int_range(r, 1, max_chunk + 1); /* not inside MIN() */

        n = MIN(n, len - off);
        monitor_stream_feed(s, in + off, n);
        off += n;
    }
    monitor_stream_finish(s);
    monitor_stream_free(s);
    if (errors) {
        *errors = c.errors;
    }
    return c.msgs;
}

static gboolean msg_is(GBytes *b, const char *text)
{
    gsize len;
    const char *data = b ? g_bytes_get_data(b, &len) : NULL;

    return data && len == strlen(text) && memcmp(data, text, len) == 0;
}

/* Valid JSON values, however chunked, come out exactly, in order. */
static void test_stream_valid(void)
{
    GRand *r = g_rand_new_with_seed(0x5eed01);

    for (int iter = 0; iter < 600; iter++) {
        g_autoptr(GPtrArray) want = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GString) in = g_string_new(NULL);
        guint n = g_rand_int_range(r, 1, 6);
        g_autoptr(GPtrArray) got = NULL;

        for (guint i = 0; i < n; i++) {
            GString *v = g_string_new(NULL);
            g_autoptr(JsonParser) p = json_parser_new();
            gboolean scalar = g_rand_int_range(r, 0, 6) == 0;

            if (scalar) {
                gen_scalar(r, v);
            } else {
                g_string_append(v, g_rand_boolean(r) ? "{\"k\":" : "[");
                gen_value(r, v, 5);
                g_string_append(v, v->str[0] == '{' ? "}" : "]");
            }
            g_assert_true(json_parser_load_from_data(p, v->str, v->len, NULL));
            gen_space(r, in, scalar); /* a bare scalar needs a delimiter */
            g_string_append(in, v->str);
            gen_space(r, in, scalar);
            g_ptr_array_add(want, g_string_free(v, FALSE));
        }
        got = frame_random(r, in->str, in->len, 1 << 20, 64, NULL);
        if (got->len != want->len) {
            g_autofree char *esc = g_strescape(in->str, NULL);
            for (guint i = 0; i < got->len; i++) {
                GBytes *b = got->pdata[i];
                gsize l = 0;
                const char *d = b ? g_bytes_get_data(b, &l) : "E";
                g_autofree char *e = g_strescape(b ? g_strndup(d, l) : "E", NULL);
                g_printerr("got %zu: %s\n", l, e);
            }
            g_error("%u messages instead of %u in \"%s\" (%zu/%zu)", got->len,
                    want->len, esc, in->len, strlen(in->str));
        }
        for (guint i = 0; i < n; i++) {
            g_assert_true(msg_is(got->pdata[i], want->pdata[i]));
        }
    }
    g_rand_free(r);
}

/* Messages around the size and depth caps: each is delivered whole or
 * reported once, and the next one is still found. */
static void test_stream_limits(void)
{
    GRand *r = g_rand_new_with_seed(0x5eed02);
    const gsize max_len = 200;
    const guint max_depth = 8;

    for (int iter = 0; iter < 400; iter++) {
        g_autoptr(GString) in = g_string_new(NULL);
        g_autoptr(GArray) ok = g_array_new(FALSE, FALSE, sizeof(gboolean));
        guint n = g_rand_int_range(r, 1, 5);
        g_autoptr(GPtrArray) got = NULL;

        for (guint i = 0; i < n; i++) {
            guint depth = g_rand_int_range(r, 1, max_depth + 3);
            guint pad = g_rand_int_range(r, 0, max_len + 50);
            gsize start = in->len;
            gboolean fits;

            for (guint d = 0; d < depth; d++) {
                g_string_append(in, "[");
            }
            g_string_append_c(in, '"');
            for (guint j = 0; j < pad; j++) {
                g_string_append_c(in, "x[]{}"[j % 5]);
            }
            g_string_append_c(in, '"');
            for (guint d = 0; d < depth; d++) {
                g_string_append(in, "]");
            }
            fits = in->len - start <= max_len && depth <= max_depth;
            g_array_append_val(ok, fits);
            g_string_append_c(in, '\n');
        }
        got = frame_random(r, in->str, in->len, max_len, max_depth, NULL);
        g_assert_cmpuint(got->len, ==, n);
        for (guint i = 0; i < n; i++) {
            g_assert_cmpint(got->pdata[i] != NULL, ==, g_array_index(ok, gboolean, i));
        }
    }
    g_rand_free(r);
}

/* A few hostile bytes appended to @s. */
static void gen_garbage(GRand *r, GString *s, guint max)
{
    static const char meta[] = "{}[]\",:\\ \n\t0a";
    guint n = g_rand_int_range(r, 0, max + 1);

    for (guint i = 0; i < n; i++) {
        if (g_rand_int_range(r, 0, 3)) {
            g_string_append_c(s, meta[g_rand_int_range(r, 0, sizeof(meta) - 1)]);
        } else {
            g_string_append_c(s, (char)g_rand_int_range(r, 0, 256));
        }
    }
}

static const char *const qmp_samples[] = {
    "{\"execute\": \"qmp_capabilities\"}",
    "{\"execute\": \"query-qcontexts\", \"arguments\": {\"histogram\": true}, \"id\": "
    "1}",
    "{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/objects/main\", "
    "\"property\": \"threaded\"}}",
    "{\"execute\": \"qom-set\", \"arguments\": {\"path\": \"/objects/x\", "
    "\"property\": \"poll-max-ns\", \"value\": 1000}, \"id\": \"a\\\"}\"}",
    "{\"execute\": \"object-add\", \"arguments\": {\"qom-type\": \"aio-qcontext\", "
    "\"id\": \"fz\", \"props\": {\"threaded\": false, \"fdmon\": \"poll\"}}}",
    "{\"execute\": \"object-del\", \"arguments\": {\"id\": \"fz\"}}",
    "{\"execute\": \"device-set-context\", \"arguments\": {\"id\": \"d0\", "
    "\"context\": \"main\"}}",
    "{\"execute\": \"query-commands\", \"id\": [1, {\"x\": \"]\"}]}",
};

/* Flip, insert, delete or duplicate bytes of @s. */
static void mutate(GRand *r, GString *s)
{
    guint n = g_rand_int_range(r, 1, 4);

    for (guint i = 0; i < n && s->len; i++) {
        gsize at = g_rand_int_range(r, 0, s->len);
        char junk[2] = {0, 0};

        switch (g_rand_int_range(r, 0, 5)) {
        case 0:
            s->str[at] ^= 1 << g_rand_int_range(r, 0, 8);
            break;
        case 1:
            g_string_erase(s, at, 1);
            break;
        case 2: {
            GString *g = g_string_new(NULL);
            gen_garbage(r, g, 3);
            g_string_insert_len(s, at, g->str, g->len);
            g_string_free(g, TRUE);
            break;
        }
        case 3:
            g_string_truncate(s, at);
            break;
        default:
            junk[0] = s->str[at];
            g_string_insert_len(s, g_rand_int_range(r, 0, s->len), junk, 1);
            break;
        }
    }
}

/* Garbage then resync then a sentinel: the sentinel is always found. */
static void test_stream_resync(void)
{
    GRand *r = g_rand_new_with_seed(0x5eed03);
    const char *sentinel = "{\"execute\":\"sentinel\",\"s\":\"{[\\\"\"}";

    for (int iter = 0; iter < 3000; iter++) {
        g_autoptr(GString) in = g_string_new(NULL);
        g_autoptr(GPtrArray) got = NULL;
        gsize max_len = g_rand_boolean(r) ? 64 : 4096;
        guint errors;

        if (iter % 2) {
            gen_garbage(r, in, iter % 50 == 1 ? 5000 : 80);
        } else {
            g_string_append(
                in, qmp_samples[g_rand_int_range(r, 0, G_N_ELEMENTS(qmp_samples))]);
            mutate(r, in);
        }
        g_string_append(in, resync);
        g_string_append(in, sentinel);
        got = frame_random(r, in->str, in->len, max_len, 16, &errors);
        g_assert_cmpuint(got->len, >=, 1);
        g_assert_true(msg_is(got->pdata[got->len - 1], sentinel));
        /* Each error or message ends at least one byte of input. */
        g_assert_cmpuint(got->len, <=, in->len);
        for (guint i = 0; i + 1 < got->len; i++) {
            GBytes *b = got->pdata[i];
            g_autoptr(JsonParser) p = json_parser_new();
            gsize len;
            const char *data;

            if (!b) {
                continue;
            }
            data = g_bytes_get_data(b, &len);
            /* json-glib either parses it or says why; it never crashes. */
            if (!json_parser_load_from_data(p, data, len, NULL)) {
                continue;
            }
        }
    }
    g_rand_free(r);
}

/* ---- the dispatcher, through a real client socket ------------------------- */

typedef struct {
    int fd;
    GString *in;
} Cli;

static char *tmpdir;

static void cli_send(Cli *c, const char *text, gsize len)
{
    gsize off = 0;
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;

    while (off < len) {
        gssize n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += n;
            continue;
        }
        g_assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, FALSE);
    }
}

/* The next reply line as an object; every line must be one. */
static JsonObject *cli_recv(Cli *c)
{
    gint64 deadline = g_get_monotonic_time() + DEADLINE_US;

    for (;;) {
        char *nl = memchr(c->in->str, '\n', c->in->len);
        char buf[65536];
        gssize n;

        if (nl) {
            g_autofree char *line = g_strndup(c->in->str, nl - c->in->str);
            g_autoptr(JsonNode) root = NULL;
            g_autoptr(GError) err = NULL;

            g_string_erase(c->in, 0, nl - c->in->str + 1);
            /* Every reply is strict JSON (the monitor's own strict reader). */
            root = monitor_json_read(line, strlen(g_strchomp(line)), &err);
            if (!root) {
                g_autofree char *esc = g_strescape(line, NULL);
                g_error("reply is not JSON (%s): %s", err->message, esc);
            }
            g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
            return json_object_ref(json_node_get_object(root));
        }
        n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            g_string_append_len(c->in, buf, n);
            continue;
        }
        g_assert_cmpint(n, !=, 0); /* the monitor must not hang up */
        g_assert_true(errno == EAGAIN || errno == EINTR);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(50);
        }
    }
}

/* A reply is {"return": ...} or {"error": {"class": S, "desc": S}}. */
static gboolean reply_check(JsonObject *reply)
{
    JsonObject *err;
    const char *desc;

    if (json_object_has_member(reply, "return")) {
        g_assert_false(json_object_has_member(reply, "error"));
        return TRUE;
    }
    g_assert_true(json_object_has_member(reply, "error"));
    err = json_object_get_object_member(reply, "error");
    g_assert_nonnull(err);
    g_assert_nonnull(json_object_get_string_member(err, "class"));
    desc = json_object_get_string_member(err, "desc");
    g_assert_nonnull(desc);
    g_assert_cmpuint(strlen(desc), >, 0);
    return FALSE;
}

static Cli *cli_open(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    Cli *c = g_new0(Cli, 1);
    JsonObject *reply;

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_true(g_unix_set_fd_nonblocking(c->fd, TRUE, NULL));
    c->in = g_string_new(NULL);
    reply = cli_recv(c); /* greeting */
    g_assert_true(json_object_has_member(reply, "QMP"));
    json_object_unref(reply);
    cli_send(c, "{\"execute\":\"qmp_capabilities\"}", 30);
    reply = cli_recv(c);
    g_assert_true(reply_check(reply));
    json_object_unref(reply);
    return c;
}

static void cli_close(Cli *c)
{
    close(c->fd);
    g_string_free(c->in, TRUE);
    g_free(c);
}

/* A random JSON value node of any type; sometimes hostile. */
static JsonNode *gen_node(GRand *r, int depth)
{
    static const char *const strs[] = {
        "",
        "main",
        "fz0",
        "/objects",
        "/objects/main",
        "aio-qcontext",
        "threaded",
        "poll-max-ns",
        "99999999999T",
        "\xc3\xa9\xe2\x82\xac",
        "a\nb",
        "1bad",
        "on",
    };
    JsonNode *node = json_node_alloc();

    switch (g_rand_int_range(r, 0, depth > 0 ? 8 : 6)) {
    case 0:
        return json_node_init_string(node,
                                     strs[g_rand_int_range(r, 0, G_N_ELEMENTS(strs))]);
    case 1:
        return json_node_init_int(node, g_rand_boolean(r) ? G_MAXINT64 : -1);
    case 2:
        return json_node_init_int(node, g_rand_int_range(r, -3, 100));
    case 3:
        return json_node_init_boolean(node, g_rand_boolean(r));
    case 4:
        return json_node_init_double(node, g_rand_double_range(r, -1e20, 1e20));
    case 5:
        return json_node_init_null(node);
    case 6: {
        JsonArray *a = json_array_new();
        for (int i = g_rand_int_range(r, 0, 3); i > 0; i--) {
            json_array_add_element(a, gen_node(r, depth - 1));
        }
        json_node_init_array(node, a); /* takes a reference */
        json_array_unref(a);
        return node;
    }
    default: {
        JsonObject *o = json_object_new();
        for (int i = g_rand_int_range(r, 0, 3); i > 0; i--) {
            char key[8];
            g_snprintf(key, sizeof(key), "k%d", i);
            json_object_set_member(o, key, gen_node(r, depth - 1));
        }
        json_node_init_object(node, o); /* takes a reference */
        json_object_unref(o);
        return node;
    }
    }
}

static gboolean node_matches(JsonNode *node, QmpArgType type)
{
    GType vt =
        JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node) : G_TYPE_NONE;

    switch (type) {
    case QMP_ARG_STRING:
        return vt == G_TYPE_STRING;
    case QMP_ARG_INT:
        return vt == G_TYPE_INT64;
    case QMP_ARG_BOOL:
        return vt == G_TYPE_BOOLEAN;
    case QMP_ARG_NUMBER:
        return vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE;
    case QMP_ARG_SCALAR:
        return vt == G_TYPE_STRING || vt == G_TYPE_INT64 || vt == G_TYPE_DOUBLE ||
               vt == G_TYPE_BOOLEAN;
    case QMP_ARG_STR_LIST:
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
            return FALSE;
        }
        for (guint i = 0; i < json_array_get_length(json_node_get_array(node)); i++) {
            if (!node_matches(json_array_get_element(json_node_get_array(node), i),
                              QMP_ARG_STRING)) {
                return FALSE;
            }
        }
        return TRUE;
    case QMP_ARG_ARRAY:
        return JSON_NODE_HOLDS_ARRAY(node);
    default:
        return JSON_NODE_HOLDS_OBJECT(node);
    }
}

/*
 * An "execute" of a real command (never "quit") whose arguments are its
 * own names with random values; *@bad_type is set when at least one has a
 * type the command does not take.
 */
static JsonObject *gen_execute(GRand *r, GPtrArray *table, gboolean *bad_type)
{
    const QmpCommand *cmd;
    JsonObject *msg = json_object_new();
    JsonObject *args = json_object_new();

    do {
        cmd = table->pdata[g_rand_int_range(r, 0, table->len)];
    } while (!strcmp(cmd->name, "quit"));
    *bad_type = FALSE;
    json_object_set_string_member(msg, "execute", cmd->name);
    for (const QmpArg *a = cmd->args; a && a->name; a++) {
        JsonNode *v;
        if (a->optional && g_rand_boolean(r)) {
            continue;
        }
        v = gen_node(r, 2);
        *bad_type |= !node_matches(v, a->type);
        json_object_set_member(args, a->name, v);
    }
    json_object_set_object_member(msg, "arguments", args);
    if (g_rand_boolean(r)) {
        json_object_set_member(msg, "id", gen_node(r, 1));
    }
    return msg;
}

static void test_dispatch_args(void)
{
    GRand *r = g_rand_new_with_seed(0x5eed04);
    g_autofree char *path = g_build_filename(tmpdir, "args.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    guint n_bad = 0, n_ok = 0;
    GPtrArray *table;
    Cli *c;

    g_assert_true(monitor_add(spec, NULL));
    table = qmp_command_list(); /* the families registered in monitor_add() */
    g_assert_cmpuint(table->len, >, 5);
    c = cli_open(path);
    for (int iter = 0; iter < 1500; iter++) {
        gboolean bad_type;
        JsonObject *msg = gen_execute(r, table, &bad_type);
        g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), msg);
        g_autofree char *text = json_to_string(root, FALSE);
        g_autofree char *line = g_strconcat(text, "\n", NULL);
        JsonNode *id = json_object_get_member(msg, "id");
        JsonObject *reply;

        json_object_unref(msg); /* root holds it */
        cli_send(c, line, strlen(line));
        reply = cli_recv(c);
        if (g_test_verbose()) {
            g_autoptr(JsonNode) rn =
                json_node_init_object(json_node_alloc(), json_object_ref(reply));
            g_autofree char *rt = json_to_string(rn, FALSE);
            g_printerr("SENT %s\nGOT %s\n", text, rt);
        }
        if (reply_check(reply)) {
            if (bad_type) {
                g_autoptr(JsonNode) rn =
                    json_node_init_object(json_node_alloc(), reply);
                g_error("wrong argument types accepted: %s -> %s", text,
                        json_to_string(rn, FALSE));
            }
            n_ok++;
        } else {
            n_bad += bad_type;
        }
        if (id) {
            g_assert_true(json_node_equal(id, json_object_get_member(reply, "id")));
        } else {
            g_assert_false(json_object_has_member(reply, "id"));
        }
        json_object_unref(reply);
    }
    g_test_message("%u replies were errors for wrong types, %u returns", n_bad, n_ok);
    g_assert_cmpuint(n_bad, >, 500);
    cli_close(c);
    monitor_cleanup_all();
    g_rand_free(r);
}

/* Mutated and random bytes, then resync and a sentinel with an id. */
static void test_dispatch_garbage(void)
{
    GRand *r = g_rand_new_with_seed(0x5eed05);
    g_autofree char *path = g_build_filename(tmpdir, "garbage.sock", NULL);
    g_autofree char *spec = g_strdup_printf("unix:%s", path);
    Cli *c;

    g_assert_true(monitor_add(spec, NULL));
    c = cli_open(path);
    for (int iter = 0; iter < 1500; iter++) {
        g_autoptr(GString) in = g_string_new(NULL);
        g_autofree char *id = g_strdup_printf("s-%d", iter);
        guint replies = 0;

        if (iter % 3 == 0) {
            gen_garbage(r, in, iter % 150 == 0 ? 70000 : 60);
        } else {
            g_string_append(
                in, qmp_samples[g_rand_int_range(r, 0, G_N_ELEMENTS(qmp_samples))]);
            if (strstr(in->str, "qmp_capabilities")) {
                g_string_assign(in, "{\"execute\": \"qom-list\", \"arguments\": "
                                    "{\"path\": \"/objects\"}}");
            }
            mutate(r, in);
        }
        g_string_append(in, resync);
        g_string_append_printf(in, "{\"execute\":\"query-name\",\"id\":\"%s\"}", id);
        cli_send(c, in->str, in->len);
        for (;;) {
            JsonObject *reply = cli_recv(c);
            const char *rid =
                json_object_has_member(reply, "id") &&
                        JSON_NODE_HOLDS_VALUE(json_object_get_member(reply, "id")) &&
                        json_node_get_value_type(json_object_get_member(reply, "id")) ==
                            G_TYPE_STRING
                    ? json_object_get_string_member(reply, "id")
                    : NULL;
            gboolean done;

            if (json_object_has_member(reply, "event")) {
                json_object_unref(reply);
                continue;
            }
            reply_check(reply);
            done = g_strcmp0(rid, id) == 0;
            json_object_unref(reply);
            replies++;
            if (done) {
                break;
            }
        }
        g_assert_cmpuint(replies, <=, in->len);
    }
    cli_close(c);
    monitor_cleanup_all();
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL)); /* as qcontextd does first */
    tmpdir = g_dir_make_tmp("qctx-monfuzz-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);
    g_test_add_func("/monitor-fuzz/stream/valid", test_stream_valid);
    g_test_add_func("/monitor-fuzz/stream/limits", test_stream_limits);
    g_test_add_func("/monitor-fuzz/stream/resync", test_stream_resync);
    g_test_add_func("/monitor-fuzz/dispatch/args", test_dispatch_args);
    g_test_add_func("/monitor-fuzz/dispatch/garbage", test_dispatch_garbage);
    rc = g_test_run();
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return rc;
}
