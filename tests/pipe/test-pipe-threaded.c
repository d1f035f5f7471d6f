/*
 * tests/pipe/test-pipe-threaded.c - the pipe device's services on their own
 * thread (an AioContext of their own), the vsock muxer on the test thread:
 * every service callback runs on the service thread, data crosses intact
 * both ways, closes from either side and the device's removal reach the
 * other thread.  Run under TSan in CI (suite "threaded").
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <string.h>

#include "qcontext/devices/pipe/pipe.h"
#include "../vsock/vsock-test-fix.h"

#define WAIT_MS 10000
#define PORT 6666
#define NCH 16
#define LEN (256 * 1024)

typedef struct SvcThread {
    GThread *thread;
    AioContext *ctx;
    pthread_mutex_t lock; /* pthread: ThreadSanitizer sees it (GMutex it does not) */
    pthread_cond_t cond;
    bool ready;
    bool stop;
} SvcThread;

static SvcThread svc = {.lock = PTHREAD_MUTEX_INITIALIZER,
                        .cond = PTHREAD_COND_INITIALIZER};

static gpointer svc_main(gpointer opaque)
{
    pthread_mutex_lock(&svc.lock);
    svc.ctx = aio_context_new(NULL);
    aio_context_set_home_thread(svc.ctx);
    svc.ready = true;
    pthread_cond_signal(&svc.cond);
    pthread_mutex_unlock(&svc.lock);
    while (!__atomic_load_n(&svc.stop, __ATOMIC_ACQUIRE)) { /* pairs: svc_stop() */
        aio_poll(svc.ctx, true);
    }
    while (aio_poll(svc.ctx, false)) {
    }
    return NULL;
}

static void svc_start(void)
{
    pthread_mutex_lock(&svc.lock);
    svc.ready = false;
    svc.stop = false;
    svc.thread = g_thread_new("pipe-svc", svc_main, NULL);
    while (!svc.ready) {
        pthread_cond_wait(&svc.cond, &svc.lock);
    }
    pthread_mutex_unlock(&svc.lock);
}

static void svc_stop(void)
{
    __atomic_store_n(&svc.stop, true, __ATOMIC_RELEASE); /* pairs: svc_main() */
    aio_notify(svc.ctx);
    g_thread_join(svc.thread);
    aio_context_unref(svc.ctx);
}

/* A service that checks its thread and echoes, as a device author would. */
static gint live, opens, closes, wrong_thread;

static void check_thread(PipeChannel *ch)
{
    if (!in_aio_context_home_thread(pipe_channel_aio_context(ch))) {
        __atomic_add_fetch(&wrong_thread, 1, __ATOMIC_RELAXED);
    }
}

static PipeOpenStatus tsvc_open(PipeChannel *ch, const char *args, void *opaque,
                                void **chan_opaque)
{
    check_thread(ch);
    __atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
    *chan_opaque = g_malloc0(64); /* per-channel state, freed at close */
    return PIPE_OPEN_OK;
}

static size_t tsvc_recv(PipeChannel *ch, const uint8_t *data, size_t len,
                        void *chan_opaque)
{
    check_thread(ch);
    return pipe_channel_send(ch, data, len);
}

static void tsvc_writable(PipeChannel *ch, void *chan_opaque)
{
    check_thread(ch);
    pipe_channel_resume_recv(ch);
}

static void tsvc_eof(PipeChannel *ch, void *chan_opaque)
{
    check_thread(ch);
    pipe_channel_close(ch);
}

static void tsvc_close(PipeChannel *ch, void *chan_opaque)
{
    check_thread(ch);
    g_free(chan_opaque);
    __atomic_add_fetch(&closes, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
}

static const PipeServiceOps tsvc_ops = {
    .open = tsvc_open,
    .recv = tsvc_recv,
    .writable = tsvc_writable,
    .eof = tsvc_eof,
    .close = tsvc_close,
};

typedef struct Chans {
    TgConn *c[NCH];
    uint8_t *data[NCH];
    size_t sent[NCH];
} Chans;

static bool cond_open(TestGuest *g, void *c)
{
    return ((TgConn *)c)->state != TG_CONNECTING;
}

/* Keep sending; done when every channel got its data back. */
static bool cond_echoed(TestGuest *g, void *opaque)
{
    Chans *ch = opaque;
    bool done = true;

    for (int i = 0; i < NCH; i++) {
        if (ch->sent[i] < LEN) {
            ch->sent[i] +=
                tg_send(g, ch->c[i], ch->data[i] + ch->sent[i], LEN - ch->sent[i]);
        }
        done &= ch->c[i]->rx->len >= 1 + LEN;
    }
    return done;
}

static bool cond_all_gone(TestGuest *g, void *opaque)
{
    Chans *ch = opaque;

    for (int i = 0; i < NCH; i++) {
        if (ch->c[i]->state == TG_OPEN) {
            return false;
        }
    }
    return __atomic_load_n(&live, __ATOMIC_RELAXED) == 0;
}

static void open_all(Fix *f, Chans *ch, const char *name)
{
    for (int i = 0; i < NCH; i++) {
        g_autofree char *hello = g_strdup_printf("pipe:%s", name);

        ch->c[i] = tg_connect(f->g, PORT, VIRTIO_VSOCK_TYPE_STREAM);
        g_assert_true(tg_wait(f->g, cond_open, ch->c[i], WAIT_MS));
        tg_send(f->g, ch->c[i], hello, strlen(hello) + 1);
        ch->data[i] = g_malloc(LEN);
        tg_fill_pattern(ch->data[i], LEN, i, 0);
        ch->sent[i] = 0;
    }
}

static void check_echoes(Chans *ch)
{
    for (int i = 0; i < NCH; i++) {
        g_assert_cmpuint(ch->c[i]->rx->data[0], ==, PIPE_OPEN_OK);
        g_assert_cmpmem(ch->c[i]->rx->data + 1, ch->c[i]->rx->len - 1, ch->data[i],
                        LEN);
        g_free(ch->data[i]);
    }
}

static void test_threaded(void)
{
    Fix f;
    PipeHostConfig cfg = {.port = PORT, .open_reply = true};
    PipeHost *ph;
    Chans ch;

    g_assert_true(pipe_service_register("tsvc", &tsvc_ops, NULL, NULL));
    svc_start();
    fix_init(&f);
    ph = pipe_host_new(f.mux, svc.ctx, &cfg, NULL);
    g_assert_nonnull(ph);

    /* Round 1: data both ways; the guest ends each channel (eof -> close). */
    open_all(&f, &ch, "tsvc");
    g_assert_true(tg_wait(f.g, cond_echoed, &ch, WAIT_MS));
    check_echoes(&ch);
    for (int i = 0; i < NCH; i++) {
        tg_shutdown(f.g, ch.c[i], VIRTIO_VSOCK_SHUTDOWN_SEND);
    }
    g_assert_true(tg_wait(f.g, cond_all_gone, &ch, WAIT_MS));

    /* Round 2: the built-in echo, then the device goes with channels open. */
    open_all(&f, &ch, "echo");
    g_assert_true(tg_wait(f.g, cond_echoed, &ch, WAIT_MS));
    check_echoes(&ch);
    pipe_host_free(ph);
    g_assert_true(tg_wait(f.g, cond_all_gone, &ch, WAIT_MS));

    g_assert_cmpint(opens, ==, NCH);
    g_assert_cmpint(closes, ==, NCH);
    g_assert_cmpint(wrong_thread, ==, 0);
    fix_cleanup(&f);
    svc_stop();
    pipe_service_unregister("tsvc");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pipe/threaded", test_threaded);
    return g_test_run();
}
