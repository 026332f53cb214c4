import { describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Queue, Stream } from "effect"
import { assert } from "vitest"
import { ConduitEvents } from "../src/index.js"

const started = (conduit: string): ConduitEvents.Unstamped => ({ _tag: "SyncStarted", conduit, generation: 1, job: null })

describe("ConduitEvents", () => {
  it.scoped("every subscriber gets every event published after it subscribed, stamped, in order", () =>
    Effect.gen(function* () {
      const events = yield* ConduitEvents.make()
      yield* events.publish(started("before"))
      const a = yield* events.subscribe
      const b = yield* events.subscribe
      yield* events.publish(started("one"))
      yield* events.publish({ _tag: "PeerConnected", peerId: "12D3KooWx", remoteAddress: "/ip4/127.0.0.1/udp/1/quic-v1" })
      for (const q of [a, b]) {
        const got = Chunk.toReadonlyArray(yield* Queue.takeAll(q))
        assert.deepStrictEqual(got.map((e) => e._tag), ["SyncStarted", "PeerConnected"])
        assert.instanceOf(got[0]!.at, Date)
      }
    }))

  it.scoped("a slow subscriber does not hold up publishers: it keeps the newest events", () =>
    Effect.gen(function* () {
      const events = yield* ConduitEvents.make(4)
      const slow = yield* events.subscribe
      // Far more than the capacity, and nobody reads: publish never waits.
      yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => events.publish(started(`c${i}`)), { discard: true })
      const kept = Chunk.toReadonlyArray(yield* Queue.takeAll(slow))
      assert.deepStrictEqual(kept.map((e) => (e._tag === "SyncStarted" ? e.conduit : "")), ["c96", "c97", "c98", "c99"])
    }))

  it.scopedLive("the stream carries events to a consumer; a conduit's lifecycle event seen twice is told once", () =>
    Effect.gen(function* () {
      const events = yield* ConduitEvents.make()
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events.stream, 3)))
      yield* Effect.sleep("10 millis")
      const at = new Date(1_700_000_000_000)
      yield* events.publish({ _tag: "ConduitUpdated", at, conduit: "c1", mode: "mirror", enabled: true, schedule: "manual" })
      yield* events.publish({ _tag: "ConduitUpdated", at, conduit: "c1", mode: "mirror", enabled: true, schedule: "manual" })
      yield* events.publish({ _tag: "ConduitRemoved", conduit: "c1" })
      yield* events.publish({ _tag: "ConduitRemoved", conduit: "c1" })
      yield* events.publish(started("c2"))
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      assert.deepStrictEqual(got.map((e) => e._tag), ["ConduitUpdated", "ConduitRemoved", "SyncStarted"])
    }), { timeout: 5_000 })

  it("events encode to JSON and decode back", () => {
    const event: ConduitEvents.Event = { _tag: "VerificationDone", at: new Date(0), conduit: "c", generation: 2, verified: true, remaining: 0 }
    const json = ConduitEvents.encode(event)
    assert.deepStrictEqual(json, { _tag: "VerificationDone", at: "1970-01-01T00:00:00.000Z", conduit: "c", generation: 2, verified: true, remaining: 0 })
    assert.deepStrictEqual(Effect.runSync(ConduitEvents.decode(JSON.parse(JSON.stringify(json)))), event)
  })
})
