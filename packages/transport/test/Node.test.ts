import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { assert } from "vitest"
import { bytes, deadUdpPort, device, ECHO, echo, pairBoth, pairWith, randomPeerId, roundTrip } from "./support.js"

describe("Node", () => {
  it.scopedLive("listens on loopback QUIC first, then TCP, each address naming this peer", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const addresses = yield* a.node.addresses
      assert.strictEqual(addresses.length, 2)
      assert.match(addresses[0]!, /^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\//)
      assert.match(addresses[1]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
      for (const address of addresses) assert.isTrue(address.endsWith(`/p2p/${a.identity.peerId}`))
      assert.strictEqual(a.node.peerId, a.identity.peerId)
    }))

  it.scopedLive("two paired nodes exchange bytes on a protocol over QUIC", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const served: Array<string> = []
      yield* b.node.handle(ECHO, echo(served))
      const quic = (yield* b.node.addresses).find((x) => x.includes("/quic-v1"))!
      const connection = yield* a.node.dial(quic)
      assert.deepStrictEqual([connection.peerId, connection.transport], [b.node.peerId, "quic"])
      const payload = bytes(3 * 1024 * 1024 + 17)
      const reply = yield* roundTrip(a.node, b.node.peerId, payload)
      assert.strictEqual(reply.byteLength, payload.byteLength)
      assert.isTrue(Buffer.from(reply).equals(Buffer.from(payload)))
      assert.deepStrictEqual(served, [a.node.peerId])
      // The stream went over the QUIC connection, the only one.
      assert.deepStrictEqual((yield* a.node.connections).map((c) => c.transport), ["quic"])
      assert.deepStrictEqual((yield* b.node.connections).map((c) => [c.peerId, c.transport]), [[a.node.peerId, "quic"]])
    }))

  it.scopedLive("two paired nodes exchange bytes on a protocol over TCP (Noise + Yamux)", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const served: Array<string> = []
      yield* b.node.handle(ECHO, echo(served))
      const tcp = (yield* b.node.addresses).find((x) => x.includes("/tcp/"))!
      const connection = yield* a.node.dial(tcp)
      assert.deepStrictEqual([connection.peerId, connection.transport], [b.node.peerId, "tcp"])
      const payload = bytes(3 * 1024 * 1024 + 17, 7)
      const reply = yield* roundTrip(a.node, b.node.peerId, payload)
      assert.isTrue(Buffer.from(reply).equals(Buffer.from(payload)))
      // Several streams at once on the one connection.
      const replies = yield* Effect.all(
        [1, 2, 3, 4].map((seed) => roundTrip(a.node, b.node.peerId, bytes(64 * 1024, seed))),
        { concurrency: "unbounded" }
      )
      replies.forEach((r, i) => assert.isTrue(Buffer.from(r).equals(Buffer.from(bytes(64 * 1024, i + 1)))))
      assert.deepStrictEqual(served, Array(5).fill(a.node.peerId))
      assert.deepStrictEqual((yield* a.node.connections).map((c) => c.transport), ["tcp"])
    }))

  it.scopedLive("connect tries the paired addresses QUIC first and falls back to TCP", () =>
    Effect.gen(function* () {
      const a = yield* device({ dialTimeout: "2 seconds" })
      const b = yield* device({ transports: ["tcp"] })
      const deadPort = yield* deadUdpPort
      const bAddresses = yield* b.node.addresses
      assert.isTrue(bAddresses.every((x) => x.includes("/tcp/")))
      const stored = yield* a.pairing.pair(b.node.peerId, [...bAddresses, `/ip4/127.0.0.1/udp/${deadPort}/quic-v1`], "b")
      assert.isTrue(stored.addresses[0]!.includes("/quic-v1"))
      yield* pairWith(b, a)
      const served: Array<string> = []
      yield* b.node.handle(ECHO, echo(served))
      const connection = yield* a.node.connect(b.node.peerId)
      assert.strictEqual(connection.transport, "tcp")
      const reply = yield* roundTrip(a.node, b.node.peerId, bytes(1000))
      assert.isTrue(Buffer.from(reply).equals(Buffer.from(bytes(1000))))
      // And with QUIC reachable, connect takes QUIC.
      const c = yield* device()
      yield* pairBoth(a, c)
      assert.strictEqual((yield* a.node.connect(c.node.peerId)).transport, "quic")
    }))

  it.scopedLive("an unpaired node is refused before any protocol runs, over QUIC and over TCP", () =>
    Effect.gen(function* () {
      const b = yield* device()
      const stranger = yield* device()
      const served: Array<string> = []
      yield* b.node.handle(ECHO, echo(served))
      // The stranger pairs with b on its side; b never paired the stranger.
      yield* pairWith(stranger, b)
      for (const kind of ["/quic-v1", "/tcp/"]) {
        const address = (yield* b.node.addresses).find((x) => x.includes(kind))!
        const exchange = Effect.zipRight(stranger.node.dial(address), roundTrip(stranger.node, b.node.peerId, bytes(100)))
        const error = yield* Effect.flip(exchange)
        assert.strictEqual(error._tag, "TransportError")
        assert.include(["Dial", "Stream"], error.reason, `${kind}: ${error.message}`)
      }
      assert.deepStrictEqual(served, [])
      assert.deepStrictEqual(yield* b.node.connections, [])
      // This side refuses to dial a peer it did not pair, without touching the network.
      const a = yield* device()
      const notPaired = yield* Effect.flip(a.node.dial((yield* b.node.addresses)[0]!))
      assert.strictEqual(notPaired.reason, "NotPaired")
      assert.strictEqual((yield* Effect.flip(a.node.connect(yield* randomPeerId))).reason, "NotPaired")
      assert.strictEqual((yield* Effect.flip(Effect.scoped(a.node.openStream(b.node.peerId, ECHO)))).reason, "NotPaired")
    }))

  it.scopedLive("revoking a peer hangs up on it and refuses it from then on", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const served: Array<string> = []
      yield* b.node.handle(ECHO, echo(served))
      yield* roundTrip(a.node, b.node.peerId, bytes(10))
      assert.strictEqual((yield* b.node.connections).length, 1)
      yield* b.pairing.revoke(a.node.peerId)
      for (let i = 0; i < 100 && (yield* b.node.connections).length > 0; i++) yield* Effect.sleep("20 millis")
      assert.deepStrictEqual(yield* b.node.connections, [])
      const error = yield* Effect.flip(roundTrip(a.node, b.node.peerId, bytes(10)))
      assert.include(["Dial", "Stream"], error.reason, error.message)
      assert.deepStrictEqual(served, [a.node.peerId])
    }))

  it.scopedLive("a peer that does not serve a protocol fails the stream with UnsupportedProtocol", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const error = yield* Effect.flip(Effect.scoped(a.node.openStream(b.node.peerId, "/conduit/test/nothing/1.0.0")))
      assert.strictEqual(error.reason, "UnsupportedProtocol")
    }))

  it.scopedLive("a handler's scope ends the service: the protocol is no longer served", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const served: Array<string> = []
      yield* Effect.scoped(Effect.gen(function* () {
        yield* b.node.handle(ECHO, echo(served))
        yield* roundTrip(a.node, b.node.peerId, bytes(10))
      }))
      const error = yield* Effect.flip(roundTrip(a.node, b.node.peerId, bytes(10)))
      assert.strictEqual(error.reason, "UnsupportedProtocol")
      assert.strictEqual(served.length, 1)
    }))
})
