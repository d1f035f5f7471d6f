/*
 * qom/type-registry.c - command-line type names <-> GTypes.
 *
 * Names are never unregistered, so the strings handed out stay valid for
 * the life of the process.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include "qom-internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *name_to_type; /* char * -> GType (as pointer) */
static GHashTable *type_to_name; /* GType (as pointer) -> char * */

void qom_type_register(const char *name, GType type)
{
    gpointer old;

    g_return_if_fail(name != NULL && *name != '\0');
    g_return_if_fail(g_type_is_a(type, QOM_TYPE_OBJECT));

    pthread_mutex_lock(&registry_lock);
    if (!name_to_type) {
        name_to_type = g_hash_table_new(g_str_hash, g_str_equal);
        type_to_name = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    old = g_hash_table_lookup(name_to_type, name);
    if (old) {
        pthread_mutex_unlock(&registry_lock);
        /* Registering the very same pair again is harmless. */
        if ((GType)GPOINTER_TO_SIZE(old) != type) {
            g_critical("object type name '%s' registered twice", name);
        }
        return;
    }
    char *copy = g_strdup(name);
    g_hash_table_insert(name_to_type, copy, GSIZE_TO_POINTER(type));
    g_hash_table_insert(type_to_name, GSIZE_TO_POINTER(type), copy);
    pthread_mutex_unlock(&registry_lock);
}

GType qom_type_lookup(const char *name)
{
    GType type = G_TYPE_INVALID;

    if (!name) {
        return G_TYPE_INVALID;
    }
    pthread_mutex_lock(&registry_lock);
    if (name_to_type) {
        type = (GType)GPOINTER_TO_SIZE(g_hash_table_lookup(name_to_type, name));
    }
    pthread_mutex_unlock(&registry_lock);
    return type;
}

const char *qom_type_name(GType type)
{
    const char *name = NULL;

    pthread_mutex_lock(&registry_lock);
    if (type_to_name) {
        name = g_hash_table_lookup(type_to_name, GSIZE_TO_POINTER(type));
    }
    pthread_mutex_unlock(&registry_lock);
    return name;
}

const char *qom_type_display_name(GType type)
{
    const char *name = qom_type_name(type);

    return name ? name : g_type_name(type);
}

gint qom_compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

char **qom_type_list(GType parent)
{
    GPtrArray *names = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key, value;

    pthread_mutex_lock(&registry_lock);
    if (name_to_type) {
        g_hash_table_iter_init(&iter, name_to_type);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            GType type = (GType)GPOINTER_TO_SIZE(value);
            if (g_type_is_a(type, parent) && !G_TYPE_IS_ABSTRACT(type)) {
                g_ptr_array_add(names, g_strdup(key));
            }
        }
    }
    pthread_mutex_unlock(&registry_lock);
    g_ptr_array_sort(names, qom_compare_strings);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}
