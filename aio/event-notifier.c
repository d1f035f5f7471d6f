/*
 * aio/event-notifier.c - EventNotifier on a non-blocking eventfd.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "qcontext/aio/event-notifier.h"

int event_notifier_init(EventNotifier *e, int active)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (fd < 0) {
        e->rfd = e->wfd = -1;
        e->initialized = false;
        return -errno;
    }
    e->rfd = e->wfd = fd;
    e->initialized = true;
    if (active) {
        int ret = event_notifier_set(e);
        if (ret < 0) {
            event_notifier_cleanup(e);
            return ret;
        }
    }
    return 0;
}

void event_notifier_cleanup(EventNotifier *e)
{
    if (!e->initialized) {
        return;
    }
    close(e->rfd);
    if (e->wfd != e->rfd) {
        close(e->wfd);
    }
    e->rfd = e->wfd = -1;
    e->initialized = false;
}

int event_notifier_set(EventNotifier *e)
{
    uint64_t value = 1;
    ssize_t ret;

    if (!e->initialized) {
        return -EBADF;
    }
    do {
        ret = write(e->wfd, &value, sizeof(value));
    } while (ret < 0 && errno == EINTR);

    /* EAGAIN: the counter is saturated, so the notifier is already set. */
    if (ret < 0 && errno != EAGAIN) {
        return -errno;
    }
    return 0;
}

bool event_notifier_test_and_clear(EventNotifier *e)
{
    uint64_t value;
    ssize_t len;
    bool was_set = false;

    if (!e->initialized) {
        return false;
    }
    /*
     * One read: it returns and clears the whole counter of an eventfd (a
     * second read is a wasted system call per wakeup).  Whatever a
     * semaphore-mode eventfd or a pipe from a front-end leaves keeps the
     * fd readable for the next iteration: never a loop on a counter that a
     * hostile writer keeps high.
     */
    do {
        len = read(e->rfd, &value, sizeof(value));
    } while (len < 0 && errno == EINTR);
    if (len == sizeof(value)) {
        was_set = true;
    }
    return was_set;
}

int event_notifier_get_fd(const EventNotifier *e)
{
    return e->rfd;
}
