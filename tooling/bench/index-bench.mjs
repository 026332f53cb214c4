#!/usr/bin/env node
// Index benchmark: whole-process wall time and peak RSS of `conduit index` against
// reference tools (find stat walk, b3sum, rsync -a, node start-up) on the synthetic trees of
// /work/shared/bench/gen.py. Plain Node (>= 20) ESM, standard library only.
// See README.md next to this file.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = Path.dirname(fileURLToPath(import.meta.url))
const repo = Path.resolve(here, "..", "..")
const GEN = process.env.BENCH_GEN ?? "/work/shared/bench/gen.py"
const TIME = "/usr/bin/time"
const ALL_WORKLOADS = ["many-small", "large", "100k"]

const USAGE = `usage: node tooling/bench/index-bench.mjs [options]

Whole-process benchmark of 'conduit index' (wall seconds and max RSS from GNU time),
median/min/max over repetitions, against find / b3sum / rsync -a / node start-up.

options:
  --reps N             repetitions per measurement (default 5)
  --root DIR           scratch root (default \${TMPDIR:-/tmp}/conduit-bench); generated
                       trees are kept in ROOT/gen and reused
  --scale F            gen.py --scale for every workload (default 1; e.g. 0.05 for a smoke run;
                       the 100k workload uses 5 x F)
  --workloads LIST     comma-separated subset of: ${ALL_WORKLOADS.join(",")} (default: all)
  --with-100k          include the 100,000-file RSS workload (default on; ~850 MiB of disk)
  --no-with-100k       leave it out
  --cli PATH           the CLI entry point (default <repo>/apps/cli/dist/main.js)
  --timeout SEC        per-command time limit (default 900); a run over it is recorded as TIMEOUT
  --keep               keep the per-repetition work trees and CONDUIT_HOMEs (ROOT/work)
  -h, --help           this text

Environment: TMPDIR (default root), BENCH_GEN (path of gen.py, default ${GEN}).
Raw rows go to tooling/bench/results/index-<stamp>.local.tsv, the printed report to
tooling/bench/results/index-<stamp>.local.txt.`

// ---------------------------------------------------------------------------- options

let opts
try {
  opts = parseArgs({
    allowNegative: true,
    options: {
      reps: { type: "string", default: "5" },
      root: { type: "string", default: Path.join(process.env.TMPDIR || "/tmp", "conduit-bench") },
      scale: { type: "string", default: "1" },
      workloads: { type: "string", default: ALL_WORKLOADS.join(",") },
      "with-100k": { type: "boolean", default: true },
      cli: { type: "string", default: Path.join(repo, "apps", "cli", "dist", "main.js") },
      timeout: { type: "string", default: "900" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false }
    }
  }).values
} catch (e) {
  console.error(`${e.message}\n\n${USAGE}`)
  process.exit(2)
}
if (opts.help) {
  console.log(USAGE)
  process.exit(0)
}
const die = (msg) => {
  console.error(`index-bench: ${msg}`)
  process.exit(2)
}
const reps = Number(opts.reps)
if (!Number.isInteger(reps) || reps < 1) die(`--reps must be a positive integer, got ${opts.reps}`)
const scale = Number(opts.scale)
if (!(scale > 0)) die(`--scale must be a positive number, got ${opts.scale}`)
const timeoutSec = Number(opts.timeout)
if (!(timeoutSec > 0)) die(`--timeout must be a positive number, got ${opts.timeout}`)
const workloads = opts.workloads.split(",").map((s) => s.trim()).filter(Boolean)
for (const w of workloads) if (!ALL_WORKLOADS.includes(w)) die(`unknown workload '${w}' (known: ${ALL_WORKLOADS.join(", ")})`)
if (!opts["with-100k"]) workloads.splice(0, workloads.length, ...workloads.filter((w) => w !== "100k"))
const root = Path.resolve(opts.root)
const cli = Path.resolve(opts.cli)
if (!Fs.existsSync(cli)) die(`CLI not found at ${cli} (build it: pnpm --filter @conduit/cli build, or pass --cli)`)
if (!Fs.existsSync(TIME)) die(`${TIME} not found (Debian package 'time')`)
if (!Fs.existsSync(GEN)) die(`gen.py not found at ${GEN} (set BENCH_GEN)`)

// ---------------------------------------------------------------------------- helpers

const genDir = Path.join(root, "gen")
const workDir = Path.join(root, "work")
const resultsDir = Path.join(here, "results")
const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
const tsvPath = Path.join(resultsDir, `index-${stamp}.local.tsv`)
const txtPath = Path.join(resultsDir, `index-${stamp}.local.txt`)
const logPath = Path.join(resultsDir, `index-${stamp}.local.log`)
const timeFile = Path.join(workDir, "time.out")
const MiB = 1024 * 1024

const log = (msg) => process.stderr.write(`${msg}\n`)
const rmrf = (p) => Fs.rmSync(p, { recursive: true, force: true })

/** Runs a command untimed; throws with its stderr when it fails. */
const untimed = (argv, options = {}) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 256 * MiB, ...options })
  if (r.error) throw new Error(`${argv.join(" ")}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status ?? r.signal}: ${(r.stderr || "").trim()}`)
  return r.stdout ?? ""
}
const firstLine = (argv) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" })
  return r.status === 0 ? (r.stdout || r.stderr).split("\n")[0].trim() : null
}

/** Busy CPU seconds of the whole machine so far (all CPUs, steal and idle/iowait excluded). */
const CLK_TCK = Number(firstLine(["getconf", "CLK_TCK"])) || 100
const machineBusy = () => {
  try {
    const f = Fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal ...
    return (f[0] + f[1] + f[2] + f[5] + f[6]) / CLK_TCK
  } catch {
    return NaN
  }
}
const NCPU = Os.cpus().length

/**
 * One timed run: `sync` (untimed), then
 * `/usr/bin/time -f "%e %M %U %S" -o FILE timeout SEC argv...`.
 * Returns wall seconds (%e, 10 ms resolution), max RSS in KiB (%M: the largest single process
 * of the tree), user+sys CPU seconds of the command, a ns-clock wall time of the same run, the
 * CPU the rest of the machine used meanwhile (other processes, kernel threads: a sign of
 * contention on a shared VM), exit status and the output.
 */
const timed = (argv, { env, captureStdout = false } = {}) => {
  spawnSync("sync")
  rmrf(timeFile)
  const full = ["-f", "%e %M %U %S", "-o", timeFile, "timeout", "-k", "10", String(timeoutSec), ...argv]
  const busy0 = machineBusy()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(TIME, full, {
    env: env ?? process.env,
    encoding: "utf8",
    maxBuffer: 256 * MiB,
    stdio: ["ignore", captureStdout ? "pipe" : "ignore", "pipe"]
  })
  const hr = Number(process.hrtime.bigint() - t0) / 1e9
  const busy = machineBusy() - busy0
  let wall = NaN
  let rssKiB = NaN
  let cpu = NaN
  const lines = Fs.existsSync(timeFile) ? Fs.readFileSync(timeFile, "utf8").trim().split("\n") : []
  const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(lines[lines.length - 1] ?? "")
  if (m) {
    wall = Number(m[1])
    rssKiB = Number(m[2])
    cpu = Number(m[3]) + Number(m[4])
  }
  const otherPct = Math.max(0, busy - (Number.isFinite(cpu) ? cpu : 0)) / (hr * NCPU) * 100
  const rc = r.error ? -1 : r.status ?? -1
  const status = r.error ? `ERROR(${r.error.message})` : rc === 0 ? "ok" : rc === 124 || rc === 137 ? "TIMEOUT" : `RC=${rc}`
  return { wall, rssKiB, cpu, otherPct, hr, rc, status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" }
}

/**
 * The scan summary from `conduit index --json`: the last stdout line that parses as JSON.
 * Accepts `{scans: [summary...]}` (summed over scans) or a bare summary.
 */
const parseSummary = (stdout) => {
  const lines = stdout.split("\n").map((l) => l.trim()).filter(Boolean)
  for (let i = lines.length - 1; i >= 0; i--) {
    let doc
    try {
      doc = JSON.parse(lines[i])
    } catch {
      continue
    }
    const scans = Array.isArray(doc?.scans) ? doc.scans : doc && typeof doc.filesHashed === "number" ? [doc] : null
    if (scans === null) continue
    const sum = (k) => scans.reduce((a, s) => a + (Number(s[k]) || 0), 0)
    return {
      scans: scans.length,
      entriesSeen: sum("entriesSeen"),
      added: sum("added"),
      modified: sum("modified"),
      moved: sum("moved"),
      deleted: sum("deleted"),
      filesHashed: sum("filesHashed"),
      bytesHashed: sum("bytesHashed"),
      durationMs: sum("durationMs"),
      problems: scans.reduce((a, s) => a + (Array.isArray(s.problems) ? s.problems.length : 0), 0),
      errors: Array.isArray(doc.errors) ? doc.errors.length : 0
    }
  }
  return null
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const h = Math.floor(s.length / 2)
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2
}
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-")

// ---------------------------------------------------------------------------- result rows

const TSV_COLS = [
  "stamp", "workload", "phase", "rep", "wall_s", "wall_ns_clock_s", "maxrss_kib", "cpu_user_sys_s", "other_cpu_pct", "status", "check",
  "files_expected", "entries_seen", "files_hashed", "bytes_hashed", "added", "modified", "moved", "deleted",
  "problems", "scan_ms", "note"
]
const rows = []
const record = (row) => {
  const full = { stamp, ...row }
  rows.push(full)
  Fs.appendFileSync(tsvPath, TSV_COLS.map((c) => (full[c] === undefined || full[c] === null ? "" : String(full[c]))).join("\t") + "\n")
  const extra = row.check && row.check !== "ok" ? `  [${row.check}]` : ""
  log(`  ${row.workload} ${row.phase} #${row.rep}: ${fmt(row.wall_s)} s, ${fmt(row.maxrss_kib / 1024, 1)} MiB, ${row.status}${extra}${row.note ? `  (${row.note})` : ""}`)
}

/**
 * What went wrong in a failed run, in one line (the first line that names an error, else the
 * first line of stderr); the whole stderr and stdout go to the .local.log file.
 */
const failure = (label, r) => {
  Fs.appendFileSync(logPath, `=== ${label}: ${r.status}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}\n`)
  const lines = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean)
  const line = lines.find((l) => /^[\w.]*(Error|Exception)\b.*:/.test(l)) ??
    lines.find((l) => /error|exception|cannot|failed/i.test(l)) ?? lines[0] ?? r.stdout.trim().slice(0, 200)
  return `${r.status}: ${line.slice(0, 300)}`
}

/** Times a reference command and records it. */
const reference = (workload, phase, rep, argv, note) => {
  const r = timed(argv)
  record({ workload, phase, rep, wall_s: r.wall, wall_ns_clock_s: r.hr.toFixed(4), maxrss_kib: r.rssKiB, cpu_user_sys_s: r.cpu.toFixed(2), other_cpu_pct: r.otherPct.toFixed(1), status: r.status, check: r.status === "ok" ? "ok" : failure(`${workload} / ${phase} #${rep}`, r), note })
}

/**
 * Times `conduit index DIR --json` with CONDUIT_HOME=home and records it with the summary.
 * `expect(summary)` returns "ok" or what is wrong.
 */
const indexRun = (workload, phase, rep, dir, home, filesExpected, expect, note) => {
  const r = timed([process.execPath, cli, "index", dir, "--json"], { env: { ...process.env, CONDUIT_HOME: home, NO_COLOR: "1" }, captureStdout: true })
  const s = parseSummary(r.stdout)
  let check
  if (r.status !== "ok") check = failure(`${workload} / ${phase} #${rep}`, r)
  else if (s === null) check = `no scan summary in stdout: ${JSON.stringify(r.stdout.slice(0, 200))}`
  else if (s.errors > 0) check = `${s.errors} error(s) in JSON`
  else check = expect(s)
  record({
    workload, phase, rep, wall_s: r.wall, wall_ns_clock_s: r.hr.toFixed(4), maxrss_kib: r.rssKiB, cpu_user_sys_s: r.cpu.toFixed(2), other_cpu_pct: r.otherPct.toFixed(1), status: r.status, check,
    files_expected: filesExpected, entries_seen: s?.entriesSeen, files_hashed: s?.filesHashed, bytes_hashed: s?.bytesHashed,
    added: s?.added, modified: s?.modified, moved: s?.moved, deleted: s?.deleted, problems: s?.problems, scan_ms: s?.durationMs,
    note
  })
  return s
}

// ---------------------------------------------------------------------------- workloads

/** Generates (once) a pristine tree; returns { dir, files, bytes }. */
const ensureTree = (kind, seed, treeScale) => {
  const name = `${kind}-s${seed}-x${treeScale}`
  const dir = Path.join(genDir, name)
  const meta = `${dir}.json`
  if (Fs.existsSync(meta) && Fs.existsSync(dir)) {
    const info = JSON.parse(Fs.readFileSync(meta, "utf8"))
    log(`reusing ${dir} (${info.files} files, ${fmt(info.bytes / MiB, 1)} MiB)`)
    return { dir, ...info }
  }
  rmrf(dir)
  rmrf(meta)
  log(`generating ${dir} (gen.py gen ${kind} --seed ${seed} --scale ${treeScale}) ...`)
  const out = untimed(["python3", GEN, "gen", kind, dir, "--seed", String(seed), "--scale", String(treeScale)])
  const info = JSON.parse(out.trim().split("\n").pop())
  Fs.writeFileSync(meta, JSON.stringify(info) + "\n")
  log(`  ${info.files} files, ${fmt(info.bytes / MiB, 1)} MiB in ${info.gen_seconds} s`)
  return { dir, ...info }
}

const haveB3sum = spawnSync("b3sum", ["--version"]).status === 0
const b3sumArgv = (dir) => ["bash", "-c", 'find "$1" -type f -print0 | xargs -0 b3sum > /dev/null', "b3sum-walk", dir]
const findArgv = (dir) => ["find", dir, "-printf", "%s %T@ %i %p\\n"]

/**
 * Reads every file of a tree once (untimed), so that the timed runs on a pristine tree start
 * from a warm page cache like the many-small copy does (a VM may reclaim cold page cache on its
 * own, e.g. DAMON-based reclaim, even with plenty of free memory).
 */
const warm = (dir) => untimed(["bash", "-c", 'find "$1" -type f -print0 | xargs -0 cat > /dev/null', "warm", dir])

const freshHome = (label, rep) => {
  const h = Path.join(workDir, `home-${label}-${rep}`)
  rmrf(h)
  Fs.mkdirSync(h, { recursive: true })
  return h
}

const firstIndexCheck = (files) => (s) =>
  s.filesHashed === files ? "ok" : `filesHashed ${s.filesHashed} != ${files} files`
const noopCheck = (s) => (s.filesHashed === 0 ? "ok" : `filesHashed ${s.filesHashed} != 0`)

const runManySmall = (tree, rep) => {
  const wl = "many-small"
  const copy = Path.join(workDir, "many-small-tree")
  const home = freshHome(wl, rep)
  rmrf(copy)
  untimed(["cp", "-a", tree.dir, copy])
  indexRun(wl, "first index", rep, copy, home, tree.files, firstIndexCheck(tree.files))
  indexRun(wl, "no-op rescan", rep, copy, home, tree.files, noopCheck)
  reference(wl, "ref: find stat walk", rep, findArgv(copy))
  if (haveB3sum) reference(wl, "ref: b3sum all files", rep, b3sumArgv(copy))
  const dst = Path.join(workDir, "rsync-dst")
  rmrf(dst)
  Fs.mkdirSync(dst, { recursive: true })
  reference(wl, "ref: rsync -a copy", rep, ["rsync", "-a", `${copy}/`, `${dst}/`])
  rmrf(dst)
  const m = JSON.parse(untimed(["python3", GEN, "mutate", copy, "--seed", String(rep)]).trim().split("\n").pop())
  const filesAfter = m.files_before - m.deleted + m.added
  const want = `mutate: ${m.modified} modified, ${m.added} added, ${m.deleted} deleted, ${m.renamed} renamed`
  // The indexer counts a directory whose mtime changed (an entry was added, removed or renamed
  // in it) as modified too, so "modified" is at least the number of rewritten files; the files
  // hashed must be exactly the rewritten plus the new ones (a move is found without rehashing
  // when the inode is kept, as with rename(2)).
  indexRun(wl, "rescan after 1 % changes", rep, copy, home, filesAfter, (s) => {
    const wrong = []
    if (s.added !== m.added) wrong.push(`added ${s.added} vs ${m.added}`)
    if (s.deleted !== m.deleted) wrong.push(`deleted ${s.deleted} vs ${m.deleted}`)
    if (s.moved !== m.renamed) wrong.push(`moved ${s.moved} vs ${m.renamed} renamed`)
    if (s.modified < m.modified) wrong.push(`modified ${s.modified} < ${m.modified}`)
    if (s.filesHashed !== m.modified + m.added) wrong.push(`filesHashed ${s.filesHashed} vs ${m.modified + m.added} rewritten + new`)
    return wrong.length === 0 ? "ok" : `differs from ${want}: ${wrong.join(", ")}`
  }, want)
  if (!opts.keep) {
    rmrf(copy)
    rmrf(home)
  }
}

const runLarge = (tree, rep) => {
  const wl = "large"
  const home = freshHome(wl, rep)
  warm(tree.dir)
  indexRun(wl, "first index", rep, tree.dir, home, tree.files, firstIndexCheck(tree.files))
  indexRun(wl, "no-op rescan", rep, tree.dir, home, tree.files, noopCheck)
  reference(wl, "ref: find stat walk", rep, findArgv(tree.dir))
  if (haveB3sum) reference(wl, "ref: b3sum all files", rep, b3sumArgv(tree.dir))
  if (!opts.keep) rmrf(home)
}

const run100k = (tree, rep) => {
  const wl = "100k"
  const home = freshHome(wl, rep)
  warm(tree.dir)
  indexRun(wl, "first index", rep, tree.dir, home, tree.files, firstIndexCheck(tree.files))
  indexRun(wl, "no-op rescan", rep, tree.dir, home, tree.files, noopCheck)
  if (!opts.keep) rmrf(home)
}

// ---------------------------------------------------------------------------- main

Fs.mkdirSync(genDir, { recursive: true })
Fs.mkdirSync(workDir, { recursive: true })
Fs.mkdirSync(resultsDir, { recursive: true })
Fs.writeFileSync(tsvPath, TSV_COLS.join("\t") + "\n")

const gitRev = firstLine(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
const gitDirty = spawnSync("git", ["-C", repo, "status", "--porcelain", "--", "apps", "packages"], { encoding: "utf8" }).stdout?.trim() ? " (apps/packages modified)" : ""
const cliVersion = firstLine([process.execPath, cli, "--version"])
/** The CLI bundle's mtime and content hash: a rebuild during the run is reported at the end. */
const cliFingerprint = () => {
  const st = Fs.statSync(cli)
  return `${st.mtime.toISOString()} sha256:${createHash("sha256").update(Fs.readFileSync(cli)).digest("hex").slice(0, 12)}`
}
const cliAtStart = cliFingerprint()
let free = "?"
try {
  const st = Fs.statfsSync(root)
  free = `${fmt((st.bavail * st.bsize) / 2 ** 30, 1)} GiB`
} catch {}
const header = [
  `index-bench ${stamp}`,
  `  cli: ${cli} (${cliVersion ?? "--version failed"}; built ${cliAtStart}), repo ${gitRev ?? "?"}${gitDirty}`,
  `  node ${process.version}, ${Os.cpus().length} CPUs, ${fmt(Os.totalmem() / 2 ** 30, 1)} GiB RAM, ${Os.release()}`,
  `  tools: ${firstLine(["rsync", "--version"]) ?? "rsync: not available"}; ${haveB3sum ? firstLine(["b3sum", "--version"]) : "b3sum: not available"}; ${firstLine(["find", "--version"])}`,
  `  reps ${reps}, scale ${scale}, workloads ${workloads.join(",")}, root ${root} (${free} free)`,
  `  wall = GNU time %e (10 ms resolution); clock = ns clock around the same run (includes ~2 ms to start time + timeout);`,
  `  RSS = GNU time %M (largest single process); cpu = user+sys of the command (%U+%S);`,
  `  other CPU % = busy CPU of the rest of the machine during the run, in % of all ${NCPU} CPUs (contention);`,
  `  warm page cache; sync before each timed command`
]
log(header.join("\n"))
if (!haveB3sum) log("b3sum: not available (Debian package b3sum)")

const trees = {}
if (workloads.includes("many-small")) trees["many-small"] = ensureTree("many-small", 1, scale)
if (workloads.includes("large")) trees.large = ensureTree("large", 1, scale)
if (workloads.includes("100k")) trees["100k"] = ensureTree("many-small", 2, Number((5 * scale).toFixed(6)))

for (let rep = 1; rep <= reps; rep++) {
  log(`--- repetition ${rep}/${reps}`)
  reference("-", "ref: node -e 0", rep, [process.execPath, "-e", "0"])
  if (trees["many-small"]) runManySmall(trees["many-small"], rep)
  if (trees.large) runLarge(trees.large, rep)
  if (trees["100k"]) run100k(trees["100k"], rep)
}

// ---------------------------------------------------------------------------- report

const groups = new Map()
for (const r of rows) {
  const key = `${r.workload}\u0000${r.phase}`
  if (!groups.has(key)) groups.set(key, [])
  groups.get(key).push(r)
}
const stats = (workload, phase) => {
  const g = groups.get(`${workload}\u0000${phase}`)
  if (!g) return null
  const ok = g.filter((r) => r.status === "ok")
  const walls = ok.map((r) => r.wall_s)
  const rss = ok.map((r) => r.maxrss_kib / 1024)
  return {
    n: ok.length, total: g.length, rows: g, ok,
    med: median(walls), min: Math.min(...walls), max: Math.max(...walls),
    clock: median(ok.map((r) => Number(r.wall_ns_clock_s))),
    cpu: median(ok.map((r) => Number(r.cpu_user_sys_s))),
    other: median(ok.map((r) => Number(r.other_cpu_pct))),
    rssMed: median(rss), rssMax: Math.max(...rss),
    bad: g.filter((r) => r.status !== "ok" || r.check !== "ok")
  }
}

const notesFor = (workload, phase, s) => {
  const first = s.ok[0]
  if (!first) return ""
  if (phase === "first index" || phase === "no-op rescan") {
    if (first.files_hashed === undefined) return ""
    const bytes = median(s.ok.map((r) => r.bytes_hashed))
    let n = `hashed ${first.files_hashed}/${first.files_expected} files, ${fmt(bytes / MiB, 1)} MiB; scan ${fmt(median(s.ok.map((r) => r.scan_ms)) / 1000, 2)} s in-process`
    if (workload === "large" && phase === "first index") n += `; ${fmt(bytes / 1e9 / s.clock, 2)} GB/s whole-process`
    return n
  }
  if (phase === "rescan after 1 % changes") {
    const med = (k) => median(s.ok.map((r) => r[k]))
    return `+${med("added")} ~${med("modified")} >${med("moved")} -${med("deleted")} (added/modified incl. dirs/moved/deleted, median), hashed ${med("files_hashed")}; scan ${fmt(med("scan_ms") / 1000, 2)} s in-process`
  }
  return ""
}

const table = [["workload", "phase", "n", "median s", "min s", "max s", "clock med s", "RSS MiB med", "RSS MiB max", "cpu s med", "other CPU %", "checks", "notes"]]
for (const [key, g] of groups) {
  const [workload, phase] = key.split("\u0000")
  const s = stats(workload, phase)
  const checks = s.bad.length === 0 ? "ok" : `${s.bad.length}/${g.length} FAILED`
  table.push([workload, phase, `${s.n}`, fmt(s.med), fmt(s.min), fmt(s.max), fmt(s.clock, 3), fmt(s.rssMed, 1), fmt(s.rssMax, 1), fmt(s.cpu), fmt(s.other, 0), checks, notesFor(workload, phase, s)])
}
if (!haveB3sum) table.push(["-", "b3sum: not available", "", "", "", "", "", "", "", "", "", "", "Debian package b3sum"])
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)))
const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10])
const fmtRow = (row) => row.map((c, i) => (i === row.length - 1 ? c : numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd()
const out = [...header, "", fmtRow(table[0]), widths.map((w) => "-".repeat(w)).join("  "), ...table.slice(1).map(fmtRow), ""]

// targets
const targetLines = []
const target = (label, value, pass) => targetLines.push([label, value, pass === null ? "n/a" : pass ? "PASS" : "MISS"])
{
  const idx = stats("many-small", "first index")
  const rs = stats("many-small", "ref: rsync -a copy")
  if (idx && rs && idx.n && rs.n) {
    const ratio = idx.clock / rs.clock
    target("first index (many-small) <= 2 x rsync -a copy", `${fmt(idx.clock, 3)} s / ${fmt(rs.clock, 3)} s = ${fmt(ratio)} x`, ratio <= 2)
  } else target("first index (many-small) <= 2 x rsync -a copy", "not measured", null)

  const noop = stats("many-small", "no-op rescan")
  const fd = stats("many-small", "ref: find stat walk")
  if (noop && fd && noop.n && fd.n) {
    const ratio = noop.clock / fd.clock
    const node0 = stats("-", "ref: node -e 0")
    const extra = node0 && node0.n ? ` (node -e 0 alone: ${fmt(node0.clock, 3)} s)` : ""
    target("no-op rescan (many-small) <= 3 x find stat walk", `${fmt(noop.clock, 3)} s / ${fmt(fd.clock, 3)} s = ${fmt(ratio, 1)} x${extra}`, ratio <= 3)
  } else target("no-op rescan (many-small) <= 3 x find stat walk", "not measured", null)

  const lg = stats("large", "first index")
  if (lg && lg.n) {
    const bytes = median(lg.ok.map((r) => r.bytes_hashed))
    const gbs = bytes / 1e9 / lg.clock
    const scanGbs = bytes / 1e9 / (median(lg.ok.map((r) => r.scan_ms)) / 1000)
    const b3 = stats("large", "ref: b3sum all files")
    const b3s = b3 && b3.n ? `; b3sum ${fmt(bytes / 1e9 / b3.clock, 2)} GB/s` : ""
    target("large hashing >= 1 GB/s", `${fmt(bytes / 1e9, 3)} GB / ${fmt(lg.clock, 3)} s = ${fmt(gbs, 2)} GB/s whole-process (in-process scan ${fmt(scanGbs, 2)} GB/s${b3s})`, gbs >= 1)
  } else target("large hashing >= 1 GB/s", "not measured", null)

  const k100 = stats("100k", "first index")
  if (k100 && k100.n) {
    const files = k100.ok[0].files_expected
    const peakMB = (k100.rssMax * MiB) / 1e6
    const scaledNote = files !== 100000 ? ` [tree has ${files} files, not 100,000: scaled run]` : ""
    target("peak RSS 100k files < 200 MB", `max ${fmt(k100.rssMax, 1)} MiB = ${fmt(peakMB, 1)} MB (median ${fmt(k100.rssMed, 1)} MiB) over ${k100.n} first index run(s)${scaledNote}`, peakMB < 200)
  } else target("peak RSS 100k files < 200 MB", "not measured", null)
}
const lw = Math.max(...targetLines.map((t) => t[0].length))
out.push("targets (medians of the ns-clock column: %e has only 10 ms resolution; whole-process)")
for (const [label, value, verdict] of targetLines) out.push(`  ${label.padEnd(lw)}  ${verdict.padEnd(4)}  ${value}`)

const cliAtEnd = Fs.existsSync(cli) ? cliFingerprint() : "missing"
if (cliAtEnd !== cliAtStart) out.push("", `WARNING: the CLI bundle changed during the run (${cliAtStart} -> ${cliAtEnd}); repetitions may have run different builds`)

const failures = rows.filter((r) => r.status !== "ok" || r.check !== "ok")
if (failures.length) {
  out.push("", `problems (${failures.length} run(s)):`)
  for (const r of failures) out.push(`  ${r.workload} / ${r.phase} #${r.rep}: ${r.status}${r.check !== "ok" ? ` - ${r.check}` : ""}`)
}
out.push("", `raw rows: ${Path.relative(process.cwd(), tsvPath) || tsvPath}`)
if (Fs.existsSync(logPath)) out.push(`output of failed runs: ${Path.relative(process.cwd(), logPath) || logPath}`)

const report = out.join("\n") + "\n"
Fs.writeFileSync(txtPath, report)
process.stdout.write(report)
process.exitCode = failures.length ? 1 : 0
