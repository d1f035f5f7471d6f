#!/usr/bin/env bash
# tests/vm/run-guest.sh --guest DIR --script FILE [options] - boot the guest
# of tests/vm/build-guest.sh under QEMU (TCG unless --accel kvm), with
# vhost-user devices on the given sockets, run FILE in it and exit with its
# status.
#
#   --guest DIR          the guest (vmlinux, initramfs.cpio.gz)
#   --script FILE        the shell script the guest runs (keep it small: the
#                        guest reads it byte by byte through fw_cfg)
#   --blk SOCK[:PROPS]   a vhost-user-blk-pci on SOCK; PROPS are the device's
#                        QEMU properties, e.g. num-queues=2 (default
#                        num-queues=1: QEMU would ask for one per vCPU)
#   --vsock SOCK         a vhost-user-vsock-pci on SOCK (the back-end gives
#                        the guest's CID through the config space)
#   --file NAME=PATH     PATH, as /guest/NAME in the guest (a read-only 9p
#                        share of a copy)
#   --share DIR          DIR read-write at /mnt/host in the guest (9p)
#   --reconnect SECS     QEMU reconnects to a vhost-user socket that closed
#   --smp N, --mem SIZE  vCPUs (1) and RAM (512M)
#   --timeout SECS       kill QEMU after SECS (300): exit status 124
#   --log FILE           the serial console (default: a temporary file,
#                        kept and named on failure)
#   --quiet              no console on stdout; on failure its last 40 lines
#   --accel ACCEL        tcg (default) or kvm
#
# Exit status: the script's; 124 timeout; 125 the guest never reported an
# exit status (QEMU failed to start, kernel panic...).
set -euo pipefail

guest=""
script=""
smp=1
mem=512M
timeout=300
log=""
quiet=0
accel=tcg
reconnect=""
devs=()
files=()
share=""
while [ $# -gt 0 ]; do
    case "$1" in
    --guest) guest=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --blk | --vsock) devs+=("$1=$2"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    --file=*) files+=("${1#--file=}"); shift ;;
    --share) share=$2; shift 2 ;;
    --reconnect) reconnect=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --accel) accel=$2; shift 2 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "run-guest: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$guest" ] || [ -z "$script" ]; then
    echo "usage: $0 --guest DIR --script FILE [options] (--help)" >&2
    exit 2
fi
for f in "$guest/vmlinux" "$guest/initramfs.cpio.gz" "$script"; do
    [ -r "$f" ] || { echo "run-guest: cannot read $f" >&2; exit 125; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qcontext-vm.XXXXXX")
keep_log=0
if [ -z "$log" ]; then
    log=$tmp/console.log
    keep_log=1
fi
cleanup() {
    if [ "$keep_log" = 2 ]; then
        kept=$(mktemp "${TMPDIR:-/tmp}/qcontext-vm-console.XXXXXX")
        cp "$log" "$kept"
        echo "run-guest: console log kept in $kept" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

args=(-machine q35 -accel "$accel" -m "$mem" -smp "$smp" -nodefaults -no-user-config
    -display none -no-reboot
    # vhost-user back-ends map guest memory: it must be shared, fd-backed.
    -object "memory-backend-memfd,id=mem0,size=$mem,share=on" -numa node,memdev=mem0
    -kernel "$guest/vmlinux" -initrd "$guest/initramfs.cpio.gz"
    -append "console=ttyS0 quiet panic=-1"
    -fw_cfg "name=opt/qcontext/test.sh,file=$script"
    -serial "file:$log")
n=0
for d in "${devs[@]}"; do
    kind=${d%%=*}
    spec=${d#*=}
    sock=${spec%%:*}
    props=""
    [ "$spec" != "$sock" ] && props=,${spec#*:}
    chardev="socket,id=vu$n,path=$sock"
    [ -n "$reconnect" ] && chardev+=",reconnect=$reconnect"
    args+=(-chardev "$chardev")
    case "$kind" in
    --blk)
        [[ "$props" == *num-queues=* ]] || props+=",num-queues=1"
        args+=(-device "vhost-user-blk-pci,chardev=vu$n,id=blk$n$props")
        ;;
    --vsock) args+=(-device "vhost-user-vsock-pci,chardev=vu$n,id=vsock$n$props") ;;
    esac
    n=$((n + 1))
done
if [ ${#files[@]} -gt 0 ]; then
    mkdir "$tmp/files"
    for f in "${files[@]}"; do
        cp "${f#*=}" "$tmp/files/${f%%=*}"
    done
    args+=(-fsdev "local,id=files,path=$tmp/files,security_model=none,readonly=on"
        -device virtio-9p-pci,fsdev=files,mount_tag=files)
fi
if [ -n "$share" ]; then
    args+=(-fsdev "local,id=host,path=$share,security_model=none"
        -device virtio-9p-pci,fsdev=host,mount_tag=host)
fi

: >"$log"
status=0
if [ $quiet = 0 ]; then
    tail -f "$log" --pid=$$ 2>/dev/null &
fi
timeout --kill-after=5 "$timeout" qemu-system-x86_64 "${args[@]}" \
    >"$tmp/qemu.out" 2>&1 </dev/null || status=$?
cat "$tmp/qemu.out" >>"$log"
if [ $status = 124 ] || [ $status = 137 ]; then
    echo "run-guest: timeout after ${timeout}s" | tee -a "$log" >&2
    status=124
else
    status=$(tr -d '\r' <"$log" | sed -n 's/^qcontext-guest: exit=\([0-9]*\)$/\1/p' | tail -1)
    status=${status:-125}
fi
if [ "$status" != 0 ]; then
    [ $keep_log = 1 ] && keep_log=2
    if [ $quiet = 1 ]; then
        tail -40 "$log" | tr -d '\r' >&2
    fi
fi
exit "$status"
