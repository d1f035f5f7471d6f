/*
 * qom/qom-internal.h - helpers shared by the files of the object layer.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QOM_INTERNAL_H
#define QOM_INTERNAL_H

#include "qcontext/qom/object.h"

G_BEGIN_DECLS

/*
 * Id reservation, so that creation checks the id before doing any work and
 * no other creation can take the same id meanwhile.  A reserved id is a
 * duplicate for everyone else but invisible to find and list.
 */
gboolean qom_container_reserve(const char *container, const char *id, GError **errp);
/* Put @obj (taking a reference) in the slot reserved for its id. */
void qom_container_commit(const char *container, QomObject *obj);
/* Give up a reservation. */
void qom_container_cancel(const char *container, const char *id);

/* GCompareFunc for an array of strings (elements are char *). */
gint qom_compare_strings(gconstpointer a, gconstpointer b);

/*
 * Make the message of *@errp (if set) one printable UTF-8 line: messages
 * quote user input, which may hold bytes that are not UTF-8 or control
 * characters (a newline); those are shown as \xNN.  Public entry points
 * that parse user input call it on failure.
 */
void qom_error_make_printable(GError **errp);

/* TRUE if @pspec was marked with qom_param_spec_mark_size(). */
gboolean qom_param_spec_is_size(GParamSpec *pspec);
/* TRUE if @pspec was marked with qom_param_spec_mark_map(). */
gboolean qom_param_spec_is_map(GParamSpec *pspec);

/*
 * Format @value (of @pspec's type) the way qom_property_parse() reads it.
 * Returns NULL for values that have no string form (NULL string or link).
 */
char *qom_value_to_string(GParamSpec *pspec, const GValue *value);

/* The type of @pspec as help shows it: "bool", "int64", "enum: a|b", ... */
char *qom_param_spec_type_string(GParamSpec *pspec);

/* The sorted nicks of @enum_class joined by @sep. */
char *qom_enum_nicks(GEnumClass *enum_class, const char *sep);

/* The command-line name of @type, or its GType name. */
const char *qom_type_display_name(GType type);

G_END_DECLS

#endif /* QOM_INTERNAL_H */
