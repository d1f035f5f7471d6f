#!/usr/bin/env bash
# tests/vm/build-guest.sh OUTDIR [--kver VERSION] - build the small Linux
# guest the VM tests boot (tests/vm/run-guest.sh) from what Debian packages
# installed on this host (scripts/install-deps.sh): the kernel of
# linux-image-amd64 and its modules, busybox-static, socat.
#
# OUTDIR gets:
#   vmlinux            the kernel, uncompressed when possible (QEMU boots an
#                      ELF vmlinux through its PVH entry, which skips the
#                      decompression: seconds under TCG); else the bzImage
#   initramfs.cpio.gz  busybox, socat with its libraries, the modules of
#                      virtio-pci, virtio-blk, ext2/4, vsock, 9p and fw_cfg,
#                      and /init
#   guest.env          what it was built from
#
# The guest's /init mounts /proc, /sys, /dev and /tmp, loads the modules,
# mounts the 9p shares "files" (read-only, at /guest) and "host" (at
# /mnt/host) when QEMU offers them, prints "qcontext-guest: start", runs the
# script QEMU passes as fw_cfg opt/qcontext/test.sh with sh in /tmp, prints
# "qcontext-guest: exit=STATUS" and powers off.
#
# Exit status: 0 built; 77 a prerequisite is missing (the message names it);
# 1 the build failed.
set -euo pipefail

out=""
kver=""
while [ $# -gt 0 ]; do
    case "$1" in
    --kver) kver=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) out=$1; shift ;;
    esac
done
[ -n "$out" ] || { echo "usage: $0 OUTDIR [--kver VERSION]" >&2; exit 1; }

missing() {
    echo "build-guest: $1 (scripts/install-deps.sh installs it)" >&2
    exit 77
}

# The newest kernel installed with its modules (/lib/modules may also hold
# the host's, without a /boot/vmlinuz, in a container).
if [ -z "$kver" ]; then
    for v in $(ls /lib/modules 2>/dev/null | sort -rV); do
        if [ -r "/boot/vmlinuz-$v" ]; then
            kver=$v
            break
        fi
    done
fi
[ -n "$kver" ] && [ -d "/lib/modules/$kver" ] && [ -r "/boot/vmlinuz-$kver" ] ||
    missing "no readable /boot/vmlinuz-VERSION with its /lib/modules/VERSION (linux-image-amd64)"
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 || missing "no static $busybox (busybox-static)"
socat=$(command -v socat || true)
[ -n "$socat" ] || missing "no socat"
for tool in modprobe cpio gzip xz; do
    command -v "$tool" >/dev/null || missing "no $tool"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/qcontext-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,guest,mnt/host,lib/modules,etc}

# busybox: every applet is installed by /init (busybox --install).
cp "$busybox" "$root/bin/busybox"

# socat and the shared libraries it loads, at the same paths.
mkdir -p "$root/usr/bin"
cp "$socat" "$root/usr/bin/socat"
for lib in $(ldd "$socat" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# The modules, each once, dependencies first, listed in load order.
: >"$root/lib/modules/order"
for mod in virtio_pci virtio_blk ext4 vmw_vsock_virtio_transport 9pnet_virtio 9p qemu_fw_cfg; do
    modprobe -S "$kver" --show-depends "$mod" | while read -r kind path _; do
        [ "$kind" = insmod ] || continue # "builtin": nothing to load
        name=$(basename "$path")
        name=${name%.xz}
        name=${name%.zst}
        grep -qx "$name" "$root/lib/modules/order" && continue
        case "$path" in
        *.xz) xz -dc "$path" >"$root/lib/modules/$name" ;;
        *.zst) zstd -qdc "$path" >"$root/lib/modules/$name" ;;
        *) cp "$path" "$root/lib/modules/$name" ;;
        esac
        echo "$name" >>"$root/lib/modules/order"
    done
done

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/tmp
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
while read -r m; do
    insmod "/lib/modules/$m" || echo "qcontext-guest: cannot load $m"
done </lib/modules/order
tags=$(cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | tr '\0' ' ')
case " $tags " in *" files "*) mount -t 9p -o trans=virtio,version=9p2000.L,ro files /guest ;; esac
case " $tags " in *" host "*) mount -t 9p -o trans=virtio,version=9p2000.L host /mnt/host ;; esac
script=/sys/firmware/qemu_fw_cfg/by_name/opt/qcontext/test.sh/raw
echo "qcontext-guest: start $(cut -d' ' -f1 /proc/uptime)"
cd /tmp
if [ -r "$script" ]; then
    cat "$script" >/tmp/test.sh
    sh /tmp/test.sh
    status=$?
else
    echo "qcontext-guest: no script (fw_cfg opt/qcontext/test.sh)"
    status=125
fi
echo "qcontext-guest: exit=$status"
sync
poweroff -f
EOF
chmod +x "$root/init"

# The kernel: the payload of the bzImage, if it decompresses to an ELF file.
# (xz stops reading at the end of its stream: no pipe, whose writer would
# die of SIGPIPE.)
kernel=$work/vmlinux
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "/boot/vmlinuz-$kver" | head -1 | cut -d: -f1 || true)
if [ -n "$offset" ] &&
    xz -dcq --single-stream <(tail -c +"$((offset + 1))" "/boot/vmlinuz-$kver") >"$kernel" 2>/dev/null &&
    [ "$(head -c 4 "$kernel" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    kind="vmlinux (ELF, PVH entry)"
else
    cp "/boot/vmlinuz-$kver" "$kernel"
    kind="bzImage"
fi

mkdir -p "$out"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"
mv "$kernel" "$out/vmlinux"
mv "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
cat >"$out/guest.env" <<EOF
kernel_version=$kver
kernel_kind=$kind
modules=$(tr '\n' ' ' <"$root/lib/modules/order")
EOF
echo "build-guest: $out: kernel $kver ($kind), $(wc -l <"$root/lib/modules/order") modules"
