import { describe, it } from "@effect/vitest"
import { IndexLive } from "@conduit/index"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { Conduits } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-conduits-")

const withConduits = <A, E, R>(f: (ctx: { a: string; b: string; c: string; conduits: Conduits.Conduits["Type"] }) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const base = yield* tempDir
    const [a, b, c] = ["a", "b", "c"].map((n) => Path.join(base, n))
    for (const d of [a!, b!, c!]) Fs.mkdirSync(d)
    const layer = Conduits.layer.pipe(Layer.provideMerge(IndexLive.layer({ home: Path.join(base, "home"), workers: 1 })))
    return yield* Effect.flatMap(Conduits.Conduits, (conduits) => f({ a: a!, b: b!, c: c!, conduits })).pipe(Effect.provide(layer))
  })

const reason = (e: unknown) => (e as { reason?: string }).reason

describe("Conduits", () => {
  it.scoped("create, list, get by id prefix, update, enable/disable, remove; duplicates either way round are refused", () =>
    withConduits(({ a, b, c, conduits }) =>
      Effect.gen(function* () {
        const created = yield* conduits.create(a, b, { mode: "mirror", parallelTransfers: 8 })
        assert.strictEqual(created.mode, "mirror")
        assert.strictEqual(created.parallelTransfers, 8)
        assert.strictEqual(created.schedule, "manual")
        assert.isTrue(created.enabled)
        assert.strictEqual(created.syncGeneration, 0)
        assert.strictEqual(created.source.path, Fs.realpathSync(a))
        assert.strictEqual(reason(yield* Effect.flip(conduits.create(a, b, { mode: "mirror" }))), "Duplicate")
        assert.strictEqual(reason(yield* Effect.flip(conduits.create(b, a, { mode: "bidirectional" }))), "Duplicate")
        assert.strictEqual(reason(yield* Effect.flip(conduits.create(a, c, { mode: "teleport" }))), "Unknown")
        assert.strictEqual((yield* conduits.get(created.id.slice(0, 8))).id, created.id)
        assert.strictEqual(reason(yield* Effect.flip(conduits.get("ffffffff"))), "NotFound")
        const second = yield* conduits.create(a, c, { mode: "archive" })
        assert.deepStrictEqual((yield* conduits.list).map((k) => k.id), [created.id, second.id])
        const disabled = yield* conduits.update(created.id, { enabled: false, maxDeleteRatio: 0.2 })
        assert.isFalse(disabled.enabled)
        assert.strictEqual(disabled.maxDeleteRatio, 0.2)
        assert.strictEqual(reason(yield* Effect.flip(conduits.run(created.id))), "Disabled")
        yield* conduits.remove(second.id)
        assert.deepStrictEqual((yield* conduits.list).map((k) => k.id), [created.id])
        // Removing a location takes its conduits with it (they have nothing left to sync).
        const { Locations } = yield* Effect.promise(() => import("@conduit/index"))
        const locations = yield* Locations.Locations
        yield* locations.remove(created.source.location.id)
        assert.deepStrictEqual(yield* conduits.list, [])
        assert.strictEqual(reason(yield* Effect.flip(conduits.get(created.id))), "NotFound")
      })
    ), 60_000)

  it.scoped("a run records a generation with its figures and verification; conflicts are kept in history", () =>
    withConduits(({ a, b, conduits }) =>
      Effect.gen(function* () {
        Fs.writeFileSync(Path.join(a, "doc.txt"), "v0")
        const conduit = yield* conduits.create(a, b, { mode: "bidirectional" })
        const first = yield* conduits.run(conduit.id)
        assert.isTrue(first.verified)
        assert.include(first.generation!, { generation: 1, status: "completed", verification: "verified", filesCopied: 1, bytesTransferred: 2 })
        Fs.writeFileSync(Path.join(a, "doc.txt"), "edited on a")
        Fs.utimesSync(Path.join(a, "doc.txt"), new Date(), new Date(Date.now() - 120_000))
        Fs.writeFileSync(Path.join(b, "doc.txt"), "edited on b")
        const second = yield* conduits.run(conduit.id)
        assert.strictEqual(second.generation!.conflictsResolved, 1)
        assert.strictEqual(Fs.readFileSync(Path.join(a, "doc.txt"), "utf8"), "edited on b")
        const history = yield* conduits.history(conduit.id)
        assert.deepStrictEqual(history.map((g) => [g.generation, g.status]), [[2, "completed"], [1, "completed"]])
        const conflicts = yield* conduits.conflicts()
        assert.deepStrictEqual(conflicts.map((k) => [k.path, k.reason, k.winner, k.generation]), [["doc.txt", "BothChanged", "target", 2]])
        assert.strictEqual((yield* conduits.get(conduit.id)).syncGeneration, 2)
        assert.isNotNull((yield* conduits.get(conduit.id)).lastSyncCompletedAt)
        // A killed run's partial file (its generation is not running) is removed by the next run.
        Fs.writeFileSync(Path.join(b, ".conduit-tmp-deadbeef-01234567-doc.txt"), "partial")
        yield* conduits.run(conduit.id)
        assert.isFalse(Fs.existsSync(Path.join(b, ".conduit-tmp-deadbeef-01234567-doc.txt")))
        // A dry run records nothing.
        const dry = yield* conduits.run(conduit.id, { dryRun: true })
        assert.isNull(dry.generation)
        assert.strictEqual((yield* conduits.history(conduit.id)).length, 3)
      })
    ), 60_000)
})
