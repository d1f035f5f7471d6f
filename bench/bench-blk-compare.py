#!/usr/bin/env python3
# bench/bench-blk-compare.py - qcontextd against qemu-storage-daemon (QSD) as
# vhost-user-blk back-ends, measured by the same client (qcontext-bench blk)
# in one go.
#
#   bench/bench-blk-compare.py [--rounds 5] [--runtime 5] [--ramp 1] [--quick]
#       [--client-cpu 0] [--backend-cpu 1] [--no-pin] [--file-size 1G] [--dir DIR]
#       [--disks null,file] [--qd 1,32] [--poll-max-ns 32768] [--aio-max-batch 0]
#       [--noise 0.15]
#       [--client-spin-us 50]
#       [--only qcontextd|qsd] [--json] [--markdown]
#       [--qcontextd PATH] [--bench PATH] [--qsd PATH]
#
# Cells: disk (null, raw file with aio=native + O_DIRECT) x queue depth (1, 32),
# 4k random reads, one job, one dataplane thread per back-end:
#   qcontextd -object aio-qcontext,id=io0,threaded=yes,poll-max-ns=32768
#             -drive ...,id=d0  -device virtio-blk,id=vblk0,drive=d0,socket=S,context=io0
#   qemu-storage-daemon --object iothread,id=io0,poll-max-ns=32768 --blockdev ...
#             --export type=vhost-user-blk,...,iothread=io0
# Both back-ends run pinned to --backend-cpu, the client to --client-cpu.
# The client busy-polls the used ring for --client-spin-us (50) before it
# sleeps on the call eventfd, as a KVM vCPU halt-polls before it halts: a
# client that sleeps at once is woken for every request at QD1 and once per
# batch at QD32, and on a virtual machine that wakeup (tens of us) hides
# both back-ends (--client-spin-us 0 measures that case).
# Both back-ends of a disk run side by side (idle but one); each gets one
# discarded warm-up run per queue depth, then the rounds: every round runs
# every cell on both back-ends, the order alternating from cell to cell and
# round to round, so a drift of the machine hits both alike.  Each cell
# reports the median over rounds of IOPS, p50 and p99, the ratio
# qcontextd/QSD of the medians, the median and range of the per-round ratios
# (the two runs of a round are neighbours in time), and the targets
# (IOPS >= 1.5x at QD1, >= 1.3x at QD32; p99 <= 0.8x).  A back-end whose
# IOPS spread over the rounds by more than --noise of its median makes the
# run "too noisy": said under the table, in the JSON, and in the exit status
# (3), since a ratio is then no better than that spread.
#
# If qcontextd has no virtio-blk device yet, only QSD is measured (said so).
# Exit status: 0 if every run succeeded (targets are reported, not
# enforced), 1 if a run failed, 2 on bad usage or a missing program, 3 if
# every run succeeded but the figures are too noisy to compare.
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


def qcontextd_argv(qcontextd, disk, image, size, sock, poll_max_ns=32768, max_batch=0):
    ctx = "aio-qcontext,id=io0,threaded=yes,poll-max-ns=%d" % poll_max_ns
    if max_batch:
        ctx += ",aio-max-batch=%d" % max_batch
    argv = [qcontextd, "-object", ctx]
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


def client_argv(args, sock, qd, runtime, ramp):
    argv = [args.bench, "blk", "--socket", sock, "--rw", "randread", "--bs", "4k",
            "--iodepth", str(qd), "--numjobs", "1", "--runtime", str(runtime),
            "--ramp", str(ramp), "--json"]
    if args.client_spin_us:
        argv += ["--spin-us", str(args.client_spin_us)]
    if args.client_cpu is not None:
        argv += ["--cpus", str(args.client_cpu)]
    return argv


def run_client(args, sock, qd, runtime=None, ramp=None):
    runtime = args.runtime if runtime is None else runtime
    ramp = args.ramp if ramp is None else ramp
    p = subprocess.run(client_argv(args, sock, qd, runtime, ramp), capture_output=True,
                       text=True, timeout=(runtime + ramp) * 4 + 60)
    if p.returncode != 0 or not p.stdout.startswith("{"):
        raise RuntimeError("qcontext-bench blk failed (exit %d): %s%s"
                           % (p.returncode, p.stderr.strip(), p.stdout[-500:]))
    r = json.loads(p.stdout)["result"]
    cl = r.get("client", {})
    return {"iops": r["iops"], "p50": r["lat_us"]["p50"], "p99": r["lat_us"]["p99"],
            "waits_per_io": cl.get("waits_per_io", 0), "kicks_per_io": cl.get("kicks_per_io", 0)}


def backend_argv(args, b, disk, image, sock):
    size = args.null_size if disk == "null" else args.file_size
    if b == "qcontextd":
        return qcontextd_argv(args.qcontextd, disk, image, size, sock, args.poll_max_ns,
                              args.aio_max_batch)
    return qsd_argv(args.qsd, disk, image, size, sock)


def measure_disk(args, disk, backends, workdir, commands):
    """Warm-up, then interleaved rounds of every queue depth on both back-ends."""
    runs = {(b, qd): [] for b in backends for qd in args.qd}
    started = {}
    try:
        for b in backends:
            sock = os.path.join(workdir, "%s-%s.sock" % (b, disk))
            image = os.path.join(workdir, "%s.raw" % b)
            if disk == "file":
                make_image(image, args.file_size)
            argv = backend_argv(args, b, disk, image, sock)
            commands.append(" ".join(argv))
            started[b] = Backend(b, argv, sock, args.backend_cpu,
                                 os.path.join(workdir, "%s-%s.log" % (b, disk)))
        for qd in args.qd:
            for b in backends:  # first connection, first queue, caches: discarded
                run_client(args, started[b].sock, qd, args.warmup, 0)
        turn = 0
        for rnd in range(args.rounds):
            for qd in args.qd:
                order = list(backends) if turn % 2 == 0 else list(reversed(backends))
                turn += 1
                for b in order:
                    runs[(b, qd)].append(run_client(args, started[b].sock, qd))
    finally:
        for be in started.values():
            be.stop()
    return runs


def median(rows, key):
    return statistics.median(r[key] for r in rows) if rows else 0.0


def spread(rows, key):
    """(max - min) / median of @key over the rounds."""
    vals = [r[key] for r in rows]
    m = statistics.median(vals) if vals else 0
    return (max(vals) - min(vals)) / m if m else 0.0


def summarize(results, backends, args):
    cells = []
    for (disk, qd), per in results.items():
        cell = {"disk": disk, "qd": qd, "noisy": []}
        for b in backends:
            cell[b] = {k: median(per[b], k)
                       for k in ("iops", "p50", "p99", "waits_per_io", "kicks_per_io")}
            cell[b]["iops_spread"] = spread(per[b], "iops")
            cell[b]["rounds"] = per[b]
            if len(per[b]) > 1 and cell[b]["iops_spread"] > args.noise:
                cell["noisy"].append(b)
        if set(BACKENDS) <= set(backends) and cell["qsd"]["iops"] > 0:
            q, s = cell["qcontextd"], cell["qsd"]
            paired = [a["iops"] / b["iops"] for a, b in zip(per["qcontextd"], per["qsd"])
                      if b["iops"] > 0]
            cell["ratio"] = {"iops": q["iops"] / s["iops"],
                             "p50": q["p50"] / s["p50"] if s["p50"] else 0,
                             "p99": q["p99"] / s["p99"] if s["p99"] else 0,
                             "iops_paired_median": statistics.median(paired) if paired else 0,
                             "iops_paired_min": min(paired) if paired else 0,
                             "iops_paired_max": max(paired) if paired else 0}
            cell["targets"] = {
                "iops": ("PASS" if cell["ratio"]["iops"] >= TARGETS[qd] else "MISS")
                if qd in TARGETS else "n/a",
                "p99": "PASS" if cell["ratio"]["p99"] <= P99_TARGET else "MISS"}
        cells.append(cell)
    return cells


def noise_lines(cells, args):
    out = []
    for c in cells:
        for b in c["noisy"]:
            out.append("WARNING: too noisy to compare: %s's IOPS on %s at QD%d moved %.0f%% "
                       "between rounds (more than --noise %.0f%%); take the figures on a "
                       "quiet machine" % (b, c["disk"], c["qd"], 100 * c[b]["iops_spread"],
                                          100 * args.noise))
    return out


def print_table(cells, backends, args, commands):
    print("qcontextd vs qemu-storage-daemon: 4k randread, 1 job, median of %d rounds of "
          "%.1f s (after %.1f s of ramp), interleaved" % (args.rounds, args.runtime, args.ramp))
    print("client on CPU %s (spins %d us before it sleeps), back-ends on CPU %s; "
          "load average %.2f at the start\n"
          % (args.client_cpu, args.client_spin_us, args.backend_cpu, args.loadavg))
    print("%-5s %3s  %-10s %10s %9s %9s %8s %8s %8s" % (
        "disk", "QD", "back-end", "IOPS", "p50 us", "p99 us", "spread", "sleeps", "kicks"))
    for c in cells:
        for b in backends:
            m = c[b]
            print("%-5s %3d  %-10s %10.0f %9.1f %9.1f %7.0f%% %8.3f %8.3f" % (
                c["disk"], c["qd"], b, m["iops"], m["p50"], m["p99"], 100 * m["iops_spread"],
                m["waits_per_io"], m["kicks_per_io"]))
        if "ratio" in c:
            r, t = c["ratio"], c["targets"]
            target = ("IOPS >= %.1fx %s, " % (TARGETS[c["qd"]], t["iops"])
                      if c["qd"] in TARGETS else "")
            print("%-5s %3s  %-10s %9.2fx %8.2fx %8.2fx   %sp99 <= %.1fx %s" % (
                "", "", "ratio", r["iops"], r["p50"], r["p99"], target, P99_TARGET, t["p99"]))
            print("%-5s %3s  %-10s %9.2fx  (per round: %.2fx .. %.2fx)" % (
                "", "", "paired", r["iops_paired_median"], r["iops_paired_min"],
                r["iops_paired_max"]))
        print()
    print("sleeps, kicks: per request, the client's sleeps on the call eventfd (after its "
          "spin) and its kick eventfd writes (a back-end that polls its ring needs none)")
    for line in noise_lines(cells, args):
        print(line)
    print("\ncommands:")
    for c in commands:
        print("  " + c)
    print("  " + " ".join(client_argv(args, "SOCKET", "QD", args.runtime, args.ramp)))


def print_markdown(cells, backends, args):
    """The table docs/virtio-blk.md's Benchmark section shows."""
    print("| disk | QD | qcontextd IOPS | QSD IOPS | IOPS ratio (target) | "
          "qcontextd p50/p99 us | QSD p50/p99 us | p99 ratio (target <= %.1f) |" % P99_TARGET)
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in cells:
        if "ratio" not in c:
            continue
        q, s, r = c["qcontextd"], c["qsd"], c["ratio"]
        print("| %s | %d | %.0f | %.0f | %.2fx (>= %.1f) | %.1f / %.1f | %.1f / %.1f | %.2fx |" % (
            c["disk"], c["qd"], q["iops"], s["iops"], r["iops"], TARGETS.get(c["qd"], 0),
            q["p50"], q["p99"], s["p50"], s["p99"], r["p99"]))


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runtime", type=float, default=5.0)
    ap.add_argument("--ramp", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of the discarded first run per back-end and QD")
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
    ap.add_argument("--qd", default="1,32", help="queue depths (default 1,32)")
    ap.add_argument("--poll-max-ns", type=int, default=32768,
                    help="qcontextd's aio-qcontext poll-max-ns (QSD's stays 32768)")
    ap.add_argument("--aio-max-batch", type=int, default=0,
                    help="qcontextd's aio-qcontext aio-max-batch (0: the context's "
                    "default, a whole pass per submission; 1: one submission per "
                    "request, as QSD's vhost-user-blk export does)")
    ap.add_argument("--client-spin-us", type=int, default=50,
                    help="the client busy-polls the used ring this long before it sleeps "
                         "on the call eventfd, as a KVM vCPU halt-polls (default 50; 0: "
                         "it sleeps at once, and its own wakeup dominates QD1)")
    ap.add_argument("--noise", type=float, default=0.15,
                    help="IOPS spread over rounds (of the median) beyond which a cell "
                         "is too noisy to compare (default 0.15)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true",
                    help="also print the table as Markdown (docs/virtio-blk.md)")
    ap.add_argument("--qcontextd")
    ap.add_argument("--bench")
    ap.add_argument("--qsd")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.runtime, args.ramp, args.warmup = 1, 0.3, 0.1, 0.1
        args.file_size = "64M"
    args.file_size = parse_size(args.file_size)
    args.null_size = parse_size(args.null_size)
    if args.no_pin:
        args.client_cpu = args.backend_cpu = None
    args.disks = [d for d in args.disks.split(",") if d]
    try:
        args.qd = [int(q) for q in args.qd.split(",") if q]
    except ValueError:
        ap.error("--qd wants queue depths separated by commas, e.g. 1,32")
    if args.rounds < 1 or args.runtime <= 0 or args.warmup <= 0 or \
            not set(args.disks) <= {"null", "file"} or not args.qd or \
            not all(1 <= q <= 256 for q in args.qd) or args.noise <= 0 or \
            not 0 <= args.client_spin_us <= 1000000:
        ap.error("--rounds >= 1, --runtime and --warmup > 0, --disks a subset of null,file, "
                 "--qd in 1..256, --noise > 0")
    cpus = os.sched_getaffinity(0)
    for c in (args.client_cpu, args.backend_cpu):
        if c is not None and c not in cpus:
            ap.error("CPU %d is not available (--client-cpu/--backend-cpu, or --no-pin)" % c)
    if args.client_cpu is not None and args.client_cpu == args.backend_cpu:
        ap.error("--client-cpu and --backend-cpu must differ")
    args.loadavg = os.getloadavg()[0]
    return args


def main(argv):
    args = parse_args(argv)
    builds = [os.path.join(ROOT, b) for b in ("build-release", "build")]
    args.bench = find_program(args.bench, "QCONTEXT_BENCH",
                              [os.path.join(b, "bench", "qcontext-bench") for b in builds])
    args.qcontextd = find_program(args.qcontextd, "QCONTEXTD",
                                  [os.path.join(b, "main-loop", "programs", "qcontextd")
                                   for b in builds])
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
    if args.loadavg > 0.5 and not args.quick:
        print("bench-blk-compare: the load average is %.2f: other work runs on this "
              "machine, the figures will be noisy\n" % args.loadavg, file=sys.stderr)
    workdir = tempfile.mkdtemp(prefix="blk-compare-", dir=args.dir)
    results = {}
    commands = []
    status = 0
    try:
        for disk in args.disks:
            runs = measure_disk(args, disk, backends, workdir, commands)
            for qd in args.qd:
                results[(disk, qd)] = {b: runs[(b, qd)] for b in backends}
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        print("bench-blk-compare: %s" % e, file=sys.stderr)
        status = 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cells = summarize(results, backends, args)
    warnings = noise_lines(cells, args)
    if status == 0 and warnings:
        status = 3
    if args.json:
        print(json.dumps({"benchmark": "blk-compare", "backends": backends,
                          "rounds": args.rounds, "runtime_s": args.runtime,
                          "ramp_s": args.ramp, "client_cpu": args.client_cpu,
                          "backend_cpu": args.backend_cpu, "loadavg": args.loadavg,
                          "poll_max_ns": args.poll_max_ns,
                          "aio_max_batch": args.aio_max_batch,
                          "client_spin_us": args.client_spin_us, "commands": commands,
                          "cells": cells, "warnings": warnings}, indent=2))
    else:
        print_table(cells, backends, args, commands)
        if args.markdown:
            print()
            print_markdown(cells, backends, args)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
