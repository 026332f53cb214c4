import { describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { assert } from "vitest"
import { AccessStats } from "../src/index.js"

const h = 1000
const recordAll = (times: ReadonlyArray<number>) => times.reduce((s, at) => AccessStats.record(s, at, h), AccessStats.empty)

describe("AccessStats", () => {
  it("counts, moves the last access, and halves the heat every half-life", () => {
    const once = AccessStats.record(AccessStats.empty, 5000, h)
    assert.deepStrictEqual(once, { accessCount: 1, lastAccessMs: 5000, heat: 1, heatAtMs: 5000 })
    assert.strictEqual(AccessStats.heatAt(once, 6000, h), 0.5)
    assert.strictEqual(AccessStats.heatAt(once, 7000, h), 0.25)
    const twice = AccessStats.record(once, 6000, h)
    assert.deepStrictEqual(twice, { accessCount: 2, lastAccessMs: 6000, heat: 1.5, heatAtMs: 6000 })
    // Looking back (clock skew) does not make a file hotter.
    assert.strictEqual(AccessStats.heatAt(twice, 1000, h), 1.5)
    assert.strictEqual(AccessStats.heatAt(AccessStats.empty, 1e12, h), 0)
    // An access reported 2,000 half-lives late adds its (vanishing) weight, and nothing overflows.
    const late = AccessStats.record(AccessStats.record(AccessStats.empty, 2000 * h, h), 0, h)
    assert.deepStrictEqual(late, { accessCount: 2, lastAccessMs: 2000 * h, heat: 1, heatAtMs: 2000 * h })
  })

  it.prop(
    "the heat is the sum of each access's decayed weight, whatever order the accesses are recorded in",
    [fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 40_000 })],
    ([times, later]) => {
      const last = Math.max(...times)
      const now = last + later
      const expected = times.reduce((total, t) => total + Math.pow(2, -(now - t) / h), 0)
      for (const order of [times, [...times].sort((a, b) => a - b), [...times].sort((a, b) => b - a)]) {
        const stats = recordAll(order)
        assert.strictEqual(stats.accessCount, times.length)
        assert.strictEqual(stats.lastAccessMs, last)
        assert.approximately(AccessStats.heatAt(stats, now, h), expected, 1e-9 * times.length)
      }
    }
  )
})
