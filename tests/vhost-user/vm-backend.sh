# tests/vhost-user/vm-backend.sh - sourced by the vm-*.sh tests: start the
# vhost-user-blk back-end under test on a socket, over a raw disk image.
#
#   backend_start SERVER SOCKET DISK QUEUES [LATENCY_MS]
#
# SERVER is qcontextd (-device virtio-blk with its queues on aio-qcontexts
# io0 and io1, control plane on io0) or the vu-blk-server test program
# (which also takes a per-request latency).  Sets $backend_pid; the output
# goes to $tmp/server.log.

backend_start() {
    local server=$1 sock=$2 disk=$3 nq=$4 latency=${5:-0}

    case "$(basename "$server")" in
    qcontextd)
        "$server" -object aio-qcontext,id=io0,threaded=yes \
            -object aio-qcontext,id=io1,threaded=yes \
            -drive "file=$disk,id=d0,format=raw,aio=threads,discard=unmap" \
            -device "virtio-blk,id=vblk0,drive=d0,socket=$sock,context=io0,num-queues=$nq,queue-contexts=io0:io1,serial=qcontext-vm-test" \
            >>"$tmp/server.log" 2>&1 &
        ;;
    *)
        "$server" --socket "$sock" --file "$disk" --queues "$nq" --aio threads \
            --serial qcontext-vm-test --latency-ms "$latency" >>"$tmp/server.log" 2>&1 &
        ;;
    esac
    backend_pid=$!
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        sleep 0.1
    done
    cat "$tmp/server.log" >&2
    return 1
}
