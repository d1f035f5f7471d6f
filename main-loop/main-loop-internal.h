/*
 * main-loop/main-loop-internal.h - shared inside main-loop/ (daemon part).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAIN_LOOP_INTERNAL_H
#define MAIN_LOOP_INTERNAL_H

#include <glib.h>

/* Print "PRGNAME: message" on stderr. */
void main_loop_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/*
 * Delete every live device without waiting for requests (they fail), and
 * run the main context until all are gone or @timeout_ms passed.
 */
void main_loop_delete_devices(gint64 timeout_ms);

#endif /* MAIN_LOOP_INTERNAL_H */
