#!/bin/sh
# Run a Python test against the build's libqcontext, plain or sanitized.
# Usage: run-python-gi.sh [--sanitize LIST] PYTHON SCRIPT
# With --sanitize, python3 (not instrumented) gets the sanitizer runtimes
# preloaded, as a sanitized library loaded into it needs them first.
set -eu
if [ "$1" = "--sanitize" ]; then
    preload=""
    for s in $(echo "$2" | tr ',' ' '); do
        case $s in
        address) lib=libasan.so ;;
        undefined) lib=libubsan.so ;;
        thread) lib=libtsan.so ;;
        *) lib="" ;;
        esac
        if [ -n "$lib" ]; then
            preload="$preload $(${CC:-cc} -print-file-name=$lib)"
        fi
    done
    export LD_PRELOAD="${preload# }"
    shift 2
fi
exec "$@"
