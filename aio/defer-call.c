/*
 * aio/defer-call.c - calls deferred to the end of a section on this thread
 * (see qcontext/aio/defer-call.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "qcontext/aio/defer-call.h"

/* Distinct calls one section holds; more are made at once. */
#define DEFER_CALL_MAX 32

typedef struct {
    DeferCallFn *fn;
    void *opaque;
} DeferredCall;

typedef struct {
    unsigned depth;
    unsigned n;
    DeferredCall calls[DEFER_CALL_MAX];
} DeferState;

static __thread DeferState defer_state;

void defer_call_begin(void)
{
    defer_state.depth++;
}

void defer_call_end(void)
{
    DeferState *s = &defer_state;
    DeferredCall calls[DEFER_CALL_MAX];
    unsigned n;

    g_return_if_fail(s->depth > 0);
    if (--s->depth > 0 || s->n == 0) {
        return;
    }
    /* A copy: a call may open a section of its own and defer into it. */
    n = s->n;
    s->n = 0;
    if (n == 1) {
        DeferredCall c = s->calls[0]; /* the common case, without memcpy */

        c.fn(c.opaque);
        return;
    }
    memcpy(calls, s->calls, n * sizeof(calls[0]));
    for (unsigned i = 0; i < n; i++) {
        calls[i].fn(calls[i].opaque);
    }
}

void defer_call(DeferCallFn *fn, void *opaque)
{
    DeferState *s = &defer_state;

    if (s->depth == 0) {
        fn(opaque);
        return;
    }
    for (unsigned i = 0; i < s->n; i++) {
        if (s->calls[i].fn == fn && s->calls[i].opaque == opaque) {
            return; /* made once at the end */
        }
    }
    if (s->n == DEFER_CALL_MAX) {
        fn(opaque);
        return;
    }
    s->calls[s->n++] = (DeferredCall){fn, opaque};
}
