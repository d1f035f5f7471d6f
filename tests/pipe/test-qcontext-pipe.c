/*
 * tests/pipe/test-qcontext-pipe.c - the guest program qcontext-pipe, end to
 * end without a VM: it runs with --unix and the test bridges that socket to
 * a fake-guest vsock connection into the muxer, whose pipe device serves it.
 * So: qcontext-pipe -> unix socket -> (test: guest vsock driver) -> muxer ->
 * pipe -> service, and back.  Checks data, exit codes and messages.
 *
 * Usage: test-qcontext-pipe PATH-OF-qcontext-pipe
 *
 * SPDX-License-Identifier: MIT
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "qcontext/devices/pipe/pipe.h"
#include "../vsock/vsock-test-fix.h"

#define PORT 5555
#define WAIT_MS 20000

static const char *program;

typedef struct Bridge {
    Fix f;
    PipeHost *ph;
    char *sock_path;
    int lfd;
    int fd;    /* the program's connection */
    TgConn *c; /* its vsock connection */
    GByteArray *to_guest_pending;
    size_t rx_off; /* bytes of c->rx already written to fd */
    bool fd_eof, shut_sent;
    GPid pid;
    int status;
    bool exited;
} Bridge;

static void bridge_init(Bridge *b, bool open_reply)
{
    PipeHostConfig cfg = {.port = PORT, .open_reply = open_reply};

    memset(b, 0, sizeof(*b));
    fix_init(&b->f);
    b->ph = pipe_host_new(b->f.mux, b->f.ctx, &cfg, NULL);
    g_assert_nonnull(b->ph);
    b->sock_path = g_build_filename(b->f.dir, "guest-vsock", NULL);
    b->lfd = th_listen(b->sock_path, SOCK_STREAM);
    b->fd = -1;
    b->to_guest_pending = g_byte_array_new();
}

static void bridge_cleanup(Bridge *b)
{
    if (b->fd >= 0) {
        close(b->fd);
    }
    close(b->lfd);
    g_byte_array_unref(b->to_guest_pending);
    g_free(b->sock_path);
    pipe_host_free(b->ph);
    tg_idle(b->f.g, 5);
    fix_cleanup(&b->f);
}

/* Start the program with stdin from @in_path and stdout/stderr to files. */
static void bridge_spawn(Bridge *b, const char *const *args, const char *in_path,
                         const char *out_path, const char *err_path)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    int in = open(in_path, O_RDONLY | O_CLOEXEC);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int errf = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_ptr_array_add(argv, (char *)program);
    g_ptr_array_add(argv, "--unix");
    g_ptr_array_add(argv, b->sock_path);
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv->pdata, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &b->pid,
                                         in, out, errf, &err));
    g_assert_no_error(err);
    close(in);
    close(out);
    close(errf);
}

static bool cond_open(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

/* One round of the bridge; true once the program exited. */
static bool bridge_step(TestGuest *g, void *opaque)
{
    Bridge *b = opaque;
    uint8_t buf[65536];

    if (b->fd < 0) {
        b->fd = th_accept(b->lfd, 0);
        if (b->fd >= 0) {
            b->c = tg_connect(g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
            g_assert_true(tg_wait(g, cond_open, b->c, WAIT_MS));
        }
    }
    if (b->fd >= 0 && b->c) {
        /* program -> guest connection (within credit) */
        if (!b->fd_eof && b->to_guest_pending->len == 0) {
            ssize_t n = recv(b->fd, buf, sizeof(buf), MSG_DONTWAIT);

            if (n > 0) {
                g_byte_array_append(b->to_guest_pending, buf, n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                b->fd_eof = true;
            }
        }
        if (b->to_guest_pending->len && b->c->state == TG_OPEN) {
            size_t n =
                tg_send(g, b->c, b->to_guest_pending->data, b->to_guest_pending->len);

            g_byte_array_remove_range(b->to_guest_pending, 0, n);
        }
        if (b->fd_eof && !b->to_guest_pending->len && !b->shut_sent &&
            b->c->state == TG_OPEN) {
            b->shut_sent = true;
            tg_shutdown(g, b->c, VIRTIO_VSOCK_SHUTDOWN_SEND);
        }
        /* guest connection -> program */
        while (b->rx_off < b->c->rx->len) {
            ssize_t n = send(b->fd, b->c->rx->data + b->rx_off,
                             b->c->rx->len - b->rx_off, MSG_DONTWAIT | MSG_NOSIGNAL);

            if (n <= 0) {
                break;
            }
            b->rx_off += n;
        }
        if (b->rx_off == b->c->rx->len) {
            if (b->c->state == TG_RESET || b->c->state == TG_CLOSED) {
                close(b->fd); /* the pipe was reset: so is the program's socket */
                b->fd = -2;
            } else if (b->c->peer_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
                shutdown(b->fd, SHUT_WR);
            }
        }
    }
    if (!b->exited && waitpid(b->pid, &b->status, WNOHANG) == b->pid) {
        b->exited = true;
    }
    return b->exited;
}

static char *tmp_file(Bridge *b, const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(b->f.dir, name, NULL);

    g_assert_true(g_file_set_contents(path, data, len, NULL));
    return path;
}

/* Run the program with @args and @input; returns its exit code. */
static int run(Bridge *b, const char *const *args, const void *input, size_t len,
               GBytes **out, char **errtext)
{
    g_autofree char *in = tmp_file(b, "in", input, len);
    g_autofree char *outp = g_build_filename(b->f.dir, "out", NULL);
    g_autofree char *errp = g_build_filename(b->f.dir, "err", NULL);
    gchar *data;
    gsize n;

    bridge_spawn(b, args, in, outp, errp);
    g_assert_true(tg_wait(b->f.g, bridge_step, b, WAIT_MS));
    g_assert_true(g_file_get_contents(outp, &data, &n, NULL));
    *out = g_bytes_new_take(data, n);
    g_assert_true(g_file_get_contents(errp, errtext, NULL, NULL));
    g_assert_true(WIFEXITED(b->status));
    return WEXITSTATUS(b->status);
}

static void test_echo(void)
{
    static const char *const args[] = {"echo", NULL};
    Bridge b;
    size_t len = 1 << 20;
    g_autofree uint8_t *data = g_malloc(len);
    g_autoptr(GBytes) out = NULL;
    g_autofree char *err = NULL;

    bridge_init(&b, true);
    tg_fill_pattern(data, len, 5, 0);
    g_assert_cmpint(run(&b, args, data, len, &out, &err), ==, 0);
    g_assert_cmpstr(err, ==, "");
    g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), data, len);
    bridge_cleanup(&b);
}

static void test_unknown(void)
{
    static const char *const args[] = {"no-such-service", NULL};
    Bridge b;
    g_autoptr(GBytes) out = NULL;
    g_autofree char *err = NULL;

    bridge_init(&b, true);
    g_assert_cmpint(run(&b, args, "x", 1, &out, &err), ==, 2);
    g_assert_cmpstr(err, ==, "qcontext-pipe: unknown service 'no-such-service'\n");
    g_assert_cmpuint(g_bytes_get_size(out), ==, 0);
    bridge_cleanup(&b);
}

static void test_refused(void)
{
    static const char *const args[] = {"unix:not-listed", NULL};
    Bridge b;
    g_autoptr(GBytes) out = NULL;
    g_autofree char *err = NULL;

    bridge_init(&b, true);
    g_assert_cmpint(run(&b, args, "", 0, &out, &err), ==, 3);
    g_assert_cmpstr(err, ==,
                    "qcontext-pipe: service 'unix:not-listed' refused the pipe\n");
    bridge_cleanup(&b);
}

static void test_no_open_reply(void)
{
    static const char *const args[] = {"--no-open-reply", "qemud:echo", NULL};
    static const char *const bad[] = {"--no-open-reply", "nothing", NULL};
    Bridge b;
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) out2 = NULL;
    g_autofree char *err = NULL;
    g_autofree char *err2 = NULL;

    bridge_init(&b, false);
    g_assert_cmpint(run(&b, args, "0003abc0000", 11, &out, &err), ==, 0);
    g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), "0003abc0000",
                    11);
    close(b.fd);
    b.fd = -1;
    b.c = NULL;
    b.exited = b.fd_eof = b.shut_sent = false;
    b.rx_off = 0;
    /*
     * A failed open is an RST.  A Linux guest reads end-of-file after an RST
     * (and its writes fail), as after a close, and so does the program here
     * (the bridge closes its socket): the pipe ends at once, with nothing.
     */
    g_assert_cmpint(run(&b, bad, "", 0, &out2, &err2), ==, 0);
    g_assert_cmpstr(err2, ==, "");
    g_assert_cmpuint(g_bytes_get_size(out2), ==, 0);
    g_assert_cmpint(b.c->state, ==, TG_RESET);
    bridge_cleanup(&b);
}

static void test_usage(void)
{
    static const char *const bad_args[][3] = {
        {NULL}, {"a", "b", NULL}, {"--port", "x", NULL}};
    g_autofree char *long_name = g_strnfill(300, 'n');

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_args); i++) {
        g_autoptr(GPtrArray) argv = g_ptr_array_new();
        int status;

        g_ptr_array_add(argv, (char *)program);
        for (const char *const *a = bad_args[i]; *a; a++) {
            g_ptr_array_add(argv, (char *)*a);
        }
        g_ptr_array_add(argv, NULL);
        g_assert_true(
            g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                         G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                         NULL, NULL, NULL, &status, NULL));
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 64);
    }
    {
        const char *argv[] = {program, long_name, NULL};
        int status;

        g_assert_true(
            g_spawn_sync(NULL, (char **)argv, NULL,
                         G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                         NULL, NULL, NULL, &status, NULL));
        g_assert_cmpint(WEXITSTATUS(status), ==, 64);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (argc < 2) {
        g_printerr("usage: %s PATH-OF-qcontext-pipe\n", argv[0]);
        return 1;
    }
    program = argv[1];
    signal(SIGPIPE, SIG_IGN);
    g_test_add_func("/qcontext-pipe/echo", test_echo);
    g_test_add_func("/qcontext-pipe/unknown", test_unknown);
    g_test_add_func("/qcontext-pipe/refused", test_refused);
    g_test_add_func("/qcontext-pipe/no-open-reply", test_no_open_reply);
    g_test_add_func("/qcontext-pipe/usage", test_usage);
    return g_test_run();
}
