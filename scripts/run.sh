#!/usr/bin/env bash
# Set up, build and run qcontextd on the built-in default: the main context,
# one threaded glib-qcontext, one threaded aio-qcontext, a ticker device on it,
# and a QMP monitor on $QCONTEXT_SOCK (default /tmp/qcontextd.sock) that
# `build/main-loop/programs/qcontext-ctl SOCK query-qcontexts` (or `top`)
# talks to.  Ctrl-C stops it.  Extra arguments replace the default ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
if [ $# -eq 0 ]; then
    set -- -name qcontext-demo \
           -object glib-qcontext,id=ctx0,threaded=yes \
           -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768 \
           -device ticker,id=tick0,context=io0 \
           -monitor "unix:${QCONTEXT_SOCK:-/tmp/qcontextd.sock},server=on"
fi
exec build/main-loop/programs/qcontextd "$@"
