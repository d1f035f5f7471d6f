#!/usr/bin/env python3
# bench/bench-blk-compare.py - qcontextd against qemu-storage-daemon (QSD) as
# vhost-user-blk back-ends, measured by the same client (qcontext-bench blk)
# in one go.
#
#   bench/bench-blk-compare.py [--rounds 5] [--runtime 5] [--quick]
#       [--client-cpu 0] [--backend-cpu 1] [--file-size 1G] [--dir DIR]
#       [--only qcontextd|qsd] [--json] [--qcontextd PATH] [--bench PATH] [--qsd PATH]
#
# Cells: disk (null, raw file with aio=native + O_DIRECT) x queue depth (1, 32),
# 4k random reads, one job, one dataplane thread per back-end:
#   qcontextd -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768
#             -drive ...,id=d0  -device virtio-blk,id=vblk0,drive=d0,socket=S,context=io0
#   qemu-storage-daemon --object iothread,id=io0,poll-max-ns=32768 --blockdev ...
#             --export type=vhost-user-blk,...,iothread=io0
# Both back-ends run pinned to --backend-cpu, the client to --client-cpu.
# Rounds alternate which back-end goes first; each cell reports the median
# over rounds of IOPS, p50 and p99, and the ratio qcontextd/QSD against the
# issue's targets (IOPS >= 1.5x at QD1, >= 1.3x at QD32; p99 <= 0.8x).
#
# If qcontextd has no virtio-blk device yet, only QSD is measured (said so).
# Exit status: 0 if every run succeeded (targets are reported, not
# enforced), 1 if a run failed, 2 on bad usage or a missing program.
#
# SPDX-License-Identifier: MIT
import argparse
import ctypes
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("qcontextd", "qsd")
TARGETS = {1: 1.5, 32: 1.3}  # IOPS ratio qcontextd/QSD at each queue depth
P99_TARGET = 0.8


def find_program(explicit, env, candidates):
    for p in [explicit, os.environ.get(env)] + candidates:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.abspath(p)
    return None


def parse_size(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b").rstrip("i")
    if t and t[-1] in units:
        return int(t[:-1]) * units[t[-1]]
    return int(t)


class Backend:
    """One back-end process serving one disk on a vhost-user socket."""

    def __init__(self, kind, argv, sock, cpu, log):
        self.kind, self.sock, self.log = kind, sock, log
        out = open(log, "wb")

        def pin():
            # die with this script (PR_SET_PDEATHSIG = 1), never left running
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                     preexec_fn=pin)
        out.close()
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not serve %s:\n%s" % (kind, sock, self.tail()))
            time.sleep(0.02)

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def qsd_argv(qsd, disk, image, size, sock):
    argv = [qsd, "--object", "iothread,id=io0,poll-max-ns=32768"]
    if disk == "null":
        argv += ["--blockdev", "driver=null-co,node-name=d0,size=%d,read-zeroes=on" % size]
    else:
        argv += ["--blockdev",
                 "driver=file,node-name=f0,filename=%s,aio=native,cache.direct=on" % image,
                 "--blockdev", "driver=raw,node-name=d0,file=f0"]
    argv += ["--export", "type=vhost-user-blk,id=exp0,node-name=d0,addr.type=unix,"
             "addr.path=%s,writable=on,num-queues=1,iothread=io0" % sock]
    return argv


def qcontextd_argv(qcontextd, disk, image, size, sock):
    argv = [qcontextd, "-object", "aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768"]
    if disk == "null":
        argv += ["-drive", "id=d0,format=null,size=%d" % size]
    else:
        argv += ["-drive", "file=%s,id=d0,format=raw,aio=native,cache=none" % image]
    argv += ["-device", "virtio-blk,id=vblk0,drive=d0,socket=%s,context=io0" % sock]
    return argv


def qcontextd_has_virtio_blk(qcontextd):
    try:
        out = subprocess.run([qcontextd, "-device", "help"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.split() and line.split()[0] == "virtio-blk" for line in out.splitlines())


def make_image(path, size):
    """A raw image whose blocks are really allocated (reads reach the disk)."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())


def run_client(args, sock, qd):
    argv = [args.bench, "blk", "--socket", sock, "--rw", "randread", "--bs", "4k",
            "--iodepth", str(qd), "--numjobs", "1", "--runtime", str(args.runtime),
            "--ramp", str(args.ramp), "--json"]
    if args.client_cpu is not None:
        argv += ["--cpus", str(args.client_cpu)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=args.runtime * 4 + 60)
    if p.returncode != 0 or not p.stdout.startswith("{"):
        raise RuntimeError("qcontext-bench blk failed (exit %d): %s%s"
                           % (p.returncode, p.stderr.strip(), p.stdout[-500:]))
    r = json.loads(p.stdout)["result"]
    return {"iops": r["iops"], "p50": r["lat_us"]["p50"], "p99": r["lat_us"]["p99"]}


def measure_disk(args, disk, backends, workdir):
    """Rounds of both queue depths against the running back-ends."""
    runs = {(b, qd): [] for b in backends for qd in (1, 32)}
    started = {}
    try:
        for b in backends:
            sock = os.path.join(workdir, "%s-%s.sock" % (b, disk))
            image = os.path.join(workdir, "%s.raw" % b)
            if disk == "file":
                make_image(image, args.file_size)
            build = qcontextd_argv if b == "qcontextd" else qsd_argv
            prog = args.qcontextd if b == "qcontextd" else args.qsd
            started[b] = Backend(b, build(prog, disk, image, args.null_size if disk == "null"
                                          else args.file_size, sock),
                                 sock, args.backend_cpu,
                                 os.path.join(workdir, "%s-%s.log" % (b, disk)))
        for qd in (1, 32):
            for rnd in range(args.rounds):
                order = list(backends) if rnd % 2 == 0 else list(reversed(backends))
                for b in order:
                    runs[(b, qd)].append(run_client(args, started[b].sock, qd))
    finally:
        for be in started.values():
            be.stop()
    return runs


def median(rows, key):
    return statistics.median(r[key] for r in rows) if rows else 0.0


def summarize(results, backends):
    cells = []
    for (disk, qd), per in results.items():
        cell = {"disk": disk, "qd": qd}
        for b in backends:
            cell[b] = {k: median(per[b], k) for k in ("iops", "p50", "p99")}
            cell[b]["rounds"] = per[b]
        if set(BACKENDS) <= set(backends) and cell["qsd"]["iops"] > 0:
            q, s = cell["qcontextd"], cell["qsd"]
            cell["ratio"] = {"iops": q["iops"] / s["iops"],
                             "p50": q["p50"] / s["p50"] if s["p50"] else 0,
                             "p99": q["p99"] / s["p99"] if s["p99"] else 0}
            cell["targets"] = {
                "iops": "PASS" if cell["ratio"]["iops"] >= TARGETS[qd] else "MISS",
                "p99": "PASS" if cell["ratio"]["p99"] <= P99_TARGET else "MISS"}
        cells.append(cell)
    return cells


def print_table(cells, backends, args):
    print("qcontextd vs qemu-storage-daemon: 4k randread, 1 job, median of %d rounds of "
          "%.1f s" % (args.rounds, args.runtime))
    print("client on CPU %s, back-ends on CPU %s\n" % (args.client_cpu, args.backend_cpu))
    print("%-5s %3s  %-10s %10s %9s %9s" % ("disk", "QD", "back-end", "IOPS", "p50 us",
                                            "p99 us"))
    for c in cells:
        for b in backends:
            m = c[b]
            print("%-5s %3d  %-10s %10.0f %9.1f %9.1f" % (c["disk"], c["qd"], b, m["iops"],
                                                         m["p50"], m["p99"]))
        if "ratio" in c:
            r, t = c["ratio"], c["targets"]
            print("%-5s %3s  %-10s %9.2fx %8.2fx %8.2fx   IOPS >= %.1fx %s, p99 <= %.1fx %s"
                  % ("", "", "ratio", r["iops"], r["p50"], r["p99"], TARGETS[c["qd"]],
                     t["iops"], P99_TARGET, t["p99"]))
        print()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runtime", type=float, default=5.0)
    ap.add_argument("--ramp", type=float, default=0.5)
    ap.add_argument("--quick", action="store_true",
                    help="1 round of 0.3 s, 64 MiB file: checks that everything runs")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--backend-cpu", type=int, default=1)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--file-size", default="1G")
    ap.add_argument("--null-size", default="1G")
    ap.add_argument("--dir", help="where the raw images go (must support O_DIRECT)")
    ap.add_argument("--only", choices=BACKENDS)
    ap.add_argument("--disks", default="null,file")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--qcontextd")
    ap.add_argument("--bench")
    ap.add_argument("--qsd")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.runtime, args.ramp, args.file_size = 1, 0.3, 0.1, "64M"
    args.file_size = parse_size(args.file_size)
    args.null_size = parse_size(args.null_size)
    if args.no_pin:
        args.client_cpu = args.backend_cpu = None
    args.disks = [d for d in args.disks.split(",") if d]
    if args.rounds < 1 or args.runtime <= 0 or not set(args.disks) <= {"null", "file"}:
        ap.error("--rounds >= 1, --runtime > 0, --disks a subset of null,file")
    return args


def main(argv):
    args = parse_args(argv)
    build = os.path.join(ROOT, "build")
    args.bench = find_program(args.bench, "QCONTEXT_BENCH",
                              [os.path.join(build, "bench", "qcontext-bench")])
    args.qcontextd = find_program(args.qcontextd, "QCONTEXTD",
                                  [os.path.join(build, "main-loop", "programs", "qcontextd")])
    args.qsd = find_program(args.qsd, "QSD", [shutil.which("qemu-storage-daemon") or ""])
    backends = [b for b in BACKENDS if args.only in (None, b)]
    if not args.bench:
        print("bench-blk-compare: qcontext-bench not found (--bench PATH)", file=sys.stderr)
        return 2
    if "qsd" in backends and not args.qsd:
        print("bench-blk-compare: qemu-storage-daemon not found (scripts/install-deps.sh)",
              file=sys.stderr)
        return 2
    if "qcontextd" in backends and not (args.qcontextd and
                                        qcontextd_has_virtio_blk(args.qcontextd)):
        if args.only == "qcontextd":
            print("bench-blk-compare: qcontextd with -device virtio-blk not found",
                  file=sys.stderr)
            return 2
        print("bench-blk-compare: qcontextd has no -device virtio-blk yet: "
              "measuring qemu-storage-daemon only\n")
        backends.remove("qcontextd")
    workdir = tempfile.mkdtemp(prefix="blk-compare-", dir=args.dir)
    results = {}
    status = 0
    try:
        for disk in args.disks:
            runs = measure_disk(args, disk, backends, workdir)
            for qd in (1, 32):
                results[(disk, qd)] = {b: runs[(b, qd)] for b in backends}
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        print("bench-blk-compare: %s" % e, file=sys.stderr)
        status = 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cells = summarize(results, backends)
    if args.json:
        print(json.dumps({"benchmark": "blk-compare", "backends": backends,
                          "rounds": args.rounds, "runtime_s": args.runtime,
                          "client_cpu": args.client_cpu, "backend_cpu": args.backend_cpu,
                          "cells": cells}, indent=2))
    else:
        print_table(cells, backends, args)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
