/*
 * devices/device-new.c - device_new(), the embedder's typed constructor.
 *
 * SPDX-License-Identifier: MIT
 */
#include "qcontext/devices/device.h"

Device *device_new(const char *type_name, const char *id, QContext *context,
                   GError **errp)
{
    GArray *opts = g_array_new(FALSE, FALSE, sizeof(QomOpt));
    QomOpt opt[2] = {{(char *)"id", (char *)id}, {(char *)"context", NULL}};
    QomObject *obj;

    g_return_val_if_fail(type_name && id, NULL);
    g_return_val_if_fail(!context || QCONTEXT_IS_CONTEXT(context), NULL);
    devices_register_types();
    /* borrowed strings: the array has no clear function */
    g_array_append_val(opts, opt[0]);
    if (context) {
        opt[1].value = (char *)qcontext_get_name(context);
        g_array_append_val(opts, opt[1]);
    }
    obj = qom_object_new_from_opts(QOM_CONTAINER_DEVICES, DEVICE_TYPE, type_name, opts,
                                   errp);
    g_array_unref(opts);
    return obj ? g_object_ref(DEVICE(obj)) : NULL;
}
