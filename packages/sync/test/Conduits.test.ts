import { describe, it } from "@effect/vitest"
import { IndexLive } from "@conduit/index"
import { JobRuntime } from "@conduit/jobs"
import { Effect, Layer, Runtime } from "effect"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { Conduits } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-conduits-")

const withConduits = <A, E, R>(f: (ctx: { a: string; b: string; c: string; conduits: Conduits.Conduits["Type"] }) => Effect.Effect<A, E, R | JobRuntime.JobRuntime>) =>
  Effect.gen(function* () {
    const base = yield* tempDir
    const [a, b, c] = ["a", "b", "c"].map((n) => Path.join(base, n))
    for (const d of [a!, b!, c!]) Fs.mkdirSync(d)
    const layer = Conduits.layer.pipe(Layer.provideMerge(IndexLive.layer({ home: Path.join(base, "home"), workers: 1 })))
    return yield* Effect.flatMap(Conduits.Conduits, (conduits) => f({ a: a!, b: b!, c: c!, conduits })).pipe(Effect.provide(layer))
  })

/** Both trees hold the same names with the same bytes. */
const assertSameTrees = (a: string, b: string) => {
  assert.deepStrictEqual(Testkit.listTree(b), Testkit.listTree(a))
  for (const p of Testkit.listTree(a)) {
    if (Fs.statSync(Path.join(a, p)).isFile()) assert.isTrue(Fs.readFileSync(Path.join(a, p)).equals(Fs.readFileSync(Path.join(b, p))), p)
  }
}

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
        // A peer transfer's resumable partial file is left to its receiver.
        Fs.writeFileSync(Path.join(b, ".conduit-tmp-part-0123456789abcdef-big.bin"), "verified blocks")
        yield* conduits.run(conduit.id)
        assert.isFalse(Fs.existsSync(Path.join(b, ".conduit-tmp-deadbeef-01234567-doc.txt")))
        assert.isTrue(Fs.existsSync(Path.join(b, ".conduit-tmp-part-0123456789abcdef-big.bin")))
        // A dry run records nothing.
        const dry = yield* conduits.run(conduit.id, { dryRun: true })
        assert.isNull(dry.generation)
        assert.strictEqual((yield* conduits.history(conduit.id)).length, 3)
      })
    ), 60_000)

  it.scoped("a run is a FileSyncJob: paused at a checkpoint, resumed by the next run from where it stopped, or cancelled", () =>
    withConduits(({ a, b, conduits }) =>
      Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const runtime = yield* Effect.runtime<never>()
        for (let d = 0; d < 10; d++) {
          Fs.mkdirSync(Path.join(a, `d${d}`))
          for (let f = 0; f < 300; f++) Fs.writeFileSync(Path.join(a, `d${d}`, `f${f}.txt`), `file ${d}/${f}`)
        }
        const conduit = yield* conduits.create(a, b, { mode: "mirror" })
        // Ask for a pause as soon as the first copies are done: it lands at the next checkpoint.
        let asked = false
        const first = yield* conduits.run(conduit.id, {
          onProgress: (done) => {
            if (asked || done < 20) return
            asked = true
            Runtime.runFork(runtime)(Effect.flatMap(jobs.unfinished(Conduits.FileSyncJob), (js) => jobs.pause(js[0]!.id)))
          }
        })
        assert.strictEqual(first.job?.status, "paused")
        assert.strictEqual(first.generation?.status, "paused")
        assert.isFalse(first.verified)
        const copied = first.report!.copied
        assert.isAbove(copied, 0)
        assert.isBelow(copied, 3010)
        assert.strictEqual((yield* jobs.get(first.job!.id)).status, "paused")
        // The next run resumes the same job; what was copied is not copied again.
        const second = yield* conduits.run(conduit.id)
        assert.strictEqual(second.job?.id, first.job!.id)
        assert.strictEqual(second.job?.status, "completed")
        assert.isTrue(second.verified)
        assert.strictEqual(second.report!.copied + copied, 3010)
        assertSameTrees(a, b)
        // Cancelled: the job ends for good; the next run is a new job.
        for (let d = 0; d < 10; d++) for (let f = 0; f < 300; f++) Fs.writeFileSync(Path.join(a, `d${d}`, `f${f}.txt`), `edited ${d}/${f}`)
        asked = false
        const third = yield* conduits.run(conduit.id, {
          onProgress: (done) => {
            if (asked || done < 20) return
            asked = true
            Runtime.runFork(runtime)(Effect.flatMap(jobs.unfinished(Conduits.FileSyncJob), (js) => jobs.cancel(js[0]!.id)))
          }
        })
        assert.strictEqual(third.job?.status, "cancelled")
        assert.strictEqual(third.generation?.status, "cancelled")
        const fourth = yield* conduits.run(conduit.id)
        assert.notStrictEqual(fourth.job?.id, third.job!.id)
        assert.isTrue(fourth.verified)
        assertSameTrees(a, b)
        assert.deepStrictEqual((yield* conduits.history(conduit.id)).map((g) => g.status), ["completed", "cancelled", "completed", "paused"])
      })
    ), 120_000)

  it.scoped("re-runs after a verified run (which read only the paths changed since it) still see edits on either side", () =>
    withConduits(({ a, b, conduits }) =>
      Effect.gen(function* () {
        for (let f = 0; f < 50; f++) Fs.writeFileSync(Path.join(a, `f${f}.txt`), `file ${f}`)
        const conduit = yield* conduits.create(a, b, { mode: "mirror" })
        assert.isTrue((yield* conduits.run(conduit.id)).verified)
        const idle = yield* conduits.run(conduit.id)
        assert.strictEqual(idle.plan.operations.length, 0)
        // An edit of the target (not the source) is still found and undone by the mirror.
        Fs.writeFileSync(Path.join(b, "f7.txt"), "changed on the target")
        Fs.writeFileSync(Path.join(a, "new.txt"), "new on the source")
        const third = yield* conduits.run(conduit.id)
        assert.deepStrictEqual(third.plan.operations.map((op) => [op._tag, op._tag === "Move" ? op.to : op.path]).sort(), [["Copy", "f7.txt"], ["Copy", "new.txt"]])
        assert.isTrue(third.verified)
        assertSameTrees(a, b)
      })
    ), 60_000)

  it.scoped("a completed run prunes versions older than the conduit keeps them; 0 keeps them forever", () =>
    withConduits(({ a, b, c, conduits }) =>
      Effect.gen(function* () {
        Fs.writeFileSync(Path.join(a, "doc.txt"), "doc")
        const old = (root: string) => {
          const file = Path.join(root, ".conduit/versions/doc.txt~20200101-000000-000")
          Fs.mkdirSync(Path.dirname(file), { recursive: true })
          Fs.writeFileSync(file, "old version")
          return file
        }
        const pruned = yield* conduits.create(a, b, { mode: "mirror", versionRetentionDays: 7 })
        assert.strictEqual(pruned.versionRetentionDays, 7)
        const inB = old(b)
        const recent = Path.join(b, ".conduit/versions/recent.txt~" + new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").replace(".", "-").replace("Z", ""))
        Fs.writeFileSync(recent, "recent version")
        assert.isTrue((yield* conduits.run(pruned.id)).verified)
        assert.isFalse(Fs.existsSync(inB), "a version older than 7 days is gone")
        assert.isTrue(Fs.existsSync(recent), "a recent version stays")
        const forever = yield* conduits.create(a, c, { mode: "mirror", versionRetentionDays: 0 })
        const inC = old(c)
        assert.isTrue((yield* conduits.run(forever.id)).verified)
        assert.isTrue(Fs.existsSync(inC), "0 keeps versions forever")
      })
    ), 60_000)
})
