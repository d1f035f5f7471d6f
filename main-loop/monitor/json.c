/*
 * main-loop/monitor/json.c - building JSON replies: wrappers and scalar
 * conversion.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "monitor-core.h"

/* ------------------------------------------------------------------------ */
/* Wrappers and scalars                                                      */
/* ------------------------------------------------------------------------ */

void qmp_obj_set_str(JsonObject *obj, const char *key, const char *val)
{
    if (val) {
        json_object_set_string_member(obj, key, val);
    } else {
        json_object_set_null_member(obj, key);
    }
}

JsonNode *qmp_node_from_object(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

JsonNode *qmp_node_from_array(JsonArray *arr)
{
    JsonNode *node = json_node_init_array(json_node_alloc(), arr);

    json_array_unref(arr);
    return node;
}
