# tests/vm/vm-guest.sh - sourced by the VM tests: find or build the guest.
#
#   vm_guest_init TOOL...   sets $vm_run (tests/vm/run-guest.sh) and
#                           $vm_guest (a guest directory); or prints a TAP
#                           skip line naming what is missing and exits 77.
#                           TOOLs: host programs the test needs besides
#                           QEMU (debugfs, socat...).
#
# The guest is tests/vm/build-guest.sh's, built once per build directory
# into $VM_GUEST_CACHE (set by tests/meson.build) and rebuilt when the
# installed kernel or build-guest.sh changes; $VM_GUEST=DIR uses a guest
# built before instead.  Everything comes from scripts/install-deps.sh's
# packages, so on a machine set up by it the VM tests run (under TCG: no
# KVM needed); they skip only where those are missing.

vm_skip() {
    echo "1..0 # SKIP $*"
    exit 77
}

vm_guest_init() {
    local here kver cache built
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    vm_run=$here/run-guest.sh
    command -v qemu-system-x86_64 >/dev/null ||
        vm_skip "no qemu-system-x86_64 (qemu-system-x86; scripts/install-deps.sh)"
    for tool in "$@"; do
        command -v "$tool" >/dev/null || vm_skip "no $tool (scripts/install-deps.sh)"
    done
    if [ -n "${VM_GUEST:-}" ]; then
        [ -r "$VM_GUEST/vmlinux" ] || vm_skip "VM_GUEST=$VM_GUEST holds no guest"
        vm_guest=$VM_GUEST
        return 0
    fi
    cache=${VM_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qcontext/vm-guest}
    kver=""
    for v in $(ls /lib/modules 2>/dev/null | sort -rV); do
        [ -r "/boot/vmlinuz-$v" ] && kver=$v && break
    done
    mkdir -p "$(dirname "$cache")"
    # One builder at a time (two build directories' suites may run at once).
    exec 9>"$cache.lock"
    flock 9
    built=$(sed -n 's/^kernel_version=//p' "$cache/guest.env" 2>/dev/null || true)
    if [ -z "$kver" ] || [ "$built" != "$kver" ] || [ "$here/build-guest.sh" -nt "$cache/guest.env" ]; then
        rm -rf "$cache.new"
        local status=0
        "$here/build-guest.sh" "$cache.new" >"$cache.log" 2>&1 || status=$?
        if [ $status != 0 ]; then
            exec 9>&-
            [ $status = 77 ] && vm_skip "no guest: $(tail -1 "$cache.log")"
            echo "building the VM guest failed:" >&2
            cat "$cache.log" >&2
            exit 1
        fi
        rm -rf "$cache"
        mv "$cache.new" "$cache"
    fi
    exec 9>&-
    vm_guest=$cache
}
