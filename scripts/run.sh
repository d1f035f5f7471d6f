#!/usr/bin/env bash
# Set up, build and run qcontextd on the built-in default: the main context,
# one threaded glib-qcontext and one threaded aio-qcontext.  Ctrl-C stops it.
# Extra arguments replace the default ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
if [ $# -eq 0 ]; then
    set -- -object glib-qcontext,id=ctx0,threaded=yes \
           -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768
fi
exec build/main-loop/programs/qcontextd "$@"
