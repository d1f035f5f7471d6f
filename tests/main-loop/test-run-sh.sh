#!/usr/bin/env bash
# scripts/run.sh says what it does while it prepares (packages, configure,
# build) instead of staying silent, then starts qcontextd.  Run on the
# already built tree ($1: the source root, $2: the build directory).
#  1-3: with -version, so that the daemon exits at once;
#  4-9: the default: a virtio-blk disk driven once by qcontext-bench blk,
#       a vsock device, the QEMU command line, serving (a second front-end
#       works, the monitor answers) until SIGINT, which stops it and removes
#       its files.
# TAP.
set -uo pipefail
src=$1 build=$2
work=$(mktemp -d)
runpid=
cleanup() {
    [ -n "$runpid" ] && kill -TERM "$runpid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
echo "1..9"
out=$(QCONTEXT_BUILDDIR=$build "$src/scripts/run.sh" -version 2>"$work/err")
rc=$?
[ $rc -eq 0 ] && echo "ok 1 run.sh -version exits 0" || echo "not ok 1 run.sh exits $rc"
if grep -q "^run.sh: checking the Debian packages" "$work/err" &&
   grep -q "^run.sh: building .* (ninja" "$work/err" &&
   grep -q "^run.sh: starting qcontextd -version" "$work/err"; then
    echo "ok 2 each step is announced on stderr"
else
    echo "not ok 2 steps not announced"; sed 's/^/# /' "$work/err"
fi
if [ "$out" = "qcontextd $(sed -n "s/^  version: '\(.*\)',$/\1/p" "$src/meson.build")" ]; then
    echo "ok 3 stdout has only the daemon's own output"
else
    echo "not ok 3 stdout: $out"
fi

# The default, in the background (job control: it may be sent SIGINT).
mkdir "$work/tmp"
set -m
QCONTEXT_BUILDDIR=$build QCONTEXT_SOCK=$work/mon.sock TMPDIR=$work/tmp \
    QCONTEXT_DISK_SIZE=64M QCONTEXT_BENCH_ARGS="--iodepth 4 --runtime 0.3" \
    "$src/scripts/run.sh" >"$work/out" 2>"$work/err2" &
runpid=$!
set +m
for _ in $(seq 600); do
    grep -q "keeps serving" "$work/out" 2>/dev/null && break
    kill -0 "$runpid" 2>/dev/null || break
    sleep 0.1
done
if grep -q "IOPS .* p50 us .* p99 us" "$work/out" &&
   grep -q "requests (.* reads, 0 writes), 0 failed" "$work/out"; then
    echo "ok 4 qcontext-bench blk drove the disk and showed IOPS and latency"
else
    echo "not ok 4 no benchmark output"; sed 's/^/# /' "$work/out" "$work/err2"
fi
sock=$(sed -n 's/.*-chardev socket,id=c0,path=\([^,]*\),.*/\1/p' "$work/out")
vsock=$(sed -n 's/.*-chardev socket,id=vsock,path=\([^ ]*\) .*/\1/p' "$work/out")
if grep -q "memory-backend-memfd,id=mem,size=1G,share=on" "$work/out" &&
   grep -q -- "-device vhost-user-blk-pci,chardev=c0" "$work/out" && [ -S "$sock" ] &&
   grep -q -- "-device vhost-user-vsock-pci,chardev=vsock" "$work/out" && [ -S "$vsock" ]; then
    echo "ok 5 the QEMU command line names the served sockets (virtio-blk, vsock)"
else
    echo "not ok 5 QEMU command line: '$sock'"; sed 's/^/# /' "$work/out"
fi
if [ -S "$sock" ] && "$build/bench/qcontext-bench" blk --socket "$sock" --number 100 \
        --json >"$work/bench2" 2>&1 && grep -q '"ios": 100,' "$work/bench2"; then
    echo "ok 6 it keeps serving: a second front-end's requests complete"
else
    echo "not ok 6 second front-end"; sed 's/^/# /' "$work/bench2"
fi
if "$build/main-loop/programs/qcontext-ctl" "$work/mon.sock" query-qcontexts \
        >"$work/ctl" 2>&1 && grep -q io0 "$work/ctl"; then
    echo "ok 7 the monitor answers"
else
    echo "not ok 7 monitor"; sed 's/^/# /' "$work/ctl"
fi
kill -INT "$runpid" 2>/dev/null
for _ in $(seq 300); do
    kill -0 "$runpid" 2>/dev/null || break
    sleep 0.1
done
if ! kill -0 "$runpid" 2>/dev/null; then
    wait "$runpid"
    rc=$?
    runpid=
    [ $rc -eq 0 ] && echo "ok 8 SIGINT stops it (exit 0)" || echo "not ok 8 exit $rc"
else
    echo "not ok 8 still running after SIGINT"
fi
if [ -z "$(ls -A "$work/tmp")" ] && ! pgrep -f "socket=$sock" >/dev/null; then
    echo "ok 9 qcontextd stopped and the temporary directory is gone"
else
    echo "not ok 9 left behind:"; find "$work/tmp" | sed 's/^/# /'
fi
