/*
 * qom/container.c - named containers mapping id -> object.
 *
 * One mutex guards all containers.  Hooks (the deletion check and the
 * class's unparent) always run with the mutex released, so that they may
 * look at containers themselves.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>

#include "qom-internal.h"

typedef struct {
    GHashTable *by_id; /* char *id -> QomObject * (a reference) or RESERVED */
    GQueue order;      /* QomObject *, oldest first (no reference of its own) */
} Container;

/* The value of an id that a creation in progress has reserved. */
static char reserved_marker;
#define RESERVED ((gpointer)&reserved_marker)

static pthread_mutex_t containers_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *containers; /* char *name -> Container * */
static QomDelCheck del_check;  /* guarded by containers_lock */

/* Called with containers_lock held. */
static Container *container_get(const char *name, gboolean create)
{
    Container *c;

    if (!containers) {
        if (!create) {
            return NULL;
        }
        containers = g_hash_table_new(g_str_hash, g_str_equal);
    }
    c = g_hash_table_lookup(containers, name);
    if (!c && create) {
        c = g_new0(Container, 1);
        c->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_queue_init(&c->order);
        g_hash_table_insert(containers, g_strdup(name), c);
    }
    return c;
}

gboolean qom_id_is_valid(const char *id)
{
    if (!id || !g_ascii_isalpha(id[0])) {
        return FALSE;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return FALSE;
        }
    }
    return TRUE;
}

/* Called with containers_lock held. */
static gboolean check_new_id(Container *c, const char *id, GError **errp)
{
    if (!qom_id_is_valid(id)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_ID,
                    "invalid id '%s': an id starts with a letter and contains only "
                    "letters, digits, '-', '.' and '_'",
                    id ? id : "");
        return FALSE;
    }
    if (g_hash_table_contains(c->by_id, id)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_DUPLICATE_ID, "duplicate id '%s'", id);
        return FALSE;
    }
    return TRUE;
}

/* Store @obj (taking a reference) under @id.  Called with containers_lock held. */
static void container_insert(Container *c, const char *id, QomObject *obj)
{
    g_hash_table_insert(c->by_id, g_strdup(id), g_object_ref(obj));
    g_queue_push_tail(&c->order, obj);
}

gboolean qom_container_add(const char *container, QomObject *obj, GError **errp)
{
    const char *id;
    Container *c;

    g_return_val_if_fail(container != NULL, FALSE);
    g_return_val_if_fail(QOM_IS_OBJECT(obj), FALSE);
    id = qom_object_get_id(obj);

    pthread_mutex_lock(&containers_lock);
    c = container_get(container, TRUE);
    if (!check_new_id(c, id, errp)) {
        pthread_mutex_unlock(&containers_lock);
        return FALSE;
    }
    container_insert(c, id, obj);
    pthread_mutex_unlock(&containers_lock);
    return TRUE;
}

gboolean qom_container_reserve(const char *container, const char *id, GError **errp)
{
    Container *c;
    gboolean ok;

    pthread_mutex_lock(&containers_lock);
    c = container_get(container, TRUE);
    ok = check_new_id(c, id, errp);
    if (ok) {
        g_hash_table_insert(c->by_id, g_strdup(id), RESERVED);
    }
    pthread_mutex_unlock(&containers_lock);
    return ok;
}

void qom_container_commit(const char *container, QomObject *obj)
{
    const char *id = qom_object_get_id(obj);
    Container *c;

    pthread_mutex_lock(&containers_lock);
    c = container_get(container, TRUE);
    g_assert(g_hash_table_lookup(c->by_id, id) == RESERVED);
    container_insert(c, id, obj);
    pthread_mutex_unlock(&containers_lock);
}

void qom_container_cancel(const char *container, const char *id)
{
    Container *c;

    pthread_mutex_lock(&containers_lock);
    c = container_get(container, FALSE);
    if (c && g_hash_table_lookup(c->by_id, id) == RESERVED) {
        g_hash_table_remove(c->by_id, id);
    }
    pthread_mutex_unlock(&containers_lock);
}

QomObject *qom_container_find(const char *container, const char *id)
{
    QomObject *obj = NULL;
    Container *c;

    g_return_val_if_fail(container != NULL, NULL);
    if (!id) {
        return NULL;
    }
    pthread_mutex_lock(&containers_lock);
    c = container_get(container, FALSE);
    if (c) {
        obj = g_hash_table_lookup(c->by_id, id);
        obj = (obj && obj != RESERVED) ? g_object_ref(obj) : NULL;
    }
    pthread_mutex_unlock(&containers_lock);
    return obj;
}

QomObject *qom_find_by_id(const char *id)
{
    QomObject *obj = qom_container_find(QOM_CONTAINER_OBJECTS, id);

    return obj ? obj : qom_container_find(QOM_CONTAINER_DEVICES, id);
}

GList *qom_container_list(const char *container)
{
    GList *list = NULL;
    Container *c;

    g_return_val_if_fail(container != NULL, NULL);
    pthread_mutex_lock(&containers_lock);
    c = container_get(container, FALSE);
    if (c) {
        for (GList *l = c->order.tail; l; l = l->prev) {
            list = g_list_prepend(list, g_object_ref(l->data));
        }
    }
    pthread_mutex_unlock(&containers_lock);
    return list;
}

/* Unlink @obj from @c.  Called with containers_lock held; returns its ref. */
static QomObject *container_unlink(Container *c, QomObject *obj)
{
    g_queue_remove(&c->order, obj);
    g_hash_table_remove(c->by_id, qom_object_get_id(obj));
    return obj;
}

/* Runs outside the lock: the unparent hook, then drop the container's ref. */
static void object_unparent(QomObject *obj)
{
    QomObjectClass *klass = QOM_OBJECT_GET_CLASS(obj);

    if (klass->unparent) {
        klass->unparent(obj);
    }
    g_object_unref(obj);
}

static gboolean run_del_check(QomDelCheck check, QomObject *obj, GError **errp)
{
    QomObjectClass *klass = QOM_OBJECT_GET_CLASS(obj);
    GError *local_err = NULL;

    if (klass->can_be_deleted && !klass->can_be_deleted(obj, errp)) {
        return FALSE;
    }
    if (!check || check(obj, &local_err)) {
        return TRUE;
    }
    if (!local_err) {
        g_set_error(&local_err, QOM_ERROR, QOM_ERROR_IN_USE, "'%s' is in use",
                    qom_object_get_id(obj));
    }
    g_propagate_error(errp, local_err);
    return FALSE;
}

gboolean qom_container_del(const char *container, const char *id, GError **errp)
{
    QomObject *obj = qom_container_find(container, id);
    QomDelCheck check;
    Container *c;
    gboolean removed = FALSE;

    if (!obj) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND, "no object with id '%s'",
                    id ? id : "");
        return FALSE;
    }
    pthread_mutex_lock(&containers_lock);
    check = del_check;
    pthread_mutex_unlock(&containers_lock);
    if (!run_del_check(check, obj, errp)) {
        g_object_unref(obj);
        return FALSE;
    }

    pthread_mutex_lock(&containers_lock);
    c = container_get(container, FALSE);
    /* Another thread may have deleted it meanwhile: only one unparents. */
    if (g_hash_table_lookup(c->by_id, id) == obj) {
        container_unlink(c, obj);
        removed = TRUE;
    }
    pthread_mutex_unlock(&containers_lock);
    if (removed) {
        object_unparent(obj);
    }
    g_object_unref(obj);
    if (!removed) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND, "no object with id '%s'", id);
    }
    return removed;
}

void qom_container_set_del_check(QomDelCheck check)
{
    pthread_mutex_lock(&containers_lock);
    del_check = check;
    pthread_mutex_unlock(&containers_lock);
}

void qom_container_del_all(const char *container)
{
    for (;;) {
        QomObject *obj = NULL;
        Container *c;

        pthread_mutex_lock(&containers_lock);
        c = container_get(container, FALSE);
        if (c && c->order.tail) {
            obj = container_unlink(c, c->order.tail->data);
        }
        pthread_mutex_unlock(&containers_lock);
        if (!obj) {
            return;
        }
        object_unparent(obj);
    }
}
