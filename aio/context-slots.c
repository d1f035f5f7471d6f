/*
 * aio/context-slots.c - state that layers above keep per AioContext
 * (slots, freed with the context) and the aio-max-batch tunable.
 *
 * A slot is an index into AioContext.slots[], handed out once per layer;
 * only the context's home thread reads or writes its value, so a lookup is
 * one plain load.  The destructors run from aio_context_free(), before the
 * thread pool, the handlers and the BHs go.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include "aio-internal.h"

static AioContextSlotDestroy *slot_destroy[AIO_CONTEXT_MAX_SLOTS];
static int n_slots; /* under slots_lock; read with acquire */
/* pthread, not GMutex: ThreadSanitizer sees it (GLib's futex lock it does not). */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

int aio_context_slot_new(AioContextSlotDestroy *destroy)
{
    int slot;

    pthread_mutex_lock(&slots_lock);
    if (n_slots == AIO_CONTEXT_MAX_SLOTS) {
        g_error("aio: all %d AioContext slots are taken", AIO_CONTEXT_MAX_SLOTS);
    }
    slot = n_slots;
    slot_destroy[slot] = destroy;
    /* Release: pairs with the acquire in aio_context_slots_destroy(). */
    __atomic_store_n(&n_slots, slot + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&slots_lock);
    return slot;
}

void *aio_context_get_slot(AioContext *ctx, int slot)
{
    return ctx->slots[slot];
}

void aio_context_set_slot(AioContext *ctx, int slot, void *value)
{
    g_assert(slot >= 0 && slot < AIO_CONTEXT_MAX_SLOTS);
    ctx->slots[slot] = value;
}

void aio_context_slots_destroy(AioContext *ctx)
{
    /* Acquire: pairs with the release in aio_context_slot_new(). */
    int n = __atomic_load_n(&n_slots, __ATOMIC_ACQUIRE);

    for (int i = 0; i < n; i++) {
        void *value = ctx->slots[i];

        ctx->slots[i] = NULL;
        if (value && slot_destroy[i]) {
            slot_destroy[i](ctx, value);
        }
    }
}

bool aio_context_set_aio_params(AioContext *ctx, int64_t max_batch, GError **errp)
{
    g_return_val_if_fail(ctx != NULL, false);
    if (max_batch < 0) {
        g_set_error(errp, AIO_ERROR, 0,
                    "aio-max-batch must not be negative (got %" G_GINT64_FORMAT ")",
                    max_batch);
        return false;
    }
    /* Relaxed: a plain tunable, no data is published with it. */
    __atomic_store_n(&ctx->aio_max_batch, max_batch, __ATOMIC_RELAXED);
    return true;
}

int64_t aio_context_get_aio_max_batch(AioContext *ctx)
{
    return __atomic_load_n(&ctx->aio_max_batch, __ATOMIC_RELAXED);
}
