#!/usr/bin/env bash
# shellcheck disable=SC2054  # the commas are inside qcontextd's and QEMU's arguments
# Set up, build and run qcontextd on the built-in default: a virtio-blk disk
# (a sparse raw file in a temporary directory) served over vhost-user from a
# polling aio-qcontext, driven once by `qcontext-bench blk` so that you see
# its IOPS and latency; a vhost-user-vsock device (guest CID 3; its sockets
# $QCONTEXT_VSOCK.sock and .uds, by default in the temporary directory) with
# a pipe device on its port 5555; then the QEMU command line that attaches a
# VM to them and how to reach the vsock and pipe devices.  It keeps serving,
# with a QMP monitor on $QCONTEXT_SOCK (default /tmp/qcontextd.sock) that
# `build/main-loop/programs/qcontext-ctl SOCK query-qcontexts` (or `top`)
# talks to, until Ctrl-C, which stops the daemon and removes the temporary
# directory.
#
# Extra arguments replace the default: qcontextd runs with them, nothing else.
# Each step says what it does on stderr, and ninja shows its own progress.
# Environment: $QCONTEXT_BUILDDIR (default build), $QCONTEXT_SOCK,
# $QCONTEXT_DISK_SIZE (default 1G), $QCONTEXT_BENCH_ARGS (default
# "--rw randread --bs 4k --iodepth 32 --runtime 3"), $TMPDIR (where the disk
# goes; it must support O_DIRECT, tmpfs does not: then buffered I/O is used).
#
# Adding a device to the default: write setup_NAME (append to qemu_args/
# daemon_args, create what it needs in $tmp), wait_NAME (until it serves),
# show_NAME (what to run against it) and add NAME to DEVICES.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${QCONTEXT_BUILDDIR:-build}
step() { echo "run.sh: $*" >&2; }

step "checking the Debian packages it needs (scripts/install-deps.sh)"
scripts/install-deps.sh >&2
if [ ! -d "$build" ]; then
    step "configuring $build/ (meson setup)"
    meson setup "$build" >/dev/null
fi
step "building $build/ (ninja; a first build takes a minute or so)"
ninja -C "$build" >&2
qcontextd=$build/main-loop/programs/qcontextd
bench=$build/bench/qcontext-bench
if [ $# -gt 0 ]; then
    step "starting qcontextd $*"
    exec "$qcontextd" "$@"
fi

monitor=${QCONTEXT_SOCK:-/tmp/qcontextd.sock}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcontext-run.XXXXXX")
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'step "stopping"; exit 0' INT TERM

# The contexts: io0 polls (the disk's dataplane), ctx0 is a GLib one.
daemon_args=(-name qcontext-demo
             -object glib-qcontext,id=ctx0,threaded=yes
             -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768
             -device ticker,id=tick0,context=ctx0
             -monitor "unix:$monitor,server=on")
qemu_args=()

# --- virtio-blk: a sparse raw file, aio=native with O_DIRECT if possible ---
setup_blk() {
    local disk=$tmp/disk.raw cache=none aio=native
    truncate -s "${QCONTEXT_DISK_SIZE:-1G}" "$disk"
    if ! dd if=/dev/zero of="$tmp/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
        step "$tmp does not support O_DIRECT (tmpfs?): buffered I/O (aio=threads)"
        cache=writeback aio=threads
    fi
    rm -f "$tmp/probe"
    blk_sock=$tmp/vblk0.sock
    daemon_args+=(-drive "file=$disk,id=d0,format=raw,aio=$aio,cache=$cache"
                  -device "virtio-blk,id=vblk0,drive=d0,socket=$blk_sock,context=io0")
    qemu_args+=(-chardev "socket,id=c0,path=$blk_sock,reconnect=1"
                -device vhost-user-blk-pci,chardev=c0,num-queues=1)
}
wait_blk() {
    wait_for_socket "$blk_sock"
}
show_blk() {
    # shellcheck disable=SC2086  # the arguments are words
    step "driving vblk0 once: qcontext-bench blk --socket $blk_sock ${QCONTEXT_BENCH_ARGS:---rw randread --bs 4k --iodepth 32 --runtime 3}"
    # shellcheck disable=SC2086
    "$bench" blk --socket "$blk_sock" \
        ${QCONTEXT_BENCH_ARGS:---rw randread --bs 4k --iodepth 32 --runtime 3} ||
        step "qcontext-bench blk failed (exit $?); qcontextd keeps serving"
}

# --- vhost-user-vsock (context io0) and a pipe device on its port 5555 ---
setup_vsock() {
    vs=${QCONTEXT_VSOCK:-$tmp/vsock0}
    daemon_args+=(-device "vhost-user-vsock,id=vsock0,socket=$vs.sock,guest-cid=3,uds-path=$vs.uds,context=io0"
                  -device pipe,id=pipe0,vsock=vsock0,port=5555,context=ctx0)
    qemu_args+=(-chardev "socket,id=vsock,path=$vs.sock"
                -device vhost-user-vsock-pci,chardev=vsock)
}
wait_vsock() {
    wait_for_socket "$vs.sock"
}
show_vsock() {
    cat <<EOV

vsock0 (guest CID 3) and pipe0 on its port 5555:
  host -> guest port P:  { echo 'CONNECT P'; cat; } | socat - UNIX-CONNECT:$vs.uds  (answers 'OK <port>')
  guest -> host port P:  listen on ${vs}.uds_P, e.g. socat UNIX-LISTEN:${vs}.uds_P -
  pipe (services echo, qemud:echo), in the guest:  echo hi | qcontext-pipe echo
                         ($build/devices/pipe/qcontext-pipe, static)
EOV
}

DEVICES=(blk vsock)

wait_for_socket() {
    for _ in $(seq 200); do
        [ -S "$1" ] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || { step "qcontextd exited"; exit 1; }
        sleep 0.05
    done
    step "qcontextd did not create $1"
    exit 1
}

for d in "${DEVICES[@]}"; do "setup_$d"; done
step "starting qcontextd ${daemon_args[*]}"
"$qcontextd" "${daemon_args[@]}" &
daemon_pid=$!
for d in "${DEVICES[@]}"; do "wait_$d"; done
wait_for_socket "$monitor"
for d in "${DEVICES[@]}"; do "show_$d"; done

cat <<EOF

A VM attaches to it with (guest memory must be shared with qcontextd):

  qemu-system-x86_64 -machine q35,accel=kvm:tcg -m 1G \\
      -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \\
$(printf '      %s %s \\\n' "${qemu_args[@]}")
      ... (your boot disk or -kernel/-initrd)

The guest sees the disk as /dev/vda.  The monitor: $build/main-loop/programs/qcontext-ctl $monitor top
qcontextd keeps serving; Ctrl-C stops it.
EOF
wait "$daemon_pid"
