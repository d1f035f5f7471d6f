/*
 * devices/virtio/iov.h - small helpers over iovec arrays (guest buffers
 * popped from a virtqueue), with QEMU's util/iov.h names and semantics.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef QCONTEXT_DEVICES_VIRTIO_IOV_H
#define QCONTEXT_DEVICES_VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>
#include <glib.h>

G_BEGIN_DECLS

/** iov_size: total bytes of @iov[0 .. @cnt). */
size_t iov_size(const struct iovec *iov, unsigned cnt);

/**
 * iov_to_buf: copy up to @bytes bytes from @iov, starting @offset bytes
 * in, to @buf.  Returns the bytes copied (less if @iov is shorter).
 */
size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t offset, void *buf,
                  size_t bytes);

/**
 * iov_from_buf: copy up to @bytes bytes of @buf into @iov, starting
 * @offset bytes in.  Returns the bytes copied.
 */
size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t offset,
                    const void *buf, size_t bytes);

/**
 * iov_discard_front: drop the first @bytes bytes of the array *@iov of
 * *@cnt entries, in place (advances *@iov, shrinks the first remaining
 * entry).  Returns the bytes dropped (less if the array is shorter).
 */
size_t iov_discard_front(struct iovec **iov, unsigned *cnt, size_t bytes);

/**
 * iov_discard_back: drop the last @bytes bytes of @iov (*@cnt entries), in
 * place.  Returns the bytes dropped.
 */
size_t iov_discard_back(struct iovec *iov, unsigned *cnt, size_t bytes);

G_END_DECLS

#endif /* QCONTEXT_DEVICES_VIRTIO_IOV_H */
