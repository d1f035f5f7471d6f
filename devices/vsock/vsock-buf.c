/*
 * devices/vsock/vsock-buf.c - byte rings (storage only while non-empty) and
 * iovec helpers for guest buffers.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "qcontext-vsock"

#include <string.h>

#include "vsock-internal.h"

void vsock_ring_init(VsockRing *r, uint32_t cap)
{
    *r = (VsockRing){.cap = cap};
}

/* Where the next byte goes, and how much fits there without wrapping. */
static uint32_t ring_tail(const VsockRing *r, uint32_t *contig)
{
    uint32_t tail = (r->head + r->len) % r->cap;

    if (r->len == r->cap) {
        *contig = 0;
    } else if (tail >= r->head) {
        *contig = r->cap - tail; /* free: [tail, cap) then [0, head) */
    } else {
        *contig = r->head - tail; /* the data wraps: free is [tail, head) */
    }
    return tail;
}

static void ring_ensure(VsockRing *r)
{
    if (!r->buf) {
        r->buf = g_malloc(r->cap);
        r->head = 0;
    }
}

void vsock_ring_push(VsockRing *r, const void *data, size_t len)
{
    const uint8_t *p = data;

    g_assert(len <= vsock_ring_space(r));
    if (len == 0) {
        return;
    }
    ring_ensure(r);
    while (len > 0) {
        uint32_t contig;
        uint32_t tail = ring_tail(r, &contig);
        uint32_t n = MIN(contig, len);

        memcpy(r->buf + tail, p, n);
        r->len += n;
        p += n;
        len -= n;
    }
}

void vsock_ring_push_iov(VsockRing *r, const struct iovec *iov, unsigned iovcnt,
                         size_t offset, size_t len)
{
    g_assert(len <= vsock_ring_space(r));
    if (len == 0) {
        return;
    }
    ring_ensure(r);
    while (len > 0) {
        uint32_t contig;
        uint32_t tail = ring_tail(r, &contig);
        size_t n =
            vsock_iov_to_buf(iov, iovcnt, offset, r->buf + tail, MIN(contig, len));

        g_assert(n > 0); /* the caller checked the iovec holds @len bytes */
        r->len += n;
        offset += n;
        len -= n;
    }
}

unsigned vsock_ring_peek(const VsockRing *r, size_t max, struct iovec out[2])
{
    size_t len = MIN(max, r->len);
    size_t first;

    if (len == 0) {
        return 0;
    }
    first = MIN(len, r->cap - r->head);
    out[0] = (struct iovec){r->buf + r->head, first};
    if (first == len) {
        return 1;
    }
    out[1] = (struct iovec){r->buf, len - first};
    return 2;
}

void vsock_ring_consume(VsockRing *r, size_t len)
{
    g_assert(len <= r->len);
    r->len -= len;
    r->head = r->len ? (r->head + len) % r->cap : 0;
    if (r->len == 0) {
        vsock_ring_free(r);
    }
}

void vsock_ring_free(VsockRing *r)
{
    g_free(r->buf);
    r->buf = NULL;
    r->head = 0;
    r->len = 0;
}

size_t vsock_iov_size(const struct iovec *iov, unsigned iovcnt)
{
    size_t total = 0;

    for (unsigned i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    return total;
}

/* Copy between @iov (from @offset) and @buf; @to_iov picks the direction. */
static size_t iov_copy(const struct iovec *iov, unsigned iovcnt, size_t offset,
                       uint8_t *buf, size_t len, bool to_iov)
{
    size_t done = 0;

    for (unsigned i = 0; i < iovcnt && done < len; i++) {
        size_t n;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        n = MIN(iov[i].iov_len - offset, len - done);
        if (to_iov) {
            memcpy((uint8_t *)iov[i].iov_base + offset, buf + done, n);
        } else {
            memcpy(buf + done, (uint8_t *)iov[i].iov_base + offset, n);
        }
        done += n;
        offset = 0;
    }
    return done;
}

size_t vsock_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t offset,
                        void *buf, size_t len)
{
    return iov_copy(iov, iovcnt, offset, buf, len, false);
}

size_t vsock_iov_from_buf(const struct iovec *iov, unsigned iovcnt, size_t offset,
                          const void *buf, size_t len)
{
    return iov_copy(iov, iovcnt, offset, (uint8_t *)buf, len, true);
}

unsigned vsock_iov_slice(const struct iovec *src, unsigned iovcnt, size_t offset,
                         size_t len, struct iovec *dst, unsigned dst_max, size_t *got)
{
    unsigned n = 0;
    size_t done = 0;

    for (unsigned i = 0; i < iovcnt && done < len && n < dst_max; i++) {
        size_t take;

        if (offset >= src[i].iov_len) {
            offset -= src[i].iov_len;
            continue;
        }
        take = MIN(src[i].iov_len - offset, len - done);
        if (take > 0) {
            dst[n++] = (struct iovec){(uint8_t *)src[i].iov_base + offset, take};
            done += take;
        }
        offset = 0;
    }
    *got = done;
    return n;
}
