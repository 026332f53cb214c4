#!/usr/bin/env python3
"""contention.py - what else ran during a benchmark, from the `top` samples of bench-lib.sh.

Usage: contention.py TOP_SAMPLES HARNESS_STDERR ROOT

TOP_SAMPLES is the file bench_start_sampler writes ("== HH:MM:SS load …" per sample, then
`top -b -c` rows of processes at >= 5 % CPU). HARNESS_STDERR is run-peers.sh's progress (one or
more runs appended), whose "[HH:MM:SS] TOOL WORKLOAD rep N" lines delimit the repetitions and
"[HH:MM:SS] raw rows: …" the end of a run. Every process whose command line names ROOT (the
tools, time, timeout, gen.py, cp, daemons and Syncthing instances started under it), `top`, `sync`
and kernel threads ([kworker…]: also the writeback of our own I/O) count as ours; everything else
is "other work". Prints how many samples had other processes at >= 25 % of a core, and for each
(tool, workload, repetition) with such samples, which processes.
"""
import os
import re
import sys


def secs(hms):
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


def main(top_file, stderr_file, root):
    samples, cur = [], None
    for line in open(top_file, errors="replace"):
        if line.startswith("== "):
            cur = {"t": secs(line.split()[1]), "other": 0.0, "who": {}}
            samples.append(cur)
        elif cur is not None:
            f = line.split(None, 11)
            if len(f) < 12:
                continue
            try:
                cpu = float(f[8])
            except ValueError:
                continue
            cmd = f[11].strip()
            if root in cmd or cmd.startswith("[") or cmd.startswith("top ") or cmd in ("sync", "top"):
                continue
            cur["other"] += cpu
            key = " ".join(cmd.split()[:3])[:90]
            cur["who"][key] = cur["who"].get(key, 0) + cpu
    if len(samples) > 1:
        samples = samples[1:]  # top's first sample averages since boot
    marks = []
    for line in open(stderr_file, errors="replace"):
        m = re.match(r"\[(\d\d:\d\d:\d\d)\] (\S+) (\S+) rep (\d+)$", line.strip())
        if m:
            marks.append((secs(m.group(1)), "%s %s rep %s" % (m.group(2), m.group(3), m.group(4))))
        m = re.match(r"\[(\d\d:\d\d:\d\d)\] raw rows:", line.strip())
        if m:
            marks.append((secs(m.group(1)), None))
    busy = [x for x in samples if x["other"] >= 25]
    ncpu = os.cpu_count() or 1
    print("\n== contention: %d of %d top samples (every 5 s) show other processes at >= 25 %% of a core "
          "(%d CPUs = %d %%) ==" % (len(busy), len(samples), ncpu, 100 * ncpu))
    for i, (t0, name) in enumerate(marks):
        if name is None:
            continue
        t1 = marks[i + 1][0] if i + 1 < len(marks) else t0 + 10 ** 6
        inside = [x for x in samples if t0 <= x["t"] < t1]
        hot = [x for x in inside if x["other"] >= 25]
        if hot:
            who = {}
            for x in hot:
                for k, v in x["who"].items():
                    who[k] = who.get(k, 0) + v
            top = sorted(who.items(), key=lambda kv: -kv[1])[:2]
            print("  %-28s %d/%d samples busy, max other %.0f %%: %s" % (name, len(hot), len(inside),
                  max(x["other"] for x in hot), "; ".join(k for k, _ in top)))
    if not busy:
        print("  none: the machine was quiet apart from the benchmark")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2])
    main(*sys.argv[1:])
