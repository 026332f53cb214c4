#!/usr/bin/env bash
# sync-bench.sh - `conduit sync` (one-shot CLI, mirror) in the shared peer harness next to
# rsync, unison and rclone, in the same run; prints the harness table, then the targets
# (conduit / rsync medians) and conduit vs unison and rclone. See README.md "Sync benchmark".
#
# Usage: tooling/bench/sync-bench.sh [options] [WORKLOAD ...]   (default: many-small mixed large)
#
#   --root DIR        harness scratch root (default ${TMPDIR:-/tmp}/conduit-syncbench)
#   --reps N          repetitions per tool (default 3)
#   --scale F         gen.py scale (default 1; 0.05 for a smoke run)
#   --phases LIST     default init,noop,change,inplace
#   --tools LIST      built-in peer tools (default rsync,unison,rclone)
#   --timeout S       per-command limit (default 120, as run-peers.sh)
#   --versions MODE   keep | move-out (default move-out): what to do with DST/.conduit
#                     (Conduit's version store) after each conduit sync; see README.md
#   --cli PATH        CLI entry point (default <repo>/apps/cli/dist/main.js)
#   --no-snapshot     run the CLI file in place; by default it is copied to ROOT/cli first
#                     (with a node_modules symlink), so a rebuild during the run changes nothing
#   --harness PATH    run-peers.sh (default /work/shared/bench/run-peers.sh)
#   --summary FILE    skip the run: only print the targets for an existing summary TSV
#   --no-resolve      skip the resolve step alone (resolve-bench.mjs, in process, printed last)
#   -h, --help        this text
#   --                the rest is passed to run-peers.sh unchanged (e.g. --sync-in-timing)
#
# Files: tooling/bench/results/sync-<UTC stamp>.local.{tsv,txt,raw.tsv,load.log}
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"
ROOT=${TMPDIR:-/tmp}/conduit-syncbench
REPS=3; SCALE=1; PHASES=init,noop,change,inplace; TOOLS=rsync,unison,rclone; TIMEOUT=120
VERSIONS=move-out
CLI=$REPO/apps/cli/dist/main.js
HARNESS=/work/shared/bench/run-peers.sh
SUMMARY=""; SNAPSHOT=1; RESOLVE=1
declare -a WLS=() PASS=()

die() { echo "sync-bench: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift 2;;
    --reps) REPS=$2; shift 2;;
    --scale) SCALE=$2; shift 2;;
    --phases) PHASES=$2; shift 2;;
    --tools) TOOLS=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --versions) VERSIONS=$2; shift 2;;
    --cli) CLI=$2; shift 2;;
    --no-snapshot) SNAPSHOT=0; shift;;
    --no-resolve) RESOLVE=0; shift;;
    --harness) HARNESS=$2; shift 2;;
    --summary) SUMMARY=$2; shift 2;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0;;
    --) shift; PASS=("$@"); break;;
    -*) die "unknown option $1 (see --help)";;
    *) WLS+=("$1"); shift;;
  esac
done
[ ${#WLS[@]} -eq 0 ] && WLS=(many-small mixed large)
case "$VERSIONS" in keep|move-out) ;; *) die "--versions must be keep or move-out";; esac

# ------------------------------------------------------------------ targets (summary TSV)
targets() {  # $1 summary TSV (run-peers.sh format)
  python3 - "$1" <<'EOF'
import sys
rows = {}
with open(sys.argv[1]) as f:
    hdr = f.readline().rstrip("\n").split("\t")
    for line in f:
        r = dict(zip(hdr, line.rstrip("\n").split("\t")))
        rows[(r["tool"], r["workload"], r["phase"])] = r

def wall(tool, wl, ph):
    r = rows.get((tool, wl, ph))
    if not r or not r.get("wall_med_s"):
        return None, None
    return float(r["wall_med_s"]), r.get("verify", "")

def ratio_line(label, wl, ph, ref, tag):
    c, cv = wall("conduit", wl, ph)
    p, pv = wall(ref, wl, ph)
    if c is None or p is None:
        return None
    flags = []
    if cv != "ok":
        flags.append("conduit verify=" + cv)
    if pv != "ok":
        flags.append(ref + " verify=" + pv)
    if p == 0:
        txt, res = "ratio n/a (%s median 0.00 s)" % ref, "n/a"
    else:
        q = c / p
        txt, res = "%5.2f x" % q, ("PASS" if q <= 1.0 else "MISS")
    return "%-4s %-52s %s  (conduit %.2f s, %s %.2f s)%s%s" % (
        res, label, txt, c, ref, p, "  " + tag if tag else "",
        "  [" + "; ".join(flags) + "]" if flags else "")

wls = []
for (t, wl, ph) in rows:
    if wl not in wls:
        wls.append(wl)
phases = ["init", "noop", "change", "inplace"]
names = {"init": "initial sync", "noop": "no-op re-sync", "change": "re-sync after the change set",
         "inplace": "re-sync after a 1 MiB in-place edit"}
print("\n== targets (ratio of harness medians, wall_med_s; PASS = ratio <= 1.0) ==")
for ph in ["init", "noop", "change"]:
    line = ratio_line("%s (many-small) <= 1.0 x rsync" % names[ph], "many-small", ph, "rsync", "target")
    print(line if line else "n/a  %s (many-small): no conduit or rsync row" % names[ph])
print("\n-- informational: conduit / rsync on the other workloads --")
for wl in wls:
    if wl == "many-small":
        continue
    for ph in phases:
        line = ratio_line("%s (%s) vs rsync" % (names[ph], wl), wl, ph, "rsync", "")
        if line:
            print(line)
if "many-small" in wls:
    line = ratio_line("%s (many-small) vs rsync" % names["inplace"], "many-small", "inplace", "rsync", "")
    if line:
        print(line)
for ref in ("unison", "rclone"):
    print("\n-- conduit / %s --" % ref)
    for wl in wls:
        for ph in phases:
            line = ratio_line("%s (%s) vs %s" % (names[ph], wl, ref), wl, ph, ref, "")
            if line:
                print(line)
EOF
}

if [ -n "$SUMMARY" ]; then targets "$SUMMARY"; exit $?; fi

# ------------------------------------------------------------------ checks
[ -x "$HARNESS" ] || [ -f "$HARNESS" ] || die "harness not found: $HARNESS"
[ -f "$CLI" ] || die "CLI not built: $CLI (cd $REPO && pnpm turbo run build --filter @conduit/cli...)"
for t in node python3 rsync unison rclone timeout; do
  command -v "$t" > /dev/null || die "$t is missing (apt-get install -y rsync unison rclone time)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install -y time)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=$HERE/results
mkdir -p "$RES" "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
OUTTSV=$RES/sync-$STAMP.local.tsv
OUTTXT=$RES/sync-$STAMP.local.txt
LOADLOG=$RES/sync-$STAMP.local.load.log
# The CLI is the launcher (main.js) and the bundle it runs (cli.cjs) beside it; bench-lib.sh.
RUNCLI=$CLI
if [ "$SNAPSHOT" = 1 ]; then
  # the bundle loads better-sqlite3, blake3 and @parcel/watcher from node_modules next to it
  RUNCLI=$(bench_snapshot_cli "$CLI" "$ROOT/cli") || die "could not copy the CLI to $ROOT/cli"
fi
CLI_RUN_ID="$(bench_cli_sum "$RUNCLI")"
CLI_AT_START=$(bench_cli_id "$CLI")  # after the copy: the run's reference for "rebuilt during the run"
[ "${CLI_AT_START%% *}" = "$CLI_RUN_ID" ] || die "the CLI changed while it was copied; try again"

TEMPLATE="CONDUIT_HOME={state}/home CONDUIT_CLI=$RUNCLI CONDUIT_BENCH_VERSIONS=$VERSIONS $HERE/conduit-tool.sh {src} {dst} {phase} {excludes}"

# load sampler (bench-lib.sh): what else ran during each tool's repetitions
bench_start_sampler "$LOADLOG"; SAMPLER=$BENCH_SAMPLER
trap 'kill "$SAMPLER" 2>/dev/null' EXIT

{
  echo "# conduit sync benchmark, $STAMP"
  echo "# host $(hostname), $(nproc) CPUs, $(uname -r), node $(node --version), $(rsync --version | head -1 | awk '{print "rsync", $3}'), $(unison -version 2>/dev/null | head -1), $(rclone version 2>/dev/null | head -1)"
  echo "# CLI $CLI ($CLI_AT_START); run from $RUNCLI ($CLI_RUN_ID); --versions $VERSIONS"
  echo "# repo $(git -C "$REPO" log -1 --format='%h %cI' 2>/dev/null)$( [ -n "$(git -C "$REPO" status --porcelain -- apps packages 2>/dev/null)" ] && echo ', with uncommitted changes under apps/ or packages/')"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); free in $ROOT: $(df -h --output=avail "$ROOT" | tail -1 | tr -d ' ')"
  echo "# harness: $HARNESS --root $ROOT --reps $REPS --scale $SCALE --timeout $TIMEOUT --phases $PHASES --tools $TOOLS --tool conduit=… ${PASS[*]:-} ${WLS[*]}"
  echo "# conduit template: $TEMPLATE"
} | tee "$OUTTXT"

# the harness's stdout is the summary TSV (also written to --out); its stderr is the progress
{ bash "$HARNESS" --root "$ROOT" --reps "$REPS" --scale "$SCALE" --timeout "$TIMEOUT" \
    --phases "$PHASES" --tools "$TOOLS" --tool "conduit=$TEMPLATE" --out "$OUTTSV" \
    ${PASS[@]+"${PASS[@]}"} "${WLS[@]}" 2>&1 > /dev/null; } | tee "$RES/sync-$STAMP.local.stderr.log" >&2
HRC=${PIPESTATUS[0]}
kill "$SAMPLER" 2>/dev/null; sleep 0.3
[ -s "$OUTTSV" ] || die "the harness wrote no summary (exit $HRC); see $RES/sync-$STAMP.local.stderr.log"
RAWF=$(sed -n 's/.*raw rows: //p' "$RES/sync-$STAMP.local.stderr.log" | tail -1)
[ -n "$RAWF" ] && [ -f "$RAWF" ] && cp "$RAWF" "$RES/sync-$STAMP.local.raw.tsv"

{
  echo
  echo "== harness summary (run-peers.sh) =="
  column -t -s $'\t' "$OUTTSV" 2>/dev/null || cat "$OUTTSV"
  targets "$OUTTSV"
  echo
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); top samples: $LOADLOG"
  bench_contention "$LOADLOG" "$RES/sync-$STAMP.local.stderr.log" "$ROOT"
  CLI_AT_END=$(bench_cli_id "$CLI")
  if [ "$CLI_AT_END" != "$CLI_AT_START" ]; then
    if [ "$SNAPSHOT" = 1 ]; then echo "# note: $CLI was rebuilt during the run ($CLI_AT_END); the run used the snapshot $CLI_RUN_ID"
    else echo "# WARNING: the CLI changed during the run ($CLI_AT_START -> $CLI_AT_END)"; fi
  fi
  echo "# files: $OUTTSV (summary), $RES/sync-$STAMP.local.raw.tsv (per run), harness logs under $ROOT/logs"
} | tee -a "$OUTTXT"

# The resolve step alone: planning from a current index, in process (no start-up, no rescan).
if [ "$RESOLVE" = 1 ]; then
  {
    echo
    echo "== resolve step alone (resolve-bench.mjs, many-small, in process; target <= 20 ms) =="
    node "$HERE/resolve-bench.mjs" --reps 9 --scale "$SCALE" 2>&1
  } | tee -a "$OUTTXT"
fi
exit $HRC
