/*
 * frontend/fe-blk-internal.h - what fe-blk.c and fe-blk-sync.c share.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FRONTEND_FE_BLK_INTERNAL_H
#define FRONTEND_FE_BLK_INTERNAL_H

#include "frontend/fe-blk.h"

struct FeBlkQueue {
    FeBlk *blk;
    FeVq *vq;
    FeBlkReq *slots;
    unsigned n;
    unsigned *free_stack;
    unsigned nfree;
    unsigned inflight;
    GQueue ready; /* completed (aborted by a reconnect) before the ring */
    uint8_t *data, *meta;
};

struct FeBlk {
    FeBlkOptions opt;
    FeDevice *dev;
    struct virtio_blk_config cfg;
    FeBlkQueue *queues;
};

/* The opaque of a request whose blocking caller gave up on it. */
extern char fe_blk_orphan;

/* The next completion, orphans included (fe_blk_complete() skips them). */
FeBlkReq *fe_blk_next_done(FeBlkQueue *q);

#endif /* FRONTEND_FE_BLK_INTERNAL_H */
