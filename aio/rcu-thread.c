/*
 * aio/rcu-thread.c - register threads with urcu-memb exactly once.
 *
 * Every thread that walks an RCU-protected list (a context's home thread,
 * any thread running aio_poll()) must be registered with urcu-memb, and must
 * unregister before it exits or urcu keeps a dangling reader.  Registering
 * twice is an error in urcu, so all of qcontext goes through
 * aio_rcu_register_thread(): a thread-local flag makes repeated calls free,
 * and a pthread key destructor unregisters the thread when it exits.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdbool.h>

#include <urcu/urcu-memb.h>

#include "aio-internal.h"

static pthread_key_t rcu_thread_key;
static pthread_once_t rcu_thread_once = PTHREAD_ONCE_INIT;
__thread bool aio_rcu_thread_registered;

/* Runs at thread exit for every thread that registered. */
static void rcu_thread_exit(void *value)
{
    (void)value;
    if (aio_rcu_thread_registered) {
        urcu_memb_unregister_thread();
        aio_rcu_thread_registered = false;
    }
}

static void rcu_thread_key_init(void)
{
    if (pthread_key_create(&rcu_thread_key, rcu_thread_exit) != 0) {
        g_error("aio: cannot create the RCU thread key");
    }
}

void aio_rcu_register_thread_slow(void)
{
    pthread_once(&rcu_thread_once, rcu_thread_key_init);
    urcu_memb_register_thread();
    aio_rcu_thread_registered = true;
    /* A non-NULL value makes the destructor run when the thread exits. */
    pthread_setspecific(rcu_thread_key, &aio_rcu_thread_registered);
}
