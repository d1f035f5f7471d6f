#!/usr/bin/env python3
"""`meson install` gives a real package: programs, library, headers under one
namespace, qcontext.pc, man pages, documentation and examples, the typelib;
the installed example builds against the installed headers and library with
pkg-config alone, and runs; Python finds the installed typelib.  TAP output.

Usage: test-install.py --build-root DIR [--sanitize LIST] [--cc CC]
                       [--python PY_WITH_GI] [--prefix PREFIX]
"""
import argparse
import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

results = []


def check(ok, what, detail=""):
    results.append((bool(ok), what, detail))
    return ok


def run(argv, env=None, cwd=None):
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=120,
                       check=False)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-root", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--python")
    ap.add_argument("--man", action="store_true", help="man pages were built")
    ap.add_argument("--gir", action="store_true", help="the typelib was built")
    args = ap.parse_args()

    dest = tempfile.mkdtemp(prefix="qcontext-install-")
    try:
        rc, out = run(["meson", "install", "-C", args.build_root, "--no-rebuild",
                       "--quiet", "--destdir", dest])
        if not check(rc == 0, "meson install --destdir", out):
            return report()
        root = dest + args.prefix

        def found(pattern):
            return glob.glob(os.path.join(root, pattern), recursive=True)

        for what, pattern in [
                ("qcontextd", "bin/qcontextd"), ("qcontext-ctl", "bin/qcontext-ctl"),
                ("qcontext-bench", "bin/qcontext-bench"),
                ("the shared library", "lib*/**/libqcontext.so.0*"),
                ("qcontext.pc", "lib*/**/pkgconfig/qcontext.pc"),
                ("<qcontext/qcontext.h>", "include/qcontext/qcontext.h"),
                ("<qcontext/aio/aio.h>", "include/qcontext/aio/aio.h"),
                ("<qcontext/devices/device.h>", "include/qcontext/devices/device.h"),
                ("the README", "share/doc/qcontext/README.md"),
                ("the operator guide", "share/doc/qcontext/operator-guide.md"),
                ("the Python guide", "share/doc/qcontext/python.md"),
                ("the example program", "share/doc/qcontext/examples/embed.c")]:
            check(found(pattern), "installed: %s (%s)" % (what, pattern))
        check(not found("include/qom") and not found("include/qcontext/qcontext/"),
              "headers only under include/qcontext/")
        if args.man:
            for page in ("share/man/man8/qcontextd.8", "share/man/man1/qcontext-ctl.1"):
                pages = found(page)
                check(pages and os.path.getsize(pages[0]) > 1000, "installed: " + page)
        if args.gir:
            check(found("lib*/**/girepository-1.0/Qcontext-1.0.typelib"),
                  "installed: Qcontext-1.0.typelib")
            check(found("share/gir-1.0/Qcontext-1.0.gir"), "installed: Qcontext-1.0.gir")

        # the installed example, built with pkg-config alone
        pcs = found("lib*/**/pkgconfig/qcontext.pc")
        example = found("share/doc/qcontext/examples/embed.c")
        if pcs and example:
            # the .pc as installed, with its prefix moved into DESTDIR
            # (--define-variable would move glib's too)
            pcdir = os.path.join(dest, "pkgconfig")
            os.makedirs(pcdir)
            with open(pcs[0]) as f:
                text = f.read()
            check(("prefix=%s\n" % args.prefix) in text and "-I${includedir}" in text and
                  "${includedir}/qcontext" not in text,
                  "qcontext.pc: Cflags -I${includedir}, no -I${includedir}/qcontext", text)
            with open(os.path.join(pcdir, "qcontext.pc"), "w") as f:
                f.write(text.replace("prefix=%s\n" % args.prefix, "prefix=%s\n" % root, 1))
            env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
            pc = ["pkg-config"]
            rc1, cflags = run(pc + ["--cflags", "qcontext"], env)
            rc2, libs = run(pc + ["--libs", "qcontext"], env)
            check(rc1 == 0 and rc2 == 0 and "-I%s/include" % root in cflags,
                  "pkg-config --cflags gives -I${includedir}", cflags + libs)
            libdir = os.path.dirname(found("lib*/**/libqcontext.so.0*")[0])
            exe = os.path.join(dest, "embed")
            flags = ["-fsanitize=" + args.sanitize] if args.sanitize != "none" else []
            rc, out = run([args.cc, "-std=gnu11", "-Wall", "-Werror"] + flags +
                          shlex.split(cflags) + [example[0], "-o", exe] + shlex.split(libs))
            if check(rc == 0, "the installed embed.c builds with pkg-config --cflags --libs",
                     out):
                rc, out = run([exe], dict(os.environ, LD_LIBRARY_PATH=libdir))
                check(rc == 0 and "tick0 runs on ui0" in out,
                      "it runs against the installed library", out)
            typelibs = found("lib*/**/girepository-1.0/Qcontext-1.0.typelib")
            if args.gir and args.python and typelibs:
                script = ("import gi; gi.require_version('Qcontext', '1.0'); "
                          "from gi.repository import Qcontext; "
                          "Qcontext.QContext.init_main(); "
                          "c = Qcontext.AioQContext.new('io0', True); "
                          "print(c.get_name(), c.is_running())")
                runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gir",
                                      "run-python-gi.sh")
                san = ["--sanitize", args.sanitize] if args.sanitize != "none" else []
                env = dict(os.environ, LD_LIBRARY_PATH=libdir,
                           GI_TYPELIB_PATH=os.path.dirname(typelibs[0]),
                           ASAN_OPTIONS="detect_leaks=0")
                rc, out = run([runner] + san + [args.python, "-c", script], env)
                check(rc == 0 and out.strip().endswith("io0 True"),
                      "Python finds the installed typelib", out)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    return report()


def report():
    print("TAP version 13")
    print("1..%d" % len(results))
    for i, (ok, what, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
        if not ok and detail.strip():
            print("# " + detail.strip().replace("\n", "\n# "))
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
