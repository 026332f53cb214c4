# bench-lib.sh - shared pieces of sync-bench.sh and peer-bench.sh (sourced, not run).
#
#   bench_cli_sum CLI            short hash of the launcher (main.js), the bundle (cli.cjs) beside it
#                                and, when present, the daemon (conduitd) the CLI would start
#   bench_cli_id CLI             "<hash> built <bundle's mtime>"
#   bench_snapshot_cli CLI DIR   copies the CLI (and conduitd) to DIR, prints DIR/main.js
#   bench_start_sampler FILE     `top` every 5 s into FILE (rows >= 5 % CPU); sets BENCH_SAMPLER
#   bench_contention FILE STDERR ROOT   the contention report (contention.py)
BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The conduitd that a CLI at $1 starts: the @conduit/daemon package its node_modules resolves.
bench_daemon_main() {
  local pkg
  pkg=$(cd "$(dirname "$1")" && node -e 'const r = require("node:module").createRequire(process.cwd() + "/x.js")
try { const p = r.resolve("@conduit/daemon/package.json"); const m = require(p)
  console.log(require("node:path").resolve(require("node:path").dirname(p), m.bin.conduitd)) } catch { }' 2>/dev/null)
  [ -n "$pkg" ] && [ -f "$pkg" ] && echo "$pkg"
}

bench_cli_sum() {
  local d; d=$(bench_daemon_main "$1")
  cat "$1" "$(dirname "$1")/cli.cjs" ${d:+"$d"} 2>/dev/null | sha256sum | cut -c1-12
}

bench_cli_id() {
  local bundle; bundle=$(dirname "$1")/cli.cjs
  echo "$(bench_cli_sum "$1") built $(date -u -r "$bundle" +%Y-%m-%dT%H:%MZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%MZ)"
}

# Copies main.js (launcher) and cli.cjs (bundle) to DIR (with package.json {"type":"module"}) and
# builds DIR/node_modules: a symlink to every entry of the CLI's node_modules (better-sqlite3,
# blake3, @parcel/watcher … load from there), except @conduit/daemon, which is copied too
# (package.json and dist/*.js, with a node_modules symlink to the daemon's own), so that
# `conduit daemon start` runs the snapshot's conduitd. A rebuild during the run changes nothing.
bench_snapshot_cli() {  # $1 CLI main.js  $2 DIR  -> prints DIR/main.js
  local cli=$1 dir=$2 nm e s name d dpkg
  nm=$(cd "$(dirname "$cli")/.." && pwd)/node_modules
  rm -rf "$dir"; mkdir -p "$dir/node_modules/@conduit"
  cp "$cli" "$dir/main.js" || return 1
  [ -f "$(dirname "$cli")/cli.cjs" ] && { cp "$(dirname "$cli")/cli.cjs" "$dir/cli.cjs" || return 1; }
  echo '{"type":"module"}' > "$dir/package.json"
  for e in "$nm"/*; do
    name=$(basename "$e")
    case "$name" in
      @*) mkdir -p "$dir/node_modules/$name"
          for s in "$e"/*; do
            [ "$name/$(basename "$s")" = @conduit/daemon ] && continue
            ln -s "$(readlink -f "$s")" "$dir/node_modules/$name/$(basename "$s")"
          done;;
      *) ln -s "$(readlink -f "$e")" "$dir/node_modules/$name";;
    esac
  done
  if [ -e "$nm/@conduit/daemon" ]; then
    dpkg=$(readlink -f "$nm/@conduit/daemon")
    d=$dir/node_modules/@conduit/daemon
    mkdir -p "$d/dist"
    cp "$dpkg/package.json" "$d/" && cp "$dpkg"/dist/*.js "$d/dist/" || return 1
    ln -s "$dpkg/node_modules" "$d/node_modules"
  fi
  echo "$dir/main.js"
}

# load sampler: `top` every 5 s (batch mode, full command lines), processes at >= 5 % CPU. Used
# afterwards to report what else ran during each tool's repetitions (light, untimed).
bench_start_sampler() {  # $1 output file
  top -b -c -d 5 -w 400 2>/dev/null > >(awk '
    /^top - /{print "== " $3 " load " $(NF-2) " " $(NF-1) " " $NF; fflush(); hdr=1; next}
    /^ *PID /{hdr=0; next}
    hdr==0 && NF >= 12 && $9+0 >= 5 {print; fflush()}' > "$1") &
  BENCH_SAMPLER=$!
}

bench_contention() {  # $1 top samples  $2 harness stderr  $3 ROOT
  python3 "$BENCH_LIB_DIR/contention.py" "$@"
}
