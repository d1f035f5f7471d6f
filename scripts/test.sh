#!/usr/bin/env bash
# Set up and run the whole test suite: plain, then under ASan+UBSan, then the
# threaded tests under TSan, then the fuzz targets for a bounded time.  Every
# part runs even when an earlier one failed (one run shows every failure);
# the exit status is 1 if anything failed.  The closing lines count the
# tests, name the failed ones, list what was skipped and why, and time each
# part.
# Usage: scripts/test.sh [--quick]  (--quick: plain only; FUZZ_TIME=S per target, 0 = none)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# QEMU's own Python QMP tools, for the qemu-tools test (cached; it skips without).
scripts/fetch-qemu-python.sh || true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
start=$SECONDS

# Time one part: "name seconds" lines for the summary.
timed() { # name command...
    local name=$1 t0=$SECONDS rc=0
    shift
    "$@" || rc=$?
    echo "$name $((SECONDS - t0))" >>"$work/times"
    [ $rc -eq 0 ] || status=1
    return 0
}

run_suite() { # builddir, meson setup args..., -- meson test args...
    local dir=$1
    shift
    local setup=() testargs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do setup+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    testargs=("$@")
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "${setup[@]}" >/dev/null
    fi
    echo "== build ($dir) =="
    if ! ninja -C "$dir" >"$work/ninja.log" 2>&1; then
        tail -50 "$work/ninja.log"
        echo "FAILED: the build of $dir" >>"$work/failed"
        return 1
    fi
    echo "== meson test ($dir) =="
    local rc=0
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 \
        "${testargs[@]}" || rc=$?
    scripts/test-summary.py "$dir" "$dir/meson-logs/testlog.json" >>"$work/results"
    return $rc
}

run_fuzz() {
    local rc=0
    echo "== fuzz (${FUZZ_TIME:-60} s per target) =="
    fuzz/run.sh --time "${FUZZ_TIME:-60}" | tee "$work/fuzz.log" || rc=$?
    awk '/^Ok:/ {printf "count PASS %d\n", $2} /^Fail:/ {printf "count FAIL %d\n", $2}' \
        "$work/fuzz.log" >>"$work/results"
    [ $rc -eq 0 ] || echo "FAILED: fuzz/run.sh (see above)" >>"$work/failed"
    return $rc
}

timed plain run_suite build --
if [ "${1:-}" != "--quick" ]; then
    timed asan run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false \
        -- --timeout-multiplier 3
    timed tsan run_suite build-tsan -Db_sanitize=thread -Db_lundef=false \
        -- --suite threaded --timeout-multiplier 4
    # libFuzzer targets (clang), a bounded time each: FUZZ_TIME=0 skips them.
    if [ "${FUZZ_TIME:-60}" != 0 ]; then
        timed fuzz run_fuzz
    fi
fi

echo "== summary =="
touch "$work/results" "$work/failed"
grep -h '^FAILED' "$work/results" "$work/failed" || true
grep -h '^SKIPPED' "$work/results" || true
awk '$1 == "count" {n[$2] += $3}
     END {printf "tests: %d passed, %d failed, %d skipped\n", n["PASS"], n["FAIL"], n["SKIP"]}' \
    "$work/results"
printf 'time:'
while read -r name secs; do printf ' %s %dm%02ds,' "$name" $((secs / 60)) $((secs % 60)); done <"$work/times"
printf ' total %dm%02ds\n' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60))
exit $status
