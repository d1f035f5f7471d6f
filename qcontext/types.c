/*
 * qcontext/types.c - register the context types with the object layer.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext"

#include "qcontext/aio-qcontext.h"
#include "qcontext/glib-qcontext.h"
#include "qcontext-internal.h"

void qcontext_register_types(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        qom_type_register("glib-qcontext", GLIB_QCONTEXT_TYPE);
        qom_type_register("aio-qcontext", AIO_QCONTEXT_TYPE);
        g_once_init_leave(&done, 1);
    }
}
