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
#   $CONDUIT_PEER_PIDS (peer-bench.sh stops them) and any daemon of an earlier repetition found
#   there is stopped first.
# * Prints the run's JSON, `BENCH_BYTES=<bytes received by B>`, and appends
#   "PHASE<TAB>seconds" of the `conduit run` alone (no daemon start, pairing or set-up; the
#   CLI's start-up is included) to $CONDUIT_PEER_TIMES when set.
# * After each run, DST/.conduit (B's store of replaced files, which the harness's verifier would
#   count as extra files) is moved to STATE/versions-PHASE (one rename).
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
now() { date +%s.%N; }

listen=()
case "${CONDUIT_PEER_TRANSPORT:-both}" in
  quic) listen=(--listen /ip4/127.0.0.1/udp/0/quic-v1);;
  tcp) listen=(--listen /ip4/127.0.0.1/tcp/0);;
  both) ;;
  *) echo "conduit-peer-tool: CONDUIT_PEER_TRANSPORT must be quic, tcp or both" >&2; exit 2;;
esac

if [ "$phase" = init ]; then
  if [ -n "${CONDUIT_PEER_PIDS:-}" ] && [ -f "$CONDUIT_PEER_PIDS" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null; done < "$CONDUIT_PEER_PIDS"
    : > "$CONDUIT_PEER_PIDS"
  fi
  mkdir -p "$A" "$B"
  sa=$(ca daemon start "${listen[@]}" --json) || { echo "$sa"; exit 1; }
  sb=$(cb daemon start "${listen[@]}" --json) || { echo "$sb"; exit 1; }
  if [ -n "${CONDUIT_PEER_PIDS:-}" ]; then
    printf '%s\n%s\n' "$(field daemon.pid <<< "$sa")" "$(field daemon.pid <<< "$sb")" >> "$CONDUIT_PEER_PIDS"
  fi
  ida=$(field daemon.peerId <<< "$sa") idb=$(field daemon.peerId <<< "$sb")
  addr=(); for x in $(field daemon.addresses <<< "$sb"); do addr+=(--addr "$x"); done
  ca peer add "$idb" "${addr[@]}" --name bee > /dev/null || exit 1
  addr=(); for x in $(field daemon.addresses <<< "$sa"); do addr+=(--addr "$x"); done
  cb peer add "$ida" "${addr[@]}" --name ay > /dev/null || exit 1
  cb location add "$dst" > /dev/null || exit 1
  ca peer pull "$idb" > /dev/null || exit 1
  made=$(ca conduit create "$src" "bee:$dst" --mode mirror --json) || { echo "$made"; exit 1; }
  field conduit.id <<< "$made" > "$state/conduit-id"
fi

id=$(cat "$state/conduit-id") || exit 1
t0=$(now)
out=$(ca run "$id" --json)
rc=$?
t1=$(now)
printf '%s\n' "$out"
secs=$(python3 -c "print('%.3f' % ($t1 - $t0))")
echo "conduit run: $secs s"
[ -n "${CONDUIT_PEER_TIMES:-}" ] && printf '%s\t%s\n' "$phase" "$secs" >> "$CONDUIT_PEER_TIMES"
bytes=$(printf '%s' "$out" | python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("bytes", ""))
except Exception: print("")')
[ -n "$bytes" ] && echo "BENCH_BYTES=$bytes"
if [ -e "$dst/.conduit" ]; then
  mv "$dst/.conduit" "$state/versions-$phase-$$" || rc=1
fi
exit $rc
