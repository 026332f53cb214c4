import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Hasher, Indexer, IndexLive, Locations } from "@conduit/index"
import { VersionStore } from "@conduit/jobs"
import { IndexDiff, Modes, Planner, type SyncModeStrategy } from "@conduit/resolver"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { LocalPlanRunner } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-run-")
const write = Testkit.writeTree

/** Index both trees, plan with `mode` from the index, run it, rescan; returns what happened. */
const syncOnce = (a: string, b: string, mode: SyncModeStrategy.SyncModeStrategy) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const indexer = yield* Indexer.Indexer
    const diff = yield* IndexDiff.IndexDiff
    const list = yield* locations.list
    const la = list.find((l) => l.root === Fs.realpathSync(a)) ?? (yield* locations.add(a))
    const lb = list.find((l) => l.root === Fs.realpathSync(b)) ?? (yield* locations.add(b))
    yield* indexer.scan(la.id, { allowEmptyRoot: true })
    yield* indexer.scan(lb.id, { allowEmptyRoot: true })
    const source = { location: la, dir: "" as RelPath.RelPath }
    const target = { location: lb, dir: "" as RelPath.RelPath }
    const states = Chunk.toReadonlyArray(yield* Stream.runCollect(diff.full(source, target)))
    const plan = Planner.plan(mode, states)
    const report = yield* LocalPlanRunner.run(plan, { source: { root: la.root, dir: source.dir }, target: { root: lb.root, dir: target.dir } })
    yield* indexer.scan(la.id, { allowEmptyRoot: true })
    yield* indexer.scan(lb.id, { allowEmptyRoot: true })
    const after = Chunk.toReadonlyArray(yield* Stream.runCollect(diff.full(source, target)))
    return { plan, report, after }
  })

/**
 * Adds both trees as locations, indexes them, and plans with `mode` from the index; returns
 * the plan and the runner's endpoints (the runs themselves are up to the test).
 */
const planOf = (a: string, b: string, mode: SyncModeStrategy.SyncModeStrategy) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const indexer = yield* Indexer.Indexer
    const diff = yield* IndexDiff.IndexDiff
    const la = yield* locations.add(a)
    const lb = yield* locations.add(b)
    yield* indexer.scan(la.id)
    yield* indexer.scan(lb.id, { allowEmptyRoot: true })
    const root = "" as RelPath.RelPath
    const states = Chunk.toReadonlyArray(yield* Stream.runCollect(diff.full({ location: la, dir: root }, { location: lb, dir: root })))
    return { plan: Planner.plan(mode, states), endpoints: { source: { root: la.root, dir: root }, target: { root: lb.root, dir: root } } }
  })

const layer = (home: string) => IndexDiff.layer.pipe(Layer.provideMerge(IndexLive.layer({ home, workers: 2 })))
const withLibrary = <A, E, R>(f: (dirs: { a: string; b: string }) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const base = yield* tempDir
    const a = Path.join(base, "a")
    const b = Path.join(base, "b")
    Fs.mkdirSync(a)
    Fs.mkdirSync(b)
    return yield* f({ a, b }).pipe(Effect.provide(layer(Path.join(base, "home"))))
  })

const tree = {
  "docs/readme.md": "# hello",
  "docs/empty.txt": "",
  "nested/deep/deeper/file.bin": Crypto.randomBytes(200_000),
  "emptydir": null,
  "unicodé/naïve café.txt": "unicode names",
  "node_modules/pkg/index.js": "excluded by the rules"
}

describe("LocalPlanRunner", () => {
  it.scoped("mirror: the target becomes the source (by the index, re-resolve empty); replaced and deleted files are versions", () =>
    withLibrary(({ a, b }) =>
      Effect.gen(function* () {
        write(a, tree)
        Fs.symlinkSync("docs/readme.md", Path.join(a, "link"))
        write(b, { "docs/readme.md": "# stale", "junk/old.txt": "target only", "node_modules/keep.js": "excluded on the target too" })
        const { report, after } = yield* syncOnce(a, b, Modes.mirror)
        assert.deepStrictEqual(report.skipped, [])
        assert.deepStrictEqual(after, [], "re-resolve after the run is empty")
        assert.strictEqual(Fs.readFileSync(Path.join(b, "unicodé/naïve café.txt"), "utf8"), "unicode names")
        assert.isTrue(Fs.statSync(Path.join(b, "emptydir")).isDirectory())
        assert.strictEqual(Fs.readFileSync(Path.join(b, "docs/empty.txt"), "utf8"), "")
        assert.strictEqual(Fs.readlinkSync(Path.join(b, "link")), "docs/readme.md")
        assert.isTrue(Fs.readFileSync(Path.join(b, "nested/deep/deeper/file.bin")).equals(Fs.readFileSync(Path.join(a, "nested/deep/deeper/file.bin"))))
        // Rule-excluded paths are left alone on both sides.
        assert.isFalse(Fs.existsSync(Path.join(b, "node_modules/pkg")))
        assert.strictEqual(Fs.readFileSync(Path.join(b, "node_modules/keep.js"), "utf8"), "excluded on the target too")
        // Nothing lost: the stale file and the target-only directory are versions.
        assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(b, "docs/readme.md"))[0]!.file, "utf8"), "# stale")
        assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(b, "junk/old.txt"))[0]!.file, "utf8"), "target only")
        // A rename on the source becomes a rename on the target.
        Fs.renameSync(Path.join(a, "nested/deep/deeper/file.bin"), Path.join(a, "docs/file.bin"))
        const second = yield* syncOnce(a, b, Modes.mirror)
        assert.strictEqual(second.plan.summary.moves, 1)
        assert.strictEqual(second.report.bytes, 0, "a move copies no bytes")
        assert.deepStrictEqual(second.after, [])
      })
    ), 60_000)

  it.scoped("bidirectional: both sides converge, the loser of a double edit is a version and a conflict", () =>
    withLibrary(({ a, b }) =>
      Effect.gen(function* () {
        write(a, { "shared.txt": "v0", "a-only.txt": "from a" })
        write(b, { "b-only.txt": "from b" })
        const first = yield* syncOnce(a, b, Modes.bidirectional)
        assert.deepStrictEqual(first.after, [])
        // Both edit shared.txt; the target's edit is later.
        Fs.writeFileSync(Path.join(a, "shared.txt"), "edited on a")
        Fs.utimesSync(Path.join(a, "shared.txt"), new Date(), new Date(Date.now() - 60_000))
        Fs.writeFileSync(Path.join(b, "shared.txt"), "edited on b")
        const second = yield* syncOnce(a, b, Modes.bidirectional)
        assert.deepStrictEqual(second.plan.conflicts.map((c) => [c.path, c.reason, c.winner]), [["shared.txt", "BothChanged", "target"]])
        assert.strictEqual(Fs.readFileSync(Path.join(a, "shared.txt"), "utf8"), "edited on b")
        assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(a, "shared.txt"))[0]!.file, "utf8"), "edited on a")
        assert.deepStrictEqual(second.after, [])
      })
    ), 60_000)

  it.scoped("archive: files move to the target, sources are removed only after verification", () =>
    withLibrary(({ a, b }) =>
      Effect.gen(function* () {
        write(a, { "done/report.pdf": Crypto.randomBytes(50_000), "done/notes.txt": "notes" })
        const { report } = yield* syncOnce(a, b, Modes.archive)
        assert.deepStrictEqual(report.skipped, [])
        assert.isFalse(Fs.existsSync(Path.join(a, "done/report.pdf")))
        assert.isTrue(Fs.existsSync(Path.join(b, "done/report.pdf")))
        assert.strictEqual(Fs.readFileSync(Path.join(b, "done/notes.txt"), "utf8"), "notes")
      })
    ), 60_000)

  it.scoped("a file deleted between plan and copy is a recorded skip; nothing else is affected", () =>
    withLibrary(({ a, b }) =>
      Effect.gen(function* () {
        write(a, { "x.txt": "x", "y.txt": "y" })
        const { plan, endpoints } = yield* planOf(a, b, Modes.mirror)
        Fs.rmSync(Path.join(a, "x.txt"))
        const report = yield* LocalPlanRunner.run(plan, endpoints)
        assert.deepStrictEqual(report.skipped.map((s) => s.error.reason), ["SourceMissing"])
        assert.isFalse(Fs.existsSync(Path.join(b, "x.txt")))
        assert.strictEqual(Fs.readFileSync(Path.join(b, "y.txt"), "utf8"), "y")
      })
    ), 60_000)

  it.scoped("content already on this device is copied from there; a candidate that changed is passed over for the source", () =>
    withLibrary(({ a, b }) =>
      Effect.gen(function* () {
        write(a, { "x.bin": "same bytes", "y.bin": "other bytes" })
        write(b, { "elsewhere/copy.bin": "same bytes", "stale.bin": "other bytes" })
        // Copies without deletes (the README's custom mode): the target keeps its own files.
        const copyOnly: SyncModeStrategy.SyncModeStrategy = {
          name: "copy-only",
          description: "copies without deletes",
          usesBaseline: false,
          deletesOn: [],
          decide: (state) => ({ operations: state.source === null ? [] : Modes.follow(state, "source") })
        }
        const { plan, endpoints } = yield* planOf(a, b, copyOnly)
        const copies = plan.operations.filter((op) => op._tag === "Copy").map((op) => op.path).sort()
        assert.deepStrictEqual(copies, ["x.bin", "y.bin"])
        const hashOf = (p: string) => (plan.operations.find((op) => op._tag === "Copy" && op.path === p) as { entry: { hash: string } }).entry.hash
        // x.bin's source is gone: only the local candidate can give its bytes.
        Fs.rmSync(Path.join(a, "x.bin"))
        // y.bin's candidate changed after it was indexed: the source is read instead.
        Fs.writeFileSync(Path.join(b, "stale.bin"), "changed since")
        const candidates = new Map([[hashOf("x.bin"), Path.join(b, "elsewhere/copy.bin")], [hashOf("y.bin"), Path.join(b, "stale.bin")]])
        const report = yield* LocalPlanRunner.run(plan, endpoints, {
          sameContent: (hash) => candidates.get(hash)
        })
        assert.deepStrictEqual(report.skipped, [])
        assert.strictEqual(report.copied, 2)
        assert.strictEqual(Fs.readFileSync(Path.join(b, "x.bin"), "utf8"), "same bytes")
        assert.strictEqual(Fs.readFileSync(Path.join(b, "y.bin"), "utf8"), "other bytes")
      })
    ), 60_000)
})

export type _ = Hasher.Hasher
