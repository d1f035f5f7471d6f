#!/usr/bin/env python3
"""Run every shell and C example of the documentation (TAP output).

Usage: check-docs.py --source-root DIR --build-root DIR [--sanitize LIST] FILE.md|DIR...

The convention (docs/README.md explains it to writers; notes/wp8-dx.md too):

* A fenced block tagged ``sh`` is run.  Lines starting with ``$ `` are
  commands (a trailing backslash continues one); the lines after a command,
  up to the next one, are its expected output (stdout and stderr together):
  compared line by line, trailing blanks ignored, ``...`` alone on a line
  matches any number of lines and ``...`` inside a line matches any text.
  A command shown without output may print anything but must exit 0; one
  shown with its output (an error message, say) is checked by that output,
  and ``$ echo $?`` after it shows its exit status.
  A ``sh`` block without any ``$ `` line is a script, run with ``bash -e``.
* A fenced block tagged ``python`` is a complete script, run with the
  python3 that has PyGObject (meson found it), against the build's typelib.
* A fenced block tagged ``c`` is a complete C file: compiled and linked
  against the built library with ``pkg-config --cflags --libs qcontext``
  (the uninstalled .pc of the build); if it defines ``main`` it is run and
  must exit 0 within the timeout, otherwise it is only compiled.
* Directives, in HTML comments (invisible once rendered) on the lines right
  before a fence, ``<!-- docs-check: WORD: TEXT -->``:
    - ``skip: REASON`` -- the block is not run (REASON is printed; keep
      these rare: a block that cannot run here at all).
    - ``daemon: ARGS`` -- ``qcontextd ARGS`` is started before the block and
      stopped after it (the block sees it ready).
    - ``setup: COMMANDS`` -- shell commands run (silently) before the block.
    - ``file: PATH`` -- the block's text is written to PATH for later blocks
      of the same page (a configuration file, an input).
    - ``output`` -- the block is the expected output of the page's previous
      python block (compared as a transcript's output is).
* Any other block (untagged, ``text``, ``json``...) is not run; an untagged
  block that looks like a shell example (a ``$ `` line, or a first line
  calling one of our programs) is an error: tag it ``sh``, or ``text`` if it
  is a synopsis or output.

Each page runs in a fresh temporary directory, its blocks in order.  The
directory holds symlinks to the source tree's top-level entries (so
``docs/examples/embed.c`` or ``scripts/...`` resolve) and ``build`` and any
``build-NAME`` the page mentions point to the build being tested.  Absolute
paths under /run, /tmp, /etc and /var are moved into the page's directory.
The built programs (qcontextd, qcontext-ctl, qcontext-bench) come first in
PATH, as with ``meson devenv``, then a ``python3`` that has PyGObject, and
GI_TYPELIB_PATH finds the build's Qcontext-1.0.typelib.  Every process a block starts (also
daemonized ones) is stopped after the block.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CMD_TIMEOUT = 60
READY_TIMEOUT = 20
SHELL_START_RE = re.compile(
    r"^(\$ |(\./)?(build[\w-]*/\S*/)?(qcontextd|qcontext-ctl|qcontext-bench)(\s|$)|"
    r"scripts/|(meson|ninja|pkg-config|python3|cc|gcc|sudo)\s)")
FENCE_RE = re.compile(r"^(\s*)(```+|~~~+)\s*([^`\s]*)\s*(.*)$")
DIRECTIVE_RE = re.compile(r"^\s*<!--\s*docs-check:\s*([\w-]+)\s*:?\s*(.*?)\s*-->\s*$")
ABS_PATH_RE = re.compile(r"(?<![\w.~/-])/(run|tmp|etc|var)/")
BUILD_NAME_RE = re.compile(r"(?<![\w./-])(build(?:-[\w-]+)?)/")


class Block:
    def __init__(self, path, line, lang, info, text, directives):
        self.path = path
        self.line = line
        self.lang = lang
        self.info = info
        self.text = text
        self.directives = directives  # list of (word, text)

    def where(self):
        return "%s:%d" % (self.path, self.line)

    def directive(self, word):
        return [t for w, t in self.directives if w == word]


def parse_blocks(path, rel):
    """The fenced blocks of a Markdown file, with the directives before each."""
    blocks, errors = [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    pending = []
    while i < len(lines):
        line = lines[i]
        d = DIRECTIVE_RE.match(line)
        if d:
            pending.append((d.group(1), d.group(2)))
            i += 1
            continue
        m = FENCE_RE.match(line)
        if not m:
            if line.strip() and pending:
                errors.append("%s:%d: docs-check directive not followed by a fenced "
                              "block" % (rel, i))
                pending = []
            i += 1
            continue
        indent, fence, lang, info = m.group(1), m.group(2), m.group(3), m.group(4)
        start = i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body_line = lines[i]
            if body_line.startswith(indent):
                body_line = body_line[len(indent):]
            body.append(body_line)
            i += 1
        if i >= len(lines):
            errors.append("%s:%d: unterminated fenced block" % (rel, start))
        i += 1
        blocks.append(Block(rel, start, lang.lower(), info, "\n".join(body) + "\n",
                            pending))
        pending = []
    return blocks, errors


def looks_like_shell(block):
    lines = [l for l in block.text.split("\n") if l.strip()]
    if not lines:
        return False
    if any(l.startswith("$ ") for l in lines):
        return True
    return SHELL_START_RE.match(lines[0].lstrip()) is not None


# ---------------------------------------------------------------------------
# The page's sandbox


class Page:
    def __init__(self, args, rel):
        self.args = args
        self.rel = rel
        self.dir = tempfile.mkdtemp(prefix="qcontext-docs-")
        self.marker = "qcontext-docs-%d-%s" % (os.getpid(), os.path.basename(self.dir))
        self.last_output = None
        for sub in ("run", "tmp", "etc", "var"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for name in os.listdir(args.source_root):
            if name.startswith(".") or name.startswith("build"):
                continue
            os.symlink(os.path.join(args.source_root, name), os.path.join(self.dir, name))
        self.link_build("build")

    def link_build(self, name):
        link = os.path.join(self.dir, name)
        if not os.path.lexists(link):
            os.symlink(self.args.build_root, link)

    def rewrite(self, text):
        for name in BUILD_NAME_RE.findall(text):
            self.link_build(name)
        return ABS_PATH_RE.sub(lambda m: self.dir + "/" + m.group(1) + "/", text)

    def python_wrapper(self):
        """A directory whose python3 has gi (and the sanitizers' runtimes),
        and whose cc compiles with the build's sanitizers (a program linked
        with a sanitized libqcontext must be sanitized too)."""
        bindir = os.path.join(self.dir, ".bin")
        sanitized = self.args.sanitize and self.args.sanitize != "none"
        if sanitized and not os.path.exists(bindir):
            os.makedirs(bindir)
            for name in ("cc", "gcc"):
                wrapper = os.path.join(bindir, name)
                with open(wrapper, "w") as f:
                    f.write("#!/bin/sh\nexec %s -fsanitize=%s \"$@\"\n" % (
                        shlex.quote(shutil.which(self.args.cc) or self.args.cc),
                        shlex.quote(self.args.sanitize)))
                os.chmod(wrapper, 0o755)
        if self.args.python and not os.path.exists(os.path.join(bindir, "python3")):
            os.makedirs(bindir, exist_ok=True)
            wrapper = os.path.join(bindir, "python3")
            run = os.path.join(self.args.source_root, "tests", "gir", "run-python-gi.sh")
            san = []
            if self.args.sanitize and self.args.sanitize != "none":
                san = ["--sanitize", self.args.sanitize]
            with open(wrapper, "w") as f:
                f.write("#!/bin/sh\nexec %s %s %s \"$@\"\n" % (
                    shlex.quote(run), " ".join(shlex.quote(a) for a in san),
                    shlex.quote(self.args.python)))
            os.chmod(wrapper, 0o755)
        return [bindir] if os.path.exists(bindir) else []

    def env(self):
        env = dict(os.environ)
        progs = [os.path.join(self.args.build_root, d)
                 for d in ("main-loop/programs", "bench")] + self.python_wrapper()
        env["PATH"] = ":".join(progs + [env.get("PATH", "/usr/bin:/bin")])
        env["PKG_CONFIG_PATH"] = ":".join(
            [os.path.join(self.args.build_root, "meson-uninstalled")] +
            ([env["PKG_CONFIG_PATH"]] if env.get("PKG_CONFIG_PATH") else []))
        env["LD_LIBRARY_PATH"] = ":".join(
            [self.args.build_root] +
            ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
        env["GI_TYPELIB_PATH"] = os.path.join(self.args.build_root, "gir")
        if self.args.sanitize and self.args.sanitize != "none":
            env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
        env["QCONTEXT_DOCS_CHECK"] = self.marker
        env["LC_ALL"] = "C.UTF-8"
        env.pop("QCONTEXTD", None)
        return env

    def kill_leftovers(self):
        """Stop every process started with this page's marker (daemons too)."""
        needle = ("QCONTEXT_DOCS_CHECK=" + self.marker).encode()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = []
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                try:
                    with open("/proc/%s/environ" % pid, "rb") as f:
                        if needle in f.read().split(b"\0"):
                            pids.append(int(pid))
                except OSError:
                    continue
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(alive(p) for p in pids):
                time.sleep(0.05)

    def cleanup(self):
        self.kill_leftovers()
        shutil.rmtree(self.dir, ignore_errors=True)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Shell blocks


def parse_transcript(text):
    """[(command, [expected output lines])] of a $-transcript."""
    steps = []
    lines = text.rstrip("\n").split("\n")
    if not any(l.startswith("$ ") for l in lines):
        return steps  # a script
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            if steps:
                steps[-1][1].append(lines[i])
            elif lines[i].strip():
                raise ValueError("text before the first '$ ' command: %r" % lines[i])
            i += 1
            continue
        cmd = lines[i][2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd += "\n" + lines[i]
        steps.append((cmd, []))
        i += 1
    return steps


def line_matches(pattern, line):
    parts = [re.escape(p) for p in pattern.split("...")]
    return re.fullmatch(".*".join(parts), line) is not None


def output_matches(expected, actual):
    """Match lines; '...' alone matches any run of lines."""
    expected = [e.rstrip() for e in expected]
    while expected and not expected[-1]:
        expected.pop()
    actual = [a.rstrip() for a in actual]
    while actual and not actual[-1]:
        actual.pop()

    def match(ei, ai):
        if ei == len(expected):
            return ai == len(actual)
        if expected[ei] == "...":
            return any(match(ei + 1, k) for k in range(ai, len(actual) + 1))
        return ai < len(actual) and line_matches(expected[ei], actual[ai]) and \
            match(ei + 1, ai + 1)

    return match(0, 0)


def run_shell(page, block, text):
    try:
        steps = parse_transcript(text)
    except ValueError as e:
        return str(e)
    if not steps:
        return run_script(page, text)
    script = ["cd %s" % shlex.quote(page.dir), "__s=0"]
    for n, (cmd, _) in enumerate(steps):
        out = os.path.join(page.dir, ".out.%d" % n)
        script.append("(exit $__s)")
        script.append("{\n%s\n} > %s 2>&1 < /dev/null; __s=$?; echo $__s > %s.status"
                      % (cmd, shlex.quote(out), shlex.quote(out)))
    try:
        subprocess.run(["bash", "-c", "\n".join(script)], env=page.env(),
                       timeout=CMD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return "timed out after %d s" % CMD_TIMEOUT
    for n, (cmd, expected) in enumerate(steps):
        out = os.path.join(page.dir, ".out.%d" % n)
        try:
            with open(out, errors="replace") as f:
                actual = f.read().split("\n")
            with open(out + ".status") as f:
                status = int(f.read())
        except (OSError, ValueError):
            return "$ %s: did not run (an earlier command ended the shell?)" % cmd
        shown = any(e.strip() for e in expected)
        next_is_echo = n + 1 < len(steps) and steps[n + 1][0].strip() == "echo $?"
        if status != 0 and not shown and not next_is_echo:
            return "$ %s: exit status %d\n%s" % (cmd, status, "\n".join(actual))
        if shown and not output_matches(expected, actual):
            return ("$ %s: output differs\n--- expected\n%s\n--- got\n%s" %
                    (cmd, "\n".join(expected).rstrip(), "\n".join(actual).rstrip()))
    return None


def run_script(page, text):
    try:
        p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", text], cwd=page.dir,
                           env=page.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=CMD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return "timed out after %d s" % CMD_TIMEOUT
    if p.returncode != 0:
        return "exit status %d\n%s" % (p.returncode, p.stdout.decode(errors="replace"))
    return None


def start_daemon(page, args):
    log = os.path.join(page.dir, ".daemon.log")
    argv = ["qcontextd"] + shlex.split(page.rewrite(args))
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=page.dir, env=page.env(),
                                stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        with open(log, errors="replace") as f:
            text = f.read()
        if "ready (pid" in text:
            return proc, None
        if proc.poll() is not None:
            return None, "daemon exited (%d): %s" % (proc.returncode, text)
        time.sleep(0.05)
    proc.kill()
    return None, "daemon not ready after %d s" % READY_TIMEOUT


def stop_daemon(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------
# C blocks


def pkg_config(page, what):
    out = subprocess.run(["pkg-config", what, "qcontext"], env=page.env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return shlex.split(out.stdout.decode())


def run_c(page, block, text):
    src = os.path.join(page.dir, ".example-%d.c" % block.line)
    exe = src[:-2]
    with open(src, "w") as f:
        f.write(text)
    has_main = re.search(r"^\s*int\s+main\s*\(", text, re.M) is not None
    flags = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror"]
    if not has_main:
        flags.append("-Wno-unused-function")
    if page.args.sanitize and page.args.sanitize != "none":
        flags.append("-fsanitize=" + page.args.sanitize)
    cmd = [page.args.cc] + flags + pkg_config(page, "--cflags") + [src]
    if has_main:
        cmd += ["-o", exe] + pkg_config(page, "--libs") + \
            ["-Wl,-rpath," + page.args.build_root]
    else:
        cmd += ["-c", "-o", exe + ".o"]
    p = subprocess.run(cmd, cwd=page.dir, env=page.env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, check=False)
    if p.returncode != 0:
        return "does not compile:\n" + p.stdout.decode(errors="replace")
    if not has_main:
        return None
    try:
        p = subprocess.run([exe], cwd=page.dir, env=page.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=CMD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return "timed out after %d s" % CMD_TIMEOUT
    if p.returncode != 0:
        return "exit status %d:\n%s" % (p.returncode, p.stdout.decode(errors="replace"))
    return None


def run_python(page, block, text):
    if not page.args.python:
        return ("skip", "no python3 with PyGObject (python3-gi) was found")
    path = os.path.join(page.dir, ".example-%d.py" % block.line)
    with open(path, "w") as f:
        f.write(text)
    try:
        p = subprocess.run(["python3", path], cwd=page.dir, env=page.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=CMD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return "timed out after %d s" % CMD_TIMEOUT
    page.last_output = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        return "exit status %d:\n%s" % (p.returncode, page.last_output)
    return None


def check_output(page, block):
    if page.last_output is None:
        return "an output directive with no python block run before it"
    actual = page.last_output.split("\n")
    expected = block.text.split("\n")
    if not output_matches(expected, actual):
        return ("output differs\n--- expected\n%s\n--- got\n%s" %
                (block.text.rstrip(), page.last_output.rstrip()))
    return None


# ---------------------------------------------------------------------------


def check_block(page, block):
    """None if fine, a skip reason as ('skip', text), or an error text."""
    skips = block.directive("skip")
    if skips:
        if not skips[0]:
            return "a skip directive needs a reason"
        return ("skip", skips[0])
    if block.directive("output"):
        return check_output(page, block)
    for path in block.directive("file"):
        target = page.rewrite(path)
        if not target.startswith("/"):
            target = os.path.join(page.dir, target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(block.text)
        return None
    if block.lang not in ("sh", "c", "python"):
        if not block.lang and looks_like_shell(block):
            return ("an untagged block that looks like a shell example: tag it ```sh "
                    "(it is then run) or ```text (a synopsis or output)")
        return ("skip", "not an example (%s)" % (block.lang or "untagged"))
    for setup in block.directive("setup"):
        err = run_script(page, page.rewrite(setup))
        if err:
            return "setup failed: " + err
    daemon = None
    for args in block.directive("daemon"):
        daemon, err = start_daemon(page, args)
        if err:
            return err
    try:
        text = page.rewrite(block.text)
        if block.lang == "c":
            return run_c(page, block, text)
        if block.lang == "python":
            return run_python(page, block, text)
        return run_shell(page, block, text)
    finally:
        if daemon:
            stop_daemon(daemon)
        page.kill_leftovers()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--build-root", required=True)
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--python", help="a python3 with PyGObject, for python blocks")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    args.source_root = os.path.abspath(args.source_root)
    args.build_root = os.path.abspath(args.build_root)

    files = []
    for path in args.files:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".md")]
        else:
            files.append(path)
    results = []  # (ok, description, detail)
    for path in files:
        rel = os.path.relpath(os.path.abspath(path), args.source_root)
        blocks, errors = parse_blocks(path, rel)
        for e in errors:
            results.append((False, e, ""))
        page = Page(args, rel)
        try:
            for block in blocks:
                desc = "%s %s" % (block.where(), block.lang or "untagged")
                res = check_block(page, block)
                if res is None:
                    results.append((True, desc, ""))
                elif isinstance(res, tuple):
                    if block.lang in ("sh", "c", "python"):
                        results.append((True, desc + " # SKIP " + res[1], ""))
                else:
                    results.append((False, desc, res))
        finally:
            page.cleanup()

    print("TAP version 13")
    print("1..%d" % len(results))
    failed = 0
    for n, (ok, desc, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
        if not ok:
            failed += 1
            for line in detail.rstrip().split("\n"):
                print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
