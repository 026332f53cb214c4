import { describe, it } from "@effect/vitest"
import { IndexLive } from "@conduit/index"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { DirectorySync } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-dsync-")
const write = Testkit.writeTree
const listing = Testkit.listTree

const withSync = <A, E, R>(f: (dirs: { a: string; b: string; sync: DirectorySync.DirectorySync["Type"]["sync"] }) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const base = yield* tempDir
    const a = Path.join(base, "a")
    const b = Path.join(base, "b")
    Fs.mkdirSync(a)
    Fs.mkdirSync(b)
    const layer = DirectorySync.layer.pipe(Layer.provideMerge(IndexLive.layer({ home: Path.join(base, "home"), workers: 2 })))
    return yield* Effect.flatMap(DirectorySync.DirectorySync, (s) => f({ a, b, sync: s.sync })).pipe(Effect.provide(layer))
  })

describe("DirectorySync", () => {
  it.scoped("bidirectional keeps a baseline: a later delete on one side propagates instead of coming back", () =>
    withSync(({ a, b, sync }) =>
      Effect.gen(function* () {
        write(a, { "keep.txt": "k", "gone-later.txt": "g", "d/x.txt": "x" })
        write(b, { "from-b.txt": "b" })
        const first = yield* sync(a, b, { mode: "bidirectional" })
        assert.isTrue(first.verified)
        assert.isTrue(first.source.addedLocation && first.target.addedLocation)
        assert.deepStrictEqual(listing(a), listing(b))
        Fs.rmSync(Path.join(b, "gone-later.txt"))
        write(a, { "d/y.txt": "new on a" })
        const second = yield* sync(a, b, { mode: "bidirectional" })
        assert.isTrue(second.verified)
        assert.deepStrictEqual(second.plan.conflicts, [])
        assert.isFalse(Fs.existsSync(Path.join(a, "gone-later.txt")), "the delete propagated")
        assert.strictEqual(Fs.readFileSync(Path.join(b, "d/y.txt"), "utf8"), "new on a")
        assert.deepStrictEqual(listing(a), listing(b))
        const idle = yield* sync(a, b, { mode: "bidirectional" })
        assert.strictEqual(idle.plan.operations.length, 0)
      })
    ), 60_000)

  it.scoped("dry run plans and changes nothing; the delete guard refuses unless forced", () =>
    withSync(({ a, b, sync }) =>
      Effect.gen(function* () {
        write(b, { "1.txt": "1", "2.txt": "2", "3.txt": "3" })
        write(a, { "1.txt": "1" })
        const dry = yield* sync(a, b, { mode: "mirror", dryRun: true })
        assert.isNull(dry.report)
        assert.strictEqual(dry.plan.summary.deletes, 2)
        assert.strictEqual(dry.refusal?.reason, "TooManyDeletes")
        assert.deepStrictEqual(listing(b), ["1.txt", "2.txt", "3.txt"])
        // Deleting 2 of 3 (66 %) is above the default 50 %.
        const refused = yield* Effect.flip(sync(a, b, { mode: "mirror" }))
        assert.strictEqual(refused._tag, "PlanGuardError")
        assert.deepStrictEqual(listing(b), ["1.txt", "2.txt", "3.txt"])
        const forced = yield* sync(a, b, { mode: "mirror", force: true })
        assert.isTrue(forced.verified)
        assert.deepStrictEqual(listing(b), ["1.txt"])
      })
    ), 60_000)

  it.scoped("refuses the same directory twice, nesting, unknown modes and missing paths, changing nothing", () =>
    withSync(({ a, b, sync }) =>
      Effect.gen(function* () {
        write(a, { "inner/x.txt": "x" })
        assert.strictEqual((yield* Effect.flip(sync(a, a, { mode: "mirror" })))._tag, "SyncError")
        const nested = yield* Effect.flip(sync(a, Path.join(a, "inner"), { mode: "mirror" }))
        assert.strictEqual((nested as { reason: string }).reason, "Nested")
        const unknown = yield* Effect.flip(sync(a, b, { mode: "teleport" }))
        assert.include(unknown.message, "unknown sync mode 'teleport'")
        const missing = yield* Effect.flip(sync(Path.join(a, "nope"), b, { mode: "mirror" }))
        assert.strictEqual((missing as { reason: string }).reason, "NotFound")
        const file = yield* Effect.flip(sync(Path.join(a, "inner/x.txt"), b, { mode: "mirror" }))
        assert.strictEqual((file as { reason: string }).reason, "NotADirectory")
        assert.deepStrictEqual(listing(b), [])
      })
    ), 60_000)
})
