/*
 * tests/qom/test-types.h - object types used only by the qom tests.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TEST_QOM_TYPES_H
#define TEST_QOM_TYPES_H

#include "qcontext/qom/object.h"

/* "test-abstract": an abstract base with one concrete child "test-ctx". */
#define TEST_TYPE_ABSTRACT (test_abstract_get_type())
G_DECLARE_DERIVABLE_TYPE(TestAbstract, test_abstract, TEST, ABSTRACT, QomObject)
struct _TestAbstractClass {
    QomObjectClass parent_class;
};

#define TEST_TYPE_CTX (test_ctx_get_type())
G_DECLARE_FINAL_TYPE(TestCtx, test_ctx, TEST, CTX, TestAbstract)

typedef enum { TEST_MODE_POLL, TEST_MODE_EPOLL, TEST_MODE_IO_URING } TestMode;
#define TEST_TYPE_MODE (test_mode_get_type())
GType test_mode_get_type(void);

/*
 * "test-thing": a property of every kind: i (int, [-1000, 1000]), count
 * (int), u (uint), l (long), ul (ulong), i64 (int64 >= 0), u64 (uint64),
 * ch (char), uch (uchar), flag (bool), ratio (double [0, 1]), scale
 * (double), name (string), mode (enum), buf-size (uint64 size), small-size
 * (uint size), threaded (construct-only bool), state (read-only string),
 * peer (link to test-thing), context (link to test-abstract).
 */
#define TEST_TYPE_THING (test_thing_get_type())
G_DECLARE_FINAL_TYPE(TestThing, test_thing, TEST, THING, QomObject)

/*
 * "test-fail": complete starts a thread and opens an fd, then fails when
 * fail=on.  Dispose stops the thread and closes the fds.
 */
#define TEST_TYPE_FAIL (test_fail_get_type())
G_DECLARE_FINAL_TYPE(TestFail, test_fail, TEST, FAIL, QomObject)

/* Register the types above (idempotent). */
void test_types_register(void);

/* Ids of the objects whose unparent hook ran, oldest first; reset to empty. */
char *test_unparent_log_take(void);

#endif
