/*
 * bench/bench-floor.c - the two floors the other mechanisms are compared with.
 *
 * eventfd-epoll: B blocks in epoll_wait() on one eventfd; A writes the
 *   eventfd.  The least a blocking event loop can do for a cross-thread
 *   wakeup (one write, one epoll_wait return, one read).
 * busy-poll: B spins on an atomic sequence number; A stores it.  The least a
 *   polling loop can do (one cache-line transfer each way).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gio/gio.h>

#include "bench.h"

/* ------------------------------------------------------------------------ */
/* eventfd + epoll                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    BenchPing *ping;
    int efd;
    int epfd;
    _Atomic bool stop;
    _Atomic int tid;
    pthread_t thread;
} EpollFloor;

static void *epoll_floor_thread(void *opaque)
{
    EpollFloor *s = opaque;
    struct epoll_event ev;
    uint64_t cnt;

    for (;;) {
        int n = epoll_wait(s->epfd, &ev, 1, -1);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (read(s->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN) {
            break;
        }
        /* acquire pairs with the release store in epoll_floor_teardown() */
        if (atomic_load_explicit(&s->stop, memory_order_acquire)) {
            break;
        }
        bench_pong(s->ping);
    }
    return NULL;
}

static void epoll_floor_free(EpollFloor *s)
{
    if (s->epfd >= 0) {
        close(s->epfd);
    }
    if (s->efd >= 0) {
        close(s->efd);
    }
    g_free(s);
}

static void *epoll_floor_setup(BenchPing *ping, GError **errp)
{
    EpollFloor *s = g_new0(EpollFloor, 1);
    struct epoll_event ev = {.events = EPOLLIN};

    s->ping = ping;
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->efd < 0 || s->epfd < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev) < 0) {
        int err = errno;

        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err),
                    "Cannot set up eventfd + epoll: %s", g_strerror(err));
        epoll_floor_free(s);
        return NULL;
    }
    if (!bench_thread_start(&s->thread, "bench/epoll", epoll_floor_thread, s, &s->tid,
                            errp)) {
        epoll_floor_free(s);
        return NULL;
    }
    return s;
}

static void epoll_floor_signal(void *state)
{
    EpollFloor *s = state;
    uint64_t one = 1;

    if (write(s->efd, &one, sizeof(one)) < 0) {
        g_warning("eventfd write failed: %s", g_strerror(errno));
    }
}

static int epoll_floor_tid(void *state)
{
    EpollFloor *s = state;

    return atomic_load_explicit(&s->tid, memory_order_relaxed);
}

static void epoll_floor_teardown(void *state)
{
    EpollFloor *s = state;

    /* release pairs with the acquire load in epoll_floor_thread() */
    atomic_store_explicit(&s->stop, true, memory_order_release);
    epoll_floor_signal(s);
    pthread_join(s->thread, NULL);
    epoll_floor_free(s);
}

const BenchMechOps bench_mech_eventfd = {
    .name = "eventfd-epoll",
    .what = "floor: B blocks in epoll_wait on an eventfd, A writes the eventfd",
    .floor = BENCH_FLOOR_BLOCKING,
    .is_floor = true,
    .setup = epoll_floor_setup,
    .signal = epoll_floor_signal,
    .b_tid = epoll_floor_tid,
    .teardown = epoll_floor_teardown,
};

/* ------------------------------------------------------------------------ */
/* busy-poll on an atomic                                                     */
/* ------------------------------------------------------------------------ */

/*
 * B only spins while A is measuring this mechanism (between begin and end);
 * otherwise it sleeps on a condition variable so that it does not steal a
 * core from the other rows on a small machine.
 */
typedef struct {
    BenchPing *ping;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool active; /* protected by lock; mirrored in active_flag for the spin */
    bool stop;   /* protected by lock */
    _Atomic bool active_flag;
    _Atomic int tid;
    pthread_t thread;
} BusyPoll;

static void busy_poll_spin(BusyPoll *s)
{
    /*
     * Only B writes reply while this mechanism runs, so "req differs from
     * the last reply" means a new request, even one stored before B woke.
     */
    uint64_t last = atomic_load_explicit(&s->ping->reply, memory_order_relaxed);

    while (atomic_load_explicit(&s->active_flag, memory_order_relaxed)) {
        /* acquire pairs with A's release store of req in bench-wakeup.c */
        uint64_t now = atomic_load_explicit(&s->ping->req, memory_order_acquire);

        if (now != last) {
            last = now;
            bench_pong(s->ping);
        } else {
            bench_cpu_relax();
        }
    }
}

static void *busy_poll_thread(void *opaque)
{
    BusyPoll *s = opaque;

    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        if (!s->active) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        busy_poll_spin(s);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *busy_poll_setup(BenchPing *ping, GError **errp)
{
    BusyPoll *s = g_new0(BusyPoll, 1);

    s->ping = ping;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (!bench_thread_start(&s->thread, "bench/busy", busy_poll_thread, s, &s->tid,
                            errp)) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        g_free(s);
        return NULL;
    }
    return s;
}

static void busy_poll_set_active(BusyPoll *s, bool active)
{
    pthread_mutex_lock(&s->lock);
    s->active = active;
    atomic_store_explicit(&s->active_flag, active, memory_order_relaxed);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void busy_poll_begin(void *state)
{
    busy_poll_set_active(state, true);
}

static void busy_poll_end(void *state)
{
    busy_poll_set_active(state, false);
}

static void busy_poll_signal(void *state)
{
    /* the release store of req by A (bench-wakeup.c) is the signal */
}

static int busy_poll_tid(void *state)
{
    BusyPoll *s = state;

    return atomic_load_explicit(&s->tid, memory_order_relaxed);
}

static void busy_poll_teardown(void *state)
{
    BusyPoll *s = state;

    pthread_mutex_lock(&s->lock);
    s->stop = true;
    s->active = false;
    atomic_store_explicit(&s->active_flag, false, memory_order_relaxed);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    g_free(s);
}

const BenchMechOps bench_mech_busypoll = {
    .name = "busy-poll",
    .what = "floor: B spins on an atomic sequence number, A stores it",
    .floor = BENCH_FLOOR_POLLING,
    .is_floor = true,
    .polling = true,
    .setup = busy_poll_setup,
    .begin = busy_poll_begin,
    .signal = busy_poll_signal,
    .end = busy_poll_end,
    .b_tid = busy_poll_tid,
    .teardown = busy_poll_teardown,
};
