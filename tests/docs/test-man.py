#!/usr/bin/env python3
"""The man pages cover the programs as built: every option of qcontextd
--help and qcontext-ctl --help, every monitor command (asked from a running
daemon), every object and device type.  TAP output.

Usage: test-man.py QCONTEXTD QCONTEXT_CTL QCONTEXTD_8 QCONTEXT_CTL_1
"""
import json
import os
import re
import shutil
import subprocess
import sys

qcontextd, ctl, page_d, page_ctl = sys.argv[1:5]
results = []


def check(ok, what, detail=""):
    results.append((ok, what, detail))


def out(*argv, stdin=None):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    return subprocess.run(list(argv), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, timeout=60, check=False).stdout


def read(path):
    with open(path) as f:
        return f.read()


def bold(page, word):
    """@word appears in bold in the roff text @page (scdoc's \\fB...\\fR)."""
    return re.search(r"\\fB[^\\]*?" + re.escape(word) + r"\b", page) is not None


roff = {page_d: read(page_d), page_ctl: read(page_ctl)}
for path, text in roff.items():
    name = os.path.basename(path)
    check(text.count("\n") > 50 and re.search(r'^\.TH "?' + name.split(".")[0].upper(),
                                              text, re.M | re.I) is not None,
          "%s is a man page" % name)

# qcontextd's options, as its --help lists them
opts = re.findall(r"^  (-[\w-]+)", out(qcontextd, "--help"), re.M)
check(len(opts) >= 10, "qcontextd --help lists its options (%d)" % len(opts))
for o in opts:
    check(bold(roff[page_d], o), "qcontextd(8) documents %s" % o)

# qcontext-ctl's options and modes, as its --help shows them
usage = out(ctl, "--help")
ctl_opts = sorted(set(re.findall(r"(--[\w-]+)", usage)) - {"--help"})
modes = sorted(set(m for line in usage.split("\n") if "SOCKET" in line
                   for m in re.findall(r"SOCKET \[?([a-z][\w-]*)\b", line)))
check(ctl_opts and modes, "qcontext-ctl --help shows options %s and modes %s" %
      (ctl_opts, modes))
for o in ctl_opts + modes:
    check(bold(roff[page_ctl], o), "qcontext-ctl(1) documents %s" % o)

# the monitor's commands, asked from a daemon
replies = [json.loads(l) for l in out(qcontextd, "-monitor", "stdio", stdin=(
    '{"execute": "qmp_capabilities"}\n{"execute": "query-commands"}\n'
    '{"execute": "quit"}\n')).split("\n") if l.startswith("{")]
names = [c["name"] for r in replies if isinstance(r.get("return"), list)
         for c in r["return"]]
check(len(names) >= 10, "the monitor lists its commands (%d)" % len(names))
for n in names:
    check(bold(roff[page_d], n), "qcontextd(8) documents the command %s" % n)
    check(bold(roff[page_ctl], n), "qcontext-ctl(1) lists the command %s" % n)

# the object and device types
for opt in ("-object", "-device"):
    types = [l.strip() for l in out(qcontextd, opt, "help").split("\n")[1:] if l.strip()]
    check(types, "qcontextd %s help lists types" % opt)
    for t in types:
        check(bold(roff[page_d], t), "qcontextd(8) documents the %s type %s" % (opt, t))

# the pages render without complaint, where man is installed
if shutil.which("man"):
    for path in roff:
        r = subprocess.run(["man", "--warnings", "-l", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=dict(os.environ, MANWIDTH="80"), check=False)
        check(r.returncode == 0 and not r.stderr.strip(),
              "man renders %s cleanly" % os.path.basename(path), r.stderr)

print("TAP version 13")
print("1..%d" % len(results))
for i, (ok, what, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    for line in detail.strip().split("\n") if detail.strip() and not ok else []:
        print("# " + line)
sys.exit(0 if all(r[0] for r in results) else 1)
