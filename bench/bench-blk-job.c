/*
 * bench/bench-blk-job.c - the job threads of `qcontext-bench blk`: keep
 * --iodepth requests in flight on one queue, time each, check patterns.
 *
 * SPDX-License-Identifier: MIT
 */
#include <sched.h>
#include <string.h>

#include "bench.h"
#include "bench-blk.h"

#define PATTERN_MAGIC 0x51c0b1c0u

typedef enum {
    PHASE_PREFILL, /* --verify: write every block once (generation 1) */
    PHASE_MAIN,    /* the measured workload */
    PHASE_CHECK,   /* --verify: read every block back */
} Phase;

/* What a request slot carries (indexed by FeBlkReq.slot). */
typedef struct {
    uint64_t block;
    uint32_t gen;
    gboolean write;
} BlkSlot;

typedef struct {
    BlkRun *run;
    unsigned index;
    FeBlkQueue *q;
    uint64_t base, nblocks;
    uint64_t rng;
    uint64_t next_block; /* sequential patterns and prefill/check */
    uint64_t issued;     /* requests submitted in PHASE_MAIN (--number) */
    uint32_t *gen;       /* --verify: generation of each block, 0 = unknown */
    uint8_t *busy;       /* --verify: a request on the block is in flight */
    BlkSlot *slots;
    BlkJobResult *res;
    uint64_t t_measure, t_end; /* the measured window (PHASE_MAIN) */
    uint64_t idle_since;       /* --poll: when the queue went quiet (0: busy) */
    unsigned idle_spins;
    GError *err;
    pthread_t thread;
    _Atomic int tid;
    _Atomic int *go;
} BlkJob;

/* ------------------------------------------------------------------------ */
/* Patterns                                                                  */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void sector_pattern(uint8_t *s, uint64_t offset, uint32_t gen)
{
    uint64_t x = mix64(offset ^ ((uint64_t)gen << 40) ^ PATTERN_MAGIC);
    uint32_t magic = PATTERN_MAGIC;

    memcpy(s, &offset, 8);
    memcpy(s + 8, &gen, 4);
    memcpy(s + 12, &magic, 4);
    for (unsigned i = 16; i < 512; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(s + i, &x, 8);
    }
}

void bench_blk_pattern(uint8_t *buf, size_t len, uint64_t offset, uint32_t gen)
{
    for (size_t k = 0; k < len; k += 512) {
        sector_pattern(buf + k, offset + k, gen);
    }
}

gboolean bench_blk_pattern_check(const uint8_t *buf, size_t len, uint64_t offset,
                                 uint32_t gen)
{
    uint8_t want[512];

    for (size_t k = 0; k < len; k += 512) {
        sector_pattern(want, offset + k, gen);
        if (memcmp(buf + k, want, 512)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Choosing requests                                                         */

static uint64_t next_rand(BlkJob *j)
{
    /* xorshift64* */
    j->rng ^= j->rng >> 12;
    j->rng ^= j->rng << 25;
    j->rng ^= j->rng >> 27;
    return j->rng * 2685821657736338717ull;
}

static gboolean is_random(BlkRw rw)
{
    return rw == BLK_RW_RANDREAD || rw == BLK_RW_RANDWRITE || rw == BLK_RW_MIXED;
}

/* The next block of @phase, or FALSE if none is free right now. */
static gboolean pick_block(BlkJob *j, Phase phase, uint64_t *block)
{
    const BlkOptions *o = &j->run->opt;

    if (phase != PHASE_MAIN) {
        if (j->next_block >= j->nblocks) {
            return FALSE;
        }
        *block = j->next_block++;
        return TRUE;
    }
    for (int tries = 0; tries < 8; tries++) {
        uint64_t b =
            is_random(o->rw) ? next_rand(j) % j->nblocks : j->next_block++ % j->nblocks;

        /* with --verify, never two requests on one block at once */
        if (!j->busy || !j->busy[b]) {
            *block = b;
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean pick_write(BlkJob *j, Phase phase)
{
    const BlkOptions *o = &j->run->opt;

    switch (phase) {
    case PHASE_PREFILL:
        return TRUE;
    case PHASE_CHECK:
        return FALSE;
    default:
        break;
    }
    switch (o->rw) {
    case BLK_RW_RANDWRITE:
    case BLK_RW_WRITE:
        return TRUE;
    case BLK_RW_MIXED:
        return next_rand(j) % 100 >= o->rwmixread;
    default:
        return FALSE;
    }
}

/* Fill and submit one request; FALSE when there is nothing to submit. */
static gboolean submit_one(BlkJob *j, Phase phase)
{
    unsigned bs = j->run->opt.bs;
    FeBlkReq *r = fe_blk_req_get(j->q);
    BlkSlot *s;
    uint64_t block;

    if (!r) {
        return FALSE;
    }
    if (!pick_block(j, phase, &block)) {
        fe_blk_req_put(j->q, r);
        return FALSE;
    }
    s = &j->slots[r->slot];
    s->block = block;
    s->write = pick_write(j, phase);
    r->type = s->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    r->sector = (j->base + block * bs) / 512;
    r->len = bs;
    if (j->gen) {
        s->gen = s->write ? (phase == PHASE_PREFILL ? 1 : j->gen[block] + 1) : 0;
        if (s->write) {
            bench_blk_pattern(r->data, bs, j->base + block * bs, s->gen);
        }
        j->busy[block] = 1;
    }
    r->t_submit = bench_now_ns();
    if (phase == PHASE_MAIN) {
        j->issued++;
    }
    if (!fe_blk_submit(j->q, r, NULL)) {
        if (phase == PHASE_MAIN) {
            j->issued--;
        }
        /* the ring is full (no indirect descriptors): try again later */
        if (j->busy) {
            j->busy[block] = 0;
        }
        if (phase != PHASE_MAIN || !is_random(j->run->opt.rw)) {
            j->next_block--;
        }
        fe_blk_req_put(j->q, r);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Completions                                                               */

static void check_read(BlkJob *j, FeBlkReq *r, const BlkSlot *s)
{
    uint64_t off = j->base + s->block * j->run->opt.bs;

    if (!j->gen[s->block]) {
        return; /* the last write to it failed: contents unknown */
    }
    j->res->verify_checked++;
    if (!bench_blk_pattern_check(r->data, r->len, off, j->gen[s->block])) {
        if (!j->res->verify_errors++) {
            j->res->first_bad_offset = off;
        }
    }
}

static void complete_one(BlkJob *j, FeBlkReq *r, Phase phase, uint64_t now)
{
    BlkSlot *s = &j->slots[r->slot];
    gboolean ok = r->status == VIRTIO_BLK_S_OK;

    if (j->gen) {
        if (s->write) {
            j->gen[s->block] = ok ? s->gen : 0;
        } else if (ok) {
            check_read(j, r, s);
        }
        j->busy[s->block] = 0;
    }
    if (!ok) {
        j->res->io_errors++;
    }
    if (phase == PHASE_MAIN && r->t_submit >= j->t_measure && now <= j->t_end) {
        j->res->ios++;
        j->res->bytes += r->len;
        if (s->write) {
            j->res->writes++;
        } else {
            j->res->reads++;
        }
        lat_hist_record(j->res->hist, now - r->t_submit);
    }
    fe_blk_req_put(j->q, r);
}

/*
 * --poll found nothing: spin, but notice a back-end that died (its socket
 * hung up) or went silent for the timeout.
 */
static gboolean poll_idle(BlkJob *j, uint64_t now)
{
    FeConn *c = fe_device_conn(fe_blk_device(j->run->blk));

    if (!j->idle_since) {
        j->idle_since = now;
    }
    if ((++j->idle_spins & 1023) == 0 && !fe_conn_check_alive(c)) {
        g_set_error(&j->err, FE_ERROR, FE_ERROR_DISCONNECTED,
                    "queue %u: the vhost-user back-end disconnected", j->index);
        return FALSE;
    }
    if (now - j->idle_since > (uint64_t)j->run->opt.timeout_ms * 1000000) {
        g_set_error(&j->err, FE_ERROR, FE_ERROR_TIMEOUT,
                    "queue %u: no completion from the back-end within %d ms", j->index,
                    j->run->opt.timeout_ms);
        return FALSE;
    }
    bench_cpu_relax();
    return TRUE;
}

/*
 * --spin-us: nothing to do, requests in flight: look at the used ring for
 * a while before sleeping on the call eventfd, as a hybrid-polling guest
 * does.  Notifications stay off meanwhile (EVENT_IDX: used_event is left
 * behind; without it, NO_INTERRUPT), so a back-end that answers within the
 * spin is not asked to signal.  TRUE if a completion came.
 */
static gboolean spin_for_completion(BlkJob *j)
{
    FeVq *vq = fe_blk_queue_vq(j->q);
    uint64_t deadline = bench_now_ns() + (uint64_t)j->run->opt.spin_us * 1000;

    fe_vq_disable_cb(vq);
    do {
        if (fe_vq_used_idx(vq) != fe_vq_last_used_idx(vq)) {
            return TRUE;
        }
        bench_cpu_relax();
    } while (bench_now_ns() < deadline);
    return FALSE;
}

/* Run @phase to its end: submit, kick, harvest, wait. */
static gboolean run_phase(BlkJob *j, Phase phase)
{
    const BlkOptions *o = &j->run->opt;
    gboolean more = TRUE;
    uint64_t now = bench_now_ns();

    for (;;) {
        unsigned submitted = 0, done = 0;
        FeBlkReq *r;

        if (phase == PHASE_MAIN) {
            j->res->loops++;
        }
        while (more && fe_blk_inflight(j->q) < o->iodepth &&
               !(phase == PHASE_MAIN && o->number && j->issued >= o->number) &&
               submit_one(j, phase)) {
            submitted++;
        }
        if (submitted) {
            fe_blk_kick(j->q);
        }
        now = bench_now_ns();
        while ((r = fe_blk_complete(j->q))) {
            complete_one(j, r, phase, now);
            done++;
        }
        if (phase == PHASE_MAIN) {
            j->res->main_done += done;
        }
        if (phase == PHASE_MAIN) {
            more = o->number ? j->issued < o->number : now < j->t_end;
        } else {
            more = j->next_block < j->nblocks;
        }
        if (!more && fe_blk_inflight(j->q) == 0) {
            return TRUE;
        }
        if (done || submitted) {
            j->idle_since = 0;
            continue;
        }
        if (!o->poll) {
            if (o->spin_us && spin_for_completion(j)) {
                continue;
            }
            if (phase == PHASE_MAIN) {
                j->res->waits++;
            }
            if (!fe_blk_wait(j->q, o->timeout_ms, &j->err)) {
                return FALSE;
            }
            continue;
        }
        if (!poll_idle(j, now)) {
            return FALSE;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The threads                                                               */

static void *job_main(void *opaque)
{
    BlkJob *j = opaque;
    const BlkOptions *o = &j->run->opt;
    uint64_t t0;

    if (o->poll) {
        fe_vq_disable_cb(fe_blk_queue_vq(j->q));
    }
    /* acquire pairs with the release store of go in bench_blk_run_jobs() */
    while (atomic_load_explicit(j->go, memory_order_acquire) == 0) {
        sched_yield();
    }
    if (atomic_load_explicit(j->go, memory_order_relaxed) < 0) {
        return NULL; /* another job could not start */
    }
    if (o->verify && !run_phase(j, PHASE_PREFILL)) {
        return NULL;
    }
    j->next_block = 0;
    t0 = bench_now_ns();
    if (o->number) {
        /* --number: every request is measured, however long it takes */
        j->t_measure = t0;
        j->t_end = UINT64_MAX;
    } else {
        j->t_measure = t0 + (uint64_t)(o->ramp_s * 1e9);
        j->t_end = j->t_measure + (uint64_t)(o->runtime_s * 1e9);
    }
    j->res->kicks = fe_vq_kicks(fe_blk_queue_vq(j->q));
    if (!run_phase(j, PHASE_MAIN)) {
        j->res->elapsed_ns =
            bench_now_ns() > j->t_measure ? bench_now_ns() - j->t_measure : 0;
        return NULL;
    }
    j->res->elapsed_ns =
        o->number ? bench_now_ns() - j->t_measure : j->t_end - j->t_measure;
    j->res->kicks = fe_vq_kicks(fe_blk_queue_vq(j->q)) - j->res->kicks;
    j->next_block = 0;
    if (o->verify) {
        run_phase(j, PHASE_CHECK);
    }
    return NULL;
}

static void job_init(BlkRun *run, BlkJob *j, unsigned i, _Atomic int *go)
{
    const BlkOptions *o = &run->opt;

    j->run = run;
    j->index = i;
    j->q = fe_blk_queue(run->blk, i);
    j->base = (uint64_t)i * run->region;
    j->nblocks = run->region / o->bs;
    j->rng = mix64(0x9e3779b97f4a7c15ull * (i + 1)) | 1;
    j->slots = g_new0(BlkSlot, o->iodepth);
    j->res = &run->jobs[i];
    j->res->hist = g_new0(LatencyHistogram, 1);
    j->res->cpu = o->ncpus ? o->cpus[i % o->ncpus] : -1;
    j->go = go;
    if (o->verify) {
        j->gen = g_new0(uint32_t, j->nblocks);
        j->busy = g_new0(uint8_t, j->nblocks);
    }
}

static void merge_hist(LatencyHistogram *dst, const LatencyHistogram *src)
{
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    dst->max_ns = MAX(dst->max_ns, src->max_ns);
    for (unsigned b = 0; b < LAT_HIST_BUCKETS; b++) {
        dst->buckets[b] += src->buckets[b];
    }
}

gboolean bench_blk_run_jobs(BlkRun *run, GError **errp)
{
    unsigned n = run->opt.numjobs, started = 0;
    BlkJob *jobs = g_new0(BlkJob, n);
    _Atomic int go = 0;
    gboolean ok = TRUE;

    run->jobs = g_new0(BlkJobResult, n);
    for (unsigned i = 0; i < n && ok; i++) {
        g_autofree char *name = g_strdup_printf("blk-job%u", i);

        job_init(run, &jobs[i], i, &go);
        ok = bench_thread_start(&jobs[i].thread, name, job_main, &jobs[i], &jobs[i].tid,
                                errp);
        if (ok) {
            started++;
            ok = bench_pin_tid(jobs[i].tid, jobs[i].res->cpu, errp);
        }
    }
    /* release pairs with the acquire load of go in job_main(); -1 = abort */
    atomic_store_explicit(&go, ok ? 1 : -1, memory_order_release);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(jobs[i].thread, NULL);
    }
    lat_hist_reset(&run->total);
    for (unsigned i = 0; i < n; i++) {
        BlkJob *j = &jobs[i];

        if (j->err) {
            run->jobs[i].error = g_strdup(j->err->message);
            g_error_free(j->err);
        }
        if (j->res) {
            merge_hist(&run->total, j->res->hist);
        }
        g_free(j->slots);
        g_free(j->gen);
        g_free(j->busy);
    }
    g_free(jobs);
    return ok;
}
