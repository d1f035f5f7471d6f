#!/usr/bin/env bash
# Set up, build and run qcontextd on the built-in default: the main context,
# one threaded glib-qcontext, one threaded aio-qcontext, a ticker device on it,
# a vhost-user-vsock device (vhost-user socket $QCONTEXT_VSOCK.sock, hybrid
# vsock at $QCONTEXT_VSOCK.uds; default prefix /tmp/qcontext-vsock) with a
# pipe device on its port 5555, and a QMP monitor on $QCONTEXT_SOCK (default
# /tmp/qcontextd.sock) that `build/main-loop/programs/qcontext-ctl SOCK
# query-qcontexts` (or `top`) talks to.  It prints how to reach the vsock
# and pipe devices.  Ctrl-C stops it.  Extra arguments replace the default ones.
# Each step says what it does on stderr, and ninja shows its own progress.
# $QCONTEXT_BUILDDIR picks another build directory (default: build).
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
if [ $# -eq 0 ]; then
    vs=${QCONTEXT_VSOCK:-/tmp/qcontext-vsock}
    set -- -name qcontext-demo \
           -object glib-qcontext,id=ctx0,threaded=yes \
           -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768 \
           -device ticker,id=tick0,context=io0 \
           -device "vhost-user-vsock,id=vsock0,socket=$vs.sock,guest-cid=3,uds-path=$vs.uds,context=io0" \
           -device pipe,id=pipe0,vsock=vsock0,port=5555,context=ctx0 \
           -monitor "unix:${QCONTEXT_SOCK:-/tmp/qcontextd.sock},server=on"
    step "vsock: QEMU: -object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem -chardev socket,id=vsock,path=$vs.sock -device vhost-user-vsock-pci,chardev=vsock (guest CID 3)"
    step "vsock: host -> guest port P: { echo 'CONNECT P'; cat; } | socat - UNIX-CONNECT:$vs.uds (answers 'OK <port>')"
    step "vsock: guest -> host port P: listen on $vs.uds_P, e.g. socat UNIX-LISTEN:$vs.uds_P -"
    step "pipe: on vsock port 5555 (services echo, qemud:echo): in the guest, echo hi | qcontext-pipe echo ($build/devices/pipe/qcontext-pipe, static)"
fi
step "starting qcontextd $*"
exec "$build/main-loop/programs/qcontextd" "$@"
