import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Indexer, IndexLive, IndexStore, Locations } from "@conduit/index"
import { Chunk, Effect, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { IndexDiff, Modes, Planner } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-diff-")
const write = Testkit.writeTree

/** Same bytes, modes and mtimes (to the nanosecond), as a finished sync leaves them. */
const copyTree = (from: string, to: string) => execFileSync("cp", ["-a", from, to])

const setup = Effect.gen(function* () {
  const base = yield* tempDir
  const a = Path.join(base, "a")
  const b = Path.join(base, "b")
  const files: Record<string, string> = { "same.txt": "same", "dir/one.txt": "1", "dir/two.txt": "2", "only-a.txt": "a" }
  write(a, files)
  copyTree(a, b)
  Fs.rmSync(Path.join(b, "only-a.txt"))
  write(b, { "only-b.txt": "b" })
  Fs.writeFileSync(Path.join(b, "dir/two.txt"), "two, edited")
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const la = yield* locations.add(a)
  const lb = yield* locations.add(b)
  yield* indexer.scan(la.id)
  yield* indexer.scan(lb.id)
  const source = { location: la, dir: "" as RelPath.RelPath }
  const target = { location: lb, dir: "" as RelPath.RelPath }
  const rescan = Effect.zipRight(indexer.scan(la.id), indexer.scan(lb.id))
  return { a, b, source, target, rescan }
})

const collect = <A, E>(stream: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const layer = (home: string) => IndexDiff.layer.pipe(Layer.provideMerge(IndexLive.layer({ home, workers: 1 })))

const withHome = <A, E, R>(f: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const home = yield* tempDir
    return yield* f.pipe(Effect.provide(layer(home)))
  })

describe("IndexDiff", () => {
  it.scoped("full: only the paths that differ, in path order, with both sides' fingerprints", () =>
    withHome(Effect.gen(function* () {
      const { source, target, a } = yield* setup
      const diff = yield* IndexDiff.IndexDiff
      const states = yield* collect(diff.full(source, target, { pageSize: 2 }))
      const paths: Array<string> = states.map((s) => s.path)
      assert.includeMembers(paths, ["dir/two.txt", "only-a.txt", "only-b.txt"])
      assert.notInclude(paths, "same.txt")
      assert.notInclude(paths, "dir/one.txt")
      assert.deepStrictEqual([...paths], [...paths].sort())
      const onlyA = states.find((s) => s.path === "only-a.txt")!
      assert.strictEqual(onlyA.target, null)
      assert.strictEqual(onlyA.source!.size, 1)
      assert.strictEqual(onlyA.source!.mtimeNs, Fs.statSync(Path.join(a, "only-a.txt"), { bigint: true }).mtimeNs)
      // Mirror over the diff: copy only-a, overwrite two.txt, delete only-b.
      const plan = Planner.plan(Modes.mirror, states)
      const byPath = new Map(plan.operations.map((op) => [op._tag === "Move" ? op.to : op.path, op._tag]))
      assert.strictEqual(byPath.get("only-a.txt" as RelPath.RelPath), "Copy")
      assert.strictEqual(byPath.get("dir/two.txt" as RelPath.RelPath), "Copy")
      assert.strictEqual(byPath.get("only-b.txt" as RelPath.RelPath), "Delete")
    })))

  it.scoped("a remote file is present with its hash: equal content is no difference, and its side's fingerprint says remote", () =>
    withHome(Effect.gen(function* () {
      const { source, target, a, b, rescan } = yield* setup
      const diff = yield* IndexDiff.IndexDiff
      const store = yield* IndexStore.IndexStore
      Fs.rmSync(b, { recursive: true })
      copyTree(a, b)
      yield* rescan
      const marks = yield* diff.marks(source, target)
      // The target evicts same.txt (marked, then removed), the source only-a.txt.
      assert.strictEqual(yield* store.markRemote(target.location, ["same.txt" as RelPath.RelPath]), 1)
      assert.strictEqual(yield* store.markRemote(source.location, ["only-a.txt" as RelPath.RelPath]), 1)
      Fs.rmSync(Path.join(b, "same.txt"))
      Fs.rmSync(Path.join(a, "only-a.txt"))
      yield* rescan
      assert.deepStrictEqual(yield* collect(diff.full(source, target)), [])
      assert.deepStrictEqual(yield* collect(diff.since(source, target, marks)), [])
      // A side that differs carries the flag of the other.
      Fs.writeFileSync(Path.join(a, "same.txt"), "changed at the source")
      yield* rescan
      const [changed] = yield* collect(diff.full(source, target))
      assert.strictEqual(changed!.path, "same.txt")
      assert.strictEqual(changed!.target!.remote, true)
      assert.strictEqual(changed!.source!.remote, undefined)
      const all = yield* collect(diff.full(source, target, { includeEqual: true }))
      assert.strictEqual(all.find((s) => s.path === "only-a.txt")!.source!.remote, true)
    })))

  it.scoped("since: nothing changed means nothing to read; a change shows exactly its paths", () =>
    withHome(Effect.gen(function* () {
      const { source, target, a, b, rescan } = yield* setup
      const diff = yield* IndexDiff.IndexDiff
      // Make the sides equal (as a completed sync would), then take the marks.
      Fs.rmSync(b, { recursive: true })
      copyTree(a, b)
      yield* rescan
      assert.deepStrictEqual(yield* collect(diff.full(source, target)), [])
      const marks = yield* diff.marks(source, target)
      assert.deepStrictEqual(yield* collect(diff.since(source, target, marks)), [])
      write(a, { "dir/new.txt": "new" })
      Fs.rmSync(Path.join(b, "same.txt"))
      yield* rescan
      const changed = yield* collect(diff.since(source, target, marks))
      assert.deepStrictEqual(changed.map((s) => s.path).filter((p) => p !== "dir"), ["dir/new.txt", "same.txt"])
      assert.deepStrictEqual(
        changed.filter((s) => s.path !== "dir"),
        (yield* collect(diff.full(source, target))).filter((s) => s.path !== "dir" && s.path !== "")
      )
    })))

  it.scoped("endpoints below a location root compare relative paths, and a baseline is attached", () =>
    withHome(Effect.gen(function* () {
      const { source, target } = yield* setup
      const diff = yield* IndexDiff.IndexDiff
      const sub = (e: typeof source) => ({ ...e, dir: "dir" as RelPath.RelPath })
      const states = yield* collect(diff.full(sub(source), sub(target), {
        baseline: (paths) => Effect.succeed(new Map(paths.map((p) => [p as string, { kind: 0, hash: "base", size: 4, mtimeNs: 1n, mode: 0o644, linkTarget: null } as const])))
      }))
      assert.deepStrictEqual(states.map((s) => s.path), ["two.txt"])
      assert.strictEqual(states[0]!.baseline!.hash, "base")
    })))
})
