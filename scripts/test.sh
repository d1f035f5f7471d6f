#!/usr/bin/env bash
# Set up and run the whole test suite: plain, then under ASan+UBSan, then the
# threaded tests under TSan, then the fuzz targets for a bounded time.
# Usage: scripts/test.sh [--quick]  (--quick: plain only; FUZZ_TIME=S per target, 0 = none)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# QEMU's own Python QMP tools, for the qemu-tools test (cached; it skips without).
scripts/fetch-qemu-python.sh || true

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The closing line: the sum over every run of meson's Ok / Fail+Timeout counts.
summary() {
    awk '/^Ok:/ {ok += $2} /^(Fail|Timeout|Unexpected Pass):/ {bad += $NF}
         END {printf "tests: %d passed, %d failed\n", ok, bad}' "$log"
}

run_suite() { # builddir, meson setup args..., -- meson test args...
    local dir=$1; shift
    local setup=() testargs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do setup+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    testargs=("$@")
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "${setup[@]}" >/dev/null
    fi
    ninja -C "$dir" >/dev/null
    echo "== meson test ($dir) =="
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${testargs[@]}" | tee -a "$log"
}

run_suite build --
if [ "${1:-}" != "--quick" ]; then
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -- --timeout-multiplier 3
    run_suite build-tsan -Db_sanitize=thread -Db_lundef=false -- --suite threaded --timeout-multiplier 4
    # libFuzzer targets (clang), a bounded time each: FUZZ_TIME=0 skips them.
    if [ "${FUZZ_TIME:-60}" != 0 ]; then
        echo "== fuzz (${FUZZ_TIME:-60} s per target) =="
        fuzz/run.sh --time "${FUZZ_TIME:-60}" | tee -a "$log"
    fi
fi
summary
