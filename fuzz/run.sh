#!/usr/bin/env bash
# Build the libFuzzer targets of fuzz/ with clang and ASan+UBSan (in
# build-fuzz) and run each for a bounded time on a scratch copy of its seed
# corpus (the repository's corpus is never changed).  Exits 1 if any target
# finds a crash, leak, timeout or sanitizer report; the reproducer is kept
# in the printed directory.
#
#   fuzz/run.sh [--time SECONDS] [--jobs-dir DIR] [TARGET...]
#
# SECONDS defaults to 60 per target.  TARGET names (fuzz-vu-msg...) select
# targets; all by default.
set -euo pipefail
cd "$(dirname "$0")/.."

time=60
out=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time=$2; shift 2 ;;
        --jobs-dir) out=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done

if ! command -v clang >/dev/null; then
    echo "fuzz: clang is not installed (scripts/install-deps.sh)" >&2
    exit 1
fi
if [ ! -d build-fuzz ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >/dev/null

out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/qcontext-fuzz.XXXXXX")}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export G_SLICE=always-malloc G_DEBUG=fatal-criticals

status=0
passed=0
failed=0
for bin in build-fuzz/fuzz/fuzz-*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    case "$name" in *-replay) continue ;; esac
    if [ ${#targets[@]} -gt 0 ] && [[ ! " ${targets[*]} " =~ " $name " ]]; then
        continue
    fi
    seeds=$(ls -d fuzz/*/corpus/"$name" 2>/dev/null | head -1 || true)
    work="$out/$name"
    mkdir -p "$work/corpus" "$work/artifacts"
    echo "== fuzz $name for ${time}s (seeds: ${seeds:-none})"
    if ! "$bin" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
            "$work/corpus" ${seeds:+"$seeds"} >"$work/log" 2>&1; then
        echo "fuzz: $name FAILED; reproducer and log in $work" >&2
        tail -40 "$work/log" >&2
        status=1
        failed=$((failed + 1))
    else
        grep -E "stat::number_of_executed_units|cov:" "$work/log" | tail -2
        passed=$((passed + 1))
    fi
done
# The same closing counts as meson test prints (scripts/test.sh sums them).
echo "Ok:                 $passed"
echo "Fail:               $failed"
[ $status -eq 0 ] && rm -rf "$out"
exit $status
