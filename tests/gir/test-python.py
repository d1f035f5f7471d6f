#!/usr/bin/env python3
"""qcontext from Python through GObject introspection (Qcontext-1.0.typelib
and PyGObject): contexts and devices created, their properties read and set,
the device signals, Python callables run on a chosen context's thread,
errors as GLib.Error.  Run by meson with GI_TYPELIB_PATH and LD_LIBRARY_PATH
pointing into the build."""
import threading
import unittest

import gi

gi.require_version("Qcontext", "1.0")
from gi.repository import GLib, Qcontext  # noqa: E402

MAIN = GLib.MainContext.default()


def iterate_until(cond, timeout=10.0):
    """Run the main loop (devices report to it) until cond() holds."""
    deadline = GLib.get_monotonic_time() + int(timeout * 1e6)
    while not cond():
        if GLib.get_monotonic_time() > deadline:
            raise AssertionError("timed out")
        MAIN.iteration(False)
        GLib.usleep(1000)


class QcontextFromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert Qcontext.QContext.init_main()
        Qcontext.devices_register_types()

    def tearDown(self):
        for container in ("devices", "objects"):
            for obj in Qcontext.qom_container_list(container):
                if obj.get_id() == "main":
                    continue
                gone = []
                if isinstance(obj, Qcontext.Device):
                    obj.connect("deleted", lambda d: gone.append(d))
                Qcontext.qom_container_del(container, obj.get_id())
                if isinstance(obj, Qcontext.Device):
                    iterate_until(lambda: gone)

    def test_contexts_and_properties(self):
        io0 = Qcontext.AioQContext.new("io0", True)
        ui0 = Qcontext.GlibQContext.new("ui0", False)
        self.assertIsInstance(io0, Qcontext.QContext)
        self.assertEqual(io0.get_name(), "io0")
        self.assertEqual(io0.get_type_name(), "aio-qcontext")
        self.assertEqual(Qcontext.QContext.find_by_name("io0"), io0)
        self.assertTrue(io0.props.threaded)
        self.assertTrue(io0.is_running())
        self.assertNotEqual(io0.get_thread_id(), threading.get_native_id())
        self.assertEqual(ui0.get_thread_id(), threading.get_native_id())
        self.assertIsInstance(Qcontext.GlibQContext.get_main_context(ui0), GLib.MainContext)

        # GObject properties, and the object layer's strings (qom-set)
        self.assertEqual(io0.props.poll_max_ns, Qcontext.AIO_QCONTEXT_DEFAULT_POLL_MAX_NS)
        io0.props.poll_max_ns = 1000
        self.assertEqual(io0.get_property("poll-max-ns"), 1000)
        io0.set_property_str("poll-max-ns", "0x10000")
        self.assertEqual(io0.props.poll_max_ns, 65536)
        self.assertEqual(Qcontext.qom_property_to_string(io0, "poll-max-ns"), "65536")
        self.assertEqual(Qcontext.qom_property_to_string(io0, "threaded"), "on")
        with self.assertRaises(GLib.Error) as e:
            io0.set_property_str("threaded", "off")
        self.assertIn("cannot be changed after creation", e.exception.message)

        # errors are GLib.Errors with the library's one-line message
        with self.assertRaises(GLib.Error) as e:
            Qcontext.AioQContext.new("io0", False)
        self.assertEqual(e.exception.message, "duplicate id 'io0'")
        self.assertEqual(Qcontext.qom_type_list(Qcontext.QContext.__gtype__),
                         ["aio-qcontext", "glib-qcontext"])

    def test_invoke_on_a_context_thread(self):
        contexts = [Qcontext.AioQContext.new("io1", True),
                    Qcontext.GlibQContext.new("ui1", True)]
        for ctx in contexts:
            ran = threading.Event()
            seen = {}

            def on_ctx(arg, ctx=ctx, seen=seen, ran=ran):
                seen["tid"] = threading.get_native_id()
                seen["in_thread"] = ctx.in_thread()
                seen["current"] = Qcontext.QContext.current()
                seen["arg"] = arg
                ran.set()

            ctx.invoke(on_ctx, "hello")
            self.assertTrue(ran.wait(10), ctx.get_name())
            self.assertEqual(seen["tid"], ctx.get_thread_id())
            self.assertNotEqual(seen["tid"], threading.get_native_id())
            self.assertTrue(seen["in_thread"])
            self.assertEqual(seen["current"], ctx)
            self.assertEqual(seen["arg"], "hello")

        # "main" runs it when the main loop runs, on this thread
        main = Qcontext.QContext.get_main()
        seen = []
        main.invoke(lambda: seen.append(threading.get_native_id()))
        self.assertEqual(seen, [])
        iterate_until(lambda: seen)
        self.assertEqual(seen, [threading.get_native_id()])

    def test_devices_and_signals(self):
        io2 = Qcontext.AioQContext.new("io2", True)
        ui2 = Qcontext.GlibQContext.new("ui2", True)
        dev = Qcontext.Device.new("ticker", "tick0", io2)
        self.assertIsInstance(dev, Qcontext.Device)
        self.assertEqual(dev.get_id(), "tick0")
        self.assertEqual(dev.get_context(), io2)
        self.assertEqual(dev.props.context, io2)
        self.assertEqual(dev.get_property("interval-us"), 1000)
        iterate_until(lambda: dev.get_stats().completed > 5)

        moved, done = [], []
        dev.connect("moved", lambda d, queue, old, new: moved.append((d, queue, old, new)))
        self.assertTrue(dev.set_context(ui2, lambda d, err: done.append((d, err))))
        iterate_until(lambda: moved)
        self.assertEqual(done, [(dev, None)])  # the callback, then the signal
        self.assertEqual(moved, [(dev, -1, io2, ui2)])
        self.assertEqual(dev.get_context(), ui2)
        before = dev.get_stats()
        iterate_until(lambda: dev.get_stats().completed > before.completed + 5)
        self.assertEqual(dev.get_stats().failed, 0)
        self.assertEqual(dev.get_stats().moves, 1)

        # a context devices cannot use (neither main nor threaded) is refused
        with self.assertRaises(GLib.Error):
            dev.set_context(Qcontext.AioQContext.new("io3", False), None)

        deleted = []
        dev.connect("deleted", lambda d: deleted.append(d.get_id()))
        self.assertTrue(Qcontext.qom_container_del("devices", "tick0"))
        iterate_until(lambda: deleted)
        self.assertEqual(deleted, ["tick0"])
        self.assertIsNone(Qcontext.qom_container_find("devices", "tick0"))

    def test_device_errors(self):
        with self.assertRaises(GLib.Error) as e:
            Qcontext.Device.new("no-such-device", "x0", None)
        self.assertEqual(e.exception.message, "unknown object type 'no-such-device'")
        dev = Qcontext.QomObject.new_from_string("devices", Qcontext.Device.__gtype__,
                                                 "ticker,id=tick1,interval-us=500")
        self.assertEqual(dev.get_property("interval-us"), 500)
        self.assertEqual(dev.get_context(), Qcontext.QContext.get_main())


if __name__ == "__main__":
    unittest.main(verbosity=2)
