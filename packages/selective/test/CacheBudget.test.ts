import { describe, it } from "@effect/vitest"
import { Either } from "effect"
import { assert } from "vitest"
import { CacheBudget } from "../src/index.js"

const volume = { totalBytes: 1000, freeBytes: 400 }
const reasonOf = (budget: unknown, vol: unknown = volume) =>
  Either.match(CacheBudget.validate(budget, vol), { onLeft: (e) => [e.reason, e.field], onRight: () => "ok" })

describe("CacheBudget.validate", () => {
  it("accepts an empty budget and every field at its bounds", () => {
    assert.strictEqual(reasonOf({}), "ok")
    assert.strictEqual(reasonOf({ maxBytes: 0, minFreeBytes: 0, minFreePercent: 0 }), "ok")
    assert.strictEqual(reasonOf({ minFreePercent: 100 }), "ok")
    assert.strictEqual(reasonOf({}, { totalBytes: 5, freeBytes: 5 }), "ok")
  })

  it("refuses negative, NaN, infinite and over-100 % values with a reason naming the field", () => {
    assert.deepStrictEqual(reasonOf({ maxBytes: -1 }), ["Negative", "maxBytes"])
    assert.deepStrictEqual(reasonOf({ minFreeBytes: Number.NaN }), ["NotANumber", "minFreeBytes"])
    assert.deepStrictEqual(reasonOf({ maxBytes: Number.POSITIVE_INFINITY }), ["NotANumber", "maxBytes"])
    assert.deepStrictEqual(reasonOf({ minFreePercent: 100.5 }), ["PercentOver100", "minFreePercent"])
    assert.deepStrictEqual(reasonOf({ minFreePercent: -3 }), ["Negative", "minFreePercent"])
    assert.deepStrictEqual(reasonOf({ maxBytes: "10" }), ["Malformed", "maxBytes"])
    assert.deepStrictEqual(reasonOf({}, { totalBytes: 10, freeBytes: -1 }), ["Negative", "volume.freeBytes"])
    assert.deepStrictEqual(reasonOf({}, { totalBytes: 10 }), ["Malformed", "volume.freeBytes"])
    assert.deepStrictEqual(reasonOf({}, { totalBytes: 10, freeBytes: 11 }), ["FreeExceedsTotal", "volume.freeBytes"])
  })

  it("says what is wrong in one sentence", () => {
    const error = Either.flip(CacheBudget.validate({ minFreePercent: 250 }, volume)).pipe(Either.getOrThrow)
    assert.strictEqual(error._tag, "CacheBudgetError")
    assert.strictEqual(error.message, "cache budget: minFreePercent must be at most 100 (got 250)")
  })
})

describe("CacheBudget.limitBytes", () => {
  // 600 bytes local, 400 free of 1000.
  it("is the tightest limit, counting bytes evictions free", () => {
    assert.strictEqual(CacheBudget.limitBytes({}, volume, 600), 1000)
    assert.strictEqual(CacheBudget.limitBytes({ maxBytes: 700 }, volume, 600), 700)
    assert.strictEqual(CacheBudget.limitBytes({ maxBytes: 700, minFreeBytes: 500 }, volume, 600), 500)
    assert.strictEqual(CacheBudget.limitBytes({ maxBytes: 700, minFreePercent: 60 }, volume, 600), 400)
    assert.strictEqual(CacheBudget.limitBytes({ minFreeBytes: 5000 }, volume, 600), 0)
  })
})
