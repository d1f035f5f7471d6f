#!/usr/bin/env bash
# tests/vsock/vm-pipe.sh QCONTEXTD QCONTEXT_PIPE - guest pipes in a real Linux
# guest: qcontext-pipe (the project's static guest program) opens pipes over
# AF_VSOCK to qcontextd's -device pipe (port 5555):
# - pipe:echo round-trips a line and a 1 MiB file (hash checked);
# - 8 pipes at once (echo, qemud:echo, unix:db to a host socat, echo...),
#   each with its own data;
# - an unknown service fails with qcontext-pipe's "unknown" status (2), an
#   unlisted unix: name with "refused" (3).
set -euo pipefail
here=$(dirname "$0")
# shellcheck source=tests/vsock/vm-lib.sh
. "$here/vm-lib.sh"
vm_init pipe "$1"
qpipe=$2
# The guest has no sanitizer runtime: under ASan/TSan builds the program is
# not static, so build a static copy from its one source file (libc only).
if ldd "$qpipe" >/dev/null 2>&1; then # dynamically linked
    cc -O2 -static -o "$tmp/qcontext-pipe" "$here/../../devices/pipe/guest/qcontext-pipe.c"
    qpipe=$tmp/qcontext-pipe
fi
# (pipe0 gets unix.db: the host's socat echo below)
db="$(dirname "$tmp")/$(basename "$tmp")/db.sock"
vm_start_daemon -device "pipe,id=pipe1,vsock=vsock0,port=5556,context=io2,unix.db=$db"
socat "UNIX-LISTEN:$db,fork" EXEC:cat &
bg_pids+=($!)

cat >"$tmp/guest.sh" <<'EOF'
set -e
say() { echo "# guest: $*"; }
P=/guest/qcontext-pipe
out=$(echo hello-pipe | timeout 20 $P echo)
test "$out" = hello-pipe
say "pipe:echo: $out"
dd if=/dev/urandom of=/tmp/blob bs=64k count=16 2>/dev/null
a=$(sha256sum /tmp/blob | cut -d' ' -f1)
b=$(timeout 60 $P echo </tmp/blob | sha256sum | cut -d' ' -f1)
test "$a" = "$b"
say "1 MiB through pipe:echo intact"
# 8 at once, each its own data, on the device with unix.db
for i in 1 2 3 4 5 6 7 8; do
    case $i in
    2|6) svc=unix:db ;;
    *) svc=echo ;;
    esac
    (seq $((i * 1000)) $((i * 1000 + 500)) | timeout 60 $P --port 5556 $svc >/tmp/out.$i) &
done
wait
for i in 1 2 3 4 5 6 7 8; do
    seq $((i * 1000)) $((i * 1000 + 500)) | cmp - /tmp/out.$i
done
say "8 pipes at once: each got its own data back"
st=0
echo x | timeout 20 $P nosuch >/dev/null 2>&1 || st=$?
test "$st" = 2
st=0
echo x | timeout 20 $P --port 5556 unix:other >/dev/null 2>&1 || st=$?
test "$st" = 3
say "unknown service: status 2; unlisted unix:other: status 3"
EOF

vm_run_guest "$tmp/guest.sh" --file "qcontext-pipe=$qpipe"
vm_stop_daemon
echo "vm-pipe: pipe:echo, 8 pipes at once, refusals"
