#!/usr/bin/env bash
# scripts/run.sh says what it does while it prepares (packages, configure,
# build) instead of staying silent, then starts qcontextd.  Run on the
# already built tree ($1: the source root, $2: the build directory), with
# -version so that the daemon exits at once.  TAP.
set -uo pipefail
src=$1 build=$2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
echo "1..3"
out=$(QCONTEXT_BUILDDIR=$build "$src/scripts/run.sh" -version 2>"$err")
rc=$?
[ $rc -eq 0 ] && echo "ok 1 run.sh -version exits 0" || echo "not ok 1 run.sh exits $rc"
if grep -q "^run.sh: checking the Debian packages" "$err" &&
   grep -q "^run.sh: building .* (ninja" "$err" &&
   grep -q "^run.sh: starting qcontextd -version" "$err"; then
    echo "ok 2 each step is announced on stderr"
else
    echo "not ok 2 steps not announced"; sed 's/^/# /' "$err"
fi
if [ "$out" = "qcontextd $(sed -n "s/^  version: '\(.*\)',$/\1/p" "$src/meson.build")" ]; then
    echo "ok 3 stdout has only the daemon's own output"
else
    echo "not ok 3 stdout: $out"
fi
