/** Generated cache states shared by the property tests. */
import { FastCheck as fc } from "effect"
import { AccessStats, type CacheBudget, type CacheEntry, type CachePolicy, Policies } from "../src/index.js"

/** The half-life the generated stats are recorded with (ms). */
export const halfLifeMs = 1000

/** Stats from up to six accesses in the first 10 s. */
export const statsArb: fc.Arbitrary<AccessStats.AccessStats> = fc
  .array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 6 })
  .map((times) => times.reduce((stats, at) => AccessStats.record(stats, at, halfLifeMs), AccessStats.empty))

const entryArb = fc.record({
  size: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 9, arbitrary: fc.integer({ min: 1, max: 1000 }) }),
  local: fc.boolean(),
  pinned: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
  verifiedCopy: fc.integer({ min: 0, max: 4 }).map((x) => x !== 0),
  stats: statsArb
})

/** Up to 40 entries with unique keys (a small key space, so equal scores are common). */
export const entriesArb: fc.Arbitrary<Array<CacheEntry.CacheEntry>> = fc
  .array(entryArb, { maxLength: 40 })
  .map((entries) => entries.map((entry, i) => ({ key: `f${(i * 7919) % 1009}`, ...entry })))

export const budgetArb: fc.Arbitrary<CacheBudget.CacheBudget> = fc.record(
  {
    maxBytes: fc.integer({ min: 0, max: 20_000 }),
    minFreeBytes: fc.integer({ min: 0, max: 30_000 }),
    minFreePercent: fc.double({ min: 0, max: 100, noNaN: true })
  },
  { requiredKeys: [] }
)

export const volumeArb: fc.Arbitrary<CacheBudget.Volume> = fc
  .integer({ min: 0, max: 60_000 })
  .chain((totalBytes) => fc.integer({ min: 0, max: totalBytes }).map((freeBytes) => ({ totalBytes, freeBytes })))

/** A policy that ranks at random, with NaN and ±∞: the planner's rules must hold anyway. */
export const chaos: CachePolicy.CachePolicy = {
  name: "chaos",
  description: "scores from a hash of the key",
  score: (entry) => {
    let h = 0
    for (const c of entry.key) h = (h * 31 + c.charCodeAt(0)) % 11
    return h === 0 ? Number.NaN : h === 1 ? Number.NEGATIVE_INFINITY : h === 2 ? Number.POSITIVE_INFINITY : h - 5
  }
}

export const policyArb: fc.Arbitrary<CachePolicy.CachePolicy> = fc.constantFrom(...Policies.builtins, chaos)

export const nowArb = fc.integer({ min: 0, max: 20_000 })
