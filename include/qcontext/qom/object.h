/*
 * qom/object.h - QOM-style object layer on GObject.
 *
 * Every user-creatable object (contexts, drives, devices) derives from the
 * abstract QomObject, which carries a construct-only "id" and a completion
 * step (GInitable) that may fail.  Types are registered under the name the
 * command line uses ("glib-qcontext", "aio-qcontext", ...).  Created objects
 * live in named containers ("objects", "devices") that map id -> object.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QOM_OBJECT_H
#define QOM_OBJECT_H

#include <glib-object.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * QOM_ERROR:
 *
 * Error domain of the object layer (option parsing, ids, links).
 */
#define QOM_ERROR (qom_error_quark())
/**
 * qom_error_quark:
 *
 * The GQuark behind the error domain macro above.
 */
GQuark qom_error_quark(void);

/**
 * QomError:
 * @QOM_ERROR_UNKNOWN_TYPE: no user-creatable type of that name
 * @QOM_ERROR_ABSTRACT_TYPE: the type is abstract
 * @QOM_ERROR_UNKNOWN_PROPERTY: no such property on the type
 * @QOM_ERROR_INVALID_VALUE: a value does not parse or is out of range
 * @QOM_ERROR_MISSING: a required parameter (e.g. id) is missing
 * @QOM_ERROR_INVALID_ID: malformed id
 * @QOM_ERROR_DUPLICATE_ID: id already in use
 * @QOM_ERROR_NOT_FOUND: no object with that id / dangling link
 * @QOM_ERROR_IN_USE: object is used by others and cannot go
 * @QOM_ERROR_FAILED: anything else
 *
 * Error codes in QOM_ERROR.
 */
typedef enum {
    QOM_ERROR_UNKNOWN_TYPE,
    QOM_ERROR_ABSTRACT_TYPE,
    QOM_ERROR_UNKNOWN_PROPERTY,
    QOM_ERROR_INVALID_VALUE,
    QOM_ERROR_MISSING,
    QOM_ERROR_INVALID_ID,
    QOM_ERROR_DUPLICATE_ID,
    QOM_ERROR_NOT_FOUND,
    QOM_ERROR_IN_USE,
    QOM_ERROR_FAILED,
} QomError;

/* ------------------------------------------------------------------------ */
/* QomObject: the abstract base of user-creatable objects                   */
/* ------------------------------------------------------------------------ */

/**
 * QOM_TYPE_OBJECT:
 *
 * The GType of QomObject.
 */
#define QOM_TYPE_OBJECT (qom_object_get_type())
/**
 * QomObject:
 *
 * The abstract base of user-creatable objects (contexts, drives, devices):
 * a construct-only "id" and a completion step that may fail (GInitable).
 */
G_DECLARE_DERIVABLE_TYPE(QomObject, qom_object, QOM, OBJECT, GObject)

/**
 * QomObjectClass:
 * @parent_class: the parent class
 * @complete: the completion step, run once after all properties are set
 *   (through GInitable).  Return FALSE with @errp set on failure; the object
 *   is then finalized and must leave nothing behind (no thread, no fd).
 *   Subclasses chain up first.
 * @unparent: called when the object is removed from its container, before
 *   the container drops its reference (stop threads here).  May be NULL.
 * @can_be_deleted: asked by qom_container_del() before anything else (on
 *   the deleting thread): return FALSE with @errp set to refuse, e.g. a
 *   context deleted from its own thread.  Not asked by
 *   qom_container_del_all().  May be NULL (always deletable).
 * @check_set: called by qom_object_set_property_str() (qom-set) before a
 *   live object's property @pspec takes @value: return FALSE with @errp set
 *   to refuse a value that is valid alone but not with the object's other
 *   properties (e.g. a minimum above the maximum).  May be NULL.
 *
 * The class of every user-creatable object: GObject's, plus the hooks of the
 * object layer's life cycle (completion, removal from a container, vetoes).
 */
struct _QomObjectClass {
    GObjectClass parent_class;
    gboolean (*complete)(QomObject *obj, GError **errp);
    void (*unparent)(QomObject *obj);
    gboolean (*can_be_deleted)(QomObject *obj, GError **errp);
    gboolean (*check_set)(QomObject *obj, GParamSpec *pspec, const GValue *value,
                          GError **errp);
    /*< private >*/
    gpointer padding[4];
};

/**
 * qom_object_get_id:
 *
 * The object's id (never NULL once created by the layer).
 */
const char *qom_object_get_id(QomObject *obj);

/**
 * qom_object_get_type_name:
 *
 * The command-line type name of @obj (e.g. "glib-qcontext"), or the GType name
 * if it was never registered.
 */
const char *qom_object_get_type_name(QomObject *obj);

/**
 * qom_object_is_completed:
 *
 * TRUE once the completion step succeeded.
 */
gboolean qom_object_is_completed(QomObject *obj);

/* ------------------------------------------------------------------------ */
/* Type registry: command-line name -> GType                                */
/* ------------------------------------------------------------------------ */

/**
 * qom_type_register:
 *
 * Make @type creatable under @name (e.g. "aio-qcontext").  @type must derive
 * from QomObject.  Registering an abstract type is allowed (so that `-object
 * help` can describe hierarchies) but creation refuses it.  Registering the
 * same name twice is a programming error.
 */
void qom_type_register(const char *name, GType type);

/**
 * qom_type_lookup:
 *
 * The GType registered under @name, or G_TYPE_INVALID.
 */
GType qom_type_lookup(const char *name);

/**
 * qom_type_name:
 * @type: a GType
 *
 * The command-line name registered for @type, or NULL.
 *
 * Returns: (nullable): the name, or %NULL
 */
const char *qom_type_name(GType type);

/**
 * qom_type_list:
 * @parent: the base type
 *
 * Names of the creatable (non-abstract) registered types that derive from
 * @parent, sorted.  Free with g_strfreev().
 *
 * Returns: (transfer full) (array zero-terminated=1): the names
 */
char **qom_type_list(GType parent);

/*
 * Each layer registers its own types (qom/ knows no type above it):
 * qcontext_register_types() in qcontext/, devices_register_types() in
 * devices/.  qcontextd calls them all at start.
 */

/* ------------------------------------------------------------------------ */
/* Containers: id -> object                                                 */
/* ------------------------------------------------------------------------ */

/**
 * QOM_CONTAINER_OBJECTS:
 *
 * The container of `-object`s (contexts, drives...), QOM's /objects.
 */
#define QOM_CONTAINER_OBJECTS "objects"
/**
 * QOM_CONTAINER_DEVICES:
 *
 * The container of `-device`s.
 */
#define QOM_CONTAINER_DEVICES "devices"

/**
 * qom_id_is_valid:
 *
 * TRUE if @id starts with a letter and contains only letters, digits, '-', '.'
 * and '_'.
 */
gboolean qom_id_is_valid(const char *id);

/**
 * qom_container_add:
 *
 * Add @obj (with its id) to @container, taking a new reference.  Fails with
 * QOM_ERROR_INVALID_ID or QOM_ERROR_DUPLICATE_ID.  Thread-safe.
 */
gboolean qom_container_add(const char *container, QomObject *obj, GError **errp);

/**
 * qom_container_find:
 * @container: %QOM_CONTAINER_OBJECTS or %QOM_CONTAINER_DEVICES
 * @id: the id
 *
 * The object with @id in @container, or NULL.  Returns a new reference; release
 * it with g_object_unref().  Thread-safe.
 *
 * Returns: (transfer full) (nullable): the object
 */
QomObject *qom_container_find(const char *container, const char *id);

/**
 * qom_find_by_id:
 * @id: the id
 *
 * The object a bare id names: looked up in "objects", then in "devices" (the
 * order links and monitor paths use).  A new reference, or NULL.  Thread-safe.
 *
 * Returns: (transfer full) (nullable): the object
 */
QomObject *qom_find_by_id(const char *id);

/**
 * qom_container_list:
 * @container: %QOM_CONTAINER_OBJECTS or %QOM_CONTAINER_DEVICES
 *
 * The objects of @container in creation order, each with a new reference.  Free
 * with g_list_free_full(list, g_object_unref).
 *
 * Returns: (transfer full) (element-type QomObject): the objects
 */
GList *qom_container_list(const char *container);

/**
 * qom_container_del:
 *
 * Remove @id from @container: runs the class's unparent hook then drops the
 * container's reference.  Fails with QOM_ERROR_NOT_FOUND, with the error of the
 * class's can_be_deleted hook, or QOM_ERROR_IN_USE when a "can-delete" check
 * registered with qom_container_set_del_check() refuses.
 */
gboolean qom_container_del(const char *container, const char *id, GError **errp);

/**
 * QomDelCheck: (skip)
 *
 * Return FALSE with @errp set if @obj must not be deleted (e.g. a context still
 * used by a device).
 */
typedef gboolean (*QomDelCheck)(QomObject *obj, GError **errp);

/**
 * qom_container_set_del_check: (skip)
 *
 * Install the deletion veto (one, global).
 */
void qom_container_set_del_check(QomDelCheck check);

/**
 * qom_container_del_all:
 *
 * Remove every object of @container, newest first (used at shutdown).
 */
void qom_container_del_all(const char *container);

/* ------------------------------------------------------------------------ */
/* Option parsing: "TYPE,id=ID,key=value,..."                               */
/* ------------------------------------------------------------------------ */

/**
 * QomOpt:
 * @key: the key
 * @value: the value; "on" when the key had no '=' (QEMU's implied-on form)
 *
 * One key=value pair of an option string.
 */
typedef struct {
    char *key;
    char *value;
} QomOpt;

/**
 * qom_opts_parse: (skip)
 *
 * Split @optarg in QEMU option syntax ("a,b=1,c=x,,y": ",," escapes a comma).
 * If @implied_key is non-NULL, a first element without '=' is taken as the
 * value of that key (e.g. "type").  Returns an array of QomOpt (free with
 * qom_opts_free()), or NULL with @errp set.
 */
GArray *qom_opts_parse(const char *optarg, const char *implied_key, GError **errp);

/**
 * qom_opts_free: (skip)
 *
 * Free an array from qom_opts_parse().
 */
void qom_opts_free(GArray *opts);

/**
 * qom_opts_get: (skip)
 *
 * The value of @key in @opts, or NULL.
 */
const char *qom_opts_get(GArray *opts, const char *key);

/**
 * qom_param_spec_mark_size:
 *
 * Mark an integer property as a size, so that its string form accepts k/M/G/T
 * suffixes (powers of 1024).
 */
void qom_param_spec_mark_size(GParamSpec *pspec);

/**
 * qom_param_spec_mark_map:
 * @pspec: a string property
 *
 * Mark a string property P as a map of named values: each option
 * "P.KEY=VALUE" (any number of them, e.g.
 * unix.db=/run/db.sock,unix.log=/run/log.sock) adds the line "KEY=VALUE" to
 * P's value, in the order given, lines joined with '\n'.  KEY is non-empty
 * without '=' or '.', VALUE has no newline.  P itself may be set in that
 * form too.  Parse the value with qom_map_parse().
 */
void qom_param_spec_mark_map(GParamSpec *pspec);

/**
 * qom_map_property_find:
 * @klass: the object class
 * @key: an option key
 * @subkey: (out) (transfer none): KEY, inside @key
 *
 * For an option key "P.KEY": the map property P of @klass (see
 * qom_param_spec_mark_map()), with *@subkey pointing at KEY inside @key.
 *
 * Returns: (transfer none) (nullable): the property, or NULL if @key has no
 *   such form
 */
GParamSpec *qom_map_property_find(GObjectClass *klass, const char *key,
                                  const char **subkey);

/**
 * qom_map_parse:
 * @value: (nullable): the value of a map property
 * @errp: return location for a #GError
 *
 * The value of a map property as a table KEY -> VALUE (strings, owned by the
 * table).  NULL or "" gives an empty table.
 *
 * Returns: (transfer full) (nullable): the table (free with
 *   g_hash_table_unref()), or NULL with @errp set if a line is not KEY=VALUE
 *   or a KEY repeats
 */
GHashTable *qom_map_parse(const char *value, GError **errp);

/**
 * qom_property_parse:
 * @type_name: the command-line name of the type, for messages
 * @pspec: the property
 * @str: the text
 * @value: (out caller-allocates): the value, unset on entry
 * @errp: return location for a #GError
 *
 * Convert @str to a GValue for @pspec of @type_name's objects.  Handles
 * booleans (on/off/yes/no/true/false), integers of all widths with range
 * checks, sizes, doubles, enums by nick, strings, and object links (an id,
 * looked up in the "objects" container, or "devices" for device links,
 * type-checked).  @value must be unset on entry.  Errors read e.g.
 * "aio-qcontext: property 'poll-max-ns' expects an integer in [0, 2^63-1], got
 * 'fast'".
 */
gboolean qom_property_parse(const char *type_name, GParamSpec *pspec, const char *str,
                            GValue *value, GError **errp);

/**
 * qom_property_to_string:
 * @obj: the object
 * @name: the property
 * @errp: return location for a #GError
 *
 * Format the current value of @obj's @name the way qom_property_parse() accepts
 * it (links as the target's id).  Free with g_free().  NULL with @errp set if
 * there is no such property.
 *
 * Returns: (transfer full): the text
 */
char *qom_property_to_string(QomObject *obj, const char *name, GError **errp);

/**
 * qom_object_set_property_str:
 *
 * Parse @str and set property @name of a live object (used by qom-set).
 * Refuses construct-only properties.
 */
gboolean qom_object_set_property_str(QomObject *obj, const char *name, const char *str,
                                     GError **errp);

/**
 * qom_object_new_from_opts: (skip)
 *
 * Create an object from parsed options: @type_name with its properties in @opts
 * (which must contain "id"), run the completion step and add it to @container.
 * On failure nothing is registered and the object is gone.  @base restricts the
 * type (e.g. only devices for -device).  Returns a borrowed pointer (the
 * container owns it).
 */
QomObject *qom_object_new_from_opts(const char *container, GType base,
                                    const char *type_name, GArray *opts, GError **errp);

/**
 * qom_object_new_from_string:
 * @container: %QOM_CONTAINER_OBJECTS or %QOM_CONTAINER_DEVICES
 * @base: the type it must derive from (%QOM_TYPE_OBJECT: any)
 * @optarg: "TYPE,id=ID,key=value,..."
 * @errp: return location for a #GError
 *
 * Parse "TYPE,id=ID,key=value,..." and create as qom_object_new_from_opts().
 * "help" and "TYPE,help" are not handled here (see qom_help_string()).
 *
 * Returns: (transfer none): the object, owned by @container
 */
QomObject *qom_object_new_from_string(const char *container, GType base,
                                      const char *optarg, GError **errp);

/**
 * qom_help_string:
 * @base: the type every listed type derives from
 * @what: "object" or "device", for messages
 * @optarg: the option's argument
 * @is_help: (out): whether @optarg asks for help
 * @errp: return location for a #GError
 *
 * If @optarg asks for help ("help", "?", "TYPE,help"), return the text to print
 * (the list of types deriving from @base, or the properties of TYPE with their
 * types, defaults and descriptions) and set *@is_help.  Otherwise return NULL
 * with *@is_help FALSE.  Unknown TYPE: NULL with @errp set and *@is_help TRUE.
 *
 * Returns: (transfer full) (nullable): the help text
 */
char *qom_help_string(GType base, const char *what, const char *optarg,
                      gboolean *is_help, GError **errp);

G_END_DECLS

#endif /* QOM_OBJECT_H */
