#!/usr/bin/env python3
"""Write the seed corpus of fuzz-vsock-packet (fuzz/vsock/corpus/fuzz-vsock-packet/).

Each seed is a small program in the target's input format (see
fuzz-vsock-packet.c): one byte of features, then steps:
  0 tx:   mode, payload length (le16), payload, 44-byte header, cut1, cut2
  1 rx:   buffer size (le16), cut
  2 host: what, slot, length, data   (what: 0 connect+send, 1 accept, 2 send,
          3 read, 4 shutdown, 5 close)
  3 poll the AioContext once
  4 reset (argument 0x5a)
Run it from anywhere; it overwrites the seeds it writes.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz-vsock-packet")
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = 1, 2, 3, 4, 5, 6, 7
STREAM, SEQPACKET = 1, 2


def hdr(op, src_port=1, dst_port=1, typ=STREAM, length=0, flags=0, buf_alloc=65536, fwd_cnt=0,
        src_cid=3, dst_cid=2):
    return struct.pack("<QQIIIHHIII", src_cid, dst_cid, src_port, dst_port, length, typ, op,
                       flags, buf_alloc, fwd_cnt)


def tx(h, payload=b"", mode=0):
    # mode 0: the header as given (the target fixes nothing)
    return bytes([0, mode]) + struct.pack("<H", len(payload)) + payload + h + bytes([0, 0])


def rx(size=4140, cut=44):
    return bytes([1]) + struct.pack("<H", size) + bytes([cut])


def host(what, slot=0, data=b""):
    return bytes([2, what, slot, len(data)]) + data


POLL = bytes([3])
RESET = bytes([4, 0x5a])


def seeds():
    s = {}
    # A guest connection to port 1, data both ways, half-close, close.
    s["guest-stream"] = (bytes([0]) + tx(hdr(REQUEST)) + rx() + host(1) +
                         tx(hdr(RW, length=5), b"hello") + POLL + host(3) +
                         host(2, 0, b"world") + POLL + rx() + rx() +
                         tx(hdr(SHUTDOWN, flags=2)) + POLL + host(4) + POLL + rx() +
                         tx(hdr(SHUTDOWN, flags=3)) + rx() + rx())
    # Nobody on port 9: RST; an RST for nothing: silence.
    s["guest-refused"] = bytes([0]) + tx(hdr(REQUEST, dst_port=9)) + rx() + tx(hdr(RST)) + rx()
    # A host connection with payload after its CONNECT line; the guest accepts.
    s["host-connect"] = (bytes([0]) + host(0, 0, b"CONNECT 1\nabc") + POLL + POLL + rx() +
                         tx(hdr(RESPONSE, src_port=1, dst_port=1 << 30)) + rx() + rx() +
                         host(3) + host(2, 0, b"more") + POLL + rx() + host(5) + POLL + rx())
    # Seqpacket both ways on port 3.
    s["seqpacket"] = (bytes([1]) + tx(hdr(REQUEST, dst_port=3, typ=SEQPACKET)) + rx() + host(1) +
                      tx(hdr(RW, dst_port=3, typ=SEQPACKET, length=3, flags=1), b"msg") + POLL +
                      host(3) + host(2, 0, b"reply") + POLL + rx(50) + rx(50) + rx())
    # Credit: a tiny guest buffer, a request, an update.
    s["credit"] = (bytes([0]) + tx(hdr(REQUEST, buf_alloc=4)) + rx() + host(1) +
                   host(2, 0, b"0123456789") + POLL + rx() + rx() + rx() +
                   tx(hdr(CREDIT_UPDATE, buf_alloc=4, fwd_cnt=4)) + rx() + rx() +
                   tx(hdr(CREDIT_REQUEST)) + rx())
    # A front-end reset with connections open, then more traffic.
    s["reset"] = (bytes([0]) + tx(hdr(REQUEST)) + tx(hdr(REQUEST, src_port=2)) + host(1) +
                  RESET + rx() + rx() + tx(hdr(RW, length=1), b"x") + rx())
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
