# tests/vsock/vm-lib.sh - shared part of the vsock VM tests (sourced): a real
# Linux guest (QEMU's vhost-user-vsock-pci under TCG, /work/shared/vm) on
# qcontextd's -device vhost-user-vsock and -device pipe.
#
#   vm_init NAME QCONTEXTD   skip (exit 77) without the harness; temp dir $tmp
#   vm_start_daemon          qcontextd: vsock0 (cid 3, uds $tmp/vm.vsock) on io1,
#                            pipe0 (port 5555, echo...) on io2
#   vm_run_guest SCRIPT [run-guest.sh options...]   status in $guest_status
#   vm_stop_daemon           SIGTERM; fails if qcontextd does not exit cleanly
#
# Skipped (exit 77) when the VM harness or the guest is not there:
# VM_DIR (default /work/shared/vm), VM_GUEST (default /work/vm-guest).

vm_init() {
    vm_name=$1
    qcontextd=$2
    vm_dir=${VM_DIR:-/work/shared/vm}
    guest=${VM_GUEST:-/work/vm-guest}
    if [ ! -x "$vm_dir/run-guest.sh" ] || [ ! -r "$guest/vmlinux" ] ||
        ! command -v qemu-system-x86_64 >/dev/null || ! command -v socat >/dev/null; then
        echo "1..0 # SKIP no VM harness ($vm_dir, $guest), QEMU or socat"
        exit 77
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/vsock-$vm_name.XXXXXX")
    daemon_pid=""
    bg_pids=()
    trap vm_cleanup EXIT
}

vm_cleanup() {
    for p in "${bg_pids[@]}" $daemon_pid; do
        { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    done
    rm -rf "$tmp"
}

vm_start_daemon() {
    "$qcontextd" -object aio-qcontext,id=io1,threaded=yes \
        -object aio-qcontext,id=io2,threaded=yes \
        -device "vhost-user-vsock,id=vsock0,socket=$tmp/vsock.sock,guest-cid=3,uds-path=$tmp/vm.vsock,context=io1" \
        -device "pipe,id=pipe0,vsock=vsock0,port=5555,context=io2" \
        "$@" >"$tmp/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 100); do
        [ -S "$tmp/vsock.sock" ] && [ -S "$tmp/vm.vsock" ] && return 0
        sleep 0.1
    done
    echo "qcontextd did not come up:" >&2
    cat "$tmp/daemon.log" >&2
    exit 1
}

vm_run_guest() {
    local script=$1
    shift
    guest_status=0
    "$vm_dir/run-guest.sh" --guest "$guest" --vsock "$tmp/vsock.sock" --script "$script" \
        --timeout 120 --log "$tmp/console.log" --quiet "$@" >/dev/null 2>&1 ||
        guest_status=$?
    grep -a "^# guest:" "$tmp/console.log" | tr -d '\r' || true
    if [ "$guest_status" -ne 0 ]; then
        echo "guest test failed with status $guest_status; console:" >&2
        tail -40 "$tmp/console.log" | tr -d '\r' >&2
        echo "qcontextd log:" >&2
        cat "$tmp/daemon.log" >&2
        exit 1
    fi
}

vm_stop_daemon() {
    kill -TERM "$daemon_pid"
    if ! wait "$daemon_pid"; then
        echo "qcontextd did not exit cleanly:" >&2
        cat "$tmp/daemon.log" >&2
        exit 1
    fi
    daemon_pid=""
    # Its sockets are gone with it.
    [ ! -e "$tmp/vsock.sock" ] && [ ! -e "$tmp/vm.vsock" ]
}
