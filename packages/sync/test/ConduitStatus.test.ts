import { describe, it } from "@effect/vitest"
import { IndexLive } from "@conduit/index"
import * as Testkit from "@conduit/testkit"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Conduits, ConduitStatus } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-status-")

const progress = (done: number, total: number, bytes: number, bytesTotal: number) => ({ done, total, bytes, bytesTotal })

describe("ConduitStatus", () => {
  it("rate: bytes over elapsed time, ETA from the bytes left at that speed", () => {
    // 10 MiB of 40 MiB in 5 s: 2 MiB/s, 30 MiB left → 15 s.
    const r = ConduitStatus.rate(progress(10, 40, 10 * 1048576, 40 * 1048576), 1_000, 6_000)
    assert.strictEqual(r.bytesPerSecond, 2 * 1048576)
    assert.strictEqual(r.etaMs, 15_000)
    // Done: nothing left, ETA 0.
    assert.deepStrictEqual(ConduitStatus.rate(progress(4, 4, 100, 100), 0, 2_000), { bytesPerSecond: 50, etaMs: 0 })
    // Nothing copied yet, or no time passed: the speed is unknown, and so is the ETA.
    assert.deepStrictEqual(ConduitStatus.rate(progress(0, 4, 0, 100), 0, 2_000), { bytesPerSecond: null, etaMs: null })
    assert.deepStrictEqual(ConduitStatus.rate(progress(1, 4, 10, 100), 5_000, 5_000), { bytesPerSecond: null, etaMs: null })
    // A plan with no bytes to copy (deletes only) is done in no time once nothing is left.
    assert.deepStrictEqual(ConduitStatus.rate(progress(3, 3, 0, 0), 0, 1_000), { bytesPerSecond: null, etaMs: 0 })
    // Progress past the estimate never gives a negative ETA.
    assert.strictEqual(ConduitStatus.rate(progress(5, 4, 120, 100), 0, 1_000).etaMs, 0)
  })

  it.scoped("collect: the last generation, recent conflicts and storage of a conduit that ran; unknown ids fail", () =>
    Effect.gen(function* () {
      const base = yield* tempDir
      const [a, b] = ["a", "b"].map((n) => Path.join(base, n))
      for (const d of [a!, b!]) Fs.mkdirSync(d)
      Fs.writeFileSync(Path.join(a!, "x.txt"), "hello")
      const layer = Conduits.layer.pipe(Layer.provideMerge(IndexLive.layer({ home: Path.join(base, "home"), workers: 1 })))
      yield* Effect.gen(function* () {
        const conduits = yield* Conduits.Conduits
        const made = yield* conduits.create(a!, b!, { mode: "mirror" })
        const before = yield* ConduitStatus.collect()
        assert.lengthOf(before, 1)
        assert.strictEqual(before[0]!.state, "idle")
        assert.isNull(before[0]!.lastGeneration)
        yield* conduits.run(made.id)
        const [s] = yield* ConduitStatus.collect(made.id.slice(0, 8))
        assert.strictEqual(s!.state, "idle")
        assert.isNull(s!.job)
        assert.deepStrictEqual(s!.rate, { bytesPerSecond: null, etaMs: null })
        assert.deepStrictEqual(s!.pending, { operations: 0, bytes: 0, runQueued: false })
        assert.include(s!.lastGeneration, { generation: 1, status: "completed", filesCopied: 1, bytesTransferred: 5 })
        assert.deepStrictEqual(s!.conflicts, { count: 0, recent: [] })
        for (const side of [s!.storage.source, s!.storage.target]) {
          assert.isNull(side.peer)
          assert.isAbove(side.freeBytes!, 0)
          assert.isAtLeast(side.totalBytes!, side.usedBytes!)
        }
        const json = ConduitStatus.toJson(s!)
        assert.strictEqual(json.id, made.id)
        assert.strictEqual(json.lastGeneration?.filesCopied, 1)
        yield* conduits.update(made.id, { enabled: false })
        assert.strictEqual((yield* ConduitStatus.collect())[0]!.state, "disabled")
        const missing = yield* Effect.flip(ConduitStatus.collect("ffffffff"))
        assert.strictEqual((missing as { reason?: string }).reason, "NotFound")
      }).pipe(Effect.provide(layer))
    }))

  it("storage: a peer's endpoint and a missing directory are unknown", () => {
    const unknown = { totalBytes: null, usedBytes: null, freeBytes: null }
    const endpoint = (path: string, peer: { device: string; peerId: string | null; name: string } | null) =>
      ({ path, peer } as unknown as Conduits.ConduitEndpoint)
    assert.deepStrictEqual(ConduitStatus.storage(endpoint("/data", { device: "d", peerId: null, name: "laptop" })), { path: "/data", peer: "laptop", ...unknown })
    assert.deepStrictEqual(ConduitStatus.storage(endpoint("/no/such/dir/here", null)), { path: "/no/such/dir/here", peer: null, ...unknown })
  })
})
