#!/usr/bin/env bash
# conduit-tool.sh - one phase of `conduit sync` for the shared peer harness
# (/work/shared/bench/run-peers.sh --tool 'conduit=…'), see README.md "Sync benchmark".
#
# Usage (as the harness's tool template; CONDUIT_HOME must be set, {state}/home):
#   CONDUIT_HOME={state}/home conduit-tool.sh {src} {dst} {phase} [EXCLUDE...]
#
# * Runs `node CLI sync SRC DST --mode mirror --force --json` once, prints its JSON and
#   `BENCH_BYTES=<report.bytes>`, and exits with the CLI's exit code.
# * With EXCLUDEs (the harness passes {excludes}: `node_modules` for `mixed`) and PHASE=init,
#   first adds both directories as locations with
#   `location add DIR --mode sync-complete --ignore EXCLUDE/ ... --no-index`, so that
#   everything but the excludes is synced (the default Standard mode of the locations that
#   `sync` adds would also skip `.git`). Two more CLI start-ups, inside the timed command.
# * CONDUIT_BENCH_VERSIONS=move-out: after the sync, renames DST/.conduit (Conduit's store of
#   overwritten/deleted files, which the harness's verifier counts as extra files) to
#   $CONDUIT_HOME/../versions-PHASE (same file system: one rename). Default: keep.
#
# Environment: CONDUIT_CLI (default <repo>/apps/cli/dist/main.js), NODE (default node).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cli=${CONDUIT_CLI:-$here/../../apps/cli/dist/main.js}
node=${NODE:-node}
[ $# -ge 3 ] || { echo "usage: CONDUIT_HOME=DIR $0 SRC DST PHASE [EXCLUDE...]" >&2; exit 2; }
[ -n "${CONDUIT_HOME:-}" ] || { echo "conduit-tool: CONDUIT_HOME is not set" >&2; exit 2; }
src=$1 dst=$2 phase=$3
shift 3

if [ "$phase" = init ] && [ $# -gt 0 ]; then
  ign=()
  for e in "$@"; do ign+=(--ignore "$e/"); done
  for d in "$src" "$dst"; do
    "$node" "$cli" location add "$d" --mode sync-complete "${ign[@]}" --no-index --json || exit $?
    echo
  done
fi

out=$("$node" "$cli" sync "$src" "$dst" --mode mirror --force --json)
rc=$?
printf '%s\n' "$out"
# report.bytes: "report":{"copied":…,"bytes":N,"skipped":[…]} (null with --dry-run)
bytes=$(printf '%s' "$out" | sed -n 's/.*"report":{[^}]*"bytes":\([0-9][0-9]*\).*/\1/p')
[ -n "$bytes" ] && echo "BENCH_BYTES=$bytes"

if [ "${CONDUIT_BENCH_VERSIONS:-keep}" = move-out ] && [ -e "$dst/.conduit" ]; then
  mv "$dst/.conduit" "$CONDUIT_HOME/../versions-$phase-$$" || rc=1
fi
exit $rc
