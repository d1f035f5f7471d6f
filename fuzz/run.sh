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
# targets; all by default.  FUZZ_JOBS targets run at once (default: the
# number of CPUs), each for SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

time=60
jobs=${FUZZ_JOBS:-$(nproc)}
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
# Only the fuzz targets (their objects and the library): the tests, programs
# and benchmarks are not needed here, and skipping them saves two thirds of
# this build.
mapfile -t fuzz_bins < <(ninja -C build-fuzz -t targets all |
    sed -n 's|^\(fuzz/fuzz-[^/:]*\): c_LINKER.*|\1|p')
ninja -C build-fuzz "${fuzz_bins[@]}" >/dev/null

out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/qcontext-fuzz.XXXXXX")}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export G_SLICE=always-malloc G_DEBUG=fatal-criticals

# One target: its log and exit status in $out/NAME/.
fuzz_one() { # binary name
    local bin=$1 name=$2 seeds work=$out/$2 rc=0
    seeds=$(ls -d fuzz/*/corpus/"$name" 2>/dev/null | head -1 || true)
    mkdir -p "$work/corpus" "$work/artifacts"
    echo "${seeds:-none}" >"$work/seeds"
    "$bin" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" ${seeds:+"$seeds"} >"$work/log" 2>&1 || rc=$?
    echo $rc >"$work/status"
}

# The targets, $jobs at a time (each is single-threaded).
names=()
for bin in build-fuzz/fuzz/fuzz-*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    case "$name" in *-replay) continue ;; esac
    if [ ${#targets[@]} -gt 0 ] && [[ ! " ${targets[*]} " =~ " $name " ]]; then
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    echo "== fuzz $name for ${time}s"
    fuzz_one "$bin" "$name" &
    names+=("$name")
done
wait

status=0
passed=0
failed=0
for name in "${names[@]}"; do
    work=$out/$name
    if [ "$(cat "$work/status" 2>/dev/null)" != 0 ]; then
        echo "fuzz: $name FAILED (seeds: $(cat "$work/seeds")); reproducer and log in $work" >&2
        tail -40 "$work/log" >&2
        status=1
        failed=$((failed + 1))
    else
        echo "fuzz: $name passed (seeds: $(cat "$work/seeds")):" \
            "$(grep -E "stat::number_of_executed_units" "$work/log" | tail -1)"
        passed=$((passed + 1))
    fi
done
# The same closing counts as meson test prints (scripts/test.sh sums them).
echo "Ok:                 $passed"
echo "Fail:               $failed"
[ $status -eq 0 ] && rm -rf "$out"
exit $status
