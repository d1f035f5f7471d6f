#!/usr/bin/env bash
# tests/vsock/vm-vsock.sh QCONTEXTD - a real Linux guest's virtio-vsock driver
# (vmw_vsock_virtio_transport, through QEMU's vhost-user-vsock-pci) on
# qcontextd's -device vhost-user-vsock, socat on both sides:
# - guest -> host: a connection to CID 2 port 1234 reaches the host's
#   listener on <uds-path>_1234 (an echo), both ways;
# - host -> guest: "CONNECT 5000" on <uds-path>, "OK <port>", then bytes;
# - a connection to a port nobody listens on fails at once (RST);
# - 16 MiB guest -> host with its sha256 intact (guest sha256 is slow under
#   TCG: keep it small).
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tests/vsock/vm-lib.sh
. "$here/vm-lib.sh"
vm_init vsock "$1"
vm_start_daemon

# The host's side: an echo on port 1234, a sink for the 16 MiB on 1235.
socat "UNIX-LISTEN:$tmp/vm.vsock_1234,fork" EXEC:cat &
bg_pids+=($!)
socat -u "UNIX-LISTEN:$tmp/vm.vsock_1235" "CREATE:$tmp/received.bin" &
bg_pids+=($!)
# Host -> guest: retry until the guest listens on 5000 and echoes.
(
    for _ in $(seq 600); do
        out=$(printf 'CONNECT 5000\nhello-from-the-host\n' |
            timeout 5 socat -t 3 - "UNIX-CONNECT:$tmp/vm.vsock" 2>/dev/null || true)
        case "$out" in
        OK\ *hello-from-the-host*) echo "$out" >"$tmp/host-connect.out"; exit 0 ;;
        esac
        sleep 0.1
    done
) &
bg_pids+=($!)

cat >"$tmp/guest.sh" <<'EOF'
set -e
say() { echo "# guest: $*"; }
test -c /dev/vsock
# guest -> host echo
out=$(echo hello-from-the-guest | timeout 20 socat -t 2 - VSOCK-CONNECT:2:1234)
test "$out" = hello-from-the-guest
say "echo through <uds-path>_1234: $out"
# no listener: fails at once (not a timeout)
t0=$(date +%s)
st=0
echo x | timeout 10 socat - VSOCK-CONNECT:2:4444 2>/dev/null || st=$?
t1=$(date +%s)
test "$st" -ne 0 && test "$st" -ne 124 && test $((t1 - t0)) -le 3
say "port 4444 with no listener: refused (status $st) in $((t1 - t0)) s"
# host -> guest: one connection on port 5000, echoed
timeout 60 socat VSOCK-LISTEN:5000 EXEC:cat
say "host connected to port 5000 and got its echo"
# 16 MiB guest -> host
dd if=/dev/urandom of=/tmp/blob bs=1M count=16 2>/dev/null
say "SHA256=$(sha256sum /tmp/blob | cut -d' ' -f1)"
timeout 60 socat -u FILE:/tmp/blob VSOCK-CONNECT:2:1235
say "16 MiB sent"
EOF

vm_run_guest "$tmp/guest.sh"

grep -q "^OK [0-9]*" "$tmp/host-connect.out"
grep -q "hello-from-the-host" "$tmp/host-connect.out"
want=$(grep -a "# guest: SHA256=" "$tmp/console.log" | tr -d '\r' | sed 's/.*SHA256=//')
for _ in $(seq 50); do # the sink may still be writing
    have=$(sha256sum "$tmp/received.bin" | cut -d' ' -f1)
    [ "$have" = "$want" ] && break
    sleep 0.1
done
if [ "$have" != "$want" ]; then
    echo "16 MiB arrived damaged: $have != $want" >&2
    exit 1
fi
echo "# host: CONNECT 5000 answered: $(head -1 "$tmp/host-connect.out")"
echo "# host: 16 MiB received, sha256 $have"
vm_stop_daemon
echo "vm-vsock: echo both ways, no-listener RST, 16 MiB intact"
