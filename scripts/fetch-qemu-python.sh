#!/usr/bin/env bash
# Fetch QEMU 7.2's own Python QMP package and QOM tools (python/qemu/qmp,
# python/qemu/utils: QMPClient, the legacy sync API, qmp-shell, qom
# list/get/set/tree), which Debian does not package, from Debian's archive,
# once, into the cache (not the source tree):
#     ${QCONTEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qcontext}/qemu-7.2-python
# The qemu-tools test runs these tools, unchanged, against qcontextd.  Only
# python/ is kept; nothing of QEMU goes into qcontext.  Exits 0 when the copy
# is there; on a download failure it says so and exits 1 (the test then skips).
set -euo pipefail
url=http://deb.debian.org/debian/pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz
sha256=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f
cache=${QCONTEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qcontext}
dest=$cache/qemu-7.2-python
[ -f "$dest/qemu/qmp/__init__.py" ] && [ -f "$dest/qemu/utils/qom.py" ] && exit 0

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-qemu-python: downloading QEMU 7.2's sources (23 MB) for its Python QMP tools"
if ! curl -fsSL --retry 2 --connect-timeout 20 -o "$tmp/qemu.tar.xz" "$url"; then
    echo "fetch-qemu-python: cannot download $url; the qemu-tools test will skip" >&2
    exit 1
fi
if ! echo "$sha256  $tmp/qemu.tar.xz" | sha256sum -c --quiet -; then
    echo "fetch-qemu-python: $url does not have the expected SHA-256" >&2
    exit 1
fi
tar -xJf "$tmp/qemu.tar.xz" -C "$tmp" qemu-7.2.0/python
rm -f "$tmp/qemu.tar.xz"
rm -rf "$dest"
mv "$tmp/qemu-7.2.0/python" "$dest"
echo "fetch-qemu-python: QEMU's Python tools are in $dest"
