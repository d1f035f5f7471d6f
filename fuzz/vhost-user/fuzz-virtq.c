/*
 * fuzz/vhost-user/fuzz-virtq.c - libFuzzer target: the descriptor-chain
 * walker of the split virtqueue, over guest memory the input writes.
 *
 * Guest memory is a 64 KiB memfd seen as two regions adjacent in guest
 * physical space (0x10000 and 0x18000) but mapped apart, so buffers can
 * span regions.  Input byte 0 picks the queue size (1 << (b & 7)),
 * INDIRECT_DESC (bit 3), EVENT_IDX (bit 4), an inflight region (bit 5)
 * and the element's iovec capacity (bits 6-7); the rest is the memory
 * image (rings at 0x10000).  The device pops every chain, un-pops and
 * re-pops some, pushes, flushes and asks whether to notify.  With bit 5
 * the inflight region is a copy of the image at offset 0x1000.
 *
 * Invariant: every iovec produced lies inside a mapped region; nothing
 * outside is touched (ASan), nothing crashes.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "qcontext/devices/virtio/iov.h"
#include "qcontext/devices/virtio/virtqueue.h"

#define MEM_SIZE (64 * 1024)
#define GPA 0x10000ULL
#define INFLIGHT_OFF 0x1000

static int memfd = -1;
static uint8_t *image;
static VirtioMemTable table;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    VirtioMemRegion r;

    memfd = memfd_create("fuzz-virtq", MFD_CLOEXEC);
    if (memfd < 0 || ftruncate(memfd, MEM_SIZE) < 0) {
        abort();
    }
    image = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (image == MAP_FAILED) {
        abort();
    }
    for (unsigned i = 0; i < 2; i++) {
        uint64_t half = MEM_SIZE / 2;

        if (!virtio_mem_region_map(&r, memfd, GPA + i * half, half,
                                   0x7f0000000000ULL + i * half, i * half, NULL) ||
            !virtio_mem_table_insert(&table, &r, NULL)) {
            abort();
        }
    }
    return 0;
}

static void check_inside(const VirtQueueElement *e)
{
    for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
        const uint8_t *p = e->iov[i].iov_base;
        bool ok = false;

        for (unsigned k = 0; k < table.nregions; k++) {
            const VirtioMemRegion *r = &table.regions[k];

            ok |= p >= r->host && e->iov[i].iov_len <= r->size &&
                  p - r->host <= (ptrdiff_t)(r->size - e->iov[i].iov_len);
        }
        if (!ok || e->iov[i].iov_len == 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned caps[4] = {4, 16, 64, 256};
    struct iovec iov[256];
    VirtQueueElement e = {.iov = iov};
    VhostUserInflightQueueSplit *inflight = NULL;
    uint64_t features = 1ULL << VIRTIO_F_VERSION_1;
    VirtQueue vq = {0};
    uint16_t num;
    uint8_t cfg;

    if (size < 1) {
        return 0;
    }
    cfg = data[0];
    num = (uint16_t)(1u << (cfg & 7));
    e.iov_cap = caps[cfg >> 6];
    features |= (cfg & 8) ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0;
    features |= (cfg & 16) ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0;
    memset(image, 0, MEM_SIZE);
    memcpy(image, data + 1, MIN(size - 1, (size_t)MEM_SIZE));

    virtq_init(&vq, &table, num, virtio_mem_gpa_to_host(&table, GPA, 16u * num),
               virtio_mem_gpa_to_host(&table, GPA + 16u * num, 6u + 2u * num),
               virtio_mem_gpa_to_host(&table, GPA + 20u * num + 8, 6u + 8u * num),
               features, 0);
    if (cfg & 32) {
        inflight = g_malloc(virtq_inflight_region_size(num));
        memcpy(inflight, image + INFLIGHT_OFF, virtq_inflight_region_size(num));
        virtq_inflight_recover(&vq, inflight);
    }
    for (unsigned n = 0; n < 2u * num + 4; n++) {
        int r = virtq_pop(&vq, &e);

        if (r <= 0) {
            break;
        }
        check_inside(&e);
        if (n % 3 == 1) {
            virtq_unpop(&vq, &e);
            /* Usually the same chain again; not always: the device's own
             * writes (avail_event) may land on a descriptor the input put
             * inside the used ring. */
            if (virtq_pop(&vq, &e) != 1) {
                break;
            }
            check_inside(&e);
        }
        virtq_push(&vq, &e, (uint32_t)iov_size(virtq_elem_in_iov(&e), e.in_num));
        if (n % 2) {
            virtq_flush(&vq);
            virtq_should_notify(&vq);
        }
        virtq_set_notification(&vq, n % 4 == 0);
    }
    virtq_flush(&vq);
    virtq_should_notify(&vq);
    virtq_has_work(&vq);
    virtq_drop_resubmits(&vq);
    virtq_cleanup(&vq);
    g_free(inflight);
    return 0;
}
