import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { IndexStore, Locations } from "@conduit/index"
import { encode as msgpack } from "@msgpack/msgpack"
import { Duration, Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { constants, Framing, LibrarySync, PeerChannel, Protocol, ReplicationError } from "../src/index.js"
import {
  countOf,
  type Device,
  eventually,
  indexTree,
  newDevice,
  openDevice,
  rescan,
  rowsOf,
  scripted,
  type ScriptedPeer,
  snapshot,
  tempDir,
  uuid,
  wireEntry,
  wireLocation,
  writeTree
} from "./support.js"

/** `a` serves `b` over a fresh memory pair until `b` is caught up; returns `b`'s summary. */
const syncOnce = (a: Device, b: Device, serve: LibrarySync.ServeOptions = {}) =>
  Effect.gen(function* () {
    const [left, right] = yield* PeerChannel.memoryPair()
    const server = yield* Effect.fork(a.sync.serve(left, b.id, serve))
    const summary = yield* b.sync.pull(right, { expectedPeer: a.id, untilCaughtUp: true })
    // The puller closed its side after CaughtUp: the server ends by itself.
    yield* Fiber.join(server)
    return summary
  })

/** A tree of `dirs` directories of `files` small files each. */
const generateTree = (root: string, dirs: number, files: number) => {
  for (let d = 0; d < dirs; d++) {
    const dir = Path.join(root, `d${String(d).padStart(3, "0")}`)
    Fs.mkdirSync(dir)
    for (let f = 0; f < files; f++) Fs.writeFileSync(Path.join(dir, `f${f}.txt`), `file ${d}/${f}\n`)
  }
}

const lastSeqOf = (device: Device) =>
  device.sql<{ n: number }>`SELECT last_seq AS n FROM devices WHERE is_self = 1`.pipe(Effect.map((r) => r[0]!.n), Effect.orDie)

/** `assert.deepInclude` for values whose types are narrower than the expected record. */
const includes = (haystack: unknown, needle: Record<string, unknown>) => assert.deepInclude(haystack as Record<string, unknown>, needle)

const isReplicationError = (u: unknown): u is ReplicationError.ReplicationError =>
  u instanceof ReplicationError.ReplicationError

describe("LibrarySync", () => {
  it.scopedLive("a backfill of 20,000 files arrives complete, in batches, under a replica location of the peer", () =>
    Effect.gen(function* () {
      const a = yield* newDevice("alpha")
      const b = yield* newDevice("beta")
      const root = yield* tempDir("conduit-ls-tree-")
      generateTree(root, 100, 200)
      const { location, summary: scan } = yield* indexTree(a, root)
      assert.strictEqual(scan.added, 20_100)

      assert.isFalse(yield* b.sync.isFullySynced(a.id, location.id))
      const summary = yield* syncOnce(a, b)
      assert.strictEqual(summary.peer, a.id)
      assert.strictEqual(summary.peerName, "alpha")
      assert.strictEqual(summary.fromSeq, 0)
      assert.strictEqual(summary.entries, 20_100)
      assert.strictEqual(summary.batches, Math.ceil(20_100 / constants.DEFAULT_BATCH_ROWS))
      assert.strictEqual(summary.watermark, yield* lastSeqOf(a))
      assert.isTrue(summary.caughtUp)

      // Every row, as the owner has it (seq and tombstone included).
      const theirs = yield* rowsOf(a, location.id)
      const replica = yield* rowsOf(b, location.id)
      assert.strictEqual(replica.length, 20_100)
      assert.deepStrictEqual(replica, theirs)

      // The replica location belongs to the peer's devices row, created by uuid.
      const [row] = yield* b.sql<{ device: string; name: string; root: string; mode: string; is_self: number }>`SELECT d.uuid AS device,
          d.name, l.root, l.indexing_mode AS mode, d.is_self FROM locations l JOIN devices d ON d.id = l.device_id
        WHERE l.uuid = ${location.id}`
      assert.deepStrictEqual(row, { device: a.id, name: "alpha", root: location.root, mode: "Standard", is_self: 0 })
      // It is not one of this device's own locations.
      const own = yield* b.run(Effect.flatMap(Locations.Locations, (l) => l.list))
      assert.deepStrictEqual(own, [])

      assert.isTrue(yield* b.sync.isFullySynced(a.id, location.id))
      assert.isFalse(yield* b.sync.isFullySynced(a.id, uuid()))
      assert.isFalse(yield* b.sync.isFullySynced(uuid(), location.id))
      // A device's own locations need no replication.
      assert.isTrue(yield* a.sync.isFullySynced(a.id, location.id))
      const state = Option.getOrThrow(yield* b.sync.peerState(a.id))
      assert.deepStrictEqual(state.locations, [location.id])
      assert.strictEqual(state.announced, summary.watermark)
    }), 180_000)

  it.scopedLive("live: an edit, a new file and a delete (as a tombstone) reach the peer", () =>
    Effect.gen(function* () {
      const a = yield* newDevice("alpha")
      const b = yield* newDevice("beta")
      const root = yield* tempDir("conduit-ls-tree-")
      writeTree(root, { "keep.txt": "keep", "edit.txt": "v1", "gone.txt": "bye", "d/x.txt": "x", "d/café ☕.txt": "unicode" })
      Fs.symlinkSync("../keep.txt", Path.join(root, "d/link"))
      const { location } = yield* indexTree(a, root)

      const [left, right] = yield* PeerChannel.memoryPair()
      const server = yield* Effect.fork(a.sync.serve(left, b.id, { pollInterval: "30 millis" }))
      const puller = yield* Effect.fork(b.sync.pull(right, { expectedPeer: a.id }))
      yield* eventually(b.sync.isFullySynced(a.id, location.id))
      assert.deepStrictEqual(yield* rowsOf(b, location.id), yield* rowsOf(a, location.id))
      const before = yield* lastSeqOf(a)

      Fs.writeFileSync(Path.join(root, "edit.txt"), "version two")
      Fs.writeFileSync(Path.join(root, "d/new.txt"), "brand new")
      Fs.rmSync(Path.join(root, "gone.txt"))
      const scan = yield* rescan(a, location.id)
      assert.strictEqual(scan.deleted, 1)
      assert.strictEqual(scan.added, 1)

      const byPath = <R extends { readonly path: string }>(rows: ReadonlyArray<R>) => new Map(rows.map((r) => [r.path, r]))
      yield* eventually(Effect.map(rowsOf(b, location.id), (rows) => {
        const m = byPath(rows)
        return m.get("gone.txt")?.tombstone === 1 && m.has("d/new.txt") && m.get("edit.txt")?.size === "version two".length
      }))
      yield* eventually(b.sync.isFullySynced(a.id, location.id))
      const replica = yield* rowsOf(b, location.id)
      assert.deepStrictEqual(replica, yield* rowsOf(a, location.id))
      const gone = byPath(replica).get("gone.txt")!
      assert.strictEqual(gone.tombstone, 1)
      assert.isAbove(gone.seq, before)
      assert.strictEqual(Option.getOrThrow(yield* b.sync.peerState(a.id)).watermark, yield* lastSeqOf(a))

      assert.strictEqual(byPath(replica).get("d/link")?.link_target, "../keep.txt")
      assert.strictEqual(byPath(replica).get("d/link")?.kind, 2)

      yield* Fiber.interrupt(puller)
      // The puller's side closed: the server ends without an error.
      yield* Fiber.join(server)
    }), 60_000)

  it.scopedLive("a file marked remote replicates with its flag (kept, not a tombstone) and so does marking it local again", () =>
    Effect.gen(function* () {
      const a = yield* newDevice("alpha")
      const b = yield* newDevice("beta")
      const root = yield* tempDir("conduit-ls-tree-")
      writeTree(root, { "keep.txt": "keep", "big/video.bin": "lots of bytes", "d/x.txt": "x" })
      const { location } = yield* indexTree(a, root)
      yield* syncOnce(a, b)
      const mark = (op: "markRemote" | "markLocal", paths: ReadonlyArray<string>) =>
        a.run(Effect.flatMap(IndexStore.IndexStore, (store) => store[op](location, paths as ReadonlyArray<RelPath.RelPath>)))
      const remoteOf = (device: Device) =>
        Effect.map(rowsOf(device, location.id), (rows) => rows.filter((r) => r.remote === 1).map((r) => [r.path, r.tombstone]))

      // Evicted: marked, then the bytes removed; the rescan leaves the row as it is.
      assert.strictEqual(yield* mark("markRemote", ["big/video.bin", "d/x.txt"]), 2)
      Fs.rmSync(Path.join(root, "big"), { recursive: true })
      Fs.rmSync(Path.join(root, "d/x.txt"))
      assert.strictEqual((yield* rescan(a, location.id)).deleted, 0)
      const summary = yield* syncOnce(a, b)
      assert.strictEqual(summary.entries, 3) // the two marks, and d's own time (a file left it)
      assert.deepStrictEqual(yield* remoteOf(b), [["big/video.bin", 0], ["d/x.txt", 0]])
      assert.deepStrictEqual(yield* rowsOf(b, location.id), yield* rowsOf(a, location.id))

      assert.strictEqual(yield* mark("markLocal", ["d/x.txt"]), 1)
      assert.strictEqual((yield* syncOnce(a, b)).entries, 1)
      assert.deepStrictEqual(yield* remoteOf(b), [["big/video.bin", 0]])
      assert.deepStrictEqual(yield* rowsOf(b, location.id), yield* rowsOf(a, location.id))
    }), 60_000)

  it.scopedLive("a restarted puller resumes from its watermark and receives only newer rows", () =>
    Effect.gen(function* () {
      const a = yield* newDevice("alpha")
      const bHome = yield* tempDir("conduit-ls-beta-")
      let b = yield* openDevice(bHome, "beta")
      const root = yield* tempDir("conduit-ls-tree-")
      generateTree(root, 10, 100)
      const { location } = yield* indexTree(a, root)
      const total = 1010

      // First session: the connection drops after Hello, Locations and three batches of 100.
      const [left, right] = yield* PeerChannel.memoryPair()
      const dropped: PeerChannel.PeerChannel = { ...right, incoming: right.incoming.pipe(Stream.take(5)) }
      const server = yield* Effect.fork(a.sync.serve(left, b.id, { batchRows: 100 }))
      const first = yield* b.sync.pull(dropped, { untilCaughtUp: true })
      yield* Fiber.await(server)
      assert.isFalse(first.caughtUp)
      assert.strictEqual(first.fromSeq, 0)
      assert.strictEqual(first.batches, 3)
      assert.strictEqual(first.entries, 300)
      assert.strictEqual(first.watermark, first.lastSeq)
      assert.strictEqual(yield* countOf(b, location.id), 300)
      assert.isFalse(yield* b.sync.isFullySynced(a.id, location.id))

      // Restart: close the library and open it again.
      yield* b.close
      b = yield* openDevice(bHome, "beta")
      const second = yield* syncOnce(a, b, { batchRows: 100 })
      assert.strictEqual(second.fromSeq, first.watermark)
      assert.isAbove(second.firstSeq!, first.watermark)
      assert.strictEqual(second.entries, total - 300)
      assert.isTrue(second.caughtUp)
      assert.deepStrictEqual(yield* rowsOf(b, location.id), yield* rowsOf(a, location.id))

      // Changes while the puller is down: after a restart only they are sent.
      yield* b.close
      Fs.writeFileSync(Path.join(root, "d000", "f1.txt"), "changed, and longer than before")
      Fs.writeFileSync(Path.join(root, "d005", "f7.txt"), "changed too, and longer")
      Fs.writeFileSync(Path.join(root, "d009", "added.txt"), "new")
      yield* rescan(a, location.id)
      const newer = yield* a.sql<{ n: number }>`SELECT count(*) AS n FROM entries WHERE seq > ${second.watermark}`
      assert.isAtLeast(newer[0]!.n, 3)
      b = yield* openDevice(bHome, "beta")
      // This time the server is not live: it closes after CaughtUp, which ends the pull.
      const [l3, r3] = yield* PeerChannel.memoryPair()
      const server3 = yield* Effect.fork(a.sync.serve(l3, b.id, { live: false }))
      const third = yield* b.sync.pull(r3, { expectedPeer: a.id })
      yield* Fiber.join(server3)
      assert.strictEqual(third.fromSeq, second.watermark)
      assert.strictEqual(third.entries, newer[0]!.n)
      assert.isAbove(third.firstSeq!, second.watermark)
      assert.strictEqual(third.watermark, yield* lastSeqOf(a))
      assert.deepStrictEqual(yield* rowsOf(b, location.id), yield* rowsOf(a, location.id))
      assert.isTrue(yield* b.sync.isFullySynced(a.id, location.id))
    }), 120_000)

  it.scopedLive("isFullySynced is false before and while behind, true once caught up with the latest announced change", () =>
    Effect.gen(function* () {
      const b = yield* newDevice("beta")
      const fake = uuid()
      const location = uuid()
      const [left, right] = yield* PeerChannel.memoryPair()
      const peer = yield* scripted(left)
      const puller = yield* Effect.fork(b.sync.pull(right))
      const watermark = Effect.map(b.sync.peerState(fake), (s) => Option.match(s, { onNone: () => -1, onSome: (x) => x.watermark }))

      const hello = yield* peer.receive
      includes(hello, { _tag: "Hello", version: 1, device: b.id })
      yield* peer.send({ _tag: "Hello", version: 1, device: fake as Protocol.DeviceUuid, name: "fake" })
      assert.deepStrictEqual(yield* peer.receive, { _tag: "Want", fromSeq: 0 })
      assert.isFalse(yield* b.sync.isFullySynced(fake, location))

      yield* peer.send({ _tag: "Locations", head: 3, locations: [wireLocation(location)] })
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(location, "a.txt", 1), wireEntry(location, "b.txt", 2)], upTo: 2 })
      yield* eventually(Effect.map(watermark, (w) => w === 2))
      assert.isFalse(yield* b.sync.isFullySynced(fake, location))
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(location, "c.txt", 3)], upTo: 3 })
      yield* eventually(Effect.map(watermark, (w) => w === 3))
      // Every announced change is in, but the round is not complete until CaughtUp.
      assert.isFalse(yield* b.sync.isFullySynced(fake, location))
      yield* peer.send({ _tag: "CaughtUp", seq: 3 })
      yield* eventually(b.sync.isFullySynced(fake, location))
      assert.isFalse(yield* b.sync.isFullySynced(fake, uuid()))

      // A newer change is announced: behind again until its round is caught up.
      yield* peer.send({ _tag: "Locations", head: 5, locations: [wireLocation(location)] })
      yield* eventually(Effect.map(b.sync.peerState(fake), (s) => Option.getOrThrow(s).announced === 5))
      assert.isFalse(yield* b.sync.isFullySynced(fake, location))
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(location, "a.txt", 4, { tombstone: true }), wireEntry(location, "d.txt", 5)], upTo: 5 })
      yield* peer.send({ _tag: "CaughtUp", seq: 5 })
      yield* eventually(b.sync.isFullySynced(fake, location))

      yield* peer.close
      const summary = yield* Fiber.join(puller)
      includes(summary, { peer: fake, fromSeq: 0, batches: 3, entries: 5, firstSeq: 1, lastSeq: 5, watermark: 5, caughtUp: true })
      const rows = yield* rowsOf(b, location)
      assert.deepStrictEqual(rows.map((r) => [r.path, r.seq, r.tombstone]), [["a.txt", 4, 1], ["b.txt", 2, 0], ["c.txt", 3, 0], ["d.txt", 5, 0]])
    }), 60_000)

  it.scopedLive("a peer's locations follow its announcements: renamed, roots swapped, withdrawn ones kept but not synced", () =>
    Effect.gen(function* () {
      const b = yield* newDevice("beta")
      const fake = uuid()
      const [one, two] = [uuid(), uuid()]
      const [left, right] = yield* PeerChannel.memoryPair()
      const peer = yield* scripted(left)
      const puller = yield* Effect.fork(b.sync.pull(right))
      yield* peer.receive
      yield* peer.send({ _tag: "Hello", version: 1, device: fake as Protocol.DeviceUuid, name: "fake" })
      yield* peer.receive
      yield* peer.send({ _tag: "Locations", head: 2, locations: [wireLocation(one, "/data/one"), wireLocation(two, "/data/two")] })
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(one, "a", 1), wireEntry(two, "b", 2)], upTo: 2 })
      yield* peer.send({ _tag: "CaughtUp", seq: 2 })
      yield* eventually(b.sync.isFullySynced(fake, two))
      // The roots swap places and `one` is renamed.
      yield* peer.send({ _tag: "Locations", head: 2, locations: [{ ...wireLocation(one, "/data/two"), name: "renamed" }, wireLocation(two, "/data/one")] })
      yield* peer.send({ _tag: "CaughtUp", seq: 2 })
      const locations = b.sql<{ uuid: string; name: string; root: string }>`SELECT uuid, name, root FROM locations ORDER BY root`
      yield* eventually(Effect.map(locations, (rows) => rows.some((r) => r.name === "renamed")))
      assert.deepStrictEqual(yield* locations, [
        { uuid: two, name: "one", root: "/data/one" },
        { uuid: one, name: "renamed", root: "/data/two" }
      ])
      // `two` is no longer announced, and a new location takes its root.
      const three = uuid()
      yield* peer.send({ _tag: "Locations", head: 3, locations: [wireLocation(three, "/data/one"), { ...wireLocation(one, "/data/two"), name: "renamed" }] })
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(three, "c", 3)], upTo: 3 })
      yield* peer.send({ _tag: "CaughtUp", seq: 3 })
      yield* eventually(b.sync.isFullySynced(fake, three))
      assert.isTrue(yield* b.sync.isFullySynced(fake, one))
      assert.isFalse(yield* b.sync.isFullySynced(fake, two))
      const withdrawn = yield* b.sql<{ root: string; n: number }>`SELECT l.root, count(e.id) AS n FROM locations l
        LEFT JOIN entries e ON e.location_id = l.id WHERE l.uuid = ${two} GROUP BY l.id`
      assert.deepStrictEqual(withdrawn, [{ root: `withdrawn:${two}`, n: 1 }])
      // Its entries take no more batches.
      yield* peer.send({ _tag: "Locations", head: 4, locations: [wireLocation(three, "/data/one")] })
      yield* peer.send({ _tag: "Batch", entries: [wireEntry(two, "b", 4)], upTo: 4 })
      const error = yield* Effect.flip(Fiber.join(puller))
      assert.strictEqual((error as ReplicationError.ReplicationError).reason, "UnannouncedLocation")
    }), 60_000)

  describe("hostile peers", () => {
    /** A replica of a scripted peer with two entries, caught up at 2. */
    const setup = Effect.gen(function* () {
      const b = yield* newDevice("beta")
      const fake = uuid()
      const location = uuid()
      const ownRoot = yield* tempDir("conduit-ls-own-")
      writeTree(ownRoot, { "mine.txt": "mine" })
      const { location: own } = yield* indexTree(b, ownRoot)
      yield* session(b, fake, (peer) =>
        Effect.gen(function* () {
          yield* peer.send({ _tag: "Locations", head: 2, locations: [wireLocation(location)] })
          yield* peer.send({ _tag: "Batch", entries: [wireEntry(location, "a.txt", 1), wireEntry(location, "dir/b.txt", 2)], upTo: 2 })
          yield* peer.send({ _tag: "CaughtUp", seq: 2 })
        }))
      assert.isTrue(yield* b.sync.isFullySynced(fake, location))
      return { b, fake, location, own }
    })

    /** A pull of `b` against a scripted peer `fake`: handshake, then `script`, then close. */
    const session = <E>(b: Device, fake: string, script: (peer: ScriptedPeer) => Effect.Effect<void, E>) =>
      Effect.scoped(Effect.gen(function* () {
        const [left, right] = yield* PeerChannel.memoryPair()
        const peer = yield* scripted(left)
        const puller = yield* Effect.fork(b.sync.pull(right))
        yield* peer.receive
        yield* peer.send({ _tag: "Hello", version: 1, device: fake as Protocol.DeviceUuid, name: "fake" })
        yield* peer.receive
        yield* script(peer)
        yield* peer.close
        const exit = yield* Fiber.await(puller)
        // What the puller told the peer before hanging up, if anything.
        const last = yield* Effect.orElseSucceed(peer.receive, () => null)
        return { exit, last }
      }))

    /** Runs a hostile script: the pull must fail with `reason`, tell the peer, and change nothing. */
    const refused = <E>(
      context: { readonly b: Device; readonly fake: string },
      reason: ReplicationError.Reason,
      script: (peer: ScriptedPeer) => Effect.Effect<void, E>
    ) =>
      Effect.gen(function* () {
        const before = yield* snapshot(context.b)
        const { exit, last } = yield* session(context.b, context.fake, script)
        assert.isTrue(exit._tag === "Failure", `expected ${reason}, the pull succeeded`)
        const error = exit._tag === "Failure" ? exit.cause : undefined
        const failure = error !== undefined && error._tag === "Fail" ? error.error : undefined
        assert.isTrue(isReplicationError(failure), `expected a ReplicationError, got ${String(failure)}`)
        assert.strictEqual((failure as ReplicationError.ReplicationError).reason, reason)
        includes(last, { _tag: "Refused", reason })
        assert.deepStrictEqual(yield* snapshot(context.b), before, "the replica changed")
      })

    // Heads only grow: a peer announcing less than before is refused for that alone.
    const announce = (location: string, head = 10) =>
      (peer: ScriptedPeer) => peer.send({ _tag: "Locations", head, locations: [wireLocation(location)] })

    const badBatch = (location: string, over: Record<string, unknown>, seq = 3) =>
      msgpack({ _tag: "Batch", entries: [wireEntry(location, "ok.txt", seq), { ...wireEntry(location, "x.txt", seq + 1), ...over }], upTo: seq + 1 })

    it.scopedLive("frames that are too large, garbage, or of the wrong types are refused and nothing is written", () =>
      Effect.gen(function* () {
        const ctx = yield* setup
        const { location } = ctx
        yield* refused(ctx, "FrameTooLarge", (peer) => peer.sendRaw(new Uint8Array(constants.MAX_FRAME_BYTES + 1)))
        yield* refused(ctx, "Malformed", (peer) => peer.sendRaw(Uint8Array.from({ length: 64 }, (_, i) => (i * 131 + 7) & 0xff)))
        yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { size: "5" }))))
        yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { kind: 7 }))))
        yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { hash: "F".repeat(64) }))))
        yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { seq: -4 }))))
        yield* refused(ctx, "Malformed", (peer) => peer.sendRaw(msgpack({ _tag: "Locations", head: "3", locations: [] })))
      }), 60_000)

    it.scopedLive("an older peer's entries (no remote key) are local; remote is taken as sent, refused on a directory", () =>
      Effect.gen(function* () {
        const ctx = yield* setup
        const { b, fake, location } = ctx
        const older = (path: string, seq: number) => {
          const { remote: _, ...entry } = wireEntry(location, path, seq)
          return entry
        }
        const { exit } = yield* session(b, fake, (peer) =>
          Effect.gen(function* () {
            yield* announce(location, 5)(peer)
            yield* peer.sendRaw(msgpack({
              _tag: "Batch",
              entries: [older("old.txt", 3), wireEntry(location, "evicted.txt", 4, { remote: true }), older("a.txt", 5)],
              upTo: 5
            }))
            yield* peer.send({ _tag: "CaughtUp", seq: 5 })
          }))
        assert.strictEqual(exit._tag, "Success")
        const rows = new Map((yield* rowsOf(b, location)).map((r) => [r.path, r.remote]))
        assert.deepStrictEqual([...rows], [["a.txt", 0], ["dir/b.txt", 0], ["evicted.txt", 1], ["old.txt", 0]])
        yield* refused(ctx, "Malformed", (peer) =>
          Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { kind: 1, hash: null, remote: true }, 6))))
      }), 60_000)

    it.scopedLive("paths with '..' or a leading '/' are refused and nothing is written", () =>
      Effect.gen(function* () {
        const ctx = yield* setup
        const { location } = ctx
        for (const path of ["../outside.txt", "dir/../../outside.txt", "/etc/passwd", "dir/./b.txt"]) {
          yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { path }))))
        }
        yield* refused(ctx, "Malformed", (peer) => Effect.andThen(announce(location)(peer), peer.sendRaw(badBatch(location, { movedFrom: "../x" }))))
        assert.deepStrictEqual((yield* rowsOf(ctx.b, location)).map((r) => r.path), ["a.txt", "dir/b.txt"])
      }), 60_000)

    it.scopedLive("a batch for an unannounced location, out of turn or out of sequence is refused and nothing is written", () =>
      Effect.gen(function* () {
        const ctx = yield* setup
        const { location } = ctx
        const other = uuid()
        const entries = (loc: string, seqs: ReadonlyArray<number>) => seqs.map((s) => wireEntry(loc, `n${s}.txt`, s))
        yield* refused(ctx, "UnannouncedLocation", (peer) =>
          Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: [...entries(location, [3]), ...entries(other, [4])], upTo: 4 })))
        // This device's own location, claimed by the peer in a batch or in its announcement.
        yield* refused(ctx, "UnannouncedLocation", (peer) =>
          Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: entries(ctx.own.id, [3]), upTo: 3 })))
        yield* refused(ctx, "LocationConflict", (peer) =>
          peer.send({ _tag: "Locations", head: 10, locations: [wireLocation(location), wireLocation(ctx.own.id)] }))
        yield* refused(ctx, "Protocol", (peer) => peer.send({ _tag: "Batch", entries: entries(location, [3]), upTo: 3 }))
        yield* refused(ctx, "Protocol", (peer) => peer.send({ _tag: "Want", fromSeq: 0 }))
        // Changes the replica already has, going backwards, or beyond what was announced.
        yield* refused(ctx, "Sequence", (peer) => Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: entries(location, [2, 3]), upTo: 3 })))
        yield* refused(ctx, "Sequence", (peer) => Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: entries(location, [4, 3]), upTo: 4 })))
        yield* refused(ctx, "Sequence", (peer) => Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: entries(location, [3, 11]), upTo: 11 })))
        yield* refused(ctx, "Sequence", (peer) => Effect.andThen(announce(location)(peer), peer.send({ _tag: "Batch", entries: entries(location, [3, 4]), upTo: 3 })))
        yield* refused(ctx, "Sequence", (peer) => announce(location, 1)(peer))
        yield* refused(ctx, "Malformed", (peer) => peer.send({ _tag: "Locations", head: 10, locations: [wireLocation(location), wireLocation(location)] }))
        // Two locations on one root.
        yield* refused(ctx, "Malformed", (peer) =>
          peer.send({ _tag: "Locations", head: 10, locations: [wireLocation(location, "/same"), wireLocation(uuid(), "/same")] }))
      }), 60_000)

    it.scopedLive("an oversized length prefix on a byte stream is refused before its bytes arrive", () =>
      Effect.gen(function* () {
        const { b, fake } = yield* setup
        const before = yield* snapshot(b)
        const written: Array<Uint8Array> = []
        const source = (async function* () {
          yield Framing.frame(Protocol.encode({ _tag: "Hello", version: 1, device: fake as Protocol.DeviceUuid, name: "fake" }))
          yield new Uint8Array([0xff, 0xff, 0xff, 0xff])
          await new Promise(() => {})
        })()
        const channel = PeerChannel.fromByteStream({
          source,
          write: (bytes) => Effect.sync(() => void written.push(bytes)),
          close: Effect.void,
          peer: fake
        })
        const error = yield* Effect.flip(b.sync.pull(channel))
        assert.isTrue(isReplicationError(error))
        assert.strictEqual((error as ReplicationError.ReplicationError).reason, "FrameTooLarge")
        // It said Hello and Want, then refused.
        const sent = written.map((w) => Either.getOrThrow(Protocol.decodeEither(w.subarray(4)))._tag)
        assert.deepStrictEqual(sent, ["Hello", "Want", "Refused"])
        assert.deepStrictEqual(yield* snapshot(b), before)
      }), 60_000)

    it.scopedLive("the handshake refuses this device itself, an unexpected device and another protocol version", () =>
      Effect.gen(function* () {
        const b = yield* newDevice("beta")
        const handshake = (hello: Protocol.Hello, options: LibrarySync.PullOptions = {}) =>
          Effect.scoped(Effect.gen(function* () {
            const [left, right] = yield* PeerChannel.memoryPair()
            const peer = yield* scripted(left)
            const puller = yield* Effect.fork(b.sync.pull(right, options))
            yield* peer.receive
            yield* peer.send(hello)
            const error = yield* Effect.flip(Fiber.join(puller))
            return { error, told: yield* peer.receive }
          }))
        const before = yield* snapshot(b)
        const self = yield* handshake({ _tag: "Hello", version: 1, device: b.id as Protocol.DeviceUuid, name: "me" })
        assert.strictEqual((self.error as ReplicationError.ReplicationError).reason, "SelfPeer")
        includes(self.told, { _tag: "Refused", reason: "SelfPeer" })
        const stranger = yield* handshake({ _tag: "Hello", version: 1, device: uuid() as Protocol.DeviceUuid, name: "x" }, { expectedPeer: uuid() })
        assert.strictEqual((stranger.error as ReplicationError.ReplicationError).reason, "NotPaired")
        const future = yield* handshake({ _tag: "Hello", version: 2, device: uuid() as Protocol.DeviceUuid, name: "x" })
        assert.strictEqual((future.error as ReplicationError.ReplicationError).reason, "UnsupportedVersion")
        // No devices row was created for any of them.
        const devices = yield* b.sql<{ n: number }>`SELECT count(*) AS n FROM devices`
        assert.strictEqual(devices[0]!.n, 1)
        assert.deepStrictEqual(yield* snapshot(b), before)
      }), 60_000)

    it.scoped("a peer that opens a channel and says nothing is dropped after the handshake timeout", () =>
      Effect.gen(function* () {
        const a = yield* newDevice("alpha")
        const [l1, r1] = yield* PeerChannel.memoryPair()
        const server = yield* Effect.fork(a.sync.serve(l1, uuid()))
        const [l2, r2] = yield* PeerChannel.memoryPair()
        const puller = yield* Effect.fork(a.sync.pull(r2))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
        yield* TestClock.adjust(Duration.millis(constants.HANDSHAKE_TIMEOUT_MILLIS + 1))
        assert.strictEqual((yield* Effect.flip(Fiber.join(server))).reason, "Timeout")
        assert.strictEqual(((yield* Effect.flip(Fiber.join(puller))) as ReplicationError.ReplicationError).reason, "Timeout")
        yield* Effect.all([r1.close, l2.close])
      }), 60_000)

    it.scopedLive("serve refuses itself, a device other than the one it was opened for, and a peer claiming to be ahead", () =>
      Effect.gen(function* () {
        const a = yield* newDevice("alpha")
        const b = yield* newDevice("beta")
        const root = yield* tempDir("conduit-ls-tree-")
        writeTree(root, { "a.txt": "a" })
        yield* indexTree(a, root)

        const [l0, r0] = yield* PeerChannel.memoryPair()
        const self = yield* Effect.flip(a.sync.serve(l0, a.id))
        assert.strictEqual(self.reason, "SelfPeer")
        yield* r0.close

        // b pulls from a, but a was told to serve someone else.
        const [l1, r1] = yield* PeerChannel.memoryPair()
        const server = yield* Effect.fork(a.sync.serve(l1, uuid()))
        const pulled = yield* Effect.flip(b.sync.pull(r1))
        const served = yield* Effect.flip(Fiber.join(server))
        assert.strictEqual((served as ReplicationError.ReplicationError).reason, "NotPaired")
        assert.strictEqual((pulled as ReplicationError.ReplicationError).reason, "Refused")
        assert.match((pulled as ReplicationError.ReplicationError).detail ?? "", /NotPaired/)

        // A puller asking from a change a has not made yet.
        const [l2, r2] = yield* PeerChannel.memoryPair()
        const server2 = yield* Effect.fork(a.sync.serve(l2, b.id))
        const peer = yield* scripted(r2)
        yield* peer.send({ _tag: "Hello", version: 1, device: b.id as Protocol.DeviceUuid, name: "beta" })
        includes(yield* peer.receive, { _tag: "Hello", device: a.id })
        yield* peer.send({ _tag: "Want", fromSeq: 1_000_000 })
        const ahead = yield* Effect.flip(Fiber.join(server2))
        assert.strictEqual((ahead as ReplicationError.ReplicationError).reason, "Sequence")
        includes(yield* peer.receive, { _tag: "Refused", reason: "Sequence" })

        // Garbage from the puller.
        const [l3, r3] = yield* PeerChannel.memoryPair()
        const server3 = yield* Effect.fork(a.sync.serve(l3, b.id))
        yield* r3.send(new Uint8Array([0xc1, 0xc1, 0xc1]))
        const garbage = yield* Effect.flip(Fiber.join(server3))
        assert.strictEqual((garbage as ReplicationError.ReplicationError).reason, "Malformed")
      }), 60_000)
  })
})
