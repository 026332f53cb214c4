#!/usr/bin/env node
/**
 * The resolve step alone: how long it takes to plan a sync from a current index, in process
 * (no start-up, no rescan). Indexes the many-small tree (20,000 files, ../shared/bench gen.py)
 * and an exact copy of it (`cp -a`), then times, over --reps runs each, medians printed:
 *
 *   full diff + mirror plan, identical trees      (a re-sync with nothing to do, full compare)
 *   full diff + mirror plan, empty target         (the initial sync's plan: 21,000 operations)
 *   since-marks diff + plan, nothing changed      (a re-sync after a completed generation)
 *   since-marks diff + plan, after the 1 % change set (gen.py mutate, then a rescan)
 *
 * Usage: node tooling/bench/resolve-bench.mjs [--reps N] [--root DIR] [--scale F]
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const repo = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
if (args.includes("--help")) {
  console.log(Fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0])
  process.exit(0)
}
const reps = Number(flag("--reps", "15"))
const root = flag("--root", Path.join(process.env.TMPDIR ?? Os.tmpdir(), "conduit-resolve-bench"))
const scale = flag("--scale", "1")
const gen = Path.resolve(repo, "../shared/bench/gen.py")

const { Effect, Layer, ManagedRuntime, Stream, Chunk } = await import(Path.join(repo, "packages/resolver/node_modules/effect/dist/esm/index.js"))
const { Indexer, IndexLive, Locations } = await import(Path.join(repo, "packages/index/dist/index.js"))
const { IndexDiff, Modes, Planner } = await import(Path.join(repo, "packages/resolver/dist/index.js"))

Fs.rmSync(root, { recursive: true, force: true })
const source = Path.join(root, "source")
const target = Path.join(root, "target")
const empty = Path.join(root, "empty")
execFileSync("python3", [gen, "gen", "many-small", source, "--seed", "1", "--scale", scale], { stdio: "ignore" })
execFileSync("cp", ["-a", source, target])
Fs.mkdirSync(empty)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = async (effect) => {
  const samples = []
  let last
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    last = await runtime.runPromise(effect)
    samples.push(performance.now() - t)
  }
  return { ms: median(samples), min: Math.min(...samples), last }
}

const program = Effect.gen(function* () {
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const diff = yield* IndexDiff.IndexDiff
  const add = (dir) => Effect.tap(locations.add(dir), (l) => indexer.scan(l.id, { allowEmptyRoot: true }))
  const ls = yield* add(source)
  const lt = yield* add(target)
  const le = yield* add(empty)
  const ep = (location) => ({ location, dir: "" })
  const planOf = (stream) => Effect.map(Stream.runCollect(stream), (c) => Planner.plan(Modes.mirror, Chunk.toReadonlyArray(c)))
  return { ls, lt, le, ep, planOf, diff, indexer }
})

const home = Path.join(root, "home")
const layer = IndexDiff.layer.pipe(Layer.provideMerge(IndexLive.layer({ home })))
const runtime = ManagedRuntime.make(layer)

const ctx = await runtime.runPromise(program)
const { ls, lt, le, ep, planOf, diff, indexer } = ctx
const rows = []
const record = async (name, effect) => {
  const r = await time(effect)
  rows.push([name, r.ms.toFixed(1), r.min.toFixed(1), r.last.summary.copies + r.last.summary.deletes + r.last.summary.moves + r.last.summary.attributes])
}
await record("full diff + plan, identical trees", planOf(diff.full(ep(ls), ep(lt))))
await record("full diff + plan, empty target (initial)", planOf(diff.full(ep(ls), ep(le))))
const marks = await runtime.runPromise(diff.marks(ep(ls), ep(lt)))
await record("since-marks diff + plan, nothing changed", planOf(diff.since(ep(ls), ep(lt), marks)))
execFileSync("python3", [gen, "mutate", source, "--seed", "7"], { stdio: "ignore" })
await runtime.runPromise(indexer.scan(ls.id))
await record("since-marks diff + plan, after 1 % changes", planOf(diff.since(ep(ls), ep(lt), marks)))
await record("full diff + plan, after 1 % changes", planOf(diff.full(ep(ls), ep(lt))))

console.log(`resolve-bench: many-small scale ${scale}, ${reps} reps, in-process (node ${process.version})`)
console.log("step                                          median ms  min ms  operations")
for (const [name, ms, min, ops] of rows) console.log(`${name.padEnd(46)}${ms.padStart(9)}${min.padStart(8)}${String(ops).padStart(12)}`)
console.log(`target: plan from a current index <= 20 ms for the 20,000-file tree`)
await runtime.dispose()
Fs.rmSync(root, { recursive: true, force: true })
