#!/usr/bin/env python3
"""Write the seed corpora of fuzz/vhost-user/ (run from anywhere; idempotent).

fuzz-vu-msg: records of [fd spec byte][12-byte header][payload] (see the
target's comment); fuzz-virtq: [config byte][guest memory image].
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# vhost-user requests
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_CONFIG, SET_CONFIG, GET_INFLIGHT_FD, SET_INFLIGHT_FD = 24, 25, 31, 32
GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 36, 37, 38
NEED_REPLY = 1 << 3
UVA = 0x7F0000000000

# fd specs: count | kind << 4 (0 eventfd, 1 memfd, 2 pipe, 3 /dev/null)
NOFD, EVENTFD, MEMFD = 0x00, 0x01, 0x11


def rec(req, payload=b"", spec=NOFD, flags=0):
    return bytes([spec]) + struct.pack("<III", req, 1 | flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def region(gpa, size, uva, off):
    return struct.pack("<QQQQ", gpa, size, uva, off)


FEATURES = (1 << 32) | (1 << 28) | (1 << 29) | (1 << 30)
PFEATURES = (1 << 0) | (1 << 3) | (1 << 9) | (1 << 12) | (1 << 15)


def handshake():
    return (rec(GET_FEATURES) + rec(SET_FEATURES, u64(FEATURES)) +
            rec(GET_PROTOCOL_FEATURES) + rec(SET_PROTOCOL_FEATURES, u64(PFEATURES)) +
            rec(GET_QUEUE_NUM) + rec(SET_OWNER))


def ring(q, mem_table=True):
    out = b""
    if mem_table:
        out += rec(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region(0, 65536, UVA, 0),
                   MEMFD, NEED_REPLY)
    out += rec(SET_VRING_NUM, state(q, 16), flags=NEED_REPLY)
    out += rec(SET_VRING_BASE, state(q, 0))
    out += rec(SET_VRING_ADDR, struct.pack("<IIQQQQ", q, 0, UVA + 0x1000 * q,
                                           UVA + 0x1000 * q + 0x800, UVA + 0x1000 * q + 0x400, 0))
    out += rec(SET_VRING_KICK, u64(q), EVENTFD)
    out += rec(SET_VRING_CALL, u64(q), EVENTFD)
    out += rec(SET_VRING_ERR, u64(q), EVENTFD)
    out += rec(SET_VRING_ENABLE, state(q, 1), flags=NEED_REPLY)
    return out


def msg_seeds():
    cfg = struct.pack("<III", 0, 16, 0) + bytes(16)
    return {
        "handshake": handshake() + rec(GET_CONFIG, cfg, flags=NEED_REPLY) + ring(0) +
        ring(1, False) + rec(GET_VRING_BASE, state(0, 0)) + rec(GET_VRING_BASE, state(1, 0)),
        "inflight": handshake() +
        rec(GET_INFLIGHT_FD, struct.pack("<QQHHxxxx", 0, 0, 2, 16)) +
        rec(SET_INFLIGHT_FD, struct.pack("<QQHHxxxx", 640, 0, 2, 16), MEMFD) + ring(0) +
        rec(GET_VRING_BASE, state(0, 0)),
        "mem-slots": handshake() + rec(GET_MAX_MEM_SLOTS) +
        rec(ADD_MEM_REG, u64(0) + region(0, 65536, UVA, 0), MEMFD, NEED_REPLY) + ring(0, False) +
        rec(ADD_MEM_REG, u64(0) + region(0x100000, 65536, UVA + 0x100000, 0), MEMFD) +
        rec(REM_MEM_REG, u64(0) + region(0x100000, 65536, UVA + 0x100000, 0), flags=NEED_REPLY),
        "set-config": handshake() + rec(SET_CONFIG, cfg, flags=NEED_REPLY) + rec(RESET_OWNER),
        "unknown": handshake() + rec(99),
        "truncated": rec(GET_FEATURES) + bytes([0]) + struct.pack("<III", 2, 1, 8) + b"\x01\x02",
        "too-many-fds": rec(SET_MEM_TABLE, struct.pack("<II", 8, 0) + bytes(256), 0x19),
    }


# fuzz-virtq: rings at guest 0x10000 (image offset 0), num = 1 << (cfg & 7)
GPA = 0x10000
NEXT, WRITE, INDIRECT = 1, 2, 4


def image(num, descs, avail, extra=()):
    img = bytearray(20 * num + 8)
    for i, (addr, ln, fl, nx) in enumerate(descs):
        struct.pack_into("<QIHH", img, 16 * i, addr, ln, fl, nx)
    off = 16 * num
    struct.pack_into("<HH", img, off, 0, len(avail))
    for i, h in enumerate(avail):
        struct.pack_into("<H", img, off + 4 + 2 * i, h)
    for off, data in extra:
        img.extend(bytes(max(0, off + len(data) - len(img))))
        img[off:off + len(data)] = data
    return bytes(img)


def virtq_seeds():
    n = 8
    chain = [(GPA + 0x4000, 16, NEXT, 1), (GPA + 0x4100, 512, WRITE | NEXT, 2),
             (GPA + 0x4400, 1, WRITE, 0)]
    table = b"".join(struct.pack("<QIHH", *d) for d in
                     [(GPA + 0x4000, 16, NEXT, 1), (GPA + 0x4100, 4096, WRITE | NEXT, 2),
                      (GPA + 0x6000, 1, WRITE, 0)])
    span = [(GPA + 0x7ff0, 64, 0, 0)]
    infl = struct.pack("<QHHHH", 0, 1, n, 0, 0) + struct.pack("<B5xHQ", 1, 0, 5)
    return {
        "chain": bytes([3 | 8 | 16]) + image(n, chain, [0]),
        "indirect": bytes([3 | 8]) + image(n, [(GPA + 0x1800, 48, INDIRECT, 0)], [0],
                                          [(0x1800, table)]),
        "direct-then-indirect": bytes([3 | 8 | 16]) + image(
            n, [(GPA + 0x4000, 16, NEXT, 1), (GPA + 0x1810, 32, INDIRECT, 0)], [0],
            [(0x1800, table)]),
        "span-regions": bytes([3 | 64]) + image(n, span, [0]),
        "loop": bytes([3]) + image(n, [(GPA + 0x4000, 8, NEXT, 1), (GPA + 0x4000, 8, NEXT, 0)],
                                   [0]),
        "many": bytes([4 | 8 | 16 | 128]) + image(16, chain * 5, [0, 3, 6, 9, 12]),
        "inflight": bytes([3 | 32]) + image(n, chain, [0], [(0x1000, infl)]),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)


write("fuzz-vu-msg", msg_seeds())
write("fuzz-virtq", virtq_seeds())
