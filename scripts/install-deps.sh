#!/usr/bin/env bash
# Install the Debian packages qcontext needs to build, test and benchmark.
# Does nothing when everything is already there.
set -euo pipefail
# qemu-system-common: qemu-storage-daemon, the reference vhost-user-blk back-end
# of the front-end tests and of the blk benchmark (bench/bench-blk-compare.py).
pkgs=(meson ninja-build pkg-config gcc libglib2.0-dev liburcu-dev libaio-dev
      liburing-dev libjson-glib-dev libuv1-dev libevent-dev python3
      curl xz-utils libedit-dev
      clang libclang-rt-dev qemu-system-common
      scdoc file libcairo2-dev gobject-introspection libgirepository1.0-dev python3-gi
      doxygen)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
