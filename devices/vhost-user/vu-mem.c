/*
 * devices/vhost-user/vu-mem.c - the handlers that hand us shared memory:
 * the memory table (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG), the inflight
 * region (GET/SET_INFLIGHT_FD), and the config space window (GET/SET_CONFIG).
 *
 * New mappings are made and checked before anything changes; running rings
 * are stopped (their requests drained) before a mapping they may use goes
 * away, and started again afterwards (vu_reconfigure()).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "vhost-user"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vu-internal.h"

#define INFLIGHT_OFFSET_ALIGN 64

void vu_inflight_unmap(VuDev *dev)
{
    if (dev->inflight_map) {
        munmap(dev->inflight_map, dev->inflight_map_len);
    }
    dev->inflight_map = NULL;
    dev->inflight_map_len = 0;
    dev->inflight_base = NULL;
    dev->inflight_nq = dev->inflight_qsize = 0;
}

void vu_staged_clear(VuDev *dev)
{
    virtio_mem_table_clear(&dev->staged_mem);
    virtio_mem_region_unmap(&dev->staged_region);
    if (dev->staged_inflight_map) {
        munmap(dev->staged_inflight_map, dev->staged_inflight_len);
    }
    dev->staged_inflight_map = NULL;
    dev->staged_inflight_len = 0;
    dev->staged_inflight_base = NULL;
}

static VuStatus vu_fail_err(VuDev *dev, const char *what, GError *err)
{
    VuStatus st = vu_fail(dev, "%s: %s", what, err->message);

    g_error_free(err);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Memory table                                                              */
/* ------------------------------------------------------------------------ */

static int vu_apply_mem_table(VuDev *dev)
{
    virtio_mem_table_clear(&dev->mem);
    dev->mem = dev->staged_mem;
    memset(&dev->staged_mem, 0, sizeof(dev->staged_mem));
    return VU_OK;
}

static bool vu_map_region(VuMsg *msg, unsigned i, const VhostUserMemoryRegion *d,
                          VirtioMemRegion *r, GError **errp)
{
    return virtio_mem_region_map(r, msg->fds[i], d->guest_phys_addr, d->memory_size,
                                 d->userspace_addr, d->mmap_offset, errp);
}

VuStatus vu_handle_set_mem_table(VuDev *dev, VuMsg *msg)
{
    const VhostUserMemory *m = &msg->payload.memory;
    GError *err = NULL;

    if (m->nregions > VHOST_MEMORY_BASELINE_NREGIONS) {
        return vu_fail(dev, "SET_MEM_TABLE with %u regions (at most %d)", m->nregions,
                       VHOST_MEMORY_BASELINE_NREGIONS);
    }
    if (msg->hdr.size < offsetof(VhostUserMemory, regions) +
                            m->nregions * sizeof(VhostUserMemoryRegion)) {
        return vu_fail(dev,
                       "SET_MEM_TABLE payload of %u bytes is too short for %u regions",
                       msg->hdr.size, m->nregions);
    }
    if (msg->nfds != m->nregions) {
        return vu_fail(dev, "SET_MEM_TABLE with %u regions and %u fds", m->nregions,
                       msg->nfds);
    }
    vu_staged_clear(dev);
    for (unsigned i = 0; i < m->nregions; i++) {
        VirtioMemRegion r;

        if (!vu_map_region(msg, i, &m->regions[i], &r, &err) ||
            !virtio_mem_table_insert(&dev->staged_mem, &r, &err)) {
            virtio_mem_region_unmap(&r);
            vu_staged_clear(dev);
            return vu_fail_err(dev, "SET_MEM_TABLE", err);
        }
    }
    return vu_reconfigure(dev, NULL, vu_apply_mem_table);
}

static int vu_apply_add_mem_reg(VuDev *dev)
{
    /* Checked against a copy of the table before the rings stopped. */
    if (!virtio_mem_table_insert(&dev->mem, &dev->staged_region, NULL)) {
        virtio_mem_region_unmap(&dev->staged_region);
        return vu_fail(dev, "ADD_MEM_REG: the table changed");
    }
    memset(&dev->staged_region, 0, sizeof(dev->staged_region));
    return VU_OK;
}

VuStatus vu_handle_add_mem_reg(VuDev *dev, VuMsg *msg)
{
    VirtioMemTable check = dev->mem; /* a copy: its regions are not owned */
    GError *err = NULL;

    vu_staged_clear(dev);
    if (!vu_map_region(msg, 0, &msg->payload.mem_reg.region, &dev->staged_region,
                       &err)) {
        return vu_fail_err(dev, "ADD_MEM_REG", err);
    }
    if (!virtio_mem_table_insert(&check, &dev->staged_region, &err)) {
        virtio_mem_region_unmap(&dev->staged_region);
        return vu_fail_err(dev, "ADD_MEM_REG", err);
    }
    return vu_reconfigure(dev, NULL, vu_apply_add_mem_reg);
}

static int vu_apply_rem_mem_reg(VuDev *dev)
{
    virtio_mem_table_remove(&dev->mem, (unsigned)dev->staged_remove);
    return VU_OK;
}

VuStatus vu_handle_rem_mem_reg(VuDev *dev, VuMsg *msg)
{
    const VhostUserMemoryRegion *d = &msg->payload.mem_reg.region;

    /* A stray fd is accepted for compatibility and closed unused. */
    dev->staged_remove = virtio_mem_table_find(&dev->mem, d->guest_phys_addr,
                                               d->memory_size, d->userspace_addr);
    if (dev->staged_remove < 0) {
        return VU_REFUSED;
    }
    return vu_reconfigure(dev, NULL, vu_apply_rem_mem_reg);
}

/* ------------------------------------------------------------------------ */
/* Inflight region                                                           */
/* ------------------------------------------------------------------------ */

static VuStatus vu_inflight_args(VuDev *dev, const VhostUserInflight *in, size_t *size)
{
    const char *name = vu_request_name(dev->cur.hdr.request);

    if (in->num_queues == 0 || in->num_queues > dev->num_queues) {
        return vu_fail(dev, "%s for %u queues (the device has %u)", name,
                       in->num_queues, dev->num_queues);
    }
    if (in->queue_size == 0 || in->queue_size > VIRTQ_MAX_SIZE ||
        (in->queue_size & (in->queue_size - 1))) {
        return vu_fail(dev, "%s with queue size %u", name, in->queue_size);
    }
    *size = (size_t)in->num_queues * virtq_inflight_region_size(in->queue_size);
    return VU_OK;
}

static int vu_apply_inflight(VuDev *dev)
{
    vu_inflight_unmap(dev);
    dev->inflight_map = dev->staged_inflight_map;
    dev->inflight_map_len = dev->staged_inflight_len;
    dev->inflight_base = dev->staged_inflight_base;
    dev->inflight_nq = dev->staged_inflight_nq;
    dev->inflight_qsize = dev->staged_inflight_qsize;
    dev->staged_inflight_map = NULL;
    dev->staged_inflight_base = NULL;
    return dev->cur.hdr.request == VHOST_USER_GET_INFLIGHT_FD ? VU_REPLIED : VU_OK;
}

static void vu_stage_inflight(VuDev *dev, void *map, size_t len, uint8_t *base,
                              const VhostUserInflight *in)
{
    dev->staged_inflight_map = map;
    dev->staged_inflight_len = len;
    dev->staged_inflight_base = base;
    dev->staged_inflight_nq = in->num_queues;
    dev->staged_inflight_qsize = in->queue_size;
}

/* A zeroed, sealed memfd of @size bytes, mapped at *@map; -1 on failure. */
static int vu_inflight_create(size_t size, void **map)
{
    int fd = memfd_create("vhost-user-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0) {
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
        (*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

VuStatus vu_handle_get_inflight_fd(VuDev *dev, VuMsg *msg)
{
    VhostUserInflight in = msg->payload.inflight;
    VhostUserInflight reply = in;
    void *map = NULL;
    size_t size;
    int fd;

    if (vu_inflight_args(dev, &in, &size) != VU_OK) {
        return VU_CLOSE;
    }
    fd = vu_inflight_create(size, &map);
    if (fd < 0) {
        /* Not the front-end's fault: answer "no inflight tracking". */
        g_warning("vhost-user device '%s': cannot create the inflight region: %s",
                  dev->id, g_strerror(errno));
        memset(&reply, 0, sizeof(reply));
        vu_io_send(dev, &msg->hdr, &reply, sizeof(reply), -1);
        return VU_REPLIED;
    }
    vu_staged_clear(dev);
    vu_stage_inflight(dev, map, size, map, &in);
    reply.mmap_size = size;
    reply.mmap_offset = 0;
    vu_io_send(dev, &msg->hdr, &reply, sizeof(reply), fd); /* sent after the change */
    return vu_reconfigure(dev, NULL, vu_apply_inflight);
}

VuStatus vu_handle_set_inflight_fd(VuDev *dev, VuMsg *msg)
{
    VhostUserInflight in = msg->payload.inflight;
    size_t size, page = (size_t)sysconf(_SC_PAGESIZE), delta;
    struct stat st;
    void *map;
    int fd = msg->fds[0];

    if (vu_inflight_args(dev, &in, &size) != VU_OK) {
        return VU_CLOSE;
    }
    if (in.mmap_size < size || in.mmap_size > SIZE_MAX / 2 ||
        in.mmap_offset % INFLIGHT_OFFSET_ALIGN) {
        return vu_fail(dev,
                       "SET_INFLIGHT_FD: region of %" PRIu64 " bytes at offset %" PRIu64
                       " (need %zu bytes, 64-byte aligned)",
                       in.mmap_size, in.mmap_offset, size);
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        in.mmap_size > (uint64_t)st.st_size ||
        in.mmap_offset > (uint64_t)st.st_size - in.mmap_size) {
        return vu_fail(dev, "SET_INFLIGHT_FD: the region is larger than its file");
    }
    delta = in.mmap_offset & (page - 1);
    map = mmap(NULL, delta + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
               (off_t)(in.mmap_offset - delta));
    if (map == MAP_FAILED) {
        return vu_fail(dev, "SET_INFLIGHT_FD: cannot map the region: %s",
                       g_strerror(errno));
    }
    vu_staged_clear(dev);
    vu_stage_inflight(dev, map, delta + size, (uint8_t *)map + delta, &in);
    return vu_reconfigure(dev, NULL, vu_apply_inflight);
}

/* ------------------------------------------------------------------------ */
/* Config space                                                              */
/* ------------------------------------------------------------------------ */

static bool vu_config_window_ok(VuDev *dev, const VuMsg *msg)
{
    const VhostUserConfig *c = &msg->payload.config;

    if (c->size > VHOST_USER_MAX_CONFIG_SIZE ||
        c->offset > VHOST_USER_MAX_CONFIG_SIZE - c->size ||
        msg->hdr.size != VHOST_USER_CONFIG_HDR_SIZE + c->size) {
        vu_fail(dev, "%s window %u+%u inconsistent with its %u-byte payload",
                vu_request_name(msg->hdr.request), c->offset, c->size, msg->hdr.size);
        return false;
    }
    return true;
}

VuStatus vu_handle_get_config(VuDev *dev, VuMsg *msg)
{
    const VhostUserConfig *c = &msg->payload.config;
    VhostUserConfig reply;

    if (!vu_config_window_ok(dev, msg)) {
        return VU_CLOSE;
    }
    memset(&reply, 0, sizeof(reply));
    reply.offset = c->offset;
    reply.size = c->size;
    reply.flags = c->flags;
    if (dev->ops->get_config(dev, reply.region, c->offset, c->size)) {
        vu_io_send(dev, &msg->hdr, &reply, VHOST_USER_CONFIG_HDR_SIZE + c->size, -1);
    } else {
        vu_io_send(dev, &msg->hdr, NULL, 0, -1); /* an empty payload is the error */
    }
    return VU_REPLIED;
}

VuStatus vu_handle_set_config(VuDev *dev, VuMsg *msg)
{
    const VhostUserConfig *c = &msg->payload.config;

    if (!vu_config_window_ok(dev, msg)) {
        return VU_CLOSE;
    }
    if (c->flags != VHOST_SET_CONFIG_TYPE_FRONTEND &&
        c->flags != VHOST_SET_CONFIG_TYPE_MIGRATION) {
        return vu_fail(dev, "SET_CONFIG with flags %u", c->flags);
    }
    if (!dev->ops->set_config ||
        !dev->ops->set_config(dev, c->region, c->offset, c->size, c->flags)) {
        return VU_REFUSED;
    }
    return VU_OK;
}
