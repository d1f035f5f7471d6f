/*
 * aio/defer-call.h - calls deferred to the end of a section on this thread.
 *
 * Code that completes a batch of requests (a block backend reaping its
 * completion ring) opens a section around the batch; code that each
 * completion would otherwise run at once, although once per batch is
 * enough (a virtio device publishing its used ring and signalling the
 * driver), defers it: the outermost defer_call_end() makes each distinct
 * (fn, opaque) call once, in the order first deferred.  Outside a section
 * defer_call() calls at once, so a deferring caller needs no section to be
 * correct.  QEMU's util/defer-call.c names and semantics.
 *
 * Threading: per thread; nothing is shared.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef AIO_DEFER_CALL_H
#define AIO_DEFER_CALL_H

#include <glib.h>

G_BEGIN_DECLS

/** A deferred call: defer_call()'s @fn. */
typedef void DeferCallFn(void *opaque);

/**
 * defer_call_begin: open a section on this thread (sections nest: only the
 * outermost end makes the calls).
 */
void defer_call_begin(void);

/**
 * defer_call_end: close the section opened by the matching
 * defer_call_begin(); at the outermost one, make every call deferred in it,
 * each distinct (fn, opaque) once.  A call made then may defer again: that
 * one is made at once (or at the end of a section it opens).
 */
void defer_call_end(void);

/**
 * defer_call: call @fn(@opaque) at the end of this thread's section, once
 * however often it is deferred there, or now when no section is open (or
 * too many distinct calls are pending: correctness never depends on the
 * deferral).
 */
void defer_call(DeferCallFn *fn, void *opaque);

G_END_DECLS

#endif /* AIO_DEFER_CALL_H */
