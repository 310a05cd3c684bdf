#!/usr/bin/env python3
"""report.py RESULTS DOCS RUNS KERNEL CPUS [ONLY]: turn scripts/bench's raw
results into docs/BENCHMARKS.md, the plot data and its gnuplot script. With
ONLY (ZCSHIM_BENCH_ONLY: some parts were run), DOCS/BENCHMARKS.md gets the
sections of those parts that stand alone (mc, threads), and nothing else."""
import datetime
import json
import os
import statistics
import sys
from collections import defaultdict

res, docs, runs, kernel, cpus = sys.argv[1:6]
only = sys.argv[6].split(",") if len(sys.argv) > 6 and sys.argv[6] else None
vals = defaultdict(list)
for line in open(res):
    f = line.split()
    try:
        vals[(f[0], f[1], int(f[2]), f[3])].append(float(f[4]))
    except (IndexError, ValueError):
        print(f"report: a run gave no figure: {line.strip()}", file=sys.stderr)
med = {k: statistics.median(v) for k, v in vals.items() if v}

# The shim's counters before and after a timed part (scripts/bench, stats):
# "KIND WHAT SIZE before|after JSON".
counters = {}
try:
    for line in open(os.path.join(os.path.dirname(res), "stats.txt")):
        f = line.split(maxsplit=4)
        if len(f) == 5 and f[4].startswith("{"):
            counters.setdefault((f[0], f[1], int(f[2])), {})[f[3]] = json.loads(f[4])
except OSError:
    pass

WORKLOADS = ["stable", "ring", "reuse", "fresh"]
SIZES = sorted({k[2] for k in med if k[0] == "sink"})


def m(*k):
    return med.get(k, 0.0)


def ratio(a, b):
    return a / b if b else 0.0


def size_name(s):
    return f"{s // 1048576} MiB" if s >= 1048576 and s % 1048576 == 0 else f"{s // 1024} KiB"


def timed_counters(key):
    """zc_sends, copy_sends and the copy_* reasons of a timed part."""
    c = counters.get(key, {})
    a, b = c.get("after"), c.get("before")
    if not a or not b:
        return None
    d = {k: a[k] - b.get(k, 0) for k in a if isinstance(a[k], int) and k != "pid"}
    why = ", ".join(f"{k} {v}" for k, v in d.items()
                    if k.startswith("copy_") and k not in ("copy_sends", "copy_bytes") and v)
    return d.get("zc_sends", 0), d.get("copy_sends", 0), why or "-"


def counters_row(label, key):
    t = timed_counters(key)
    if t:
        return f"| {label} | {t[0]} | {t[1]} | {t[2]} |"
    return f"| {label} | - | - | not recorded |"


def mc_section():
    L = ["\n## 5. Memcached-shaped sends\n"]
    L.append("A memcached reply as memcached sends it: ONE `sendmsg()` of three iovecs, a "
             "~30-byte `VALUE key flags bytes\\r\\n` header on a page made read-only "
             "once written, the item's malloc'd body, and `END\\r\\n` from .rodata "
             "(`zcsend mcstable`: one body sent again and again; `mcring`: 256 MiB of "
             "bodies round robin after two untimed passes). The size is the whole reply; "
             "above 60 KiB it goes out as 60 KiB datagrams, the first with the header, "
             "the last with the END. Beside each, `stable` and `ring` (one buffer of the "
             "same size) in the same interleaved runs. The hand-written zerocopy sender "
             "sends the same three iovecs; a zerocopy datagram holds at most 17 page "
             "fragments, and a 60 KiB reply whose body is not within 35 bytes of a page "
             "start needs 18 (header page, 16 body pages, END), so there it copies the "
             "header and the body's first partial page into a page of its own (3 iovecs, "
             "17 fragments). GB per CPU-second of the sender, median of "
             f"{runs} interleaved runs.\n")
    L.append("| size | workload | plain | shim | hand-written zerocopy | shim / plain | shim / zerocopy |")
    L.append("|-----:|----------|------:|-----:|----------------------:|-------------:|----------------:|")
    sizes = sorted({k[2] for k in med if k[0] == "mc"})
    for sz in sizes:
        for w in ("stable", "mcstable", "ring", "mcring"):
            p, sh, z = m("mc", w, sz, "plain"), m("mc", w, sz, "shim"), m("mc", w, sz, "zerocopy")
            L.append(f"| {size_name(sz)} | {w} | {p:.2f} | {sh:.2f} | {z:.2f} | "
                     f"{ratio(sh, p):.2f} | {ratio(sh, z):.2f} |")
    L.append("\nTarget: the memcached shape keeps the shim's ratio to hand-written zerocopy "
             "within 5% of the plain shape's (mc ratio / plain ratio >= 0.95).\n")
    L.append("| size | pair | shim/zc, one buffer | shim/zc, memcached shape | "
             "memcached / one buffer | met | shim alone: memcached / one buffer |")
    L.append("|-----:|------|--------------------:|-------------------------:|"
             "----------------------:|:---:|-----------------------------------:|")
    for sz in sizes:
        for a, b in (("stable", "mcstable"), ("ring", "mcring")):
            ra = ratio(m("mc", a, sz, "shim"), m("mc", a, sz, "zerocopy"))
            rb = ratio(m("mc", b, sz, "shim"), m("mc", b, sz, "zerocopy"))
            q = ratio(rb, ra)
            L.append(f"| {size_name(sz)} | {b} vs {a} | {ra:.2f} | {rb:.2f} | {q:.2f} | "
                     f"{'yes' if q >= 0.95 else 'no'} | "
                     f"{ratio(m('mc', b, sz, 'shim'), m('mc', a, sz, 'shim')):.2f} |")
    L.append("\nThe last column is what the memcached shape costs the shim alone (its GB per "
             "CPU-second against its own with one buffer). At 60 KiB the hand-written "
             "reference pays a copy the one-buffer reference does not (the fold above), "
             "which flatters the memcached ratios there; the table below compares with a "
             "reference that cuts both shapes alike.")
    H = 61440
    if m("mc", "mcstable", H, "zerocopy_shape"):
        L.append("\nAt 60 KiB, the hand-written sender once more cutting as the shim does "
                 "(`--zc-shape`: every byte outside a piece's whole pages copied, adjacent "
                 "copies in one iovec), against the shim:\n")
        L.append("| workload | hand-written zerocopy | hand-written, the shim's cut | shim | "
                 "shim / the shim's cut |")
        L.append("|----------|----------------------:|----------------------------:|-----:|"
                 "----------------------:|")
        for w in ("stable", "mcstable", "ring", "mcring"):
            z, zs, sh = (m("mc", w, H, "zerocopy"), m("mc", w, H, "zerocopy_shape"),
                         m("mc", w, H, "shim"))
            L.append(f"| {w} | {z:.2f} | {zs:.2f} | {sh:.2f} | {ratio(sh, zs):.2f} |")
        q = [ratio(ratio(m("mc", b, H, "shim"), m("mc", b, H, "zerocopy_shape")),
                   ratio(m("mc", a, H, "shim"), m("mc", a, H, "zerocopy_shape")))
             for a, b in (("stable", "mcstable"), ("ring", "mcring"))]
        L.append(f"\nAgainst the shim's cut, the memcached shape keeps {q[0]:.2f} of stable's "
                 f"ratio and {q[1]:.2f} of ring's (target: 0.95).")
    L.append("\nUnder the shim, the timed part's sends (its counters before and after it, "
             "one run with the stats signal on): sent with zerocopy, copied, and why "
             "(the copy_* fields).\n")
    L.append("| workload | zc_sends | copy_sends | copied because |")
    L.append("|----------|---------:|-----------:|----------------|")
    for sz in sizes:
        for w in ("stable", "mcstable", "ring", "mcring"):
            L.append(counters_row(f"{w} {size_name(sz)}", ("mc", w, sz)))
    L.append("\nWhere the time goes: docs/PERF-HISTORY.md (\"Memcached-shaped sends and "
             "threads\", then \"A memcached reply by the socket's ring\").\n")
    return L


def threads_section():
    L = ["\n## 6. Threads\n"]
    L.append("N threads each send a stable 60 KiB buffer of their own on a UDP socket of "
             "their own to the sink (`zcsend --threads N stable 61440 39064`: 2.4 GB a "
             "run, the sends split evenly), all starting together once every one is set "
             "up. GB per CPU-second of the whole process (getrusage RUSAGE_SELF: every "
             f"thread's CPU), median of {runs} interleaved runs, on {cpus} CPUs.\n")
    L.append("| threads | plain | shim | hand-written zerocopy | plain / 1 thread | "
             "shim / 1 thread | zerocopy / 1 thread | shim / zerocopy | shim / plain | "
             "shim's runs |")
    L.append("|--------:|------:|-----:|----------------------:|-----------------:|"
             "----------------:|--------------------:|----------------:|-------------:|"
             "------------:|")
    ts = sorted({k[1] for k in med if k[0] == "threads"}, key=int)
    g = lambda t, who: m("threads", t, 61440, who)
    for t in ts:
        p, sh, z = g(t, "plain"), g(t, "shim"), g(t, "zerocopy")
        v = vals.get(("threads", t, 61440, "shim"), [0.0])
        L.append(f"| {t} | {p:.2f} | {sh:.2f} | {z:.2f} | {ratio(p, g('1', 'plain')):.2f} | "
                 f"{ratio(sh, g('1', 'shim')):.2f} | {ratio(z, g('1', 'zerocopy')):.2f} | "
                 f"{ratio(sh, z):.2f} | {ratio(sh, p):.2f} | {min(v):.1f} to {max(v):.1f} |")
    L.append("\nTarget: with 2, 4 and 8 threads the shim keeps at least 0.9 of its 1-thread "
             "figure. With more threads than the machine has CPUs, every sender here "
             "depends on how its threads are scheduled (and on whatever else the machine "
             "runs); the hand-written senders share the sink's device as the shim's do.")
    L.append("\nUnder the shim, the timed part's sends:\n")
    L.append("| threads | zc_sends | copy_sends | copied because |")
    L.append("|--------:|---------:|-----------:|----------------|")
    for t in ts:
        L.append(counters_row(t, ("threads", t, 61440)))
    L.append("\nWhere the time goes at 2 and 8 threads: docs/PERF-HISTORY.md "
             "(\"Memcached-shaped sends and threads\", then \"Kept buffers' sends without "
             "the global lock\").\n")
    return L


if only is not None:
    out = ["# Benchmarks: " + ", ".join(only) + "\n"]
    out.append(f"Generated by `ZCSHIM_BENCH_ONLY={','.join(only)} scripts/bench`. "
               f"{datetime.date.today()}, Linux {kernel}, {cpus} CPUs, "
               f"median of {runs} interleaved runs per point.")
    if "mc" in only:
        out += mc_section()
    if "threads" in only:
        out += threads_section()
    rest = [x for x in only if x not in ("mc", "threads")]
    if rest:
        out.append(f"\n{', '.join(rest)}: only a full `scripts/bench` writes their sections "
                   "(raw results in results.txt beside this file).")
    open(f"{docs}/BENCHMARKS.md", "w").write("\n".join(out) + "\n")
    print(f"report: {docs}/BENCHMARKS.md written (parts {', '.join(only)})")
    sys.exit(0)

out = []
out.append("# Benchmarks\n")
out.append("Generated by `scripts/bench` (do not edit: run it again). "
           f"{datetime.date.today()}, Linux {kernel}, {cpus} CPUs, "
           f"median of {runs} interleaved runs per point.\n")
out.append("## 1. UDP to a dropping sink (the kernel's true zerocopy path)\n")
out.append("GB sent per CPU-second of the sender (`bench/zcsend.c`): plain copying "
           "`send()`, the same program under the shim (`ZCSHIM_LOCAL=force "
           "ZCSHIM_THRESHOLD=4096`), and a hand-written MSG_ZEROCOPY sender that "
           "reaps its completions and never rewrites or frees a buffer before its "
           "release. Messages above 60 KiB go out as 60 KiB datagrams. Workloads: "
           "`stable` one buffer sent again and again; `ring` 256 MiB of buffers sent "
           "round robin, timed after two untimed passes (a content cache in steady "
           "state); `reuse` one buffer rewritten before every send; `fresh` malloc, "
           "fill, send, free per message. Each run sends 1.2 GB (at most 240,000 "
           "messages).\n")
for w in WORKLOADS:
    out.append(f"\n### {w}\n")
    out.append("| size | plain | shim | hand-written zerocopy | shim / plain | shim / zerocopy |")
    out.append("|-----:|------:|-----:|----------------------:|-------------:|----------------:|")
    for s in SIZES:
        p, sh, z = m("sink", w, s, "plain"), m("sink", w, s, "shim"), m("sink", w, s, "zerocopy")
        out.append(f"| {size_name(s)} | {p:.2f} | {sh:.2f} | {z:.2f} | "
                   f"{ratio(sh, p):.2f} | {ratio(sh, z):.2f} |")

H = 61440
out.append("\n## 2. Targets at 60 KiB\n")
out.append("| target | measured | met |")
out.append("|--------|---------:|:---:|")
# (stable: one buffer sent again; ring: a 256 MiB content cache in steady
# state; reuse, fresh: a buffer rewritten before every send, which the
# shim rightly copies.)
for w, want in (("stable", 0.95), ("ring", 0.85)):
    r = ratio(m("sink", w, H, "shim"), m("sink", w, H, "zerocopy"))
    b = ratio(m("sink", w, H, "zerocopy_shape"), m("sink", w, H, "zerocopy"))
    out.append(f"| {w}: shim >= {want:.2f} x hand-written zerocopy | {r:.2f} (the shim's three-piece "
               f"shape alone: {b:.2f}, below) | {'yes' if r >= want else 'no'} |")
for w in ("reuse", "fresh"):
    r = ratio(m("sink", w, H, "shim"), m("sink", w, H, "plain"))
    out.append(f"| {w}: shim >= 0.98 x plain | {r:.2f} | {'yes' if r >= 0.98 else 'no'} |")
for a, label in (("redis_get_100KB", "redis-benchmark GET, 100 KB values"),
                 ("nginx_1MB", "wrk against nginx, 1 MB file, sendfile off")):
    r = ratio(m("app", a, 0, "shim"), m("app", a, 0, "plain"))
    out.append(f"| {label}: >= 0.98 x without the shim | {r:.2f} | {'yes' if r >= 0.98 else 'no'} |")

pw, sw = m("small", "write512", 0, "plain"), m("small", "write512", 0, "shim")
pt, st = m("small", "write512_cpu", 0, "plain"), m("small", "write512_cpu", 0, "shim")
r = ratio(st, pt)
out.append(f"| 512-byte write: under 2% more time per call | {100 * (r - 1):+.1f}% "
           f"(+{sw - pw:.0f} user-space instructions per call: {pw:.0f} -> {sw:.0f}) | "
           f"{'yes' if r < 1.02 else 'no'} |")

sp, ss = m("start", "fresh", H, "plain"), m("start", "fresh", H, "shim")
if sp and ss:
    mb = 100 * H / 1e9   # GB sent by the 100 sends
    out.append("\nEach point above is a run of 1.2 GB (at most 240,000 sends), so a "
               "process's one-off costs hardly weigh on it. Those, on their own: the "
               "first 100 sends of a process (`zcsend fresh 61440 100`) took "
               f"{1e3 * mb / sp:.2f} ms of CPU plain and {1e3 * mb / ss:.2f} ms under "
               f"the shim: +{1e3 * (mb / ss - mb / sp):.2f} ms once per process (the cost "
               "model's measurement on the first send that could be guarded, and each "
               "buffer's first sends before the shim knows it is rewritten).")
out.append("\n### What the shape allows (60 KiB)\n")
out.append("A malloc()ed buffer starts just after the allocator's header, a few bytes "
           "into a page, and ends inside another: the shim protects only the pages the "
           "buffer has to itself and "
           "copies the two unaligned ends into bounce memory, so each datagram goes "
           "out as three pieces, and the kernel pins each piece in a call of its own. "
           "The hand-written sender once more, sending the same three pieces "
           "(`zcsend --zc-shape`), bounds what the shim can reach with that shape.\n")
out.append("| workload | hand-written zerocopy | hand-written, three pieces | shim | "
           "three pieces / zerocopy | shim / three pieces |")
out.append("|----------|----------------------:|--------------------------:|-----:|"
           "------------------------:|--------------------:|")
for w in ("stable", "ring"):
    z, zs, sh = m("sink", w, H, "zerocopy"), m("sink", w, H, "zerocopy_shape"), m("sink", w, H, "shim")
    out.append(f"| {w} | {z:.2f} | {zs:.2f} | {sh:.2f} | {ratio(zs, z):.2f} | {ratio(sh, zs):.2f} |")
out.append("\n### ZCSHIM_ALIGN=1 at 60 KiB (not the default)\n")
out.append("malloc() blocks from the threshold to 128 KiB on a page boundary: no "
           "bounce copy of a send's first page. It pays for buffers kept and sent "
           "again, and costs a block allocated per message (fresh).\n")
out.append("| workload | shim | shim, ZCSHIM_ALIGN=1 | hand-written zerocopy | plain | "
           "aligned / zerocopy | aligned / plain |")
out.append("|----------|-----:|---------------------:|----------------------:|------:|"
           "-------------------:|----------------:|")
for w in ("stable", "ring", "fresh"):
    sh, al = m("sink", w, H, "shim"), m("sink", w, H, "shim_align")
    z, p = m("sink", w, H, "zerocopy"), m("sink", w, H, "plain")
    out.append(f"| {w} | {sh:.2f} | {al:.2f} | {z:.2f} | {p:.2f} | "
               f"{ratio(al, z):.2f} | {ratio(al, p):.2f} |")

out.append("\n## 3. Real servers on loopback, default settings\n")
out.append("Local peers pass through by default: this measures what merely loading "
           "the shim costs a server. Requests per second, median of "
           f"{2 * int(runs) + 1} interleaved runs (servers vary more between runs).\n")
out.append("| server | without | with the shim | ratio |")
out.append("|--------|--------:|--------------:|------:|")
for a, label in (("redis_get_100KB", "redis-benchmark -t get -n 50000 -d 100000 -c 8"),
                 ("nginx_1MB", "wrk -t2 -c8 -d3s, 1 MB file")):
    p, s = m("app", a, 0, "plain"), m("app", a, 0, "shim")
    out.append(f"| {label} | {p:.0f} | {s:.0f} | {ratio(s, p):.3f} |")

out.append("\n## 4. The crossover\n")
cross = {}
for w in WORKLOADS:
    c = next((s for s in SIZES if m("sink", w, s, "shim") >= m("sink", w, s, "plain")), None)
    cross[w] = c
    out.append(f"- {w}: the shim first matches a plain copy at "
               f"{size_name(c) if c else 'no size up to ' + size_name(SIZES[-1])}")
out.append("\nThe default ZCSHIM_THRESHOLD is compared with these in the notes of "
           "docs/PERF-HISTORY.md.\n")
out.append("\n![GB per CPU-second against message size](benchmarks.png)\n")
out.append("\nCommand: `scripts/bench` (as root: it creates a network namespace). "
           "Raw results: `_build/bench/results.txt`.\n")
out += mc_section()
out += threads_section()
# The content cache under each guard (scripts/bench-rings, run by
# scripts/bench before this report) goes in as it wrote it.
# So do the fault modes (scripts/bench-uffdmodes).
for part in ("RINGS.md", "UFFDMODES.md"):
    try:
        out += ["", open(f"{docs}/{part}").read().rstrip("\n")]
    except OSError:
        pass
open(f"{docs}/BENCHMARKS.md", "w").write("\n".join(out) + "\n")

with open(f"{docs}/benchmarks.dat", "w") as f:
    for i, w in enumerate(WORKLOADS):
        f.write(f"# {w}\n")
        for s in SIZES:
            f.write(f"{s} {m('sink', w, s, 'plain'):.3f} {m('sink', w, s, 'shim'):.3f} "
                    f"{m('sink', w, s, 'zerocopy'):.3f}\n")
        f.write("\n\n")
gp = [
    "set terminal pngcairo size 1200,900 font ',10'",
    "set output 'benchmarks.png'",
    "set multiplot layout 2,2 title 'GB sent per CPU-second (UDP to a dropping sink)'",
    "set logscale x 2", "set xlabel 'message size'", "set ylabel 'GB / CPU-s'",
    "set xtics ('4K' 4096, '16K' 16384, '60K' 61440, '256K' 262144, '1M' 1048576)",
    "set key top left", "set grid",
]
for i, w in enumerate(WORKLOADS):
    gp.append(f"set title '{w}'")
    gp.append(f"plot 'benchmarks.dat' index {i} using 1:2 with linespoints title 'plain copy', "
              f"'' index {i} using 1:3 with linespoints title 'shim', "
              f"'' index {i} using 1:4 with linespoints title 'hand-written zerocopy'")
gp.append("unset multiplot")
open(f"{docs}/benchmarks.gp", "w").write("\n".join(gp) + "\n")
print("report: docs/BENCHMARKS.md written")
