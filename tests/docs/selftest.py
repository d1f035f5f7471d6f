#!/usr/bin/env python3
"""Check check-docs.py on selftest/*.md: each block is preceded by
<!-- expect: ok|fail|skip -->; the checker's TAP line for it must agree.
Arguments: the same as check-docs.py's, without the files."""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
page = os.path.join(here, "selftest", "examples.md")
expect = {}
pending = None
with open(page) as f:
    for n, line in enumerate(f, 1):
        m = re.match(r"<!-- expect: (\w+) -->", line)
        if m:
            pending = m.group(1)
        elif line.startswith(("```", "~~~")) and pending:
            expect[n] = pending  # the checker numbers a block by its fence line
            pending = None
p = subprocess.run([sys.executable, os.path.join(here, "check-docs.py")] + sys.argv[1:] +
                   [page], stdout=subprocess.PIPE, universal_newlines=True, check=False)
got = {}
for line in p.stdout.split("\n"):
    m = re.match(r"(ok|not ok) \d+ - \S+:(\d+) (\S+)(.*)", line)
    if m:
        status = "fail" if m.group(1) == "not ok" else \
            "skip" if "# SKIP" in m.group(4) and m.group(3) in ("sh", "c") else "ok"
        got[int(m.group(2))] = status
print("1..%d" % len(expect))
bad = 0
for i, (line, want) in enumerate(sorted(expect.items()), 1):
    have = got.get(line, "ok")  # untagged blocks the checker accepts print nothing
    ok = have == want
    bad += not ok
    print("%s %d - block at line %d: expected %s, got %s" %
          ("ok" if ok else "not ok", i, line, want, have))
if p.returncode != 1:
    print("# check-docs.py exited %d, expected 1 (some blocks fail)" % p.returncode)
    bad += 1
if bad:
    print("# checker output:\n# " + p.stdout.replace("\n", "\n# "))
sys.exit(1 if bad else 0)
