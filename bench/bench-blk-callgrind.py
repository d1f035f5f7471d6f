#!/usr/bin/env python3
# bench/bench-blk-callgrind.py - instructions (and system calls) per request
# of a vhost-user-blk back-end's process, qcontextd and qemu-storage-daemon
# (QSD) alike, under the same client: the evidence for hot-path claims on a
# machine too busy for timed figures.
#
#   bench/bench-blk-callgrind.py [--backends qcontextd,qsd] [--disks null,file]
#       [--qd 1,32] [--poll-max-ns 32768] [--n1 2000] [--n2 10000]
#       [--syscalls] [--no-callgrind] [--client-spin-us US] [--top N] [--keep] [--json]
#
# Each back-end runs under `valgrind --tool=callgrind` with the same command
# line as bench/bench-blk-compare.py, one dataplane thread each.  The client
# (qcontext-bench blk, not under valgrind) connects, runs --n1 4k random
# reads, disconnects; then again with --n2 reads.  callgrind dumps its
# counters after each run, so each dump holds one connection and its
# requests; (Ir(n2) - Ir(n1)) / (n2 - n1) is the whole process's cost of
# one request, set-up and tear-down cancelled out.  With --syscalls, the
# same pair of runs is repeated without valgrind under `perf stat` (its
# syscall tracepoints: no slowdown worth the name) for the back-end's
# process and for the client, and the system calls and context switches
# per request are printed the same way (--no-callgrind: only those).
#
# Polling back-ends (poll-max-ns > 0) spin while the client is away, so
# their counts depend on timing: repeat them (--repeat) and quote the
# spread.  With --poll-max-ns 0 both back-ends sleep in epoll and the counts
# repeat to within a few instructions per request.
#
# SPDX-License-Identifier: MIT
import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
_spec = importlib.util.spec_from_file_location("bench_blk_compare",
                                               os.path.join(HERE, "bench-blk-compare.py"))
cmp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmp)

MEMSET = re.compile(r"__memset|memset")


def backend_argv(args, backend, disk, image, sock):
    if backend == "qcontextd":
        argv = cmp.qcontextd_argv(args.qcontextd, disk, image, args.size, sock)
    else:
        argv = cmp.qsd_argv(args.qsd, disk, image, args.size, sock)
    return [a.replace("poll-max-ns=32768", "poll-max-ns=%d" % args.poll_max_ns)
            for a in argv]


def wait_socket(proc, sock, log):
    deadline = time.monotonic() + 120
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            with open(log, errors="replace") as f:
                raise RuntimeError("back-end did not serve %s:\n%s" % (sock, f.read()[-2000:]))
        time.sleep(0.05)


def run_client(args, sock, qd, n):
    argv = [args.bench, "blk", "--socket", sock, "--rw", "randread", "--bs", "4k",
            "--iodepth", str(qd), "--number", str(n), "--json", "--timeout-ms", "60000"]
    if args.client_cpu is not None:
        argv += ["--cpus", str(args.client_cpu)]
    if args.client_spin_us:
        argv += ["--spin-us", str(args.client_spin_us)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("client failed: %s %s" % (p.stderr, p.stdout[-300:]))
    r = json.loads(p.stdout)["result"]
    if r["ios"] != n:
        raise RuntimeError("client did %d requests, not %d" % (r["ios"], n))
    return r


def start(argv, log, cpu):
    out = open(log, "wb")

    def pre():
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # die with us
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pre)
    out.close()
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dump_totals(path):
    """Total Ir and per-function self Ir of one callgrind dump."""
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                total = int(line.split()[1])
    fns = {}
    p = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", path],
                       capture_output=True, text=True)
    for line in p.stdout.split("file:function", 1)[-1].splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\S.*)$", line)
        if m:
            name = m.group(2).split(" [")[0]
            name = name.split(":", 1)[1] if ":" in name else name
            fns[name] = fns.get(name, 0) + int(m.group(1).replace(",", ""))
    return total, fns


def callgrind_cell(args, backend, disk, qd, workdir):
    tag = "%s-%s-qd%d" % (backend, disk, qd)
    sock = os.path.join(workdir, tag + ".sock")
    image = os.path.join(workdir, "disk.raw")
    out = os.path.join(workdir, tag + ".cg")
    log = os.path.join(workdir, tag + ".log")
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    argv += backend_argv(args, backend, disk, image, sock)
    proc = start(argv, log, args.backend_cpu)
    try:
        wait_socket(proc, sock, log)
        run_client(args, sock, qd, args.n1)   # warm-up: first-use allocations
        for n in (args.n1, args.n2):
            run_client(args, sock, qd, n)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)],
                           capture_output=True, check=True, timeout=120)
    finally:
        stop(proc)
    dumps = sorted((p for p in os.listdir(workdir) if p.startswith(tag + ".cg.")),
                   key=lambda p: int(p.rsplit(".", 1)[1]))
    (t1, f1), (t2, f2) = (dump_totals(os.path.join(workdir, d)) for d in dumps[-2:])
    dn = args.n2 - args.n1
    per_fn = {k: (f2.get(k, 0) - f1.get(k, 0)) / dn for k in set(f1) | set(f2)}
    memset = sum(v for k, v in per_fn.items() if MEMSET.search(k))
    return {"ir_per_req": (t2 - t1) / dn, "memset_per_req": memset,
            "top": sorted(per_fn.items(), key=lambda kv: -kv[1])[:args.top]}


SYSCALLS = ["read", "write", "epoll_wait", "epoll_pwait", "epoll_pwait2", "ppoll", "poll",
            "io_submit", "io_getevents", "io_uring_enter", "futex"]
PERF_EVENTS = ["raw_syscalls:sys_enter", "context-switches", "task-clock"] + \
    ["syscalls:sys_enter_" + n for n in SYSCALLS]


def perf_events():
    """The events this kernel offers (tracepoints need tracefs)."""
    have = []
    for ev in PERF_EVENTS:
        p = subprocess.run(["perf", "stat", "-x,", "-e", ev, "true"],
                           capture_output=True, text=True)
        if p.returncode == 0 and "not supported" not in p.stderr and \
                "<not" not in p.stderr:
            have.append(ev)
    return have


def perf_counts(path):
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0] and parts[0][0].isdigit():
                name = parts[2].replace("syscalls:sys_enter_", "")
                name = "syscalls" if name == "raw_syscalls:sys_enter" else name
                counts[name] = float(parts[0])
    return counts


def perf_client(args, sock, qd, n, out, events):
    """The client under perf stat: its own system calls per request."""
    argv = ["perf", "stat", "-x,", "-o", out, "-e", ",".join(events), "--",
            args.bench, "blk", "--socket", sock, "--rw", "randread", "--bs", "4k",
            "--iodepth", str(qd), "--number", str(n), "--json", "--timeout-ms", "60000"]
    if args.client_cpu is not None:
        argv += ["--cpus", str(args.client_cpu)]
    if args.client_spin_us:
        argv += ["--spin-us", str(args.client_spin_us)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("client failed: %s" % p.stderr[-500:])
    return perf_counts(out)


def syscall_cell(args, backend, disk, qd, workdir):
    """System calls (and context switches, CPU time) per request, measured
    natively with perf's tracepoints: the back-end's process and the client."""
    tag = "%s-%s-qd%d-perf" % (backend, disk, qd)
    sock = os.path.join(workdir, tag + ".sock")
    image = os.path.join(workdir, "disk.raw")
    log = os.path.join(workdir, tag + ".log")
    events = args.perf_events
    proc = start(backend_argv(args, backend, disk, image, sock), log, args.backend_cpu)
    be, cl = [], []
    try:
        wait_socket(proc, sock, log)
        run_client(args, sock, qd, args.n1)
        for n in (args.n1, args.n2):
            out = os.path.join(workdir, "%s.%d" % (tag, n))
            st = subprocess.Popen(["perf", "stat", "-x,", "-o", out + ".be", "-e",
                                   ",".join(events), "-p", str(proc.pid)],
                                  stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            cl.append(perf_client(args, sock, qd, n, out + ".cl", events))
            st.send_signal(signal.SIGINT)
            st.wait(60)
            be.append(perf_counts(out + ".be"))
    finally:
        stop(proc)
    dn = args.n2 - args.n1

    def per(res):
        d = {k: (res[1].get(k, 0) - res[0].get(k, 0)) / dn for k in set(res[0]) | set(res[1])}
        return {k: v for k, v in sorted(d.items()) if abs(v) >= 0.005 or k == "task-clock"}
    return {"backend": per(be), "client": per(cl)}


def parse_args(argv):
    ap = argparse.ArgumentParser(description="instructions per request under callgrind")
    ap.add_argument("--backends", default="qcontextd,qsd")
    ap.add_argument("--disks", default="null")
    ap.add_argument("--qd", default="1,32")
    ap.add_argument("--poll-max-ns", type=int, default=32768)
    ap.add_argument("--n1", type=int, default=2000)
    ap.add_argument("--n2", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--size", default="256M")
    ap.add_argument("--syscalls", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--top", type=int, default=0, help="show the N costliest functions")
    ap.add_argument("--client-spin-us", type=int, default=0,
                    help="the client's --spin-us (default 0: it sleeps on the call eventfd)")
    ap.add_argument("--client-cpu", type=int, default=0)
    ap.add_argument("--backend-cpu", type=int, default=1)
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true", help="keep the dumps")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--qcontextd")
    ap.add_argument("--bench")
    ap.add_argument("--qsd")
    args = ap.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    args.disks = [d for d in args.disks.split(",") if d]
    args.qd = [int(q) for q in args.qd.split(",") if q]
    args.size = cmp.parse_size(args.size)
    if args.n2 <= args.n1 or not set(args.backends) <= set(cmp.BACKENDS):
        ap.error("--n2 must exceed --n1; --backends a subset of qcontextd,qsd")
    return args


def main(argv):
    args = parse_args(argv)
    build = os.path.join(cmp.ROOT, "build")
    args.bench = cmp.find_program(args.bench, "QCONTEXT_BENCH",
                                  [os.path.join(build, "bench", "qcontext-bench")])
    args.qcontextd = cmp.find_program(args.qcontextd, "QCONTEXTD",
                                      [os.path.join(build, "main-loop", "programs",
                                                    "qcontextd")])
    args.qsd = cmp.find_program(args.qsd, "QSD", [shutil.which("qemu-storage-daemon") or ""])
    need = ["valgrind", "callgrind_control", "callgrind_annotate"]
    need += ["perf"] if args.syscalls else []
    missing = [p for p in need if not shutil.which(p)]
    if not args.bench or missing or (not args.qcontextd and "qcontextd" in args.backends) \
            or (not args.qsd and "qsd" in args.backends):
        print("bench-blk-callgrind: missing %s" % (", ".join(missing) or "a program"),
              file=sys.stderr)
        return 2
    if args.syscalls:
        args.perf_events = perf_events()
        if not any(e.startswith("syscalls:") for e in args.perf_events):
            print("bench-blk-callgrind: perf has no syscall tracepoints here", file=sys.stderr)
            return 2
    workdir = tempfile.mkdtemp(prefix="blk-callgrind-", dir=args.dir)
    rows = []
    try:
        if "file" in args.disks:
            cmp.make_image(os.path.join(workdir, "disk.raw"), args.size)
        for disk in args.disks:
            for qd in args.qd:
                for b in args.backends:
                    row = {"backend": b, "disk": disk, "qd": qd, "runs": []}
                    for _ in range(args.repeat if not args.no_callgrind else 0):
                        row["runs"].append(callgrind_cell(args, b, disk, qd, workdir))
                    if args.syscalls:
                        row["syscalls"] = syscall_cell(args, b, disk, qd, workdir)
                    rows.append(row)
                    report_row(row, args)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print("bench-blk-callgrind: %s" % e, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print("dumps kept in %s" % workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps({"benchmark": "blk-callgrind", "poll_max_ns": args.poll_max_ns,
                          "n1": args.n1, "n2": args.n2, "rows": rows}, indent=2))
    return 0


def report_row(row, args):
    if args.json:
        return
    runs = row["runs"]
    head = "%-9s %-4s QD%-3d" % (row["backend"], row["disk"], row["qd"])
    if runs:
        irs = " ".join("%.0f" % r["ir_per_req"] for r in runs)
        ms = " ".join("%.0f" % (r["ir_per_req"] - r["memset_per_req"]) for r in runs)
        print("%s  Ir/request %s   without memset %s" % (head, irs, ms))
        for name, v in runs[-1]["top"]:
            print("      %10.1f  %s" % (v, name))
    if "syscalls" in row:
        for side in ("backend", "client"):
            d = dict(row["syscalls"][side])
            clock = d.pop("task-clock", None)
            print("%s  %-8s per request: %s%s" % (
                head, side, ", ".join("%s %.2f" % kv for kv in d.items()),
                ", CPU %.2f us (timed)" % (clock * 1000) if clock is not None else ""))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
