/*
 * frontend/fe-error.h - the error domain of the vhost-user front-end library.
 *
 * The front-end (frontend/) plays the VMM: it connects to a vhost-user
 * back-end, shares guest memory and drives virtqueues as a guest driver
 * would.  It is a static helper library for qcontext-bench and the tests,
 * not part of libqcontext's public API.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_ERROR_H
#define FRONTEND_FE_ERROR_H

#include <glib.h>

G_BEGIN_DECLS

/** FE_ERROR: the GError domain of every frontend/ function. */
#define FE_ERROR (fe_error_quark())

/** Error codes in FE_ERROR. */
typedef enum FeErrorCode {
    FE_ERROR_FAILED,       /**< a system call failed (the message says which) */
    FE_ERROR_TIMEOUT,      /**< the back-end did not answer in time */
    FE_ERROR_DISCONNECTED, /**< the back-end closed the connection (or died) */
    FE_ERROR_PROTOCOL,     /**< the back-end sent a malformed or unexpected reply */
    FE_ERROR_REFUSED,      /**< the back-end answered a REPLY_ACK with failure */
    FE_ERROR_UNSUPPORTED,  /**< the back-end lacks a feature the request needs */
    FE_ERROR_INVALID,      /**< the caller's arguments are out of range */
    FE_ERROR_NOSPACE,      /**< no free descriptors or guest memory */
    FE_ERROR_IO,           /**< the device completed a request with an error status */
} FeErrorCode;

/** fe_error_quark: the quark of FE_ERROR. */
GQuark fe_error_quark(void);

G_END_DECLS

#endif /* FRONTEND_FE_ERROR_H */
