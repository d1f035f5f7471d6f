#!/usr/bin/env bash
# tests/vhost-user/vm-reconnect.sh SERVER - a real guest writes to /dev/vda
# with O_DIRECT writes while the back-end (SERVER: qcontextd, or the
# vu-blk-server test program, then slowed to 20 ms a request) is killed with
# SIGKILL and restarted on the same socket.  QEMU reconnects (reconnect=1) and hands back the inflight
# region; the requests in flight are resubmitted, the guest's dd completes,
# and what it reads back, and what the host image holds, is what it wrote.
#
# Skipped (exit 77) without the VM harness (see vm-smoke.sh).
set -euo pipefail
. "$(dirname "$0")/vm-backend.sh"

server=$1
vm_dir=${VM_DIR:-/work/shared/vm}
guest=${VM_GUEST:-/work/vm-guest}

if [ ! -x "$vm_dir/run-guest.sh" ] || [ ! -r "$guest/vmlinux" ] ||
    ! command -v qemu-system-x86_64 >/dev/null; then
    echo "1..0 # SKIP no VM harness ($vm_dir, $guest) or QEMU"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vu-vm-reconnect.XXXXXX")
pid=""
vm=""
cleanup() {
    for p in $pid $vm; do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

start_server() { # latency-ms
    backend_start "$server" "$tmp/vblk.sock" "$tmp/disk.raw" 1 "$1"
    pid=$backend_pid
}

# qcontextd has no artificial latency: more, smaller writes keep it busy.
case "$(basename "$server")" in
qcontextd) mib=48 bs=4096 ;;
*) mib=16 bs=64k ;;
esac

truncate -s 64M "$tmp/disk.raw"
start_server 20 # slow (20 ms a request): the kill lands mid-write

cat >"$tmp/guest.sh" <<EOF
set -e
dd if=/dev/urandom of=/tmp/data bs=1M count=$mib 2>/dev/null
want=\$(sha256sum /tmp/data | cut -d' ' -f1)
echo "GUEST-WRITING"
dd if=/tmp/data of=/dev/vda bs=$bs oflag=direct 2>/dev/null
echo "GUEST-WRITTEN"
have=\$(dd if=/dev/vda bs=1M count=$mib iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "GUEST-SHA256=\$want"
test "\$want" = "\$have"
EOF

"$vm_dir/run-guest.sh" --guest "$guest" --blk "$tmp/vblk.sock" --reconnect 1 \
    --script "$tmp/guest.sh" --timeout 300 --log "$tmp/console.log" --quiet \
    >/dev/null 2>&1 &
vm=$!

# Kill the back-end while the guest writes, start a new one.
for _ in $(seq 600); do
    grep -qa GUEST-WRITING "$tmp/console.log" 2>/dev/null && break
    sleep 0.1
done
grep -qa GUEST-WRITING "$tmp/console.log" || { echo "the guest never started writing" >&2; exit 1; }
sleep 1
if grep -qa GUEST-WRITTEN "$tmp/console.log"; then
    echo "the guest wrote everything before the kill: nothing tested" >&2
    exit 1
fi
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
sleep 0.5
start_server 0

status=0
wait "$vm" || status=$?
vm=""
if [ $status -ne 0 ]; then
    echo "guest test failed with status $status; console:" >&2
    tail -40 "$tmp/console.log" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi
want=$(sed -n 's/.*GUEST-SHA256=\([0-9a-f]*\).*/\1/p' "$tmp/console.log" | tail -1)
have=$(head -c "${mib}M" "$tmp/disk.raw" | sha256sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$have" ] || {
    echo "the disk image does not hold the guest's data ($have != $want)" >&2
    exit 1
}
kill -TERM "$pid"
wait "$pid"
pid=""
# Usually a request was in flight at the kill (then the server logged its
# resubmission); a kill between two requests is a valid run too.
grep -a "resubmitting" "$tmp/server.log" | sed 's/^.*: queue/# server: queue/' || true
echo "vm-reconnect: $(basename "$server") killed mid-write and restarted; the guest's $mib MiB arrived intact"
