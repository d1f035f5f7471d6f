/*
 * tests/qom/test-qom-props.c - option syntax, string -> value conversion
 * with its error messages, and help text.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test-types.h"

/* ---- option syntax --------------------------------------------------------- */

static void assert_opt(GArray *opts, guint i, const char *key, const char *value)
{
    g_assert_cmpuint(i, <, opts->len);
    g_assert_cmpstr(g_array_index(opts, QomOpt, i).key, ==, key);
    g_assert_cmpstr(g_array_index(opts, QomOpt, i).value, ==, value);
}

static void test_opts_basic(void)
{
    GError *err = NULL;
    GArray *opts =
        qom_opts_parse("glib-qcontext,id=ctx0,threaded,name=a=b", "type", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(opts->len, ==, 4);
    assert_opt(opts, 0, "type", "glib-qcontext");
    assert_opt(opts, 1, "id", "ctx0");
    assert_opt(opts, 2, "threaded", "on");
    assert_opt(opts, 3, "name", "a=b");
    g_assert_cmpstr(qom_opts_get(opts, "id"), ==, "ctx0");
    g_assert_null(qom_opts_get(opts, "nope"));
    qom_opts_free(opts);

    /* Without an implied key, a bare first element is key=on too. */
    opts = qom_opts_parse("verbose,x=1", NULL, &err);
    g_assert_no_error(err);
    assert_opt(opts, 0, "verbose", "on");
    assert_opt(opts, 1, "x", "1");
    qom_opts_free(opts);

    /* A first element with '=' is an ordinary key even with an implied key. */
    opts = qom_opts_parse("id=a,type=t", "type", &err);
    g_assert_no_error(err);
    assert_opt(opts, 0, "id", "a");
    assert_opt(opts, 1, "type", "t");
    qom_opts_free(opts);

    opts = qom_opts_parse("", "type", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(opts->len, ==, 0);
    qom_opts_free(opts);
}

static void test_opts_escape(void)
{
    GError *err = NULL;
    GArray *opts = qom_opts_parse("a,,b,name=x,,y,,,,z,path=,,", "type", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(opts->len, ==, 3);
    assert_opt(opts, 0, "type", "a,b");
    assert_opt(opts, 1, "name", "x,y,,z");
    assert_opt(opts, 2, "path", ",");
    qom_opts_free(opts);

    /* ",," right after '=' and a value that is only an escaped comma. */
    opts = qom_opts_parse("t,sep=,,,id=a", "type", &err);
    g_assert_no_error(err);
    assert_opt(opts, 1, "sep", ",");
    assert_opt(opts, 2, "id", "a");
    qom_opts_free(opts);
}

static void assert_opts_error(const char *optarg, const char *message)
{
    GError *err = NULL;

    g_assert_null(qom_opts_parse(optarg, "type", &err));
    g_assert_error(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

static void test_opts_errors(void)
{
    assert_opts_error("t,id=a,id=b", "parameter 'id' is given more than once");
    assert_opts_error("t,type=u", "parameter 'type' is given more than once");
    assert_opts_error("t,x,x=off", "parameter 'x' is given more than once");
    assert_opts_error("t,=x", "empty parameter name in 't,=x'");
    assert_opts_error("t,id=a,", "empty parameter name in 't,id=a,'");
    assert_opts_error("t,,,,id=a,,,", "empty parameter name in 't,,,,id=a,,,'");
}

/* ---- conversions ----------------------------------------------------------- */

static GParamSpec *thing_pspec(const char *name)
{
    GObjectClass *klass = g_type_class_ref(TEST_TYPE_THING);
    GParamSpec *pspec = g_object_class_find_property(klass, name);

    g_type_class_unref(klass);
    g_assert_nonnull(pspec);
    return pspec;
}

/* Parse @str for property @name of test-thing into @v (must succeed). */
static void parse_ok(const char *name, const char *str, GValue *v)
{
    GError *err = NULL;

    g_assert_true(qom_property_parse("test-thing", thing_pspec(name), str, v, &err));
    g_assert_no_error(err);
}

static void parse_err(const char *name, const char *str, int code, const char *message)
{
    GValue v = G_VALUE_INIT;
    GError *err = NULL;

    g_assert_false(qom_property_parse("test-thing", thing_pspec(name), str, &v, &err));
    g_assert_false(G_IS_VALUE(&v));
    g_assert_error(err, QOM_ERROR, code);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

#define BAD(name, str, msg) parse_err(name, str, QOM_ERROR_INVALID_VALUE, msg)

#define CHECK(name, str, getter, expected)                                             \
    do {                                                                               \
        GValue v_ = G_VALUE_INIT;                                                      \
        parse_ok(name, str, &v_);                                                      \
        g_assert_true(getter(&v_) == (expected));                                      \
        g_value_unset(&v_);                                                            \
    } while (0)

static void test_parse_bool(void)
{
    CHECK("flag", "on", g_value_get_boolean, TRUE);
    CHECK("flag", "yes", g_value_get_boolean, TRUE);
    CHECK("flag", "true", g_value_get_boolean, TRUE);
    CHECK("flag", "off", g_value_get_boolean, FALSE);
    CHECK("flag", "no", g_value_get_boolean, FALSE);
    CHECK("flag", "false", g_value_get_boolean, FALSE);
    BAD("flag", "maybe",
        "test-thing: property 'flag' expects a boolean (on/off, yes/no, true/false), "
        "got 'maybe'");
    BAD("flag", "",
        "test-thing: property 'flag' expects a boolean (on/off, yes/no, true/false), "
        "got ''");
    BAD("flag", "ON",
        "test-thing: property 'flag' expects a boolean (on/off, yes/no, true/false), "
        "got 'ON'");
}

static void test_parse_int(void)
{
    CHECK("i", "-1000", g_value_get_int, -1000);
    CHECK("i", "1000", g_value_get_int, 1000);
    CHECK("i", "0x10", g_value_get_int, 16);
    CHECK("i", "-0x10", g_value_get_int, -16);
    CHECK("i", "010", g_value_get_int, 10); /* decimal, not octal */
    BAD("i", "1001",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '1001'");
    BAD("i", "-1001",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '-1001'");
    BAD("i", "fast",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got 'fast'");
    BAD("i", "",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got ''");
    BAD("i", "1.5",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '1.5'");
    BAD("i", " 1",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got ' 1'");
    BAD("i", "+1",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '+1'");
    BAD("i", "0x",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '0x'");
    BAD("i", "0x0x1",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '0x0x1'");
    BAD("i", "1k",
        "test-thing: property 'i' expects an integer in [-1000, 1000], got '1k'");

    CHECK("count", "-2147483648", g_value_get_int, G_MININT);
    CHECK("count", "2147483647", g_value_get_int, G_MAXINT);
    BAD("count", "2147483648",
        "test-thing: property 'count' expects an integer in [-2^31, 2^31-1], got "
        "'2147483648'");

    CHECK("u", "4294967295", g_value_get_uint, G_MAXUINT);
    CHECK("u", "0xffffffff", g_value_get_uint, G_MAXUINT);
    CHECK("u", "-0", g_value_get_uint, 0);
    BAD("u", "-1",
        "test-thing: property 'u' expects an integer in [0, 2^32-1], got '-1'");
    BAD("u", "4294967296",
        "test-thing: property 'u' expects an integer in [0, 2^32-1], got '4294967296'");

    CHECK("l", "-9223372036854775808", g_value_get_long, G_MINLONG);
    BAD("l", "9223372036854775808",
        "test-thing: property 'l' expects an integer in [-2^63, 2^63-1], got "
        "'9223372036854775808'");
    BAD("l", "-9223372036854775809",
        "test-thing: property 'l' expects an integer in [-2^63, 2^63-1], got "
        "'-9223372036854775809'");
    CHECK("ul", "18446744073709551615", g_value_get_ulong, G_MAXULONG);
    BAD("ul", "18446744073709551616",
        "test-thing: property 'ul' expects an integer in [0, 2^64-1], got "
        "'18446744073709551616'");
}

static void test_parse_int_widths(void)
{
    CHECK("i64", "0x7fffffffffffffff", g_value_get_int64, G_MAXINT64);
    CHECK("i64", "0", g_value_get_int64, 0);
    BAD("i64", "fast",
        "test-thing: property 'i64' expects an integer in [0, 2^63-1], got 'fast'");
    BAD("i64", "-1",
        "test-thing: property 'i64' expects an integer in [0, 2^63-1], got '-1'");
    CHECK("u64", "18446744073709551615", g_value_get_uint64, G_MAXUINT64);
    CHECK("u64", "0xFFFFFFFFFFFFFFFF", g_value_get_uint64, G_MAXUINT64);
    BAD("u64", "-5",
        "test-thing: property 'u64' expects an integer in [0, 2^64-1], got '-5'");
    BAD("u64", "99999999999999999999",
        "test-thing: property 'u64' expects an integer in [0, 2^64-1], got "
        "'99999999999999999999'");
    CHECK("ch", "-128", g_value_get_schar, -128);
    CHECK("ch", "127", g_value_get_schar, 127);
    BAD("ch", "128",
        "test-thing: property 'ch' expects an integer in [-128, 127], got '128'");
    CHECK("uch", "255", g_value_get_uchar, 255);
    CHECK("uch", "0xff", g_value_get_uchar, 255);
    BAD("uch", "256",
        "test-thing: property 'uch' expects an integer in [0, 255], got '256'");
}

static void test_parse_size(void)
{
    CHECK("buf-size", "4096", g_value_get_uint64, 4096);
    CHECK("buf-size", "64k", g_value_get_uint64, 65536);
    CHECK("buf-size", "64K", g_value_get_uint64, 65536);
    CHECK("buf-size", "1M", g_value_get_uint64, 1048576);
    CHECK("buf-size", "2G", g_value_get_uint64, G_GUINT64_CONSTANT(2) << 30);
    CHECK("buf-size", "1T", g_value_get_uint64, G_GUINT64_CONSTANT(1) << 40);
    CHECK("buf-size", "16777215T", g_value_get_uint64,
          G_GUINT64_CONSTANT(16777215) << 40);
    CHECK("buf-size", "0x10k", g_value_get_uint64, 16384);
    BAD("buf-size", "12Q",
        "test-thing: property 'buf-size' expects a size (e.g. 4096, 64k, 1M), got "
        "'12Q'");
    BAD("buf-size", "k",
        "test-thing: property 'buf-size' expects a size (e.g. 4096, 64k, 1M), got 'k'");
    BAD("buf-size", "1kk",
        "test-thing: property 'buf-size' expects a size (e.g. 4096, 64k, 1M), got "
        "'1kk'");
    BAD("buf-size", "16777216T",
        "test-thing: property 'buf-size' expects a size in [0, 2^64-1], got "
        "'16777216T'");
    BAD("buf-size", "-1k",
        "test-thing: property 'buf-size' expects a size in [0, 2^64-1], got '-1k'");
    CHECK("small-size", "3G", g_value_get_uint, 3u << 30);
    BAD("small-size", "4G",
        "test-thing: property 'small-size' expects a size in [0, 2^32-1], got '4G'");
}

static void test_parse_double_string_enum(void)
{
    CHECK("ratio", "0.25", g_value_get_double, 0.25);
    CHECK("ratio", "1", g_value_get_double, 1.0);
    BAD("ratio", "1.5",
        "test-thing: property 'ratio' expects a number in [0, 1], got '1.5'");
    BAD("ratio", "abc",
        "test-thing: property 'ratio' expects a number in [0, 1], got 'abc'");
    CHECK("scale", "-3.5e2", g_value_get_double, -350.0);
    BAD("scale", "x", "test-thing: property 'scale' expects a number, got 'x'");
    BAD("scale", "", "test-thing: property 'scale' expects a number, got ''");

    GValue v = G_VALUE_INIT;
    parse_ok("name", "hello, world", &v);
    g_assert_cmpstr(g_value_get_string(&v), ==, "hello, world");
    g_value_unset(&v);

    CHECK("mode", "io_uring", g_value_get_enum, TEST_MODE_IO_URING);
    CHECK("mode", "poll", g_value_get_enum, TEST_MODE_POLL);
    BAD("mode", "kqueue",
        "test-thing: property 'mode' expects one of epoll, io_uring, poll, got "
        "'kqueue'");
    BAD("mode", "TEST_MODE_POLL",
        "test-thing: property 'mode' expects one of epoll, io_uring, poll, got "
        "'TEST_MODE_POLL'");
}

static void test_parse_type_name_default(void)
{
    GValue v = G_VALUE_INIT;
    GError *err = NULL;

    /* Without a type name, the owner type's command-line name is used. */
    g_assert_false(qom_property_parse(NULL, thing_pspec("flag"), "x", &v, &err));
    g_assert_cmpstr(err->message, ==,
                    "test-thing: property 'flag' expects a boolean (on/off, yes/no, "
                    "true/false), got 'x'");
    g_error_free(err);
}

static void test_parse_link_missing(void)
{
    parse_err("peer", "thing9", QOM_ERROR_NOT_FOUND,
              "'peer' refers to 'thing9', which does not exist");
}

/* ---- help ------------------------------------------------------------------ */

static char *help(GType base, const char *what, const char *optarg, gboolean *is_help,
                  GError **errp)
{
    *is_help = 42;
    return qom_help_string(base, what, optarg, is_help, errp);
}

static void test_help_list(void)
{
    gboolean is_help;
    GError *err = NULL;
    char *text;

    text = help(QOM_TYPE_OBJECT, "object", "help", &is_help, &err);
    g_assert_no_error(err);
    g_assert_true(is_help);
    g_assert_cmpstr(text, ==,
                    "Available object types:\n  test-ctx\n  test-fail\n  test-thing\n");
    g_free(text);

    text = help(TEST_TYPE_ABSTRACT, "device", "?", &is_help, &err);
    g_assert_no_error(err);
    g_assert_true(is_help);
    g_assert_cmpstr(text, ==, "Available device types:\n  test-ctx\n");
    g_free(text);

    g_assert_null(help(QOM_TYPE_OBJECT, "object", "test-thing,id=x", &is_help, &err));
    g_assert_no_error(err);
    g_assert_false(is_help);
    g_assert_null(help(QOM_TYPE_OBJECT, "object", "t,id=a,id=b", &is_help, &err));
    g_assert_no_error(err);
    g_assert_false(is_help);
}

static const char thing_help[] =
    "test-thing options:\n"
    "  buf-size=<size>  - Buffer size (default: 65536)\n"
    "  ch=<int8>  - A char (default: 0)\n"
    "  context=<link to test-abstract>  - The context\n"
    "  count=<int32>  - Any int (default: 0)\n"
    "  flag=<bool>  - A flag (default: off)\n"
    "  i=<int32>  - A small integer (default: 7)\n"
    "  i64=<int64>  - A non-negative int64 (default: 32768)\n"
    "  l=<int64>  - A long (default: 0)\n"
    "  mode=<enum: epoll|io_uring|poll>  - The mode (default: epoll)\n"
    "  name=<string>  - A name\n"
    "  paths.NAME=<string>  - Named paths (paths.NAME=PATH)\n"
    "  peer=<link to test-thing>  - Another thing\n"
    "  ratio=<number>  - A ratio (default: 0.5)\n"
    "  scale=<number>  - A scale (default: 1)\n"
    "  small-size=<size>  - A 32-bit size (default: 4096)\n"
    "  threaded=<bool>  - Run a thread (default: off)\n"
    "  u=<uint32>  - An unsigned (default: 0)\n"
    "  u64=<uint64>  - A uint64 (default: 0)\n"
    "  uch=<uint8>  - A uchar (default: 0)\n"
    "  ul=<uint64>  - An unsigned long (default: 0)\n";

static void test_help_type(void)
{
    gboolean is_help;
    GError *err = NULL;
    char *text;

    text = help(QOM_TYPE_OBJECT, "object", "test-thing,help", &is_help, &err);
    g_assert_no_error(err);
    g_assert_true(is_help);
    g_assert_cmpstr(text, ==, thing_help);
    g_free(text);

    text = help(QOM_TYPE_OBJECT, "object", "test-fail,id=f,?", &is_help, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(text, ==,
                    "test-fail options:\n  fail=<bool>  - Fail in complete "
                    "(default: off)\n");
    g_free(text);

    /* Abstract types can be described. */
    text = help(QOM_TYPE_OBJECT, "object", "test-abstract,help", &is_help, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(text, ==, "test-abstract options:\n  (none besides id)\n");
    g_free(text);

    g_assert_null(help(QOM_TYPE_OBJECT, "object", "foo,help", &is_help, &err));
    g_assert_true(is_help);
    g_assert_error(err, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE);
    g_assert_cmpstr(err->message, ==, "unknown object type 'foo'");
    g_clear_error(&err);

    /* A type that does not derive from @base is unknown there. */
    g_assert_null(
        help(TEST_TYPE_ABSTRACT, "device", "test-thing,help", &is_help, &err));
    g_assert_true(is_help);
    g_assert_cmpstr(err->message, ==, "unknown device type 'test-thing'");
    g_clear_error(&err);
}

static void test_type_registry(void)
{
    g_auto(GStrv) all = qom_type_list(QOM_TYPE_OBJECT);
    g_auto(GStrv) ctxs = qom_type_list(TEST_TYPE_ABSTRACT);

    g_assert_cmpuint(g_strv_length(all), ==, 3);
    g_assert_cmpstr(all[0], ==, "test-ctx");
    g_assert_cmpstr(all[2], ==, "test-thing");
    g_assert_cmpuint(g_strv_length(ctxs), ==, 1);
    g_assert_true(qom_type_lookup("test-thing") == TEST_TYPE_THING);
    g_assert_true(qom_type_lookup("test-abstract") == TEST_TYPE_ABSTRACT);
    g_assert_true(qom_type_lookup("nope") == G_TYPE_INVALID);
    g_assert_cmpstr(qom_type_name(TEST_TYPE_CTX), ==, "test-ctx");
    g_assert_null(qom_type_name(G_TYPE_OBJECT));
    test_types_register(); /* registering the same pairs again is harmless */
    g_assert_true(qom_type_lookup("test-ctx") == TEST_TYPE_CTX);
    g_assert_cmpuint(QOM_ERROR, ==, g_quark_from_string("qom-error-quark"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_types_register();
    g_test_add_func("/qom/opts/basic", test_opts_basic);
    g_test_add_func("/qom/opts/escape", test_opts_escape);
    g_test_add_func("/qom/opts/errors", test_opts_errors);
    g_test_add_func("/qom/parse/bool", test_parse_bool);
    g_test_add_func("/qom/parse/int", test_parse_int);
    g_test_add_func("/qom/parse/int-widths", test_parse_int_widths);
    g_test_add_func("/qom/parse/size", test_parse_size);
    g_test_add_func("/qom/parse/double-string-enum", test_parse_double_string_enum);
    g_test_add_func("/qom/parse/type-name-default", test_parse_type_name_default);
    g_test_add_func("/qom/parse/link-missing", test_parse_link_missing);
    g_test_add_func("/qom/help/list", test_help_list);
    g_test_add_func("/qom/help/type", test_help_type);
    g_test_add_func("/qom/types/registry", test_type_registry);
    return g_test_run();
}
