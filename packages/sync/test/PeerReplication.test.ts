/**
 * Library sync between two real devices: each a temporary home with its own library database,
 * identity and libp2p node on 127.0.0.1, paired both ways.
 */
import { describe, it } from "@effect/vitest"
import { Indexer, IndexLive, IndexStore, LibraryDatabase, Locations } from "@conduit/index"
import { LibrarySync } from "@conduit/library-sync"
import * as Testkit from "@conduit/testkit"
import { Node, Pairing, Streams, TransportLive } from "@conduit/transport"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { PeerReplication } from "../src/peers.js"

const tempDir = Testkit.tempDir("conduit-peers-")

/** A device: index, transport, library sync and replication on a fresh home. */
const device = (serve = true) => Effect.gen(function* () {
  const home = yield* tempDir
  const index = Layer.fresh(IndexLive.layer({ home, workers: 1 }))
  const transport = TransportLive.layer().pipe(Layer.provideMerge(index))
  const layer = PeerReplication.layer.pipe(Layer.provideMerge(LibrarySync.layer.pipe(Layer.provideMerge(transport))))
  const context = yield* Layer.build(layer)
  const replication = Context.get(context, PeerReplication.PeerReplication)
  if (serve) yield* replication.serve
  return {
    home,
    node: Context.get(context, Node.Node),
    pairing: Context.get(context, Pairing.Pairing),
    replication,
    locations: Context.get(context, Locations.Locations),
    indexer: Context.get(context, Indexer.Indexer),
    store: Context.get(context, IndexStore.IndexStore),
    db: Context.get(context, LibraryDatabase.LibraryDatabase),
    sql: Context.get(context, SqlClient.SqlClient)
  }
})
type Device = Effect.Effect.Success<ReturnType<typeof device>>

/** `_tag` and `reason` of a failure (errors carry causes too deep to compare whole). */
const why = (e: unknown) => [(e as { _tag?: string })._tag, (e as { reason?: string }).reason]

const pairBoth = (a: Device, b: Device) =>
  Effect.gen(function* () {
    yield* a.pairing.pair(b.node.peerId, yield* b.node.addresses, "b")
    yield* b.pairing.pair(a.node.peerId, yield* a.node.addresses, "a")
  })

/** The live entries a library holds for a location, path → hash. */
const entriesOf = (d: Device, locationId: string) =>
  Effect.map(
    d.sql<{ path: string; hash: string | null }>`SELECT e.path, e.hash FROM entries e JOIN locations l ON l.id = e.location_id
      WHERE l.uuid = ${locationId} AND e.tombstone = 0 ORDER BY e.path`,
    (rows) => rows.map((r) => [r.path, r.hash] as const)
  )

describe("PeerReplication", () => {
  it.scopedLive("a paired device pulls another's index over libp2p: backfill, then changes and a delete; the gate opens when caught up", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      yield* pairBoth(a, b)
      const root = yield* tempDir
      const files: Record<string, string> = {}
      for (let i = 0; i < 300; i++) files[`dir${i % 7}/file${i}.txt`] = `content ${i}`
      Testkit.writeTree(root, files)
      const location = yield* a.locations.add(root)
      yield* a.indexer.scan(location.id)

      assert.isFalse(yield* b.replication.isFullySynced(a.node.peerId, location.id), "nothing pulled yet")
      const first = yield* b.replication.pull(a.node.peerId)
      assert.strictEqual(first.peer, a.db.self.id)
      assert.strictEqual(first.entries, 307)
      assert.deepStrictEqual(yield* entriesOf(b, location.id), yield* entriesOf(a, location.id))
      assert.isTrue(yield* b.replication.isFullySynced(a.node.peerId, location.id))
      // The peer's device is bound to its PeerId, both ways.
      assert.deepStrictEqual(yield* b.replication.deviceOf(a.node.peerId), { peerId: a.node.peerId, device: a.db.self.id, name: a.db.self.name })
      assert.strictEqual((yield* a.replication.deviceOf(b.node.peerId)).device, b.db.self.id)

      // Changes on A: an edit, a new file, a delete (a tombstone on B).
      Fs.writeFileSync(Path.join(root, "dir0/file0.txt"), "edited")
      Fs.writeFileSync(Path.join(root, "new.txt"), "new")
      Fs.rmSync(Path.join(root, "dir1/file1.txt"))
      yield* a.indexer.scan(location.id)
      const second = yield* b.replication.pull(a.node.peerId)
      assert.strictEqual(second.fromSeq, first.watermark, "resumes from the watermark")
      assert.strictEqual(second.entries, 4, "the edit, the new file, the tombstone, and dir1 (its time changed)")
      assert.deepStrictEqual(yield* entriesOf(b, location.id), yield* entriesOf(a, location.id))
      const [gone] = yield* b.sql<{ tombstone: number }>`SELECT e.tombstone FROM entries e JOIN locations l ON l.id = e.location_id
        WHERE l.uuid = ${location.id} AND e.path = 'dir1/file1.txt'`
      assert.strictEqual(gone!.tombstone, 1)
      // A replica is never scanned as if it were on this device's disks.
      assert.deepStrictEqual(why(yield* Effect.flip(b.indexer.scan(location.id))), ["LocationError", "NotLocal"])
    }), 120_000)

  it.scopedLive("a peer that answers for another device's id, or with garbage, is refused and bound to nothing", () =>
    Effect.gen(function* () {
      const a = yield* device()
      const b = yield* device()
      const c = yield* device(false) // answers what the test says
      yield* pairBoth(a, b)
      yield* pairBoth(c, b)
      let answer: Uint8Array = Buffer.from(JSON.stringify({ device: a.db.self.id, name: "not really a" }))
      yield* c.node.handle(PeerReplication.DEVICE_PROTOCOL, (stream) => Streams.write(stream, answer))
      // B knows A. C then claims to be A.
      yield* b.replication.deviceOf(a.node.peerId)
      assert.deepStrictEqual(why(yield* Effect.flip(b.replication.deviceOf(c.node.peerId))), ["PeerReplicationError", "IdentityConflict"])
      assert.deepStrictEqual(why(yield* Effect.flip(b.replication.pull(c.node.peerId))), ["PeerReplicationError", "IdentityConflict"])
      // Garbage, and an answer too large to read.
      answer = Buffer.from("{\"device\": 42}")
      assert.deepStrictEqual(why(yield* Effect.flip(b.replication.deviceOf(c.node.peerId))), ["PeerReplicationError", "BadAnswer"])
      answer = new Uint8Array(64 * 1024)
      // Refused either as too large by the bounded read or, if the stream ends first, as garbage.
      const tooLarge = why(yield* Effect.flip(b.replication.deviceOf(c.node.peerId)))
      assert.oneOf(JSON.stringify(tooLarge), [JSON.stringify(["TransportError", "TooLarge"]), JSON.stringify(["PeerReplicationError", "BadAnswer"])])
      const bound = yield* b.sql<{ peer_id: string | null }>`SELECT peer_id FROM devices WHERE is_self = 0 ORDER BY peer_id`
      assert.deepStrictEqual(bound.map((r) => r.peer_id), [a.node.peerId], "only A is bound")
    }), 120_000)
})
