#!/usr/bin/env bash
# Set up, build and run qcontextd on the built-in default: the main context,
# one threaded glib-qcontext, one threaded aio-qcontext, a ticker device on it,
# and a QMP monitor on $QCONTEXT_SOCK (default /tmp/qcontextd.sock) that
# `build/main-loop/programs/qcontext-ctl SOCK query-qcontexts` (or `top`)
# talks to.  Ctrl-C stops it.  Extra arguments replace the default ones.
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
    set -- -name qcontext-demo \
           -object glib-qcontext,id=ctx0,threaded=yes \
           -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768 \
           -device ticker,id=tick0,context=io0 \
           -monitor "unix:${QCONTEXT_SOCK:-/tmp/qcontextd.sock},server=on"
fi
step "starting qcontextd $*"
exec "$build/main-loop/programs/qcontextd" "$@"
