#!/usr/bin/env python3
"""QEMU's own Python QMP tools, unchanged, against qcontextd.

The tools (QEMU 7.2's python/qemu: the async QMPClient, the legacy sync
QEMUMonitorProtocol, qmp-shell, and the QOM tools qom list/get/set/tree) are
fetched by scripts/fetch-qemu-python.sh into the cache; without them this test
skips.  The command-line tools run as their console-script entry points would
run them (setup.cfg's [options.entry_points]).  Prints TAP.

Environment: QCONTEXTD (the daemon), QEMU_PYTHON_DIR (default: the cache
directory of scripts/fetch-qemu-python.sh).
"""
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

CACHE = os.environ.get("QCONTEXT_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qcontext")
QEMU_PYTHON = os.environ.get("QEMU_PYTHON_DIR") or os.path.join(CACHE, "qemu-7.2-python")
TIMEOUT = 30


class Daemon:
    """qcontextd with two contexts, a ticker and a monitor socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="qctx-qemu-tools-")
        self.sock = os.path.join(self.dir, "qmp.sock")
        self.proc = subprocess.Popen(
            [os.environ["QCONTEXTD"], "-name", "pytools",
             "-object", "aio-qcontext,id=io0,threaded=on",
             "-object", "glib-qcontext,id=g0,threaded=on",
             "-device", "ticker,id=tick0,context=io0,interval-us=2000",
             "-monitor", "unix:%s,server=on" % self.sock],
            stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert self.proc.poll() is None, "qcontextd exited during start-up"
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                    break
            except OSError:
                assert time.monotonic() < deadline, "no monitor socket"
                time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def run_tool(module, func, args, stdin=None):
    """Run a console script the way its generated wrapper does."""
    code = ("import sys; from %s import %s as f; sys.argv[0] = %r; sys.exit(f())"
            % (module, func, func))
    env = dict(os.environ, PYTHONPATH=QEMU_PYTHON)
    return subprocess.run([sys.executable, "-c", code] + args, input=stdin,
                          capture_output=True, text=True, env=env, timeout=TIMEOUT)


def qom(d, *args):
    return run_tool("qemu.utils.qom", "main", [args[0], "-s", d.sock] + list(args[1:]))


# --------------------------------------------------------------------------


def test_async_client(d):
    from qemu.qmp import QMPClient, ExecuteError

    async def main():
        qmp = QMPClient("test")
        await qmp.connect(d.sock)
        ver = qmp.greeting.QMP.version  # pylint: disable=no-member
        assert set(ver["qemu"]) == {"major", "minor", "micro"}, ver
        ret = await qmp.execute("query-version")
        assert ret["qemu"] == ver["qemu"], ret
        ctxs = await qmp.execute("query-qcontexts")
        assert {"main", "io0", "g0"} <= {c["id"] for c in ctxs}, ctxs
        assert await qmp.execute("query-name") == {"name": "pytools"}
        try:
            await qmp.execute("qom-get", {"path": "/objects/nope", "property": "type"})
            raise AssertionError("qom-get of a missing object succeeded")
        except ExecuteError as err:
            assert err.error_class == "DeviceNotFound", err.error_class
        with qmp.listener("DEVICE_MOVED") as listener:
            await qmp.execute("device-set-context", {"id": "tick0", "context": "g0"})
            event = await asyncio.wait_for(listener.get(), TIMEOUT)
            assert event["data"]["device"] == "tick0", event
            assert event["data"]["context"] == "g0", event
            await qmp.execute("device-set-context", {"id": "tick0", "context": "io0"})
            event = await asyncio.wait_for(listener.get(), TIMEOUT)
            assert event["data"]["context"] == "io0", event
        await qmp.disconnect()

    asyncio.run(main())


def test_legacy_client(d):
    from qemu.qmp.legacy import QEMUMonitorProtocol
    from qemu.qmp import ExecuteError

    # The sync API takes the thread's current event loop (get_event_loop()),
    # which asyncio.run() in the test before closed: give it a fresh one, as
    # a program that only uses the sync API has.
    asyncio.set_event_loop(asyncio.new_event_loop())
    with QEMUMonitorProtocol(d.sock) as qmp:
        greeting = qmp.connect()
        assert "qemu" in greeting["QMP"]["version"], greeting
        names = [c["name"] for c in qmp.command("query-commands")]
        assert "qom-list" in names and "query-qmp-schema" in names, names
        assert qmp.command("qom-get", path="/devices/tick0",
                           property="context") == "/objects/io0"
        assert qmp.command("qom-set", path="/objects/io0", property="poll-max-ns",
                           value=4096) == {}
        assert qmp.command("qom-get", path="/objects/io0", property="poll-max-ns") == 4096
        reply = qmp.cmd("qom-set", {"path": "/objects/io0", "property": "threaded",
                                    "value": "yes"})
        assert reply["error"]["class"] == "GenericError", reply
        try:
            qmp.command("no-such-command")
            raise AssertionError("an unknown command succeeded")
        except ExecuteError as err:
            assert err.error_class == "CommandNotFound", err.error_class


def test_qmp_shell(d):
    res = run_tool("qemu.qmp.qmp_shell", "main", [d.sock],
                   stdin="query-name\n"
                         "qom-get path=/objects/io0 property=fdmon\n"
                         "qom-list path=/\n")
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    assert "Connected to QEMU" in res.stdout, res.stdout
    assert '{"return": {"name": "pytools"}}' in res.stdout, res.stdout
    assert '{"return": "epoll"}' in res.stdout, res.stdout
    assert '"child<container>"' in res.stdout, res.stdout
    assert "Traceback" not in res.stderr, res.stderr


def test_qom_list(d):
    res = qom(d, "list", "/")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["type", "objects/", "devices/"], res.stdout
    res = qom(d, "list", "/objects/io0")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert "poll-max-ns" in lines and "threaded" in lines, lines
    res = qom(d, "list", "/devices/tick0")
    assert res.returncode == 0, res.stderr
    assert "@context/" in res.stdout.split(), res.stdout


def test_qom_get_set(d):
    res = qom(d, "get", "/objects/io0.fdmon")
    assert (res.returncode, res.stdout) == (0, "epoll\n"), (res.stdout, res.stderr)
    res = qom(d, "get", "/devices/tick0.context")
    assert (res.returncode, res.stdout) == (0, "/objects/io0\n"), (res.stdout, res.stderr)
    # qom set sends the value as a JSON string: like QEMU, an integer
    # property refuses it with QEMU's message, cleanly.
    res = qom(d, "set", "/objects/io0.poll-max-ns", "5")
    assert res.returncode != 0, res.stdout
    assert ("ExecuteError: Invalid parameter type for 'poll-max-ns', expected: integer"
            in res.stderr), res.stderr
    assert "Traceback" not in res.stderr, res.stderr


def test_qom_tree(d):
    res = qom(d, "tree")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "EXCEPTION" not in out, out
    for needle in ["/\n  type: container (string)\n",
                   "/objects\n  type: container (string)\n",
                   "/objects/io0\n  type: aio-qcontext (string)\n",
                   "  threaded: True (bool)\n",
                   "  fdmon: epoll (AioQContextFdmon)\n",
                   "/devices/tick0\n  type: ticker (string)\n",
                   "  context: /objects/io0 (link<"]:
        assert needle in out, (needle, out)


TESTS = [test_async_client, test_legacy_client, test_qmp_shell, test_qom_list,
         test_qom_get_set, test_qom_tree]


def main():
    if not os.path.isfile(os.path.join(QEMU_PYTHON, "qemu", "qmp", "__init__.py")):
        print("1..0 # SKIP QEMU's Python tools are not in %s "
              "(run scripts/fetch-qemu-python.sh)" % QEMU_PYTHON)
        return 0
    sys.path.insert(0, QEMU_PYTHON)
    print("1..%d" % (len(TESTS) + 1), flush=True)
    d = Daemon()
    failed = 0
    for n, test in enumerate(TESTS, 1):
        try:
            test(d)
            print("ok %d %s" % (n, test.__name__), flush=True)
        except Exception:  # pylint: disable=broad-except
            failed += 1
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            print("not ok %d %s" % (n, test.__name__), flush=True)
    rc = d.stop()
    print("%s %d daemon exits 0 (got %d)" % ("ok" if rc == 0 else "not ok",
                                             len(TESTS) + 1, rc), flush=True)
    return 1 if failed or rc else 0


if __name__ == "__main__":
    sys.exit(main())
