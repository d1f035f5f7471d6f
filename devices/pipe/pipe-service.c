/*
 * devices/pipe/pipe-service.c - the registry of pipe services: a name ->
 * service table behind a mutex, for registrations from any thread (load-time
 * constructors, tests, plugins) and lookups from the pipe devices' threads.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-pipe"

#include <pthread.h>
#include <string.h>

#include "pipe-internal.h"

/* pthread, not GMutex: ThreadSanitizer sees it. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *registry; /* name -> PipeService, under registry_lock */

GQuark pipe_error_quark(void)
{
    return g_quark_from_static_string("pipe-error-quark");
}

void pipe_service_unref(PipeService *s)
{
    /* Acq_rel: the last holder sees the service as it was registered. */
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        g_free(s->name);
        g_free(s);
    }
}

bool pipe_service_register(const char *name, const PipeServiceOps *ops, void *opaque,
                           GError **errp)
{
    PipeService *s;
    bool ok = false;

    if (!name || !*name || strlen(name) > PIPE_NAME_MAX || !ops || !ops->open ||
        !ops->recv || !ops->close) {
        g_set_error(errp, PIPE_ERROR, 0,
                    "pipe service '%s': a name of 1 to %d bytes and open, recv and "
                    "close callbacks are required",
                    name ? name : "", PIPE_NAME_MAX);
        return false;
    }
    pthread_mutex_lock(&registry_lock);
    if (!registry) {
        registry = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)pipe_service_unref);
    }
    if (g_hash_table_contains(registry, name)) {
        g_set_error(errp, PIPE_ERROR, 0, "pipe service '%s' is already registered",
                    name);
    } else {
        s = g_new0(PipeService, 1);
        s->name = g_strdup(name);
        s->ops = ops;
        s->opaque = opaque;
        s->refs = 1;
        g_hash_table_insert(registry, s->name, s);
        ok = true;
    }
    pthread_mutex_unlock(&registry_lock);
    return ok;
}

void pipe_service_unregister(const char *name)
{
    pthread_mutex_lock(&registry_lock);
    if (registry) {
        g_hash_table_remove(registry, name);
    }
    pthread_mutex_unlock(&registry_lock);
}

/* @key's service with a new reference, or NULL.  registry_lock held. */
static PipeService *lookup_locked(const char *key)
{
    PipeService *s = registry ? g_hash_table_lookup(registry, key) : NULL;

    if (s) {
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    }
    return s;
}

PipeService *pipe_service_lookup(const char *name, const char **args)
{
    const char *colon = strchr(name, ':');
    PipeService *s;

    pthread_mutex_lock(&registry_lock);
    s = lookup_locked(name);
    *args = "";
    if (!s && colon) {
        g_autofree char *prefix = g_strndup(name, colon - name);

        s = lookup_locked(prefix);
        *args = colon + 1;
    }
    pthread_mutex_unlock(&registry_lock);
    return s;
}
