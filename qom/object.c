/*
 * qom/object.c - QomObject, the abstract base of user-creatable objects.
 *
 * The id is a construct-only property; completion is GInitable's init,
 * which runs the class's complete hook once.
 *
 * SPDX-License-Identifier: MIT
 */
#include "qom-internal.h"

typedef struct {
    char *id;
    int completed; /* atomic: set once complete succeeded */
} QomObjectPrivate;

enum { PROP_0, PROP_ID, N_PROPS };

static GParamSpec *qom_object_props[N_PROPS];

static void qom_object_initable_iface_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(QomObject, qom_object, G_TYPE_OBJECT,
                                 G_ADD_PRIVATE(QomObject) G_IMPLEMENT_INTERFACE(
                                     G_TYPE_INITABLE, qom_object_initable_iface_init))

GQuark qom_error_quark(void)
{
    return g_quark_from_static_string("qom-error-quark");
}

static gboolean qom_object_initable_init(GInitable *initable, GCancellable *cancellable,
                                         GError **errp)
{
    QomObject *obj = QOM_OBJECT(initable);
    QomObjectPrivate *priv = qom_object_get_instance_private(obj);
    QomObjectClass *klass = QOM_OBJECT_GET_CLASS(obj);

    if (__atomic_load_n(&priv->completed, __ATOMIC_ACQUIRE)) {
        return TRUE;
    }
    if (klass->complete && !klass->complete(obj, errp)) {
        return FALSE;
    }
    /* Pairs with the acquire load in qom_object_is_completed(). */
    __atomic_store_n(&priv->completed, 1, __ATOMIC_RELEASE);
    return TRUE;
}

static void qom_object_initable_iface_init(GInitableIface *iface)
{
    iface->init = qom_object_initable_init;
}

static gboolean qom_object_real_complete(QomObject *obj, GError **errp)
{
    return TRUE;
}

static void qom_object_set_property(GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
    QomObjectPrivate *priv = qom_object_get_instance_private(QOM_OBJECT(object));

    switch (prop_id) {
    case PROP_ID:
        g_free(priv->id);
        priv->id = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void qom_object_get_property(GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
    QomObjectPrivate *priv = qom_object_get_instance_private(QOM_OBJECT(object));

    switch (prop_id) {
    case PROP_ID:
        g_value_set_string(value, priv->id);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void qom_object_finalize(GObject *object)
{
    QomObjectPrivate *priv = qom_object_get_instance_private(QOM_OBJECT(object));

    g_free(priv->id);
    G_OBJECT_CLASS(qom_object_parent_class)->finalize(object);
}

static void qom_object_class_init(QomObjectClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->set_property = qom_object_set_property;
    object_class->get_property = qom_object_get_property;
    object_class->finalize = qom_object_finalize;
    klass->complete = qom_object_real_complete;

    qom_object_props[PROP_ID] = g_param_spec_string(
        "id", "Id", "The object's id, unique in its container", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, qom_object_props);
}

static void qom_object_init(QomObject *obj)
{
}

const char *qom_object_get_id(QomObject *obj)
{
    QomObjectPrivate *priv;

    g_return_val_if_fail(QOM_IS_OBJECT(obj), NULL);
    priv = qom_object_get_instance_private(obj);
    return priv->id;
}

const char *qom_object_get_type_name(QomObject *obj)
{
    g_return_val_if_fail(QOM_IS_OBJECT(obj), NULL);
    return qom_type_display_name(G_OBJECT_TYPE(obj));
}

gboolean qom_object_is_completed(QomObject *obj)
{
    QomObjectPrivate *priv;

    g_return_val_if_fail(QOM_IS_OBJECT(obj), FALSE);
    priv = qom_object_get_instance_private(obj);
    /* Pairs with the release store in qom_object_initable_init(). */
    return __atomic_load_n(&priv->completed, __ATOMIC_ACQUIRE) != 0;
}
