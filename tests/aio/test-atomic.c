/*
 * tests/aio/test-atomic.c - the memory-ordering helpers of aio/atomic.h:
 * return values of the read-modify-write helpers, and a message-passing
 * ring between two threads that publishes with release and consumes with
 * acquire (every slot read is the value written before its index).
 *
 * SPDX-License-Identifier: MIT
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "qcontext/aio/atomic.h"

static void test_rmw(void)
{
    int v = 5;
    uint16_t idx = 65535;

    g_assert_cmpint(qatomic_cmpxchg(&v, 4, 9), ==, 5); /* fails: returns current */
    g_assert_cmpint(v, ==, 5);
    g_assert_cmpint(qatomic_cmpxchg(&v, 5, 9), ==, 5); /* succeeds: returns old */
    g_assert_cmpint(v, ==, 9);
    g_assert_cmpint(qatomic_xchg(&v, 1), ==, 9);
    g_assert_cmpint(qatomic_fetch_add(&v, 3), ==, 1);
    g_assert_cmpint(qatomic_fetch_sub(&v, 2), ==, 4);
    qatomic_inc(&v);
    qatomic_dec(&v);
    qatomic_dec(&v);
    g_assert_cmpint(qatomic_read(&v), ==, 1);
    qatomic_add_relaxed(&idx, 1); /* 16-bit ring indexes wrap */
    g_assert_cmpuint(idx, ==, 0);
}

#define RING 64
#define MSGS 200000

typedef struct {
    uint64_t slot[RING];
    uint32_t prod; /* published with release, read with acquire */
    uint32_t cons;
} Ring;

static gpointer producer(gpointer opaque)
{
    Ring *r = opaque;

    for (uint32_t i = 0; i < MSGS; i++) {
        /* Pairs with the release store of cons in the consumer. */
        while (i - qatomic_load_acquire(&r->cons) >= RING) {
            g_thread_yield();
        }
        r->slot[i % RING] = (uint64_t)i * 2654435761u;
        /* Pairs with the acquire load of prod in test_message_passing(). */
        qatomic_store_release(&r->prod, i + 1);
    }
    return NULL;
}

static void test_message_passing(void)
{
    Ring *r = g_new0(Ring, 1);
    GThread *t = g_thread_new("producer", producer, r);

    for (uint32_t i = 0; i < MSGS; i++) {
        /* Pairs with the release store of prod in producer(). */
        while (qatomic_load_acquire(&r->prod) == i) {
            g_thread_yield();
        }
        g_assert_cmpuint(r->slot[i % RING], ==, (uint64_t)i * 2654435761u);
        /* Pairs with the acquire load of cons in producer(). */
        qatomic_store_release(&r->cons, i + 1);
    }
    g_thread_join(t);
    g_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/atomic/rmw", test_rmw);
    g_test_add_func("/atomic/message-passing", test_message_passing);
    return g_test_run();
}
