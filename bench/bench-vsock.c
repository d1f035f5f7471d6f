/*
 * bench/bench-vsock.c - command line and report of `qcontext-bench vsock`:
 *
 *   qcontext-bench vsock [--qcontextd PATH | --socket PATH --uds PATH]
 *       [--msg-size 64k] [--bytes 256M] [--rtt-size 64] [--rtt-count 20000]
 *       [--rounds 5] [--cpus GUEST,HOST[,DEVICE]] [--json] [--quick]
 *
 * With --qcontextd (or $QCONTEXTD) it starts the daemon with one threaded
 * aio-qcontext (pinned to DEVICE with cpu-affinity) and
 * -device vhost-user-vsock on it, in a temporary directory, and stops it at
 * the end; with --socket/--uds it uses a running device.  Each round runs,
 * in this order: vsock guest->host, the floor, vsock host->guest, the
 * floor's round trips, vsock round trips, the eventfd wakeup.  The report
 * gives medians of the rounds' rates and percentiles of all round trips,
 * the ratios and the targets: >= 50% of the floor's throughput at
 * 64 KiB messages; round-trip p50 <= 2 x the floor's + one wakeup (half an
 * eventfd ping-pong).
 *
 * Exit status: 0 when every measurement ran, 1 if one failed, 2 on bad
 * usage or when the device cannot be set up.  Targets missed do not change
 * it (this is a measurement, not a test).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bench.h"
#include "bench-vsock.h"

#define VB_GUEST_CID 3

static gboolean vb_cpus(VbOptions *o, const char *text, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    int *slot[] = {&o->cpu_guest, &o->cpu_host, &o->cpu_device};
    guint n = g_strv_length(parts);

    if (n < 2 || n > 3) {
        return bench_bad(errp, "--cpus wants GUEST,HOST[,DEVICE], not \"%s\"", text);
    }
    for (guint i = 0; i < n; i++) {
        gint64 c;

        /* The device's may be -1: not pinned. */
        if (!g_ascii_string_to_signed(parts[i], 10, i == 2 ? -1 : 0, CPU_SETSIZE - 1,
                                      &c, NULL)) {
            return bench_bad(errp, "--cpus: \"%s\" is not a CPU number", parts[i]);
        }
        *slot[i] = (int)c;
    }
    if (n == 2) {
        /* Three threads and, often, two CPUs: the device shares the host
         * side's, as on a real host (unpinned, the scheduler moving it
         * between two busy CPUs cost 10-20% of the throughput). */
        o->cpu_device = o->cpu_host;
    }
    return TRUE;
}

static gboolean vb_parse(int argc, char **argv, VbOptions *o, GError **errp)
{
    g_autofree char *msg = NULL, *bytes = NULL, *cpus = NULL, *buf_alloc = NULL;
    gint rtt_size = 64, rtt_count = 0, rounds = 0;
    GOptionEntry entries[] = {
        {"qcontextd", 0, 0, G_OPTION_ARG_FILENAME, &o->qcontextd,
         "Start this qcontextd (default: $QCONTEXTD)", "PATH"},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &o->socket,
         "Use a running device's vhost-user socket", "PATH"},
        {"uds", 0, 0, G_OPTION_ARG_FILENAME, &o->uds, "... and its uds-path", "PATH"},
        {"msg-size", 0, 0, G_OPTION_ARG_STRING, &msg,
         "Throughput: bytes per send (64k)", "SIZE"},
        {"bytes", 0, 0, G_OPTION_ARG_STRING, &bytes,
         "Throughput: bytes per round and direction (256M)", "SIZE"},
        {"rtt-size", 0, 0, G_OPTION_ARG_INT, &rtt_size,
         "Round trip: message bytes (64)", "N"},
        {"rtt-count", 0, 0, G_OPTION_ARG_INT, &rtt_count,
         "Round trips per round (20000)", "N"},
        {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Rounds (5)", "N"},
        {"buf-alloc", 0, 0, G_OPTION_ARG_STRING, &buf_alloc,
         "Receive buffer per connection, guest and device (256k, as Linux)", "SIZE"},
        {"cpus", 0, 0, G_OPTION_ARG_STRING, &cpus,
         "Pin the guest side, the host side and the device's context (0,1,1; "
         "without D the device shares H's CPU; D=-1: not pinned)",
         "G,H[,D]"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &o->json, "Print JSON", NULL},
        {"quick", 0, 0, G_OPTION_ARG_NONE, &o->quick,
         "A short run that checks everything works (no meaningful figures)", NULL},
        {NULL},
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("- vhost-user-vsock benchmark");
    uint64_t v;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, errp)) {
        return FALSE;
    }
    o->cpu_guest = 0;
    o->cpu_host = 1;
    o->cpu_device = 1; /* beside the host side (vb_cpus()) */
    if (cpus && !vb_cpus(o, cpus, errp)) {
        return FALSE;
    }
    if (!o->qcontextd && !o->socket && g_getenv("QCONTEXTD")) {
        o->qcontextd = g_strdup(g_getenv("QCONTEXTD"));
    }
    if (!o->qcontextd == !o->socket || !o->socket != !o->uds) {
        return bench_bad(errp, "give --qcontextd PATH (or $QCONTEXTD), or --socket and "
                               "--uds of a running vhost-user-vsock device");
    }
    o->msg_size = 64 * 1024;
    if (msg && (!bench_parse_size(msg, &v) || v == 0 || v > 1024 * 1024)) {
        return bench_bad(errp, "--msg-size: up to 1M (e.g. 64k), not \"%s\"", msg);
    }
    o->msg_size = msg ? (unsigned)v : o->msg_size;
    o->bytes = o->quick ? 8 << 20 : 256 << 20;
    if (bytes && (!bench_parse_size(bytes, &o->bytes) || o->bytes == 0)) {
        return bench_bad(errp, "--bytes: a size (e.g. 256M), not \"%s\"", bytes);
    }
    o->buf_alloc = 256 * 1024;
    if (buf_alloc && (!bench_parse_size(buf_alloc, &o->buf_alloc) ||
                      o->buf_alloc < 4096 || o->buf_alloc > (64u << 20))) {
        return bench_bad(errp, "--buf-alloc: 4k to 64M, not \"%s\"", buf_alloc);
    }
    if (rtt_size < 1 || rtt_size > 4096) {
        return bench_bad(errp, "--rtt-size must be in 1..4096");
    }
    o->rtt_size = (unsigned)rtt_size;
    o->rtt_count = rtt_count > 0 ? (unsigned)rtt_count : o->quick ? 500 : 20000;
    o->rounds = rounds > 0 ? (unsigned)rounds : o->quick ? 1 : 5;
    return TRUE;
}

/* ---- the device -------------------------------------------------------------- */

static gboolean vb_start_daemon(Vb *b, GError **errp)
{
    g_autofree char *obj = NULL, *dev = NULL, *log_path = NULL;
    const char *argv[8];
    int i = 0, log_fd;

    b->dir = g_dir_make_tmp("qcontext-bench-vsock-XXXXXX", errp);
    if (!b->dir) {
        return FALSE;
    }
    b->socket = g_build_filename(b->dir, "vsock.sock", NULL);
    b->uds = g_build_filename(b->dir, "vm.vsock", NULL);
    obj = b->opt.cpu_device >= 0
              ? g_strdup_printf("aio-qcontext,id=vs0,threaded=yes,cpu-affinity=%d",
                                b->opt.cpu_device)
              : g_strdup("aio-qcontext,id=vs0,threaded=yes");
    dev = g_strdup_printf("vhost-user-vsock,id=vsock0,socket=%s,guest-cid=%d,"
                          "uds-path=%s,context=vs0,buf-alloc=%" G_GUINT64_FORMAT,
                          b->socket, VB_GUEST_CID, b->uds, b->opt.buf_alloc);
    argv[i++] = b->opt.qcontextd;
    argv[i++] = "-object";
    argv[i++] = obj;
    argv[i++] = "-device";
    argv[i++] = dev;
    argv[i] = NULL;
    log_path = g_build_filename(b->dir, "qcontextd.log", NULL);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0 ||
        !g_spawn_async_with_pipes_and_fds(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                          NULL, NULL, -1, log_fd, log_fd, NULL, NULL, 0,
                                          &b->daemon, NULL, NULL, NULL, errp)) {
        if (log_fd >= 0) {
            close(log_fd);
        }
        return FALSE;
    }
    close(log_fd);
    for (int t = 0; t < 500; t++) {
        if (g_file_test(b->socket, G_FILE_TEST_EXISTS) &&
            g_file_test(b->uds, G_FILE_TEST_EXISTS)) {
            return TRUE;
        }
        if (waitpid(b->daemon, NULL, WNOHANG) == b->daemon) {
            b->daemon = 0;
            return bench_bad(errp, "%s exited at start", b->opt.qcontextd);
        }
        g_usleep(10000);
    }
    return bench_bad(errp, "%s did not create %s", b->opt.qcontextd, b->socket);
}

static void vb_stop_daemon(Vb *b)
{
    if (b->daemon > 0) {
        kill(b->daemon, SIGTERM);
        waitpid(b->daemon, NULL, 0);
        g_spawn_close_pid(b->daemon);
    }
    if (b->dir) {
        g_autoptr(GDir) d = g_dir_open(b->dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(b->dir, name, NULL);
            g_unlink(p);
        }
        g_rmdir(b->dir);
    }
}

static gboolean vb_open(Vb *b, GError **errp)
{
    FeVsockOptions o = {
        .socket_path = b->socket,
        .timeout_ms = 30000,
        .queue_size = 256,
        .rx_buf_size = 64 * 1024, /* host -> guest packets as large as tx ones */
        .tx_slots = 64,
        .buf_alloc = (uint32_t)b->opt.buf_alloc,
    };

    b->v = fe_vsock_open(&o, errp);
    return b->v != NULL;
}

/* ---- the run and its report -------------------------------------------------- */

static double median_of(GArray *a)
{
    g_autofree double *v = g_memdup2(a->data, a->len * sizeof(double));

    return bench_median(v, a->len);
}

static void summary_of(GArray *a, BenchSummary *s)
{
    bench_summarize((uint64_t *)a->data, a->len, s);
}

static gboolean vb_round(Vb *b, VbRates *r, GError **errp)
{
    double v;

    if (!vb_tput_vsock(b, TRUE, &v, errp)) {
        return FALSE;
    }
    g_array_append_val(r->vsock_g2h, v);
    if (!vb_tput_floor(b, &v, errp)) {
        return FALSE;
    }
    g_array_append_val(r->floor, v);
    if (!vb_tput_vsock(b, FALSE, &v, errp)) {
        return FALSE;
    }
    g_array_append_val(r->vsock_h2g, v);
    return vb_rtt_floor(b, r->rtt_floor, errp) && vb_rtt_vsock(b, r->rtt_vsock, errp) &&
           vb_rtt_wakeup(b, r->rtt_wakeup, errp);
}

typedef struct {
    double g2h, h2g, floor, g2h_ratio, h2g_ratio;
    BenchSummary vsock, floor_rtt, wakeup;
    double rtt_target, rtt_ratio;
} VbReport;

static void vb_compute(VbRates *r, VbReport *rep)
{
    rep->g2h = median_of(r->vsock_g2h);
    rep->h2g = median_of(r->vsock_h2g);
    rep->floor = median_of(r->floor);
    rep->g2h_ratio = rep->g2h / rep->floor;
    rep->h2g_ratio = rep->h2g / rep->floor;
    summary_of(r->rtt_vsock, &rep->vsock);
    summary_of(r->rtt_floor, &rep->floor_rtt);
    summary_of(r->rtt_wakeup, &rep->wakeup);
    rep->rtt_target = 2 * rep->floor_rtt.p50 + rep->wakeup.p50 / 2;
    rep->rtt_ratio = rep->vsock.p50 / rep->floor_rtt.p50;
}

static void vb_print_text(const Vb *b, const VbReport *r)
{
    g_print("qcontext-bench vsock: %u round(s), %" G_GUINT64_FORMAT
            " MiB per direction in %u-byte sends, %u round trips of %u bytes per "
            "round; buf-alloc %" G_GUINT64_FORMAT
            " KiB; cpus guest %d host %d device %d\n",
            b->opt.rounds, b->opt.bytes >> 20, b->opt.msg_size, b->opt.rtt_count,
            b->opt.rtt_size, b->opt.buf_alloc >> 10, b->opt.cpu_guest, b->opt.cpu_host,
            b->opt.cpu_device);
    g_print("throughput (MB/s, median of rounds)\n");
    g_print("  floor (unix socket pair)  %10.1f\n", r->floor);
    g_print(
        "  vsock guest -> host       %10.1f  %5.1f%% of the floor (target >= 50%%)\n",
        r->g2h, 100 * r->g2h_ratio);
    g_print(
        "  vsock host -> guest       %10.1f  %5.1f%% of the floor (target >= 50%%)\n",
        r->h2g, 100 * r->h2g_ratio);
    g_print("round trip (us)                 p50       p99\n");
    g_print("  floor (unix socket pair) %9.1f %9.1f\n", r->floor_rtt.p50 / 1e3,
            r->floor_rtt.p99 / 1e3);
    g_print("  eventfd ping-pong        %9.1f %9.1f  (one wakeup = half)\n",
            r->wakeup.p50 / 1e3, r->wakeup.p99 / 1e3);
    g_print("  vsock                    %9.1f %9.1f  %.2fx the floor; target p50 <= "
            "%.1f us (2 x floor + one wakeup): %s\n",
            r->vsock.p50 / 1e3, r->vsock.p99 / 1e3, r->rtt_ratio, r->rtt_target / 1e3,
            r->vsock.p50 <= r->rtt_target ? "met" : "missed");
}

static gboolean vb_print_json(const Vb *b, const VbReport *r)
{
    JsonOut o = {.s = g_string_new(NULL)};

    jo_open(&o, NULL, '{');
    jo_str(&o, "benchmark", "vsock");
    jo_int(&o, "rounds", b->opt.rounds);
    jo_int(&o, "bytes", (gint64)b->opt.bytes);
    jo_int(&o, "msg_size", b->opt.msg_size);
    jo_int(&o, "rtt_size", b->opt.rtt_size);
    jo_int(&o, "rtt_count", b->opt.rtt_count);
    jo_int(&o, "buf_alloc", (gint64)b->opt.buf_alloc);
    jo_open(&o, "throughput_mb_s", '{');
    jo_num(&o, "floor", r->floor);
    jo_num(&o, "guest_to_host", r->g2h);
    jo_num(&o, "host_to_guest", r->h2g);
    jo_num(&o, "guest_to_host_ratio", r->g2h_ratio);
    jo_num(&o, "host_to_guest_ratio", r->h2g_ratio);
    jo_bool(&o, "target_met", r->g2h_ratio >= 0.5 && r->h2g_ratio >= 0.5);
    jo_close(&o, '}');
    jo_open(&o, "round_trip_ns", '{');
    jo_num(&o, "floor_p50", r->floor_rtt.p50);
    jo_num(&o, "floor_p99", r->floor_rtt.p99);
    jo_num(&o, "wakeup_pingpong_p50", r->wakeup.p50);
    jo_num(&o, "vsock_p50", r->vsock.p50);
    jo_num(&o, "vsock_p99", r->vsock.p99);
    jo_num(&o, "vsock_ratio_p50", r->rtt_ratio);
    jo_num(&o, "target_p50", r->rtt_target);
    jo_bool(&o, "target_met", r->vsock.p50 <= r->rtt_target);
    jo_close(&o, '}');
    jo_close(&o, '}');
    return bench_json_print(&o);
}

static void vb_rates_init(VbRates *r)
{
    r->vsock_g2h = g_array_new(FALSE, FALSE, sizeof(double));
    r->vsock_h2g = g_array_new(FALSE, FALSE, sizeof(double));
    r->floor = g_array_new(FALSE, FALSE, sizeof(double));
    r->rtt_vsock = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    r->rtt_floor = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    r->rtt_wakeup = g_array_new(FALSE, FALSE, sizeof(uint64_t));
}

static void vb_rates_clear(VbRates *r)
{
    g_array_unref(r->vsock_g2h);
    g_array_unref(r->vsock_h2g);
    g_array_unref(r->floor);
    g_array_unref(r->rtt_vsock);
    g_array_unref(r->rtt_floor);
    g_array_unref(r->rtt_wakeup);
}

int bench_vsock_main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    Vb b = {.next_port = 20000};
    VbRates rates;
    VbReport rep;
    int status = 0;

    if (!vb_parse(argc, argv, &b.opt, &err)) {
        g_printerr("qcontext-bench vsock: %s\n", err->message);
        return 2;
    }
    if (b.opt.qcontextd
            ? !vb_start_daemon(&b, &err)
            : !(b.socket = g_strdup(b.opt.socket), b.uds = g_strdup(b.opt.uds))) {
        g_printerr("qcontext-bench vsock: %s\n", err->message);
        vb_stop_daemon(&b);
        return 2;
    }
    if (!vb_open(&b, &err) || !bench_pin_tid(0, b.opt.cpu_guest, &err)) {
        g_printerr("qcontext-bench vsock: %s\n", err->message);
        vb_stop_daemon(&b);
        return 2;
    }
    vb_rates_init(&rates);
    for (unsigned i = 0; i < b.opt.rounds && !err; i++) {
        vb_round(&b, &rates, &err);
    }
    if (err) {
        g_printerr("qcontext-bench vsock: %s\n", err->message);
        status = 1;
    } else {
        vb_compute(&rates, &rep);
        if (b.opt.json ? !vb_print_json(&b, &rep) : (vb_print_text(&b, &rep), FALSE)) {
            status = 1;
        }
    }
    vb_rates_clear(&rates);
    fe_vsock_close(b.v);
    vb_stop_daemon(&b);
    g_free(b.socket);
    g_free(b.uds);
    g_free(b.dir);
    g_free(b.opt.qcontextd);
    g_free(b.opt.socket);
    g_free(b.opt.uds);
    return status;
}
