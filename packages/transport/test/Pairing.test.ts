import { describe, it } from "@effect/vitest"
import { LibraryDatabase } from "@conduit/index"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { assert } from "vitest"
import { DeviceIdentity, Pairing } from "../src/index.js"
import { randomPeerId, tempDir } from "./support.js"

const pairingOn = (home: string) =>
  Pairing.layer.pipe(
    Layer.provideMerge(DeviceIdentity.layer),
    Layer.provideMerge(Layer.fresh(LibraryDatabase.layer({ home })))
  )

describe("Pairing", () => {
  it.scopedLive("pairs, lists, revokes and pairs again; the table lives in the library database", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const peer = yield* randomPeerId
      yield* Effect.gen(function* () {
        const pairing = yield* Pairing.Pairing
        const sql = yield* SqlClient.SqlClient
        assert.isFalse(yield* pairing.isPaired(peer))
        const paired = yield* pairing.pair(peer, [`/ip4/10.0.0.2/tcp/4001`, `/ip4/10.0.0.2/udp/4001/quic-v1/p2p/${peer}`], " laptop ")
        assert.strictEqual(paired.name, "laptop")
        assert.isFalse(paired.revoked)
        // QUIC first.
        assert.deepStrictEqual(paired.addresses, [`/ip4/10.0.0.2/udp/4001/quic-v1/p2p/${peer}`, "/ip4/10.0.0.2/tcp/4001"])
        assert.isTrue(yield* pairing.isPaired(peer))
        assert.deepStrictEqual((yield* pairing.list).map((p) => p.peerId), [peer])
        const revoked = yield* pairing.revoke(peer)
        assert.isTrue(revoked.revoked)
        assert.isFalse(yield* pairing.isPaired(peer))
        assert.isTrue((yield* pairing.get(peer)).revoked)
        const again = yield* pairing.pair(peer, [], "laptop (new)")
        assert.deepStrictEqual([again.revoked, again.name, again.addresses], [false, "laptop (new)", []])
        const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%transport%' ORDER BY name`
        assert.deepStrictEqual(tables.map((t) => t.name), ["conduit_transport_migrations", "transport_peers"])
      }).pipe(Effect.provide(pairingOn(home)))
      // Persisted across a reopen.
      yield* Effect.gen(function* () {
        const pairing = yield* Pairing.Pairing
        assert.isTrue(yield* pairing.isPaired(peer))
        assert.strictEqual((yield* pairing.get(peer)).name, "laptop (new)")
      }).pipe(Effect.provide(pairingOn(home)))
    }))

  it.scopedLive("refuses invalid peer ids, this device, bad names and addresses; unknown peers are NotFound", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      yield* Effect.gen(function* () {
        const pairing = yield* Pairing.Pairing
        const self = yield* DeviceIdentity.DeviceIdentity
        const peer = yield* randomPeerId
        const other = yield* randomPeerId
        const reason = <A>(effect: Effect.Effect<A, Pairing.PairingError | unknown>) =>
          Effect.map(Effect.flip(effect), (e) => (e as Pairing.PairingError).reason)
        assert.strictEqual(yield* reason(pairing.pair("not-a-peer", [], "x")), "InvalidPeerId")
        assert.strictEqual(yield* reason(pairing.pair(self.peerId, [], "me")), "Self")
        assert.strictEqual(yield* reason(pairing.pair(peer, [], "  ")), "InvalidName")
        assert.strictEqual(yield* reason(pairing.pair(peer, ["not an address"], "x")), "InvalidAddress")
        assert.strictEqual(yield* reason(pairing.pair(peer, [`/ip4/10.0.0.2/tcp/1/p2p/${other}`], "x")), "InvalidAddress")
        assert.strictEqual(yield* reason(pairing.pair(peer, Array(33).fill("/ip4/10.0.0.2/tcp/1"), "x")), "InvalidAddress")
        assert.strictEqual(yield* reason(pairing.revoke(peer)), "NotFound")
        assert.strictEqual(yield* reason(pairing.get(peer)), "NotFound")
        assert.deepStrictEqual(yield* pairing.list, [])
      }).pipe(Effect.provide(pairingOn(home)))
    }))
})
