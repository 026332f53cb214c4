#!/usr/bin/env python3
"""peer-report.py - the report of peer-bench.sh from its result files.

Usage: peer-report.py PREFIX        (PREFIX = tooling/bench/results/peer-<stamp>.local)

Reads PREFIX.tsv (run-peers.sh summary), PREFIX.times.tsv (conduit-peer-tool.sh's run-only
times: workload phase seconds exit daemon_ms transport), PREFIX.workloads.tsv (workload files
bytes) and PREFIX.ceiling.tsv (rep transport measurement MiB/s from transfer-bench.mjs; may be
missing). Prints conduit's harness wall against its run-only time, the targets with PASS/MISS
on both time bases, informational ratios and the raw stream ceiling.
"""
import os
import statistics as st
import sys

MiB = 1024 * 1024
CONDUIT, ST = "conduit-peer", "syncthing"


def read_tsv(path, header=True):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    if not header:
        return lines
    if not lines:
        return []
    hdr = lines[0]
    return [dict(zip(hdr, l)) for l in lines[1:]]


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def main(prefix):
    summary = {(r["tool"], r["workload"], r["phase"]): r for r in read_tsv(prefix + ".tsv")}
    times = {}
    for r in read_tsv(prefix + ".times.tsv", header=False):
        if len(r) < 3:
            continue
        wl, ph, secs = r[0], r[1], fnum(r[2])
        rc = r[3] if len(r) > 3 else "0"
        dms = fnum(r[4]) if len(r) > 4 else None
        via = r[5] if len(r) > 5 else "?"
        fsw = fnum(r[6]) if len(r) > 6 else None
        rss = fnum(r[7]) if len(r) > 7 else None
        times.setdefault((wl, ph), []).append({"s": secs, "rc": rc, "dms": dms, "via": via, "fsw": fsw, "rss": rss})
    wbytes = {r[0]: int(r[2]) for r in read_tsv(prefix + ".workloads.tsv", header=False) if len(r) >= 3}
    ceil_rows = read_tsv(prefix + ".ceiling.tsv", header=False)

    def harness(tool, wl, ph):
        r = summary.get((tool, wl, ph))
        if not r or not r.get("wall_med_s"):
            return None
        return {"med": float(r["wall_med_s"]), "min": fnum(r["wall_min_s"]), "max": fnum(r["wall_max_s"]),
                "n": r.get("n", "?"), "verify": r.get("verify", ""), "bytes": r.get("bytes_med", ""),
                "fsw": fnum(r.get("fs_write_med_mib")), "rss": fnum(r.get("rss_med_mib"))}

    def runonly(wl, ph):
        rs = times.get((wl, ph), [])
        ok = [x for x in rs if x["rc"] == "0" and x["s"] is not None]
        if not ok:
            return {"med": None, "n": 0, "failed": len(rs) - len(ok), "via": "", "dms": None, "fsw": None, "rss": None}
        vias = sorted(set(x["via"] for x in ok))
        def m(k):
            xs = [x[k] for x in ok if x.get(k) is not None]
            return st.median(xs) if xs else None
        return {"med": st.median(x["s"] for x in ok), "min": min(x["s"] for x in ok),
                "max": max(x["s"] for x in ok), "n": len(ok), "failed": len(rs) - len(ok),
                "via": "/".join(vias), "dms": m("dms") / 1000 if m("dms") is not None else None,
                "fsw": m("fsw"), "rss": m("rss")}

    workloads, phases = [], []
    for (tool, wl, ph) in summary:
        if wl not in workloads:
            workloads.append(wl)
        if ph not in phases:
            phases.append(ph)
    order = [p for p in ("init", "noop", "change", "inplace") if p in phases]

    def rng(x):
        return "%.2f (%.2f-%.2f)" % (x["med"], x["min"], x["max"]) if x and x.get("med") is not None else "-"

    # ------------------------------------------------------------ conduit: wall vs run only
    print("\n== conduit-peer: harness wall vs `conduit run` alone (medians (min-max), seconds) ==")
    print("   harness wall = the whole timed command; at init it includes starting both daemons, pairing,")
    print("   `location add`, `peer pull` and `conduit create`. run only = `conduit run ID` alone (CLI")
    print("   start-up included); in daemon = the run's durationMs as conduitd reports it.")
    fmt = "%-11s %-8s %-3s %-22s %-22s %-10s %-6s %-22s %s"
    print(fmt % ("workload", "phase", "n", "harness wall", "run only", "in daemon", "via", "syncthing", "verify c/st"))
    for wl in workloads:
        for ph in order:
            c, s, r = harness(CONDUIT, wl, ph), harness(ST, wl, ph), runonly(wl, ph)
            if not c and not s:
                continue
            n = "%s" % (c["n"] if c else "-")
            if r["n"] and c and str(r["n"]) != str(c["n"]):
                n += "/%d" % r["n"]
            print(fmt % (wl, ph, n, rng(c), rng(r) + (" %d failed" % r["failed"] if r["failed"] else ""),
                         "%.2f" % r["dms"] if r["dms"] is not None else "-", r["via"] or "-", rng(s),
                         "%s / %s" % (c["verify"] if c else "-", s["verify"] if s else "-")))

    # ------------------------------------------------------------ ceiling
    ceil = {}  # transport -> what -> [MiB/s per rep]
    for r in ceil_rows:
        if len(r) >= 4 and fnum(r[3]) is not None:
            ceil.setdefault(r[1], {}).setdefault(r[2], []).append(float(r[3]))
    ceiling = {}  # transport -> median over reps of the best raw stream figure of that rep
    for t, whats in ceil.items():
        raws = [v for k, v in whats.items() if k.startswith("raw stream")]
        if raws:
            per_rep = [max(xs) for xs in zip(*raws)]
            ceiling[t] = st.median(per_rep)

    # ------------------------------------------------------------ targets
    print("\n== targets (from medians) ==")
    print("   Both time bases are shown. `run only` is the like-for-like figure: st-bench.py times")
    print("   Syncthing's init from the folder POSTs, after both instances were started and paired, while")
    print("   conduit's harness wall for init also includes starting and pairing its two daemons.")

    def flags(c, s, r):
        out = []
        if c and c["verify"] != "ok":
            out.append("conduit verify=" + c["verify"])
        if s and s["verify"] != "ok":
            out.append("syncthing verify=" + s["verify"])
        if r and r.get("failed"):
            out.append("%d conduit run(s) exited non-zero" % r["failed"])
        return "  [" + "; ".join(out) + "]" if out else ""

    def verdict(ok, c, s):
        if s is None or s["verify"] != "ok":
            return "n/a "
        if c is None or c["verify"] != "ok":
            return "MISS"
        return "PASS" if ok else "MISS"

    def time_target(wl, ph, limit):
        print("\n%s %s: conduit <= %.1f x syncthing (time)" % (wl, ph, limit))
        c, s, r = harness(CONDUIT, wl, ph), harness(ST, wl, ph), runonly(wl, ph)
        if not c or not s:
            print("  n/a: no %s row" % ("conduit-peer" if not c else "syncthing"))
            return
        for label, cm in (("run only", r["med"]), ("harness wall", c["med"])):
            if cm is None:
                print("  %-13s MISS  no completed conduit run%s" % (label, flags(c, s, r)))
                continue
            if s["med"] <= 0:
                print("  %-13s n/a   syncthing median 0.00 s" % label)
                continue
            q = cm / s["med"]
            print("  %-13s %s  %5.2f x   conduit %.2f s, syncthing %.2f s%s" % (
                label, verdict(q <= limit, c, s), q, cm, s["med"], flags(c, s, r if label == "run only" else None)))

    def thr(b, secs):
        return b / MiB / secs if secs and secs > 0 else None

    def large_targets(wl="large"):
        c, s, r = harness(CONDUIT, wl, "init"), harness(ST, wl, "init"), runonly(wl, "init")
        b = wbytes.get(wl)
        print("\n%s init: conduit throughput >= 1.0 x syncthing (bytes / time)" % wl)
        if not c or not s or not b:
            print("  n/a: no %s" % ("conduit-peer row" if not c else "syncthing row" if not s else "workload size"))
        else:
            for label, cm in (("run only", r["med"]), ("harness wall", c["med"])):
                if cm is None:
                    print("  %-13s MISS  no completed conduit run%s" % (label, flags(c, s, r)))
                    continue
                ct, stt = thr(b, cm), thr(b, s["med"])
                q = ct / stt if stt else None
                if q is None:
                    print("  %-13s n/a   syncthing median 0.00 s" % label)
                    continue
                print("  %-13s %s  %5.2f x   conduit %.1f MiB/s (%.2f s), syncthing %.1f MiB/s (%.2f s), %.1f MiB%s" % (
                    label, verdict(q >= 1.0, c, s), q, ct, cm, stt, s["med"], b / MiB,
                    flags(c, s, r if label == "run only" else None)))
        # the raw stream ceiling of the transport the runs used
        used = r.get("via", "") if r else ""
        if used in ceiling:
            ref, why = used, "the transport the runs used"
        elif len(ceiling) == 1:
            ref, why = next(iter(ceiling)), "the one measured"
        elif ceiling:
            ref = max(ceiling, key=ceiling.get)
            why = "the faster of the measured transports (the runs' transport is unknown)"
        else:
            ref = None
        print("\n%s init: conduit throughput >= 70 %% of the raw libp2p stream ceiling" % wl)
        if ref is None:
            print("  n/a: no ceiling measured (--no-ceiling, or transfer-bench.mjs failed)")
            return
        cv = ceiling[ref]
        print("  ceiling: %s %.1f MiB/s (%s; median over reps of the best raw stream figure)" % (ref, cv, why))
        if not c or not b:
            print("  n/a: no conduit-peer row")
            return
        for label, cm in (("run only", r["med"]), ("harness wall", c["med"])):
            if cm is None:
                print("  %-13s MISS  no completed conduit run%s" % (label, flags(c, None, r)))
                continue
            ct = thr(b, cm)
            q = ct / cv
            res = "PASS" if q >= 0.70 and c["verify"] == "ok" else "MISS"
            print("  %-13s %s  %5.1f %%   conduit %.1f MiB/s of %.1f MiB/s%s" % (
                label, res, 100 * q, ct, cv, flags(c, None, r if label == "run only" else None)))

    if "many-small" in workloads:
        time_target("many-small", "init", 0.5)
        time_target("many-small", "change", 1.0)
    else:
        print("\nmany-small: not run")
    if "large" in workloads:
        large_targets("large")
    else:
        print("\nlarge: not run")

    # ------------------------------------------------------------ informational
    info = []
    for wl in workloads:
        for ph in order:
            if (wl, ph) in (("many-small", "init"), ("many-small", "change"), ("large", "init")):
                continue
            c, s, r = harness(CONDUIT, wl, ph), harness(ST, wl, ph), runonly(wl, ph)
            if not c or not s or s["med"] <= 0:
                continue
            info.append("  %-11s %-8s run only %s   harness wall %5.2f x   (conduit %s / %.2f s, syncthing %.2f s)%s" % (
                wl, ph, "%5.2f x" % (r["med"] / s["med"]) if r["med"] is not None else "   -   ",
                c["med"] / s["med"], "%.2f" % r["med"] if r["med"] is not None else "-", c["med"], s["med"],
                flags(c, s, r)))
    if info:
        print("\n-- informational: conduit / syncthing on the other phases (time; < 1 = conduit faster) --")
        print("   noop: Syncthing's figure is one blocking rescan of A; conduit's is a whole run (index both")
        print("   sides, plan, verify).")
        for l in info:
            print(l)
    res = []
    for wl in workloads:
        for ph in order:
            c, s, r = harness(CONDUIT, wl, ph), harness(ST, wl, ph), runonly(wl, ph)
            if not c and not s:
                continue
            f = lambda x, k, fm: fm % x[k] if x and x.get(k) is not None else "-"
            res.append("  %-11s %-8s %14s %14s   %9s %9s   %9s %9s" % (
                wl, ph, (c["bytes"] or "-") if c else "-", (s["bytes"] or "-") if s else "-",
                f(r, "fsw", "%.1f"), f(s, "fsw", "%.1f"), f(r, "rss", "%.0f"), f(s, "rss", "%.0f")))
    if res:
        print("\n-- wire bytes, storage writes, memory (medians; both sides A+B; conduit: its daemons, from the")
        print("   run-only record, since the harness's fs_write/RSS columns only see the CLI for conduit-peer) --")
        print("  %-11s %-8s %14s %14s   %9s %9s   %9s %9s" % ("workload", "phase", "bytes conduit", "syncthing",
                                                           "write MiB", "syncthing", "RSS MiB", "syncthing"))
        for l in res:
            print(l)
    if ceil:
        print("\n-- transfer-bench.mjs (in one process, both nodes; medians over %d rep(s), MiB/s) --" %
              max(len(v) for w in ceil.values() for v in w.values()))
        for t, whats in ceil.items():
            for what, xs in whats.items():
                print("  %-5s %-66s %8.1f" % (t, what, st.median(xs)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: peer-report.py PREFIX")
    main(sys.argv[1])
