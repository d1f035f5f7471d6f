/*
 * tests/vsock/vsock-test-fix.h - the fixture shared by the vsock tests: an
 * AioContext on the test thread, a muxer listening in a private temporary
 * directory, and a fake guest.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TESTS_VSOCK_TEST_FIX_H
#define TESTS_VSOCK_TEST_FIX_H

#include <glib/gstdio.h>
#include <unistd.h>

#include "vsock-test-guest.h"

typedef struct Fix {
    AioContext *ctx;
    VsockMux *mux;
    TestGuest *g;
    char *dir;
    char *uds;
} Fix;

static inline void fix_init_cfg(Fix *f, VsockMuxConfig *cfg)
{
    g_autoptr(GError) err = NULL;

    f->ctx = aio_context_new(&err);
    g_assert_no_error(err);
    f->dir = g_dir_make_tmp("qc-vsock-XXXXXX", &err);
    g_assert_no_error(err);
    f->uds = g_build_filename(f->dir, "v.sock", NULL);
    cfg->guest_cid = TG_CID;
    cfg->uds_path = f->uds;
    f->mux = vsock_mux_new(f->ctx, cfg, &err);
    g_assert_no_error(err);
    f->g = tg_new(f->ctx, f->mux);
}

static inline void fix_init(Fix *f)
{
    VsockMuxConfig cfg = {.timeout_ms = 300};

    fix_init_cfg(f, &cfg);
}

/* "<uds>_<port>" (caller frees). */
static inline char *fix_port_path(Fix *f, uint32_t port)
{
    return g_strdup_printf("%s_%u", f->uds, port);
}

static inline void fix_cleanup(Fix *f)
{
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    const char *name;

    tg_free(f->g);
    vsock_mux_free(f->mux);
    /* Let deferred frees (BHs, handlers) run before the context goes. */
    while (aio_poll(f->ctx, false)) {
    }
    aio_context_unref(f->ctx);
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(f->dir);
    g_free(f->uds);
    g_free(f->dir);
}

static inline bool cond_state(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

static inline VsockMuxStats fix_stats(Fix *f)
{
    VsockMuxStats s;

    vsock_mux_get_stats(f->mux, &s);
    return s;
}

#endif /* TESTS_VSOCK_TEST_FIX_H */
