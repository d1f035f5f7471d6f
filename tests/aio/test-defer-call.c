/*
 * tests/aio/test-defer-call.c - defer_call(): at once outside a section,
 * once per distinct (fn, opaque) at the outermost end inside one, in the
 * order first deferred; nesting; a call deferring again; overflow; per
 * thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <string.h>

#include <glib.h>

#include "qcontext/aio/defer-call.h"

typedef struct {
    GString *log;
    char name;
} Rec;

static void rec_call(void *opaque)
{
    Rec *r = opaque;

    g_string_append_c(r->log, r->name);
}

static void test_immediate(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec a = {log, 'a'};

    defer_call(rec_call, &a);
    defer_call(rec_call, &a);
    g_assert_cmpstr(log->str, ==, "aa");
}

static void test_section(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec a = {log, 'a'}, b = {log, 'b'};

    defer_call_begin();
    defer_call(rec_call, &b);
    defer_call(rec_call, &a);
    defer_call(rec_call, &b);
    defer_call(rec_call, &a);
    g_assert_cmpstr(log->str, ==, "");
    defer_call_end();
    g_assert_cmpstr(log->str, ==, "ba"); /* once each, first-deferred order */
    /* Unbalanced: refused, nothing happens. */
    g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*depth > 0*");
    defer_call_end();
    g_test_assert_expected_messages();
    g_assert_cmpstr(log->str, ==, "ba");
}

static void test_nested(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec a = {log, 'a'};

    defer_call_begin();
    defer_call_begin();
    defer_call(rec_call, &a);
    defer_call_end();
    g_assert_cmpstr(log->str, ==, ""); /* not the outermost end */
    defer_call(rec_call, &a);
    defer_call_end();
    g_assert_cmpstr(log->str, ==, "a");
}

typedef struct {
    Rec *inner;
    int calls;
} Again;

static void again_call(void *opaque)
{
    Again *g = opaque;

    g->calls++;
    defer_call(rec_call, g->inner); /* no section open now: at once */
    g_assert_cmpstr(g->inner->log->str, ==, "i");
}

static void test_defer_again(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec i = {log, 'i'};
    Again g = {&i, 0};

    defer_call_begin();
    defer_call(again_call, &g);
    defer_call_end();
    g_assert_cmpint(g.calls, ==, 1);
    g_assert_cmpstr(log->str, ==, "i");
}

static void test_overflow(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec r[40];

    defer_call_begin();
    for (int k = 0; k < 40; k++) {
        r[k] = (Rec){log, (char)('A' + k)};
        defer_call(rec_call, &r[k]);
    }
    /* More distinct calls than a section holds are made at once. */
    g_assert_cmpuint(log->len, >, 0);
    g_assert_cmpuint(log->len, <, 40);
    defer_call_end();
    g_assert_cmpuint(log->len, ==, 40);
    for (int k = 0; k < 40; k++) {
        g_assert_nonnull(strchr(log->str, 'A' + k));
    }
}

static void *other_thread(void *opaque)
{
    Rec *r = opaque;

    defer_call(rec_call, r); /* this thread has no section open */
    return NULL;
}

static void test_per_thread(void)
{
    g_autoptr(GString) log = g_string_new(NULL);
    Rec t = {log, 't'};
    pthread_t th;

    defer_call_begin();
    g_assert_cmpint(pthread_create(&th, NULL, other_thread, &t), ==, 0);
    g_assert_cmpint(pthread_join(th, NULL), ==, 0);
    g_assert_cmpstr(log->str, ==, "t");
    defer_call_end();
    g_assert_cmpstr(log->str, ==, "t");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aio/defer-call/immediate", test_immediate);
    g_test_add_func("/aio/defer-call/section", test_section);
    g_test_add_func("/aio/defer-call/nested", test_nested);
    g_test_add_func("/aio/defer-call/defer-again", test_defer_again);
    g_test_add_func("/aio/defer-call/overflow", test_overflow);
    g_test_add_func("/aio/defer-call/per-thread", test_per_thread);
    return g_test_run();
}
