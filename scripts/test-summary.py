#!/usr/bin/env python3
"""scripts/test-summary.py LABEL TESTLOG.json - what scripts/test.sh's summary
needs from one `meson test` run:

    count PASS|FAIL|SKIP N         tests (programs), as meson counts them
    FAILED: LABEL: TEST (RESULT)   each test that did not pass
    SKIPPED: LABEL: TEST: REASON   each skipped test, and the skipped TAP
                                   subtests of a test that passed (one line
                                   per test)
"""
import json
import re
import sys

label, path = sys.argv[1], sys.argv[2]
counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
lines = []
try:
    with open(path, encoding="utf-8", errors="replace") as f:
        tests = [json.loads(line) for line in f if line.strip()]
except OSError as e:
    print("FAILED: %s: no test log (%s)" % (label, e))
    sys.exit(0)

for t in tests:
    name = t["name"].split(" / ", 1)[-1]
    result = t["result"]
    out = t.get("stdout") or ""
    if result in ("OK", "EXPECTEDFAIL"):
        counts["PASS"] += 1
    elif result == "SKIP":
        counts["SKIP"] += 1
        m = re.search(r"^1\.\.0 # SKIP (.*)$", out, re.M)
        lines.append("SKIPPED: %s: %s: %s" % (label, name, m.group(1) if m else "(no reason given)"))
        continue
    else:
        counts["FAIL"] += 1
        lines.append("FAILED: %s: %s (%s)" % (label, name, result))
        continue
    skips = re.findall(r"^ok \d+ (?:- )?(.*?) # SKIP ?(.*)$", out, re.M)
    if len(skips) == 1:
        lines.append("SKIPPED: %s: %s %s: %s" % (label, name, skips[0][0], skips[0][1] or "(no reason given)"))
    elif skips:
        lines.append("SKIPPED: %s: %s: %d subtests, e.g. %s: %s" % (label, name, len(skips), skips[0][0], skips[0][1]))

for k, n in counts.items():
    print("count %s %d" % (k, n))
for line in lines:
    print(line)
