/*
 * qcontext/tsan-glib.c - built only under ThreadSanitizer (-Db_sanitize=thread):
 * run every program with GLib's slice allocator off.
 *
 * GLib before 2.76 hands g_slice chunks (GByteArray, GList nodes, hash
 * tables...) from one thread's magazine to another's through a depot locked
 * with a futex-based GMutex, which TSan does not see; so a chunk one thread
 * freed and another reused looks like a data race (test-fe-vsock reported
 * its fake back-end's GByteArray against the front-end's, every run, when
 * started by hand).  G_SLICE=always-malloc makes g_slice plain malloc, which
 * TSan follows.  It must be set before GLib's first allocation, which
 * happens before main(): so, if it is not set, set it and exec the program
 * again (the environment then reaches its children too).  meson test sets
 * it already (tests/meson.build); GLib 2.76 and later need none of this.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

/* glibc passes an ELF constructor the program's argc, argv and envp. */
static void __attribute__((constructor))
tsan_glib_slice_off(int argc, char **argv, char **envp)
{
    const char *slice = getenv("G_SLICE");
    char *value;

    (void)argc;
    (void)envp;
    if (!glib_check_version(2, 76, 0) || (slice && strstr(slice, "always-malloc"))) {
        return;
    }
    /* Keep any other G_SLICE option. */
    value = slice && *slice ? g_strconcat("always-malloc,", slice, NULL)
                            : g_strdup("always-malloc");
    if (setenv("G_SLICE", value, 1) == 0) {
        execv("/proc/self/exe", argv);
    }
    g_free(value);
    /* No exec: go on (TSan may then report GLib's slice recycling). */
}
