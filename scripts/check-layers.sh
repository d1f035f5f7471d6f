#!/usr/bin/env bash
# The one-way layering rule (docs/architecture.md): each layer includes only
# the public headers of the layers below it.  Prints every violation and exits
# 1 if there is one.  Run from anywhere; the build runs it as a test.
set -uo pipefail
cd "$(dirname "$0")/.."
QC='qcontext/(qcontext|qsource|aio-qcontext|glib-qcontext)\.h'
status=0
check() { # folders... -- forbidden-regex
    local dirs=()
    while [ "$1" != "--" ]; do [ -e "$1" ] && dirs+=("$1"); shift; done
    shift
    [ ${#dirs[@]} -eq 0 ] && return
    if grep -rnHE "#include [<\"]($1)" "${dirs[@]}"; then status=1; fi
}
check qom include/qcontext/qom -- "qcontext/(aio|block|devices|main-loop)/|$QC"
check aio include/qcontext/aio -- "qcontext/(qom|block|devices|main-loop)/|$QC"
check qcontext -- "qcontext/(block|devices|main-loop)/"
for h in include/qcontext/*.h; do check "$h" -- "qcontext/(block|devices|main-loop)/"; done
# block/ sits between qcontext/ and devices/: it may use qom, aio and qcontext.
check block include/qcontext/block -- "qcontext/(devices|main-loop)/"
# Its internals stay inside: devices and programs use <qcontext/block/...> only.
for d in qom aio qcontext devices main-loop bench include tests; do
    check "$d" -- '.*block-internal\.h'
done
check devices include/qcontext/devices -- "qcontext/main-loop/"
# frontend/ (the VMM side, a helper library for bench/ and tests/) stands
# alone: only the header-only wire format and memory-ordering helpers.
check frontend -- "qcontext/(qom|block|main-loop)/|qcontext/aio/(aio|block|thread-pool|event-notifier)\.h|$QC"
# Pipes build on vsock, never the reverse; the guest program is libc only.
check devices/vsock include/qcontext/devices/vsock -- "qcontext/devices/pipe/"
check devices/pipe/guest -- "qcontext/"
# The vhost-user transport and the split virtqueue are independent of the
# device model and of the QContext layer (a device embeds them through
# VuDevOps); the virtqueue knows only the vhost-user wire format.
# The binding VhostUserDevice (vu-device.[ch]) is where the two meet: it may
# use the device model, never a device.
vu_files=$(ls devices/vhost-user/*.[ch] include/qcontext/devices/vhost-user/*.h |
    grep -v '/vu-device\.[ch]$')
# shellcheck disable=SC2086
check devices/virtio include/qcontext/devices/virtio $vu_files -- \
    "qcontext/devices/(device|blk|vsock|pipe)|$QC"
check devices/vhost-user/vu-device.c include/qcontext/devices/vhost-user/vu-device.h -- \
    "qcontext/devices/(blk|vsock|pipe)/"
check devices/virtio include/qcontext/devices/virtio -- "qcontext/devices/vhost-user/vhost-user\.h"
# The monitor: the core (every file but the qmp-*.c families) never includes a
# family or a device header; only monitor.c includes families.h (it registers
# them); a family sees the core through monitor-core.h, never monitor-priv.h.
mon=main-loop/monitor
if [ -d "$mon" ]; then
    core=$(ls "$mon"/*.[ch] | grep -v '/qmp-')
    # shellcheck disable=SC2086
    if grep -nHE '#include [<"](qcontext/devices/|qmp-)' $core; then status=1; fi
    # shellcheck disable=SC2086
    if grep -nHE '#include "families\.h"' $(echo "$core" | grep -v "$mon/monitor.c"); then
        status=1
    fi
    if grep -nHE '#include "monitor-priv\.h"' "$mon"/qmp-*.c; then status=1; fi
fi
exit $status
