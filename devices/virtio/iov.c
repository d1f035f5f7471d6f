/*
 * devices/virtio/iov.c - iovec helpers (see iov.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include "qcontext/devices/virtio/iov.h"

size_t iov_size(const struct iovec *iov, unsigned cnt)
{
    size_t n = 0;

    for (unsigned i = 0; i < cnt; i++) {
        n += iov[i].iov_len;
    }
    return n;
}

/* Walk the bytes [@offset, @offset + @bytes) of @iov, copying with @buf. */
static size_t iov_copy(const struct iovec *iov, unsigned cnt, size_t offset, void *buf,
                       size_t bytes, bool to_buf)
{
    size_t done = 0;

    for (unsigned i = 0; i < cnt && done < bytes; i++) {
        size_t len;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        len = MIN(iov[i].iov_len - offset, bytes - done);
        if (to_buf) {
            memcpy((char *)buf + done, (char *)iov[i].iov_base + offset, len);
        } else {
            memcpy((char *)iov[i].iov_base + offset, (char *)buf + done, len);
        }
        done += len;
        offset = 0;
    }
    return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned cnt, size_t offset, void *buf,
                  size_t bytes)
{
    return iov_copy(iov, cnt, offset, buf, bytes, true);
}

size_t iov_from_buf(const struct iovec *iov, unsigned cnt, size_t offset,
                    const void *buf, size_t bytes)
{
    return iov_copy(iov, cnt, offset, (void *)buf, bytes, false);
}

size_t iov_discard_front(struct iovec **iov, unsigned *cnt, size_t bytes)
{
    size_t done = 0;

    while (*cnt > 0 && done < bytes) {
        struct iovec *v = *iov;
        size_t len = MIN(v->iov_len, bytes - done);

        v->iov_base = (char *)v->iov_base + len;
        v->iov_len -= len;
        done += len;
        if (v->iov_len == 0) {
            (*iov)++;
            (*cnt)--;
        }
    }
    return done;
}

size_t iov_discard_back(struct iovec *iov, unsigned *cnt, size_t bytes)
{
    size_t done = 0;

    while (*cnt > 0 && done < bytes) {
        struct iovec *v = &iov[*cnt - 1];
        size_t len = MIN(v->iov_len, bytes - done);

        v->iov_len -= len;
        done += len;
        if (v->iov_len == 0) {
            (*cnt)--;
        }
    }
    return done;
}
