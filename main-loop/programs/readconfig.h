/*
 * main-loop/programs/readconfig.h - qcontextd's -readconfig files.
 *
 * A file may mix two forms:
 *
 *   # our own: one command-line option per line
 *   -object aio-qcontext,id=io0,threaded=yes
 *   -readconfig more.cfg
 *
 *   # QEMU's -readconfig format: sections of quoted key = "value" lines
 *   [object]
 *     qom-type = "aio-qcontext"
 *     id = "io1"
 *     poll-max-ns = "0"
 *   [device "tick0"]
 *     driver = "ticker"
 *     context = "io1"
 *
 * A QEMU section becomes the option of the same name: [object] gives
 * "-object TYPE,id=ID,KEY=VALUE..." with TYPE from qom-type, [device]
 * gives "-device DRIVER,...", [drive] "-drive ...", [name] "-name ...";
 * the section's quoted id, if any, is the id.  Other sections are refused
 * with a message naming the ones understood.  "-readconfig FILE" lines
 * include FILE (relative to the working directory, as QEMU); a file that
 * includes itself, directly or not, is an error that names the chain.
 * Every error is one line "FILE:LINE: what", located where it happened.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXTD_READCONFIG_H
#define QCONTEXTD_READCONFIG_H

#include <glib.h>

/** The largest file read (bytes). */
#define READCONFIG_MAX_SIZE (1024 * 1024)

/** The deepest chain of -readconfig includes. */
#define READCONFIG_MAX_DEPTH 8

/**
 * ReadconfigFunc: one option of the file: @option as written ("-object",
 * "--object=ARG" with its argument inline, or a QEMU section's name with a
 * leading '-'), @arg its argument (NULL if the line has none), @where
 * "FILE:LINE: " for messages.  Return FALSE with @errp set to refuse it;
 * readconfig prefixes @where.
 */
typedef gboolean (*ReadconfigFunc)(const char *option, const char *arg,
                                   const char *where, void *opaque, GError **errp);

/**
 * readconfig_file: read @path and hand each option to @fn in file order
 * (includes expand in place).  FALSE with @errp set (one line) on the first
 * error.
 */
gboolean readconfig_file(const char *path, ReadconfigFunc fn, void *opaque,
                         GError **errp);

#endif /* QCONTEXTD_READCONFIG_H */
