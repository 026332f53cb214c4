#!/usr/bin/env bash
# peer-bench.sh - Conduit across devices (two daemons on 127.0.0.1, a mirror conduit A -> B, via
# conduit-peer-tool.sh) next to two Syncthing instances in the shared peer harness, in the same
# run, plus the raw libp2p stream ceiling (transfer-bench.mjs). Prints the harness table,
# conduit's harness wall against its run-only time, then the targets (medians) with PASS/MISS on
# both time bases. See README.md "Peer benchmark".
#
# Usage: tooling/bench/peer-bench.sh [options] [WORKLOAD ...]   (default: many-small large)
#
#   --smoke           a quick check (~1-2 min): --scale 0.05 --reps 1
#   --root DIR        harness scratch root (default ${TMPDIR:-/tmp}/conduit-peerbench)
#   --reps N          repetitions per tool, and of the ceiling measurement (default 3)
#   --scale F         gen.py scale (default 1)
#   --timeout S       per-command limit (default 300: conduit's init includes starting and
#                     pairing two daemons; a run over it is recorded as TIMEOUT)
#   --transport T     quic | tcp | both (default both): the daemons' listen addresses (both =
#                     their default, QUIC and TCP) and the ceiling measured (both: each)
#   --phases LIST     the phases of every workload (default per workload: many-small
#                     init,noop,change; large init; mixed init,noop,change,inplace)
#   --tools LIST      built-in harness tools next to conduit-peer (default syncthing; also
#                     syncthing-nofsync)
#   --ceiling-mib N   MiB per transfer-bench measurement (default 256 x scale, at least 16)
#   --no-ceiling      skip the raw stream ceiling
#   --cli PATH        CLI entry point (default <repo>/apps/cli/dist/main.js)
#   --no-snapshot     run the CLI and conduitd in place; by default both are copied to ROOT/cli
#                     first, so a rebuild during the run changes nothing
#   --harness PATH    run-peers.sh (default /work/shared/bench/run-peers.sh)
#   --summary FILE    skip the run: print the report again for an earlier results/peer-*.local.tsv
#   -h, --help        this text
#   --                the rest is passed to run-peers.sh unchanged (e.g. --sync-in-timing)
#
# Files: tooling/bench/results/peer-<UTC stamp>.local.{txt,tsv,raw.tsv,times.tsv,workloads.tsv,
#        ceiling.tsv,ceiling.log,stderr.log,load.log}
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=bench-lib.sh
. "$HERE/bench-lib.sh"
ROOT=${TMPDIR:-/tmp}/conduit-peerbench
REPS=3; SCALE=1; TIMEOUT=300; TRANSPORT=both; PHASES=""; TOOLS=syncthing
CEIL_MIB=""; CEILING=1
CLI=$REPO/apps/cli/dist/main.js
HARNESS=/work/shared/bench/run-peers.sh
SUMMARY=""; SNAPSHOT=1
declare -a WLS=() PASS=()

die() { echo "peer-bench: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SCALE=0.05; REPS=1; shift;;
    --root) ROOT=$2; shift 2;;
    --reps) REPS=$2; shift 2;;
    --scale) SCALE=$2; shift 2;;
    --timeout) TIMEOUT=$2; shift 2;;
    --transport) TRANSPORT=$2; shift 2;;
    --phases) PHASES=$2; shift 2;;
    --tools) TOOLS=$2; shift 2;;
    --ceiling-mib) CEIL_MIB=$2; shift 2;;
    --no-ceiling) CEILING=0; shift;;
    --cli) CLI=$2; shift 2;;
    --no-snapshot) SNAPSHOT=0; shift;;
    --harness) HARNESS=$2; shift 2;;
    --summary) SUMMARY=$2; shift 2;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0;;
    --) shift; PASS=("$@"); break;;
    -*) die "unknown option $1 (see --help)";;
    *) WLS+=("$1"); shift;;
  esac
done
[ ${#WLS[@]} -eq 0 ] && WLS=(many-small large)
case "$TRANSPORT" in quic|tcp|both) ;; *) die "--transport must be quic, tcp or both";; esac
case "$REPS" in ''|*[!0-9]*|0) die "--reps must be a positive integer";; esac
case "$TIMEOUT" in ''|*[!0-9.]*) die "--timeout must be a number of seconds";; esac
python3 -c "import sys; assert float(sys.argv[1]) > 0" "$SCALE" 2>/dev/null || die "--scale must be a positive number"
for wl in "${WLS[@]}"; do
  case "$wl" in many-small|large|mixed) ;; *) die "unknown workload $wl (many-small, large, mixed)";; esac
done
default_phases() {
  case "$1" in many-small) echo init,noop,change;; large) echo init;; *) echo init,noop,change,inplace;; esac
}
# The last phase the harness will run for workload $1 with phases $2: `large` has no change set
# (4 files: 1 % rounds to 0) and `many-small` no file for `inplace` (gen.py: largest file, >= 1 MiB).
last_phase() {
  local p last=""
  for p in init noop change inplace; do
    case ",$2," in *",$p,"*) ;; *) continue;; esac
    case "$1:$p" in large:change|many-small:inplace) continue;; esac
    last=$p
  done
  echo "$last"
}

if [ -n "$SUMMARY" ]; then
  [ -f "$SUMMARY" ] || die "no such file: $SUMMARY"
  echo "== harness summary ($SUMMARY) =="
  column -t -s $'\t' "$SUMMARY" 2>/dev/null || cat "$SUMMARY"
  python3 "$HERE/peer-report.py" "${SUMMARY%.tsv}"; exit $?
fi

# ------------------------------------------------------------------ checks
[ -f "$HARNESS" ] || die "harness not found: $HARNESS"
[ -f "$CLI" ] || die "CLI not built: $CLI (cd $REPO && pnpm turbo run build)"
[ -n "$(bench_daemon_main "$CLI")" ] || die "conduitd not found next to $CLI (cd $REPO && pnpm turbo run build)"
for t in node python3 timeout syncthing; do
  command -v "$t" > /dev/null || die "$t is missing (apt-get install -y syncthing time)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install -y time)"

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES=$HERE/results
mkdir -p "$RES" "$ROOT"
ROOT=$(cd "$ROOT" && pwd)
exec 9> "$ROOT/.lock"
flock -n 9 || die "another peer-bench is running on $ROOT (--root)"
P=$RES/peer-$STAMP.local
OUTTSV=$P.tsv OUTTXT=$P.txt LOADLOG=$P.load.log ERRLOG=$P.stderr.log
TIMES=$P.times.tsv WLTSV=$P.workloads.tsv CEILTSV=$P.ceiling.tsv CEILLOG=$P.ceiling.log
PIDS=$ROOT/conduit-peer.pids
: > "$PIDS"; : > "$TIMES"; : > "$WLTSV"; : > "$ERRLOG"

RUNCLI=$CLI
if [ "$SNAPSHOT" = 1 ]; then
  RUNCLI=$(bench_snapshot_cli "$CLI" "$ROOT/cli") || die "could not copy the CLI to $ROOT/cli"
fi
CLI_RUN_ID=$(bench_cli_sum "$RUNCLI")
CLI_AT_START=$(bench_cli_id "$CLI")  # after the copy: the run's reference for "rebuilt during the run"
[ "${CLI_AT_START%% *}" = "$CLI_RUN_ID" ] || die "the CLI changed while it was copied; try again"
DAEMON=$(bench_daemon_main "$RUNCLI")

# ------------------------------------------------------------------ stopping what we started
# Our processes: every conduitd or Syncthing whose command line or working directory lies under
# ROOT (conduitd runs in its home under ROOT/work, and from the snapshot in ROOT/cli; st-bench.py
# starts syncthing with --home=ROOT/…), which includes the daemons listed in $PIDS. Nothing else
# is touched (other daemons on the machine run elsewhere).
ours() {
  python3 - "$ROOT" $$ <<'EOF'
import os, sys
root, me = sys.argv[1].rstrip("/") + "/", sys.argv[2]
for p in os.listdir("/proc"):
    if not p.isdigit() or p == me:
        continue
    try:
        a = [x.decode(errors="replace") for x in open("/proc/%s/cmdline" % p, "rb").read().split(b"\0") if x]
        cwd = os.readlink("/proc/%s/cwd" % p)
    except OSError:
        continue
    if not a:
        continue
    syncthing = os.path.basename(a[0]) == "syncthing"
    conduitd = any(x.endswith("daemon/dist/main.js") for x in a[1:4])
    if not (syncthing or conduitd):
        continue
    if root in " ".join(a) or (cwd + "/").startswith(root):
        print(p)
EOF
}
stop_ours() {  # SIGTERM, up to 10 s, then SIGKILL; prints what it stopped (to stderr)
  local pids p alive
  pids=$(ours | sort -u | tr '\n' ' ')
  [ -n "${pids// /}" ] || return 0
  echo "peer-bench: stopping $pids" >&2
  for p in $pids; do kill "$p" 2>/dev/null; done
  for _ in $(seq 100); do
    alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break; sleep 0.1
  done
  for p in $alive; do kill -9 "$p" 2>/dev/null; done
  : > "$PIDS"
}
stop_ours  # leftovers of an earlier run on this ROOT that was killed outright (we hold the lock)
if command -v ss > /dev/null; then  # st-bench.py's fixed ports (GUI 28380/1, listen 28390/1)
  busy=$(ss -Htlnu '( sport = :28380 or sport = :28381 or sport = :28390 or sport = :28391 )' 2>/dev/null)
  [ -z "$busy" ] || die "Syncthing's bench ports are in use (another harness run?):"$'\n'"$busy"
fi

SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
  stop_ours
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_start_sampler "$LOADLOG"; SAMPLER=$BENCH_SAMPLER

TEMPLATE="CONDUIT_CLI=$RUNCLI CONDUIT_PEER_TRANSPORT=$TRANSPORT CONDUIT_PEER_PIDS=$PIDS CONDUIT_PEER_TIMES=$ROOT/times-WORKLOAD.tsv CONDUIT_PEER_LAST=LASTPHASE $HERE/conduit-peer-tool.sh {src} {dst} {phase} {state}"
{
  echo "# conduit peer benchmark (two daemons vs two Syncthing instances on 127.0.0.1), $STAMP"
  echo "# host $(hostname), $(nproc) CPUs, $(uname -r), node $(node --version), $(syncthing --version 2>/dev/null | awk '{print $1, $2}')"
  echo "# CLI $CLI ($CLI_AT_START); run from $RUNCLI ($CLI_RUN_ID), conduitd $DAEMON"
  echo "# repo $(git -C "$REPO" log -1 --format='%h %cI' 2>/dev/null)$( [ -n "$(git -C "$REPO" status --porcelain -- apps packages 2>/dev/null)" ] && echo ', with uncommitted changes under apps/ or packages/')"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); free in $ROOT: $(df -h --output=avail "$ROOT" | tail -1 | tr -d ' ')"
  echo "# transport $TRANSPORT; scale $SCALE; reps $REPS; timeout $TIMEOUT s"
  for wl in "${WLS[@]}"; do
    echo "# harness ($wl): $HARNESS --root $ROOT --reps $REPS --scale $SCALE --timeout $TIMEOUT --phases ${PHASES:-$(default_phases "$wl")} --tools $TOOLS --tool conduit-peer=… ${PASS[*]:-} $wl"
  done
  echo "# conduit-peer template (WORKLOAD and LASTPHASE filled in per workload): $TEMPLATE"
} | tee "$OUTTXT"

# ------------------------------------------------------------------ raw stream ceiling
ceiling() {
  local tl=$TRANSPORT mib=$CEIL_MIB rep
  [ "$tl" = both ] && tl=quic,tcp
  [ -n "$mib" ] || mib=$(python3 -c "import sys; print(max(16, round(256 * float(sys.argv[1]))))" "$SCALE")
  if [ ! -f "$REPO/packages/transport/dist/index.js" ] || [ ! -f "$REPO/packages/index/dist/index.js" ]; then
    echo "ceiling: skipped, @conduit/transport is not built (cd $REPO && pnpm turbo run build --filter @conduit/transport)"
    return
  fi
  echo "== raw stream ceiling: node tooling/bench/transfer-bench.mjs --size $mib --transports $tl, $REPS rep(s) =="
  for rep in $(seq 1 "$REPS"); do
    rm -rf "$ROOT/transfer"
    node "$HERE/transfer-bench.mjs" --size "$mib" --transports "$tl" --root "$ROOT/transfer" 2>&1 |
      tee -a "$CEILLOG" | sed 's/^/  /'
    rm -rf "$ROOT/transfer"
  done
  # "  quic  raw stream, 1 stream    123.4 MiB/s" -> rep, transport, measurement, MiB/s
  python3 - "$CEILLOG" > "$CEILTSV" <<'EOF'
import re, sys
rep = 0
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("transfer bench:"):
        rep += 1
    m = re.match(r"^\s+(quic|tcp)\s+(.*?)\s+([\d.]+) MiB/s\s*$", line)
    if m:
        print("%d\t%s\t%s\t%s" % (rep, m.group(1), m.group(2), m.group(3)))
EOF
}
if [ "$CEILING" = 1 ]; then ceiling 2>&1 | tee -a "$OUTTXT"; fi

# ------------------------------------------------------------------ the harness, one run per workload
# One run per workload, so that each gets its own phases and its own run-only times file; the
# harness runs the workloads one after the other anyway. Its stdout (summary TSV) also goes to
# --out; its stderr is the progress.
HRC=0
first=1
for wl in "${WLS[@]}"; do
  ph=${PHASES:-$(default_phases "$wl")}
  wtimes=$ROOT/times-$wl.tsv; : > "$wtimes"
  tpl=${TEMPLATE//WORKLOAD/$wl}; tpl=${tpl//LASTPHASE/$(last_phase "$wl" "$ph")}
  { bash "$HARNESS" --root "$ROOT" --reps "$REPS" --scale "$SCALE" --timeout "$TIMEOUT" \
      --phases "$ph" --tools "$TOOLS" --tool "conduit-peer=$tpl" --out "$ROOT/summary-$wl.tsv" \
      ${PASS[@]+"${PASS[@]}"} "$wl" 2>&1 > /dev/null; } 2>&1 | tee "$ROOT/stderr-$wl.log" >&2
  rc=${PIPESTATUS[0]}
  [ "$rc" -gt "$HRC" ] && HRC=$rc
  stop_ours  # the last repetition's daemons
  cat "$ROOT/stderr-$wl.log" >> "$ERRLOG"
  if [ -s "$ROOT/summary-$wl.tsv" ]; then
    if [ $first = 1 ]; then cat "$ROOT/summary-$wl.tsv" > "$OUTTSV"; else tail -n +2 "$ROOT/summary-$wl.tsv" >> "$OUTTSV"; fi
  else
    echo "peer-bench: the harness wrote no summary for $wl (exit $rc); see $ERRLOG" >&2
  fi
  rawf=$(sed -n 's/.*raw rows: //p' "$ROOT/stderr-$wl.log" | tail -1)
  if [ -n "$rawf" ] && [ -f "$rawf" ]; then
    if [ $first = 1 ]; then cat "$rawf" > "$P.raw.tsv"; else tail -n +2 "$rawf" >> "$P.raw.tsv"; fi
  fi
  [ -s "$ROOT/summary-$wl.tsv" ] && first=0
  awk -v wl="$wl" '{print wl "\t" $0}' "$wtimes" >> "$TIMES"
  # "[hh:mm:ss] workload large: {"files": 4, …, "bytes": …}  excludes=''"
  sed -n "s/^\[[0-9:]*\] workload $wl: \(.*\)  excludes=.*/\1/p" "$ROOT/stderr-$wl.log" | tail -1 |
    python3 -c 'import json,sys
t = sys.stdin.read().strip()
if t:
    d = json.loads(t); print("%s\t%s\t%s" % (sys.argv[1], d.get("files", ""), d.get("bytes", "")))' "$wl" >> "$WLTSV"
done
kill "$SAMPLER" 2>/dev/null; SAMPLER=""; sleep 0.3
[ -s "$OUTTSV" ] || die "the harness wrote no summary (exit $HRC); see $ERRLOG"

{
  echo
  echo "== harness summary (run-peers.sh; wall_*: conduit-peer = whole command incl. daemon start and pairing at init, syncthing = st-bench.py's timing) =="
  column -t -s $'\t' "$OUTTSV" 2>/dev/null || cat "$OUTTSV"
  python3 "$HERE/peer-report.py" "$P"
  echo
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); top samples: $LOADLOG"
  bench_contention "$LOADLOG" "$ERRLOG" "$ROOT"
  CLI_AT_END=$(bench_cli_id "$CLI")
  if [ "$CLI_AT_END" != "$CLI_AT_START" ]; then
    if [ "$SNAPSHOT" = 1 ]; then echo "# note: $CLI or conduitd was rebuilt during the run ($CLI_AT_END); the run used the snapshot $CLI_RUN_ID"
    else echo "# WARNING: the CLI or conduitd changed during the run ($CLI_AT_START -> $CLI_AT_END)"; fi
  fi
  echo "# files: $OUTTSV (summary), $P.raw.tsv (per run), $TIMES (run-only times), $CEILTSV (ceiling); harness logs under $ROOT/logs"
} | tee -a "$OUTTXT"
exit $HRC
