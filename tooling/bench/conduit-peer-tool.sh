#!/usr/bin/env bash
# conduit-peer-tool.sh - one phase of a cross-device mirror between two Conduit daemons on
# 127.0.0.1, for the shared peer harness (run-peers.sh --tool 'conduit-peer=…'); see README.md
# "Peer benchmark" and peer-bench.sh, which wraps it.
#
# Usage (as the harness's tool template):
#   conduit-peer-tool.sh {src} {dst} {phase} {state}
#
# * PHASE=init: starts daemon A (home STATE/a) and daemon B (home STATE/b), pairs them both
#   ways, adds DST as a location of B, pulls B's index into A, creates the mirror conduit
#   SRC → b:DST and runs it. Later phases run the same conduit again (`conduit run ID`), after
#   the harness changed SRC. The daemons keep running between phases; their pids are appended to
#   $CONDUIT_PEER_PIDS (peer-bench.sh also stops whatever is left) and any daemon of an earlier
#   repetition still found there is stopped first.
# * Prints the run's JSON, `BENCH_BYTES=<bytes received by B>`, and appends
#   "PHASE<TAB>seconds<TAB>exit<TAB>daemon-ms<TAB>transport<TAB>fs-write-MiB<TAB>rss-MiB" to
#   $CONDUIT_PEER_TIMES when set: seconds of the `conduit run` alone (no daemon start, pairing or
#   set-up; the CLI's start-up is included), its exit code, the run's `durationMs` as the daemon
#   reports it, the transport of the connection between A and B (tcp | quic, see transport()
#   below), what both daemons wrote to storage during the run (/proc/PID/io write_bytes) and the
#   larger daemon peak RSS (VmHWM since start) — the harness's fs_write and RSS columns only see
#   the CLI, not the daemons. A run killed by the harness's timeout appends nothing.
# * After each run, DST/.conduit (B's store of replaced files, which the harness's verifier would
#   count as extra files) is moved to STATE/versions-PHASE (one rename).
#
# * With CONDUIT_PEER_LAST=PHASE, the daemons are stopped (in the background, after the figures
#   are printed) once that phase has run: peer-bench.sh passes the last phase that applies to the
#   workload, so the daemons do not run on while Syncthing is measured.
#
# Environment: CONDUIT_CLI (default <repo>/apps/cli/dist/main.js), NODE (default node),
# CONDUIT_PEER_TRANSPORT (quic | tcp | both, default both: the daemons' default listen addresses).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cli=${CONDUIT_CLI:-$here/../../apps/cli/dist/main.js}
node=${NODE:-node}
[ $# -ge 4 ] || { echo "usage: $0 SRC DST PHASE STATE" >&2; exit 2; }
src=$1 dst=$2 phase=$3 state=$4
A=$state/a B=$state/b
ca() { CONDUIT_HOME=$A "$node" "$cli" "$@"; }
cb() { CONDUIT_HOME=$B "$node" "$cli" "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(" ".join(d) if isinstance(d, list) else d)' "$1"; }
daemon_fields() { python3 -c 'import json,sys; d=json.load(sys.stdin)["daemon"]
print(d["pid"], d["peerId"], " ".join(d["addresses"]))'; }
now() { date +%s.%N; }

listen=()
case "${CONDUIT_PEER_TRANSPORT:-both}" in
  quic) listen=(--listen /ip4/127.0.0.1/udp/0/quic-v1);;
  tcp) listen=(--listen /ip4/127.0.0.1/tcp/0);;
  both) ;;
  *) echo "conduit-peer-tool: CONDUIT_PEER_TRANSPORT must be quic, tcp or both" >&2; exit 2;;
esac

# Stops daemons of this tool: SIGTERM, up to 10 s, then SIGKILL. Only pids that are still a
# conduitd running in a home under STATE (the same path in every repetition), so a pid that was
# reused meanwhile is left alone.
stop_daemons() {  # PID...
  local pid mine="" alive=""
  for pid in "$@"; do
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'daemon/dist/main.js' || continue
    case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$state"/*) mine="$mine $pid";; esac
  done
  for pid in $mine; do kill "$pid" 2>/dev/null; done
  for _ in $(seq 100); do
    alive=""; for pid in $mine; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
    [ -z "$alive" ] && break; sleep 0.1
  done
  for pid in $alive; do kill -9 "$pid" 2>/dev/null; done
}

if [ "$phase" = init ]; then
  if [ -n "${CONDUIT_PEER_PIDS:-}" ] && [ -f "$CONDUIT_PEER_PIDS" ]; then
    # the previous repetition's daemons, if still there (a timed-out phase, no CONDUIT_PEER_LAST),
    # so that none of them still winds down while this repetition's daemons start
    stop_daemons $(cat "$CONDUIT_PEER_PIDS")
    : > "$CONDUIT_PEER_PIDS"
  fi
  mkdir -p "$A" "$B"
  sa=$(ca daemon start "${listen[@]}" --json) || { echo "$sa"; exit 1; }
  sb=$(cb daemon start "${listen[@]}" --json) || { echo "$sb"; exit 1; }
  # one python3 per JSON (each start-up costs 0.03-0.15 s, and init's harness wall includes it)
  read -r pida ida addra <<< "$(daemon_fields <<< "$sa")"
  read -r pidb idb addrb <<< "$(daemon_fields <<< "$sb")"
  printf '%s\n%s\n' "$pida" "$pidb" > "$state/pids"
  [ -n "${CONDUIT_PEER_PIDS:-}" ] && cat "$state/pids" >> "$CONDUIT_PEER_PIDS"
  # both daemons' TCP listen ports, to tell afterwards whether A and B talk over TCP (transport())
  printf '%s\n' $addra $addrb | sed -n 's|^/ip4/[^/]*/tcp/\([0-9]*\).*|\1|p' > "$state/tcp-ports"
  addr=(); for x in $addrb; do addr+=(--addr "$x"); done
  fail() { echo "conduit-peer-tool: $1 failed (exit $2)"; exit 1; }
  ca peer add "$idb" "${addr[@]}" --name bee > /dev/null || fail "A: peer add B" $?
  addr=(); for x in $addra; do addr+=(--addr "$x"); done
  cb peer add "$ida" "${addr[@]}" --name ay > /dev/null || fail "B: peer add A" $?
  cb location add "$dst" > /dev/null || fail "B: location add DST" $?
  ca peer pull "$idb" > /dev/null || fail "A: peer pull B" $?
  made=$(ca conduit create "$src" "bee:$dst" --mode mirror --json) || { echo "$made"; fail "A: conduit create" 1; }
  field conduit.id <<< "$made" > "$state/conduit-id"
fi

# Which transport the connection between A and B uses: `tcp` when an established TCP connection to
# one of their TCP listen ports exists right after the run, else `quic` (inferred: QUIC's UDP
# sockets are unconnected, so `ss` cannot show them), `?` when `ss` is missing.
transport() {
  case "${CONDUIT_PEER_TRANSPORT:-both}" in quic|tcp) echo "$CONDUIT_PEER_TRANSPORT"; return;; esac
  command -v ss > /dev/null || { echo "?"; return; }
  local p
  for p in $(cat "$state/tcp-ports" 2>/dev/null); do
    [ -n "$(ss -Htn state established "( dport = :$p )" 2>/dev/null)" ] && { echo tcp; return; }
  done
  echo quic
}

# The daemons' own figures, as st-bench.py takes Syncthing's: bytes written to storage by A and B
# (/proc/PID/io write_bytes, delta over the run) and the larger peak RSS (VmHWM, since start).
daemon_io() {  # -> "write_bytes_sum max_vmhwm_kib"
  local p w=0 h=0 x
  for p in $(cat "$state/pids" 2>/dev/null); do
    x=$(sed -n 's/^write_bytes:[[:space:]]*//p' "/proc/$p/io" 2>/dev/null); w=$((w + ${x:-0}))
    x=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$p/status" 2>/dev/null); [ "${x:-0}" -gt "$h" ] && h=$x
  done
  echo "$w $h"
}

id=$(cat "$state/conduit-id" 2>/dev/null) || { echo "conduit-peer-tool: no conduit in $state (init did not complete)"; exit 1; }
read -r w0 _ < <(daemon_io)
t0=$(now)
out=$(ca run "$id" --json)
rc=$?
t1=$(now)
read -r w1 hwm < <(daemon_io)
# No python3 from here on: this bookkeeping is inside the harness's timed command.
printf '%s\n' "$out"
read -r secs fsw rss < <(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v h="$hwm" \
  'BEGIN { printf "%.3f %.1f %.1f\n", b - a, (w1 - w0) / 1048576, h / 1024 }')
# top-level "bytes" comes before the per-operation lists, "durationMs" is the last key
bytes=$(printf '%s' "$out" | grep -o '"bytes":[[:space:]]*[0-9]*' | head -1 | grep -o '[0-9]*$')
dms=$(printf '%s' "$out" | grep -o '"durationMs":[[:space:]]*[0-9.]*' | tail -1 | grep -o '[0-9.]*$')
via=$(transport)
echo "conduit run: $secs s (exit $rc, ${dms:--} ms in the daemon, via $via; daemons wrote $fsw MiB, peak RSS $rss MiB)"
[ -n "${CONDUIT_PEER_TIMES:-}" ] &&
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$secs" "$rc" "${dms:--}" "$via" "$fsw" "$rss" >> "$CONDUIT_PEER_TIMES"
[ -n "$bytes" ] && echo "BENCH_BYTES=$bytes"
if [ -e "$dst/.conduit" ]; then
  mv "$dst/.conduit" "$state/versions-$phase-$$" || rc=1
fi
# After the repetition's last phase the daemons go, in the background (outside the timed part as
# far as possible: the harness's `time` waits for this script only), so that they are not idling,
# or reacting to the harness deleting their trees, while the next tool is measured.
if [ "$phase" = "${CONDUIT_PEER_LAST:-}" ]; then
  ( stop_daemons $(cat "$state/pids" 2>/dev/null) ) < /dev/null > /dev/null 2>&1 &
fi
exit $rc
