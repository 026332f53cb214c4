import { describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { assert } from "vitest"
import { AccessStats, type CacheEntry, type CachePolicy, CachePolicyError, CachePolicyRegistry, DecayedFrequency, Policies, SelectiveCache } from "../src/index.js"

/** A user policy: keep the small files (cheap to keep, fast to refetch is not the point). */
const smallFirst: CachePolicy.CachePolicy = { name: "small-first", description: "keep small files", score: (entry) => -entry.size }

const entry = (key: string, size: number, at: number): CacheEntry.CacheEntry => ({
  key, size, local: true, pinned: false, verifiedCopy: true, stats: AccessStats.record(AccessStats.empty, at, DecayedFrequency.defaultHalfLifeMs)
})
const input = { entries: [entry("big-recent", 300, 2000), entry("small-old", 100, 1000)], budget: { maxBytes: 300 }, volume: { totalBytes: 1e6, freeBytes: 1e6 }, nowMs: 3000 }

describe("CachePolicyRegistry", () => {
  it.effect("holds the built-ins, the default first; a user policy registers the same way", () =>
    Effect.gen(function* () {
      const registry = yield* CachePolicyRegistry.CachePolicyRegistry
      assert.deepStrictEqual((yield* registry.list).map((p) => p.name), ["decayed-frequency", "lru", "lfu", "small-first"])
      assert.strictEqual(yield* registry.get("small-first"), smallFirst)
      const unknown = yield* Effect.flip(registry.get("mru"))
      assert.strictEqual(unknown.message, "unknown cache policy 'mru' (known: decayed-frequency, lru, lfu, small-first)")
      const duplicate = yield* Effect.flip(registry.register(Policies.lru))
      assert.strictEqual(duplicate.reason, "Duplicate")
      yield* registry.register(DecayedFrequency.make({ halfLifeMs: 3_600_000, name: "decayed-frequency-1h" }))
      assert.strictEqual((yield* registry.get("decayed-frequency-1h")).description, "keep the most-used files of late: accesses decay by half every 1 h (LRFU)")
    }).pipe(Effect.provide(CachePolicyRegistry.layerWith([smallFirst]))))

  it("refuses a half-life that is not a finite number > 0", () => {
    for (const halfLifeMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => DecayedFrequency.make({ halfLifeMs }), CachePolicyError.CachePolicyError, "halfLifeMs must be a finite number > 0")
    }
  })
})

describe("SelectiveCache", () => {
  const CacheLive = SelectiveCache.layer.pipe(Layer.provide(CachePolicyRegistry.layerWith([smallFirst])))

  it.effect("plans with decayed frequency unless a policy is named", () =>
    Effect.gen(function* () {
      const cache = yield* SelectiveCache.SelectiveCache
      const byDefault = yield* cache.plan(input)
      assert.strictEqual(byDefault.policy, "decayed-frequency")
      assert.deepStrictEqual(byDefault.evict.map((e) => e.key), ["small-old"])
      const custom = yield* cache.plan({ ...input, policy: "small-first" })
      assert.deepStrictEqual(custom.evict.map((e) => e.key), ["big-recent"])
    }).pipe(Effect.provide(CacheLive)))

  it.effect("fails with the policy's or the budget's error", () =>
    Effect.gen(function* () {
      const cache = yield* SelectiveCache.SelectiveCache
      const unknown = yield* Effect.flip(cache.plan({ ...input, policy: "nope" }))
      assert.deepStrictEqual([unknown._tag, unknown.reason], ["CachePolicyError", "Unknown"])
      const budget = yield* Effect.flip(cache.plan({ ...input, budget: { minFreePercent: Number.NaN } }))
      assert.deepStrictEqual([budget._tag, budget.reason], ["CacheBudgetError", "NotANumber"])
    }).pipe(Effect.provide(CacheLive)))
})
