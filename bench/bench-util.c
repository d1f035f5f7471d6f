/*
 * bench/bench-util.c - clocks, pinning, threads and sample statistics.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <gio/gio.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_gettid(void)
{
    return (int)syscall(SYS_gettid);
}

gboolean bench_pin_tid(int tid, int cpu, GError **errp)
{
    cpu_set_t set;

    if (cpu < 0) {
        return TRUE;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tid, sizeof(set), &set) < 0) {
        int err = errno;

        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err),
                    "Cannot pin thread %d to CPU %d: %s", tid, cpu, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    void *(*fn)(void *);
    void *arg;
    _Atomic int *tid_out;
    char name[16];
} BenchThreadStart;

static void *bench_thread_trampoline(void *opaque)
{
    BenchThreadStart *st = opaque;
    void *(*fn)(void *) = st->fn;
    void *arg = st->arg;

    pthread_setname_np(pthread_self(), st->name);
    /* release pairs with the acquire load in bench_thread_start() */
    atomic_store_explicit(st->tid_out, bench_gettid(), memory_order_release);
    /* st belongs to the starter, which may return once tid_out is set */
    return fn(arg);
}

gboolean bench_thread_start(pthread_t *thread, const char *name, void *(*fn)(void *),
                            void *arg, _Atomic int *tid_out, GError **errp)
{
    BenchThreadStart st = {.fn = fn, .arg = arg, .tid_out = tid_out};
    int err;

    g_strlcpy(st.name, name, sizeof(st.name));
    atomic_store_explicit(tid_out, 0, memory_order_relaxed);
    err = pthread_create(thread, NULL, bench_thread_trampoline, &st);
    if (err) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err),
                    "Cannot start thread %s: %s", name, g_strerror(err));
        return FALSE;
    }
    /* acquire pairs with the release store in bench_thread_trampoline() */
    while (atomic_load_explicit(tid_out, memory_order_acquire) == 0) {
        sched_yield();
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                 */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_percentile(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);

    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return n ? (double)v[rank - 1] : 0;
}

void bench_summarize(uint64_t *samples, size_t n, BenchSummary *out)
{
    double sum = 0;

    memset(out, 0, sizeof(*out));
    out->n = n;
    if (n == 0) {
        return;
    }
    qsort(samples, n, sizeof(*samples), cmp_u64);
    for (size_t i = 0; i < n; i++) {
        sum += (double)samples[i];
    }
    out->mean = sum / (double)n;
    out->min = (double)samples[0];
    out->max = (double)samples[n - 1];
    out->p50 = bench_percentile(samples, n, 50.0);
    out->p99 = bench_percentile(samples, n, 99.0);
    out->p999 = bench_percentile(samples, n, 99.9);
}

double bench_median(double *v, size_t n)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    if (n % 2) {
        return v[n / 2];
    }
    return (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_result_add(BenchMechResult *res, const char *key, double value)
{
    if (!res->keys) {
        res->keys = g_ptr_array_new_with_free_func(g_free);
        res->values = g_array_new(FALSE, FALSE, sizeof(double));
    }
    g_ptr_array_add(res->keys, g_strdup(key));
    g_array_append_val(res->values, value);
}

/* calls of @c that last about @budget_ns (also a warm-up) */
static uint64_t calibrate(const BenchTimedCall *c, uint64_t budget_ns)
{
    uint64_t start = bench_now_ns(), calls = 0;

    do {
        c->fn(c->arg);
        calls++;
    } while (bench_now_ns() - start < budget_ns);
    return calls;
}

void bench_time_calls(BenchTimedCall *calls, int n, int batches, int batch_us)
{
    uint64_t *count = g_new0(uint64_t, n);
    double *per_call = g_new0(double, (size_t)n *(size_t)batches);

    for (int i = 0; i < n; i++) {
        if (calls[i].fn) {
            count[i] = calibrate(&calls[i], (uint64_t)batch_us * 1000u);
        }
    }
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < n; i++) {
            uint64_t t0 = bench_now_ns();

            for (uint64_t k = 0; k < count[i]; k++) {
                calls[i].fn(calls[i].arg);
            }
            if (count[i]) {
                per_call[i * batches + b] =
                    (double)(bench_now_ns() - t0) / (double)count[i];
            }
        }
    }
    for (int i = 0; i < n; i++) {
        calls[i].ns =
            count[i] ? bench_median(&per_call[i * batches], (size_t)batches) : 0;
    }
    g_free(per_call);
    g_free(count);
}

gboolean bench_bad(GError **errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_propagate_error(
        errp, g_error_new_valist(G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, fmt, ap));
    va_end(ap);
    return FALSE;
}

gboolean bench_parse_size(const char *text, uint64_t *out)
{
    char *end;
    guint64 v = g_ascii_strtoull(text, &end, 10);
    uint64_t mult = 1;

    if (end == text) {
        return FALSE;
    }
    switch (g_ascii_tolower(*end)) {
    case 'k':
        mult = 1024;
        break;
    case 'm':
        mult = 1024 * 1024;
        break;
    case 'g':
        mult = 1024ull * 1024 * 1024;
        break;
    case '\0':
        break;
    default:
        return FALSE;
    }
    if (*end && end[1] && g_ascii_strcasecmp(end + 1, "ib") &&
        g_ascii_strcasecmp(end + 1, "b")) {
        return FALSE;
    }
    if (v > G_MAXUINT64 / mult) {
        return FALSE;
    }
    *out = v * mult;
    return TRUE;
}
