#!/usr/bin/env bash
# tests/vhost-user/vm-smoke.sh SERVER [QUEUES] - a real Linux guest (QEMU's
# vhost-user-blk-pci under TCG, /work/shared/vm) on the virtio-blk back-end
# (SERVER: qcontextd with -device virtio-blk, or the vu-blk-server test
# program; see vm-backend.sh): the
# guest sees /dev/vda, makes an ext2 file system, writes files, reads them
# back after dropping its caches; the host then finds the same bytes in the
# disk image (debugfs).  With QUEUES=2 the guest also checks it got 2 queues.
#
# Skipped (exit 77) when the VM harness or the guest is not there:
# VM_DIR (default /work/shared/vm), VM_GUEST (default /work/vm-guest).
set -euo pipefail
. "$(dirname "$0")/vm-backend.sh"

server=$1
queues=${2:-1}
vm_dir=${VM_DIR:-/work/shared/vm}
guest=${VM_GUEST:-/work/vm-guest}

if [ ! -x "$vm_dir/run-guest.sh" ] || [ ! -r "$guest/vmlinux" ] ||
    ! command -v qemu-system-x86_64 >/dev/null || ! command -v debugfs >/dev/null; then
    echo "1..0 # SKIP no VM harness ($vm_dir, $guest), QEMU or debugfs"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vu-vm-smoke.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

truncate -s 64M "$tmp/disk.raw"
backend_start "$server" "$tmp/vblk.sock" "$tmp/disk.raw" "$queues"
pid=$backend_pid

cat >"$tmp/guest.sh" <<EOF
set -e
test -b /dev/vda
echo "vda sectors: \$(cat /sys/block/vda/size)"
test "\$(cat /sys/block/vda/size)" = 131072
test "\$(cat /sys/block/vda/serial 2>/dev/null || echo qcontext-vm-test)" = qcontext-vm-test
nq=\$(ls -d /sys/block/vda/mq/* | wc -l)
echo "vda queues: \$nq"
test "\$nq" = $queues
mke2fs -q -F /dev/vda
mkdir -p /mnt/d
mount -t ext2 /dev/vda /mnt/d
echo hello-from-the-guest > /mnt/d/hello.txt
dd if=/dev/urandom of=/mnt/d/data bs=4096 count=1024 2>/dev/null
sha256sum /mnt/d/data | cut -d' ' -f1 > /tmp/sum
umount /mnt/d
echo 3 > /proc/sys/vm/drop_caches
mount -t ext2 /dev/vda /mnt/d
test "\$(sha256sum /mnt/d/data | cut -d' ' -f1)" = "\$(cat /tmp/sum)"
test "\$(cat /mnt/d/hello.txt)" = hello-from-the-guest
echo "GUEST-DATA-SHA256=\$(cat /tmp/sum)"
umount /mnt/d
dd if=/dev/vda of=/dev/null bs=1M count=16 iflag=direct 2>/dev/null
sync
EOF

status=0
"$vm_dir/run-guest.sh" --guest "$guest" --blk "$tmp/vblk.sock:num-queues=$queues" \
    --smp "$queues" --script "$tmp/guest.sh" --timeout 300 --log "$tmp/console.log" \
    --quiet >/dev/null 2>&1 || status=$?
if [ $status -ne 0 ]; then
    echo "guest test failed with status $status; console:" >&2
    tail -40 "$tmp/console.log" >&2
    echo "server log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi

# The host file holds what the guest wrote.
want=$(sed -n 's/.*GUEST-DATA-SHA256=\([0-9a-f]*\).*/\1/p' "$tmp/console.log" | tail -1)
debugfs -R "dump /data $tmp/data" "$tmp/disk.raw" >/dev/null 2>&1
have=$(sha256sum "$tmp/data" | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$have" ] || {
    echo "the disk image does not hold the guest's data ($have != $want)" >&2
    exit 1
}
debugfs -R "cat /hello.txt" "$tmp/disk.raw" 2>/dev/null | grep -q hello-from-the-guest

grep -aE "vda (sectors|queues)|GUEST-DATA" "$tmp/console.log" | tr -d '\r' | sed 's/^/# guest: /'

# The server stops cleanly on SIGTERM.
kill -TERM "$pid"
wait "$pid"
pid=""
echo "vm-smoke: $(basename "$server"), $queues queue(s): guest file system written and read back, image verified"
