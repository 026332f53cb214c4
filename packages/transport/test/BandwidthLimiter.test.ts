import { describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, TestClock } from "effect"
import * as Path from "node:path"
import { assert } from "vitest"
import { BandwidthLimiter } from "../src/index.js"
import { bytes } from "./support.js"
import { LOCATION, pair, policyFor, sameBytes, writeFile } from "./transferSupport.js"

/**
 * A limiter that records when each charge was let through: the rate the sessions were held to is
 * the bytes charged after the first one over the time between the first and the last, without
 * the sessions' hashing, verification and fsync before and after.
 */
const metered = (inner: BandwidthLimiter.BandwidthLimiter) => {
  const charges: Array<{ readonly at: number; readonly bytes: number }> = []
  const limiter: BandwidthLimiter.BandwidthLimiter = {
    ...inner,
    take: (bytes) => Effect.tap(inner.take(bytes), () => Effect.sync(() => void charges.push({ at: Date.now(), bytes })))
  }
  const rate = () => {
    const seconds = (charges[charges.length - 1]!.at - charges[0]!.at) / 1000
    return { seconds, mibPerSecond: charges.slice(1).reduce((n, c) => n + c.bytes, 0) / (1024 * 1024) / seconds }
  }
  return { limiter, rate }
}

describe("BandwidthLimiter", () => {
  it.effect("lets a burst through, then makes takers wait for the rate, in the order they asked", () =>
    Effect.gen(function* () {
      const limiter = yield* BandwidthLimiter.make(1000, { burstBytes: 100 })
      yield* limiter.take(100)
      const done: Array<string> = []
      const first = yield* Effect.fork(Effect.zipRight(limiter.take(500), Effect.sync(() => done.push("first"))))
      const second = yield* Effect.fork(Effect.zipRight(limiter.take(500), Effect.sync(() => done.push("second"))))
      yield* TestClock.adjust("499 millis")
      assert.deepStrictEqual(done, [])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(first)
      assert.deepStrictEqual(done, ["first"])
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(second)
      assert.deepStrictEqual(done, ["first", "second"])
      // After a quiet second the bucket is full again, but never above the burst.
      yield* TestClock.adjust("10 seconds")
      yield* limiter.take(100)
      const late = yield* Effect.fork(limiter.take(10))
      yield* TestClock.adjust("9 millis")
      assert.isNull(late.unsafePoll())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(late)
    }))

  it.effect("refuses a rate that is not a positive number", () =>
    Effect.gen(function* () {
      for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const exit = yield* Effect.exit(BandwidthLimiter.make(rate))
        assert.isTrue(exit._tag === "Failure")
      }
    }))

  it.scopedLive("caps two sessions sharing one limiter at 4 MiB/s together (within 10 %)", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const MiB = 1024 * 1024
      const one = writeFile(source, "one.bin", bytes(6 * MiB, 1))
      const two = writeFile(source, "two.bin", bytes(6 * MiB, 2))
      const { limiter, rate } = metered(yield* BandwidthLimiter.make(4 * MiB))
      const outcomes = yield* Effect.all([
        a.sender.sendAll(b.node.peerId, [{ source: one, location: LOCATION, path: "one.bin" }], { limiter, compress: false }),
        a.sender.sendAll(b.node.peerId, [{ source: two, location: LOCATION, path: "two.bin" }], { limiter, compress: false })
      ], { concurrency: "unbounded" })
      for (const [outcome] of outcomes) assert.isTrue(Either.isRight(outcome!))
      const { mibPerSecond, seconds } = rate()
      assert.isAtLeast(mibPerSecond, 3.6, `${mibPerSecond.toFixed(2)} MiB/s over ${seconds.toFixed(2)} s`)
      assert.isAtMost(mibPerSecond, 4.4, `${mibPerSecond.toFixed(2)} MiB/s over ${seconds.toFixed(2)} s`)
      assert.isTrue(sameBytes(one, Path.join(root, "one.bin")) && sameBytes(two, Path.join(root, "two.bin")))
    }), 30_000)
  it.scopedLive("a device's total shared by two conduits' limiters: 4 MiB/s together (within 10 %), each about half", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const MiB = 1024 * 1024
      const one = writeFile(source, "one.bin", bytes(6 * MiB, 3))
      const two = writeFile(source, "two.bin", bytes(6 * MiB, 4))
      const { limiter: device, rate } = metered(yield* BandwidthLimiter.make(4 * MiB))
      // Each conduit's own limit is above the device's: the total is what holds them.
      const conduitOne = BandwidthLimiter.all([yield* BandwidthLimiter.make(8 * MiB), device])
      const conduitTwo = BandwidthLimiter.all([yield* BandwidthLimiter.make(8 * MiB), device])
      assert.strictEqual(conduitOne.bytesPerSecond, 4 * MiB)
      const started = Date.now()
      const send = (file: string, path: string, limiter: BandwidthLimiter.BandwidthLimiter) =>
        Effect.map(
          a.sender.sendAll(b.node.peerId, [{ source: file, location: LOCATION, path }], { limiter, compress: false }),
          ([outcome]) => ({ ok: Either.isRight(outcome!), seconds: (Date.now() - started) / 1000 })
        )
      const [first, second] = yield* Effect.all([send(one, "one.bin", conduitOne), send(two, "two.bin", conduitTwo)], { concurrency: "unbounded" })
      assert.isTrue(first!.ok && second!.ok)
      const seconds = Math.max(first!.seconds, second!.seconds)
      const held = rate()
      assert.isAtLeast(held.mibPerSecond, 3.6, `${held.mibPerSecond.toFixed(2)} MiB/s over ${held.seconds.toFixed(2)} s`)
      assert.isAtMost(held.mibPerSecond, 4.4, `${held.mibPerSecond.toFixed(2)} MiB/s over ${held.seconds.toFixed(2)} s`)
      // Fair: neither waits for the other to finish first.
      assert.isAbove(Math.min(first!.seconds, second!.seconds) / seconds, 0.75, `${first!.seconds} s and ${second!.seconds} s`)
      assert.isTrue(sameBytes(one, Path.join(root, "one.bin")) && sameBytes(two, Path.join(root, "two.bin")))
    }), 30_000)
})
