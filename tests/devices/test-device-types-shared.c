/*
 * tests/devices/test-device-types-shared.c - device types register
 * themselves (DEVICE_REGISTER_TYPE) when the program links the shared
 * library too: this program links libqcontext.so, not the static library,
 * and finds the built-in "ticker" without naming it anywhere.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dlfcn.h>

#include "qcontext/devices/device.h"

static gboolean done;

static void on_done(Device *dev, const GError *err, gpointer opaque)
{
    g_assert_no_error(err);
    done = TRUE;
}

static void run_main_until_done(void)
{
    while (!done) {
        qcontext_iterate(qcontext_get_main(), TRUE);
    }
    done = FALSE;
}

static void test_shared_registration(void)
{
    Dl_info info;
    g_autoptr(GError) err = NULL;
    QomObject *obj;

    /* The device layer really comes from the shared object. */
    g_assert_true(dladdr((void *)devices_register_types, &info));
    g_assert_nonnull(strstr(info.dli_fname, "libqcontext.so"));

    g_assert_cmpint(qom_type_lookup("ticker"), ==, G_TYPE_INVALID);
    devices_register_types();
    g_assert_cmpint(qom_type_lookup("ticker"), !=, G_TYPE_INVALID);

    obj = qom_object_new_from_string(QOM_CONTAINER_DEVICES, DEVICE_TYPE,
                                     "ticker,id=t0,num-queues=2", &err);
    g_assert_no_error(err);
    g_assert_true(device_sync(DEVICE(obj), on_done, NULL, &err));
    run_main_until_done();
    g_assert_cmpint(device_get_state(DEVICE(obj)), ==, DEVICE_STATE_RUNNING);
    g_assert_true(device_del(DEVICE(obj), 0, on_done, NULL, &err));
    run_main_until_done();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert_true(qcontext_init_main(NULL));
    g_test_add_func("/devices/types/shared-library", test_shared_registration);
    return g_test_run();
}
