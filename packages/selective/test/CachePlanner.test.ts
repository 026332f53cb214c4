import { describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { assert } from "vitest"
import { AccessStats, type CacheEntry, CachePlan, CachePlanner, type CachePolicy, DecayedFrequency, Policies } from "../src/index.js"
import { budgetArb, entriesArb, nowArb, policyArb, volumeArb } from "./arbitraries.js"

type Entry = CacheEntry.CacheEntry

const planOk = (policy: CachePolicy.CachePolicy, input: CachePlanner.Input): CachePlan.CachePlan => Either.getOrThrow(CachePlanner.plan(policy, input))
const sum = (entries: ReadonlyArray<{ readonly size: number }>) => entries.reduce((total, e) => total + e.size, 0)
const eligible = (e: Entry) => e.local && !e.pinned && e.verifiedCopy && e.size > 0
const overBudget = (plan: CachePlan.CachePlan) => plan.warnings.some((w) => w.reason === "PinnedOverBudget" || w.reason === "UnverifiedOverBudget")
const inputArb = fc.record({ entries: entriesArb, budget: budgetArb, volume: volumeArb, nowMs: nowArb })

/** The local bytes after the plan, recomputed from the entries (not taken from the plan). */
const localAfter = (entries: ReadonlyArray<Entry>, plan: CachePlan.CachePlan) => {
  const evicted = new Set(plan.evict.map((e) => e.key))
  const fetched = new Set(plan.prefetch.map((p) => p.key))
  return sum(entries.filter((e) => (e.local && !evicted.has(e.key)) || (!e.local && fetched.has(e.key))))
}

describe("CachePlanner.plan", () => {
  it.prop("ends at or under the limit, or warns and has evicted every eligible file", [policyArb, inputArb], ([policy, input]) => {
    const plan = planOk(policy, input)
    const after = localAfter(input.entries, plan)
    assert.strictEqual(plan.localBytesAfter, after)
    assert.strictEqual(plan.localBytesBefore, sum(input.entries.filter((e) => e.local)))
    if (after <= plan.limitBytes) {
      assert.isFalse(overBudget(plan), "an over-budget warning on a plan within budget")
    } else {
      assert.isTrue(overBudget(plan), `over the limit by ${after - plan.limitBytes} without a warning`)
      const evicted = new Set(plan.evict.map((e) => e.key))
      for (const e of input.entries.filter(eligible)) assert.isTrue(evicted.has(e.key), `${e.key} was eligible and kept while over budget`)
      const held = input.entries.filter((e) => e.local && (e.pinned || !e.verifiedCopy))
      const pinnedBytes = sum(held.filter((e) => e.pinned))
      const warning = plan.warnings.find((w) => w.reason !== "PinnedNotFetched")!
      assert.strictEqual(warning.reason, pinnedBytes > plan.limitBytes ? "PinnedOverBudget" : "UnverifiedOverBudget")
      assert.strictEqual(warning.bytes, after - plan.limitBytes)
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("never evicts a pinned file", [policyArb, inputArb], ([policy, input]) => {
    const pinned = new Set(input.entries.filter((e) => e.pinned).map((e) => e.key))
    for (const e of planOk(policy, input).evict) assert.isFalse(pinned.has(e.key), `pinned ${e.key} evicted`)
  }, { fastCheck: { numRuns: 500 } })

  it.prop("never evicts a file without a verified copy, and evicts only local files", [policyArb, inputArb], ([policy, input]) => {
    const byKey = new Map(input.entries.map((e) => [e.key, e]))
    for (const e of planOk(policy, input).evict) {
      assert.isTrue(byKey.get(e.key)!.verifiedCopy, `unverified ${e.key} evicted`)
      assert.isTrue(byKey.get(e.key)!.local, `remote ${e.key} evicted`)
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("never plans a prefetch that ends over the limit; fetches only remote files, pinned first, each once", [policyArb, inputArb], ([policy, input]) => {
    const plan = planOk(policy, input)
    const byKey = new Map(input.entries.map((e) => [e.key, e]))
    if (plan.prefetch.length > 0) assert.isAtMost(localAfter(input.entries, plan), plan.limitBytes)
    assert.strictEqual(new Set(plan.prefetch.map((p) => p.key)).size, plan.prefetch.length)
    let sawHot = false
    for (const p of plan.prefetch) {
      assert.isFalse(byKey.get(p.key)!.local, `local ${p.key} prefetched`)
      assert.strictEqual(p.reason, byKey.get(p.key)!.pinned ? "Pinned" : "Hot")
      if (p.reason === "Hot") sawHot = true
      else assert.isFalse(sawHot, "a pinned fetch after a hot one")
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("evicts the coldest eligible files, no more than needed, and fetches nothing colder than what it kept", [policyArb, inputArb], ([policy, input]) => {
    const plan = planOk(policy, input)
    const evicted = new Set(plan.evict.map((e) => e.key))
    const score = (e: Entry) => {
      const s = policy.score(e, input.nowMs)
      return Number.isNaN(s) ? Number.NEGATIVE_INFINITY : s
    }
    const keptEligible = input.entries.filter((e) => eligible(e) && !evicted.has(e.key))
    const rank = (e: Entry) => [score(e), e.key] as const
    const below = (a: Entry, b: Entry) => rank(a)[0] < rank(b)[0] || (rank(a)[0] === rank(b)[0] && a.key < b.key)
    for (const gone of input.entries.filter((e) => evicted.has(e.key))) {
      for (const kept of keptEligible) assert.isTrue(below(gone, kept), `evicted ${gone.key} ranks above kept ${kept.key}`)
    }
    if (plan.evict.length > 0) {
      // Keeping the last file evicted would have ended over what the evictions had to reach.
      const last = plan.evict[plan.evict.length - 1]!
      const pinnedFetched = sum(plan.prefetch.filter((p) => p.reason === "Pinned"))
      const keptLocal = plan.localBytesBefore - sum(plan.evict)
      assert.isAbove(keptLocal + last.size, plan.limitBytes - pinnedFetched, "an eviction that was not needed")
    }
    const coldestKept = Math.min(...keptEligible.map(score))
    for (const p of plan.prefetch.filter((p) => p.reason === "Hot")) {
      assert.isAbove(p.score, coldestKept)
      for (const e of plan.evict) assert.isAbove(p.score, e.score)
    }
  }, { fastCheck: { numRuns: 500 } })

  it.prop("limits local bytes by the tightest of the budget's limits, counting the bytes evictions free", [inputArb], ([input]) => {
    const plan = planOk(Policies.lru, input)
    const { budget, volume } = input
    const local = plan.localBytesBefore
    // Free space after the plan, if local bytes end at the limit.
    const freeAt = (limit: number) => volume.freeBytes + local - limit
    const l = plan.limitBytes
    assert.isAtLeast(l, 0)
    if (l > 0) {
      assert.isAtLeast(freeAt(l), 0)
      if (budget.maxBytes !== undefined) assert.isAtMost(l, budget.maxBytes)
      if (budget.minFreeBytes !== undefined) assert.isAtLeast(freeAt(l), budget.minFreeBytes)
      if (budget.minFreePercent !== undefined) assert.isAtLeast(freeAt(l), (volume.totalBytes * budget.minFreePercent) / 100)
    }
    // …and no looser than needed: one of them is tight (or the limit is 0).
    const tight = [
      freeAt(l) === 0,
      budget.maxBytes === l,
      budget.minFreeBytes !== undefined && freeAt(l) === budget.minFreeBytes,
      budget.minFreePercent !== undefined && freeAt(l) === Math.ceil((volume.totalBytes * budget.minFreePercent) / 100)
    ]
    assert.isTrue(l === 0 || tight.some(Boolean), `limit ${l} is not tight`)
  }, { fastCheck: { numRuns: 300 } })

  it.prop("is deterministic: the order of the entries does not matter", [policyArb, inputArb], ([policy, input]) => {
    const a = planOk(policy, input)
    const b = planOk(policy, { ...input, entries: [...input.entries].reverse() })
    const c = planOk(policy, { ...input, entries: [...input.entries].sort((x, y) => x.size - y.size) })
    assert.deepStrictEqual(b, a)
    assert.deepStrictEqual(c, a)
  }, { fastCheck: { numRuns: 300 } })
})

describe("decayed frequency", () => {
  const h = DecayedFrequency.defaultHalfLifeMs
  const policy = Policies.decayedFrequency
  const entry = (key: string, accesses: ReadonlyArray<number>): Entry => ({
    key, size: 100, local: true, pinned: false, verifiedCopy: true,
    stats: accesses.reduce((s, at) => AccessStats.record(s, at, h), AccessStats.empty)
  })
  // Two files of 100 bytes, room for one: exactly one must go.
  const planTwo = (policy: CachePolicy.CachePolicy, a: Entry, b: Entry, nowMs: number) =>
    planOk(policy, { entries: [a, b], budget: { maxBytes: 150 }, volume: { totalBytes: 1e9, freeBytes: 1e9 }, nowMs })

  it.prop(
    "a file used often of late outranks one used once long ago, which is the one evicted",
    [
      fc.integer({ min: 0, max: 1e12 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 12 }),
      fc.double({ min: 1, max: 40, noNaN: true }),
      fc.boolean()
    ],
    ([nowMs, recent, halfLivesAgo, swapKeys]) => {
      // `often`: 2–12 accesses within the last half-life; `once`: one access ≥ 1 half-life ago.
      const often = entry(swapKeys ? "b" : "a", recent.map((x) => nowMs - x * h))
      const once = entry(swapKeys ? "a" : "b", [nowMs - halfLivesAgo * h])
      assert.isAbove(policy.score(often, nowMs), policy.score(once, nowMs))
      const plan = planTwo(policy, often, once, nowMs)
      assert.deepStrictEqual(plan.evict.map((e) => e.key), [once.key])
    }
  )

  it.prop(
    "frequency counts: many accesses a little earlier beat one access just now (LRU would evict them)",
    [fc.integer({ min: 0, max: 1e12 }), fc.array(fc.double({ min: 0.01, max: 0.5, noNaN: true }), { minLength: 4, maxLength: 12 })],
    ([nowMs, agos]) => {
      const frequent = entry("frequent", agos.map((x) => nowMs - x * h))
      const single = entry("single", [nowMs])
      assert.deepStrictEqual(planTwo(policy, frequent, single, nowMs).evict.map((e) => e.key), ["single"])
      assert.deepStrictEqual(planTwo(Policies.lru, frequent, single, nowMs).evict.map((e) => e.key), ["frequent"])
    }
  )

  it.prop(
    "old frequency fades: a burst long ago loses to steady recent use (LFU would keep the burst)",
    [fc.integer({ min: 1e10, max: 1e12 }), fc.integer({ min: 20, max: 60 }), fc.integer({ min: 6, max: 10 })],
    ([nowMs, burst, halfLivesAgo]) => {
      const stale = entry("stale", Array.from({ length: burst }, (_, i) => nowMs - halfLivesAgo * h - i))
      const steady = entry("steady", Array.from({ length: 5 }, (_, i) => nowMs - i * (h / 5)))
      assert.deepStrictEqual(planTwo(policy, stale, steady, nowMs).evict.map((e) => e.key), ["stale"])
      assert.deepStrictEqual(planTwo(Policies.lfu, stale, steady, nowMs).evict.map((e) => e.key), ["steady"])
    }
  )
})

describe("safety rules, by example", () => {
  const e = (key: string, size: number, over: Partial<Entry> = {}): Entry => ({
    key, size, local: true, pinned: false, verifiedCopy: true, stats: AccessStats.record(AccessStats.empty, size, 1000), ...over
  })
  const volume = { totalBytes: 10_000, freeBytes: 5_000 }

  it("pins win: pinned bytes over the limit are kept, everything eligible goes, and the plan says so", () => {
    const plan = planOk(Policies.lru, { entries: [e("p", 500, { pinned: true }), e("x", 100), e("u", 50, { verifiedCopy: false })], budget: { maxBytes: 300 }, volume, nowMs: 0 })
    assert.deepStrictEqual(plan.evict.map((x) => x.key), ["x"])
    assert.deepStrictEqual(plan.warnings, [{ reason: "PinnedOverBudget", bytes: 250, files: 1, filesBytes: 500 }])
    assert.strictEqual(plan.localBytesAfter, 550)
  })

  it("sole copies win: unverified bytes over the limit are kept, and the plan says so", () => {
    const plan = planOk(Policies.lru, { entries: [e("p", 100, { pinned: true }), e("x", 100), e("u", 300, { verifiedCopy: false })], budget: { maxBytes: 300 }, volume, nowMs: 0 })
    assert.deepStrictEqual(plan.evict.map((x) => x.key), ["x"])
    assert.deepStrictEqual(plan.warnings, [{ reason: "UnverifiedOverBudget", bytes: 100, files: 1, filesBytes: 300 }])
  })

  it("makes room for pinned files by evicting cold ones, and fetches hot files only into headroom", () => {
    const plan = planOk(Policies.lru, {
      entries: [
        e("cold", 200), e("warm", 200, { stats: AccessStats.record(AccessStats.empty, 800, 1000) }), e("hot-remote", 100, { local: false }), e("pin", 150, { local: false, pinned: true }),
        e("too-big", 900, { local: false, pinned: true }), e("never", 50, { local: false, stats: AccessStats.empty })
      ],
      budget: { maxBytes: 500 }, volume, nowMs: 1000
    })
    assert.deepStrictEqual(plan.evict.map((x) => [x.key, x.reason]), [["cold", "Room for 1 pinned file: score 200, lowest of the 2 eligible local files left"]])
    assert.deepStrictEqual(plan.prefetch.map((x) => [x.key, x.reason]), [["pin", "Pinned"]])
    assert.deepStrictEqual(plan.warnings, [{ reason: "PinnedNotFetched", bytes: 900, files: 1, filesBytes: 900 }])
    assert.strictEqual(plan.localBytesAfter, 350)
    // With more room the hot remote file comes too (it outscores the coldest kept), the never-used one does not.
    const roomy = planOk(Policies.lru, { entries: [e("warm", 200), e("hot-remote", 250, { local: false }), e("never", 50, { local: false, stats: AccessStats.empty })], budget: { maxBytes: 500 }, volume, nowMs: 1000 })
    assert.deepStrictEqual(roomy.prefetch.map((x) => [x.key, x.reason]), [["hot-remote", "Hot"]])
  })

  it("says why a file goes", () => {
    const plan = planOk(Policies.lfu, { entries: [e("a", 100), e("b", 100)], budget: { maxBytes: 100 }, volume, nowMs: 0 })
    assert.deepStrictEqual(plan.evict.map((x) => x.reason), ["Cold: score 1, lowest of the 2 eligible local files left"])
  })

  it("refuses entries it cannot reason about", () => {
    const base = { budget: {}, volume, nowMs: 0 }
    const errorOf = (result: ReturnType<typeof CachePlanner.plan>) => Either.match(result, { onLeft: (x) => [x._tag, x.reason], onRight: () => ["ok"] })
    assert.deepStrictEqual(errorOf(CachePlanner.plan(Policies.lru, { ...base, entries: [e("a", -1)] })), ["CacheEntryError", "InvalidSize"])
    assert.deepStrictEqual(errorOf(CachePlanner.plan(Policies.lru, { ...base, entries: [e("a", Number.NaN)] })), ["CacheEntryError", "InvalidSize"])
    assert.deepStrictEqual(errorOf(CachePlanner.plan(Policies.lru, { ...base, entries: [e("a", 1), e("a", 2)] })), ["CacheEntryError", "DuplicateKey"])
    assert.deepStrictEqual(errorOf(CachePlanner.plan(Policies.lru, { ...base, budget: { maxBytes: -1 }, entries: [] })), ["CacheBudgetError", "Negative"])
  })

  it("plans 100,000 files in well under a second", () => {
    const h = DecayedFrequency.defaultHalfLifeMs
    const now = 400 * h
    let seed = 42
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
    const entries: Array<Entry> = Array.from({ length: 100_000 }, (_, i) => {
      let stats = AccessStats.empty
      for (let k = Math.floor(random() * 4); k > 0; k--) stats = AccessStats.record(stats, now - random() * 50 * h, h)
      return { key: `dir${i % 97}/file${i}`, size: 1 + Math.floor(random() * 1e6), local: random() < 0.6, pinned: random() < 0.01, verifiedCopy: random() < 0.95, stats }
    })
    const input = { entries, budget: { maxBytes: 10e9 }, volume: { totalBytes: 1e12, freeBytes: 1e11 }, nowMs: now }
    planOk(Policies.decayedFrequency, input) // warm-up (JIT)
    const start = performance.now()
    const plan = planOk(Policies.decayedFrequency, input)
    const ms = performance.now() - start
    assert.isAbove(plan.evict.length, 1000)
    assert.isAtMost(plan.localBytesAfter, plan.limitBytes)
    assert.isBelow(ms, 750, `took ${ms.toFixed(0)} ms`)
  })
})
