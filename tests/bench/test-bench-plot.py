#!/usr/bin/env python3
"""qcontext-bench wakeup --plot/--csv: the PNG is a real plot with a curve per
row, the CSV holds each row's percentiles, a file that cannot be written is
an error.  TAP output.  Usage: test-bench-plot.py QCONTEXT_BENCH"""
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

bench = sys.argv[1]
results = []
ROWS = ["eventfd-epoll", "busy-poll", "aio-qcontext-blocking"]  # and other floors
# bench-plot.c's first colours: row i of the CSV is drawn in COLOURS[i]
COLOURS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (140, 115, 0)]


def check(ok, what, detail=""):
    results.append((bool(ok), what, detail))


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (2, 6), "unexpected PNG format %s" % (ihdr,)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


with tempfile.TemporaryDirectory(prefix="qcontext-bench-plot-") as tmp:
    png, csvp = os.path.join(tmp, "wakeup.png"), os.path.join(tmp, "wakeup.csv")
    p = subprocess.run([bench, "wakeup", "--quick", "--no-idle", "--json",
                        "--only", ",".join(ROWS[2:]), "--plot", png, "--csv", csvp],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120, check=False)
    check(p.returncode == 0, "qcontext-bench wakeup --plot --csv exits 0", p.stderr)
    report = json.loads(p.stdout) if p.returncode == 0 else {}
    check(isinstance(report.get("warnings"), list), "the JSON report has 'warnings'")

    with open(csvp) as f:
        table = list(csv.reader(f))
    header = table[0] if table else []
    names = [r[0] for r in table[1:]]
    check(header[:3] == ["row", "samples", "min_us"] and header[-1] == "max_us" and
          "p50_us" in header and "p99.9_us" in header, "the CSV header", str(header))
    check(all(r in names for r in ROWS) and len(names) <= len(COLOURS),
          "one CSV line per row (the floors and the rows asked for)", str(names))
    for r in table[1:]:
        vals = [float(v) for v in r[2:]]
        check(int(r[1]) == 2000 and vals == sorted(vals) and vals[0] > 0,
              "%s: 2000 samples, percentiles increase" % r[0], str(r))

    size = os.path.getsize(png) if os.path.exists(png) else 0
    check(size > 10000, "the PNG is written and not empty (%d bytes)" % size)
    if size:
        w, h, rows = png_pixels(png)
        check((w, h) == (1100, 680), "the PNG is 1100x680 (%dx%d)" % (w, h))
        for name, col in zip(names, COLOURS):
            n = sum(1 for row in rows for px in row
                    if sum((px[k] - col[k]) ** 2 for k in range(3)) < 40 ** 2)
            # the legend's swatch alone is ~75 pixels; a CDF from 0 to 100 %
            # spans the plot's height (570 pixels)
            check(n > 300, "%s is drawn in its colour (%d pixels)" % (name, n))

    p = subprocess.run([bench, "wakeup", "--quick", "--no-idle", "--only", "floors",
                        "--plot", os.path.join(tmp, "missing", "x.png")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120, check=False)
    check(p.returncode == 1 and "--plot: cannot write" in p.stderr,
          "an unwritable --plot file: exit 1 and a message", p.stderr)

print("TAP version 13\n1..%d" % len(results))
for i, (ok, what, detail) in enumerate(results, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
    if not ok and detail:
        print("# " + detail.strip().replace("\n", "\n# "))
sys.exit(0 if all(r[0] for r in results) else 1)
