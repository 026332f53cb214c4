/**
 * A mirror from one device to another, in process but over the real wire: two devices with
 * their own homes, libraries, identities and libp2p nodes on 127.0.0.1, paired both ways. The
 * plan is made on the source device from its own index and its replica of the target's (library
 * sync), and run with the plan runner whose target route is the peer (transfer protocol for the
 * copies, remote operations for the rest).
 */
import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Hasher, Indexer, IndexLive, LibraryDatabase, Locations } from "@conduit/index"
import { FileRoute, VersionStore } from "@conduit/jobs"
import { LibrarySync } from "@conduit/library-sync"
import { IndexDiff, Modes, Plan, Planner } from "@conduit/resolver"
import * as Testkit from "@conduit/testkit"
import { Node, Pairing, Streams, Transfer, TransportLive } from "@conduit/transport"
import { Chunk, Context, Effect, Either, Fiber, Layer, Schedule, type Scope, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Conduits, LocalPlanRunner, PeerLink } from "../src/index.js"
import { PeerLinkLive, PeerReplication, RemoteOps, RemoteRoute } from "../src/peers.js"

const tempDir = Testkit.tempDir("conduit-remote-")

/** A device serving replication, remote operations and transfers into its own locations. */
const device = Effect.gen(function* () {
  const home = yield* tempDir
  const index = Layer.fresh(IndexLive.layer({ home, workers: 1 }))
  const transport = TransportLive.layer().pipe(Layer.provideMerge(index))
  const base = Layer.mergeAll(PeerReplication.layer, RemoteOps.serverLayer.pipe(Layer.provideMerge(Transfer.layer)), IndexDiff.layer).pipe(
    Layer.provideMerge(LibrarySync.layer.pipe(Layer.provideMerge(transport)))
  )
  // Conduits sees the peer link when it is provided to it (the daemon's composition).
  const services = Conduits.layer.pipe(Layer.provideMerge(PeerLinkLive.layer), Layer.provideMerge(base))
  const context = yield* Layer.build(services)
  yield* Context.get(context, PeerReplication.PeerReplication).serve
  yield* Context.get(context, RemoteOps.RemoteOpsServer).serve
  const policy = yield* RemoteRoute.receiverPolicy.pipe(Effect.provide(context))
  yield* Context.get(context, Transfer.TransferReceiver).serve(policy)
  return { home, context, node: Context.get(context, Node.Node), db: Context.get(context, LibraryDatabase.LibraryDatabase) }
})
type Device = Effect.Effect.Success<typeof device>

const on = <A, E, R>(d: Device, effect: Effect.Effect<A, E, R>) => Effect.provide(effect, d.context as Context.Context<never>) as Effect.Effect<A, E, never>

const pairBoth = (a: Device, b: Device) =>
  Effect.gen(function* () {
    const addressesB = yield* b.node.addresses
    const addressesA = yield* a.node.addresses
    yield* on(a, Effect.flatMap(Pairing.Pairing, (p) => p.pair(b.node.peerId, addressesB, "b")))
    yield* on(b, Effect.flatMap(Pairing.Pairing, (p) => p.pair(a.node.peerId, addressesA, "a")))
  })

/** Two paired devices and an empty directory for each. */
const pairedDevices = Effect.gen(function* () {
  const a = yield* device
  const b = yield* device
  yield* pairBoth(a, b)
  return { a, b, rootA: yield* tempDir, rootB: yield* tempDir }
})

/** Adds `root` as a location of device `d`. */
const addLocation = (d: Device, root: string) => on(d, Effect.flatMap(Locations.Locations, (l) => l.add(root)))

/** Rescans every location of device `d`. */
const scanAll = (d: Device) =>
  on(d, Effect.gen(function* () {
    const indexer = yield* Indexer.Indexer
    for (const location of yield* Effect.flatMap(Locations.Locations, (l) => l.list)) yield* indexer.scan(location.id)
  }))

/** Two paired devices, A with `Conduits` that knows B's locations (B's index pulled). */
const pairedWithIndex = (setUpB: (b: Device) => Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    const a = yield* device
    const b = yield* device
    yield* pairBoth(a, b)
    yield* setUpB(b)
    yield* on(a, Effect.flatMap(PeerReplication.PeerReplication, (r) => r.pull(b.node.peerId)))
    return { a, b, conduits: Context.get(a.context as Context.Context<Conduits.Conduits>, Conduits.Conduits) }
  })

/** Every file under a root but the version store: `[path, content]`, sorted. */
const files = (root: string): Array<[string, string]> =>
  (Fs.readdirSync(root, { recursive: true }) as Array<string>)
    .filter((rel) => !rel.startsWith(".conduit") && Fs.statSync(Path.join(root, rel)).isFile())
    .sort()
    .map((rel): [string, string] => [rel, Fs.readFileSync(Path.join(root, rel), "utf8")])

describe("sync across devices", () => {
  it.scopedLive("mirror from A to B over the wire: planned from A's index and its replica of B's, then B's index verifies", () =>
    Effect.gen(function* () {
      const { a, b, rootA, rootB } = yield* pairedDevices
      Testkit.writeTree(rootA, { "docs/readme.md": "# hello", "docs/deep/er/file.txt": "deep", "photos/a.jpg": "pixels a", "same.txt": "identical", "empty.txt": "" })
      Testkit.writeTree(rootB, { "docs/readme.md": "old readme", "stale.txt": "only on B", "same.txt": "identical", "copy-of-a.jpg": "pixels a" })
      // A symlink pointing nowhere where A has a file: replaced, and kept as a version on B.
      Testkit.writeTree(rootA, { "was-a-link": "now a file" })
      Fs.symlinkSync("nowhere", Path.join(rootB, "was-a-link"))
      const la = yield* addLocation(a, rootA)
      const lb = yield* addLocation(b, rootB)
      yield* on(a, Effect.flatMap(Indexer.Indexer, (i) => i.scan(la.id)))
      yield* on(b, Effect.flatMap(Indexer.Indexer, (i) => i.scan(lb.id)))

      const resolve = on(a, Effect.gen(function* () {
        yield* Effect.flatMap(PeerReplication.PeerReplication, (r) => r.pull(b.node.peerId))
        const replica = yield* Effect.flatMap(Locations.Locations, (l) => l.get(lb.id))
        const diff = yield* IndexDiff.IndexDiff
        const states = Chunk.toReadonlyArray(yield* Stream.runCollect(diff.full({ location: la, dir: "" as RelPath.RelPath }, { location: replica, dir: "" as RelPath.RelPath })))
        return Planner.plan(Modes.mirror, states)
      }))
      const plan = yield* resolve
      assert.isAbove(plan.operations.length, 0)
      assert.isTrue(yield* on(a, Effect.flatMap(PeerReplication.PeerReplication, (r) => r.isFullySynced(b.node.peerId, lb.id))))

      const route = yield* on(a, RemoteRoute.make(b.node.peerId, lb.id))
      const report = yield* on(a, LocalPlanRunner.run(plan, {
        source: { root: la.root, dir: "" as RelPath.RelPath },
        target: { root: "remote", dir: "" as RelPath.RelPath, route }
      }).pipe(Effect.provideService(Hasher.Hasher, Context.get(a.context as Context.Context<Hasher.Hasher>, Hasher.Hasher))))
      assert.deepStrictEqual(report.skipped.map((s) => s.error.message), [])
      assert.deepStrictEqual(files(rootB), files(rootA))
      // What B lost is kept on B: the replaced readme and the deleted files.
      assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(rootB, "docs/readme.md"))[0]!.file, "utf8"), "old readme")
      assert.lengthOf(yield* VersionStore.list(rootB, "stale.txt"), 1)
      const [link] = yield* VersionStore.list(rootB, "was-a-link")
      assert.strictEqual(Fs.readlinkSync(link!.file), "nowhere")

      // A asks B to re-index what the run touched; A's fresh plan from its updated replica is empty.
      const touched = [...new Set(plan.operations.flatMap((op) => op._tag === "Move" ? [op.from, op.to] : [op.path]).map((p) => Path.posix.dirname(p)).map((d) => (d === "." ? "" : d)))]
      yield* RemoteOps.ask(a.node, b.node.peerId, { op: "reindex", location: lb.id, path: touched[0]!, directories: touched })
      const after = yield* resolve
      assert.deepStrictEqual(after.operations, [])
    }), 120_000)

  it.scopedLive("remote operations refuse what they must: another device's location, a path with '..', a malformed request", () =>
    Effect.gen(function* () {
      const { a, b, rootB } = yield* pairedDevices
      Testkit.writeTree(rootB, { "keep.txt": "keep" })
      const lb = yield* addLocation(b, rootB)
      const ask = (request: RemoteOps.Request) => Effect.flip(RemoteOps.ask(a.node, b.node.peerId, request))
      const escape = yield* ask({ op: "remove", location: lb.id, path: "../outside" })
      assert.strictEqual(escape.reason, "Io")
      assert.match(String((escape.cause as Error).message), /\.\./)
      // Never the location root itself.
      for (const request of [{ op: "remove", location: lb.id, path: "" }, { op: "move", location: lb.id, path: "keep.txt", to: "" }] as const) {
        assert.match(String(((yield* ask(request)).cause as Error).message), /location root/)
      }
      const unknown = yield* ask({ op: "remove", location: "00000000-0000-4000-8000-000000000000", path: "keep.txt" })
      assert.match(String((unknown.cause as Error).message), /no location/)
      // A's own location is not B's to act on either.
      const rootA = yield* tempDir
      const la = yield* addLocation(a, rootA)
      const notB = yield* ask({ op: "remove", location: la.id, path: "keep.txt" })
      assert.match(String((notB.cause as Error).message), /no location/)
      // Garbage is answered with a refusal, not a crash.
      const answer = yield* on(b, Effect.flatMap(RemoteOps.RemoteOpsServer, (s) => s.handle({ op: "verify", location: lb.id, path: "keep.txt", kind: 0, hash: "0".repeat(64), size: 4, linkTarget: null }, a.node.peerId)))
      assert.deepStrictEqual(answer, { ok: true, value: false })
      assert.strictEqual(Fs.readFileSync(Path.join(rootB, "keep.txt"), "utf8"), "keep", "nothing was removed")
    }), 120_000)

  it.scopedLive("a conduit from this device to a paired device's directory runs as a FileSyncJob: gate, push, peer re-index, verified; two ways, the peer pushes on request", () =>
    Effect.gen(function* () {
      const rootA = yield* tempDir
      const rootB = yield* tempDir
      const files_: Record<string, string> = {}
      for (let i = 0; i < 40; i++) files_[`d${i % 4}/f${i}.txt`] = `file ${i}`
      Testkit.writeTree(rootA, files_)
      Testkit.writeTree(rootB, { "backup/old.txt": "only on B", "backup/d0/f0.txt": "file 0", "backup/d0/f4.txt": "an older f4" })
      // A learns B's locations through library sync, then names a directory there.
      const { b, conduits } = yield* pairedWithIndex((b) => Effect.zipRight(addLocation(b, rootB), scanAll(b)))
      const conduit = yield* conduits.create(rootA, { peer: b.node.peerId, path: Path.join(rootB, "backup") }, { mode: "mirror" })
      assert.deepStrictEqual(conduit.target.peer, { device: b.db.self.id, peerId: b.node.peerId, name: b.db.self.name })
      assert.strictEqual(conduit.target.dir, "backup")
      const first = yield* conduits.run(conduit.id)
      assert.isTrue(first.verified, JSON.stringify(first.report?.skipped.map((s) => s.error.message)))
      assert.strictEqual(first.job?.status, "completed")
      assert.deepStrictEqual(files(Path.join(rootB, "backup")), files(rootA))
      assert.lengthOf(yield* VersionStore.list(rootB, "backup/old.txt"), 1, "the deleted file is a version on B")
      // An edit on A: the next run reads only what changed and pushes it.
      Fs.writeFileSync(Path.join(rootA, "d1/f1.txt"), "edited on A")
      const second = yield* conduits.run(conduit.id)
      assert.isTrue(second.verified)
      assert.deepStrictEqual(second.plan.operations.filter((op) => op._tag === "Copy").map((op) => (op as { path: string }).path), ["d1/f1.txt"])
      assert.strictEqual(Fs.readFileSync(Path.join(rootB, "backup/d1/f1.txt"), "utf8"), "edited on A")
      // Two ways: a file made on B and an edit on B come to A (B pushes them on request), an
      // edit on A goes to B; both sides end equal.
      Fs.writeFileSync(Path.join(rootB, "backup/new-on-b.txt"), "made on B")
      Fs.writeFileSync(Path.join(rootB, "backup/d2/f2.txt"), "edited on B")
      Fs.writeFileSync(Path.join(rootA, "d3/f3.txt"), "edited on A again")
      yield* scanAll(b)
      yield* conduits.update(conduit.id, { mode: "bidirectional" })
      const third = yield* conduits.run(conduit.id)
      assert.isTrue(third.verified, JSON.stringify(third.report?.skipped.map((s) => s.error.message)))
      assert.strictEqual(Fs.readFileSync(Path.join(rootA, "new-on-b.txt"), "utf8"), "made on B")
      assert.strictEqual(Fs.readFileSync(Path.join(rootA, "d2/f2.txt"), "utf8"), "edited on B")
      assert.strictEqual(Fs.readFileSync(Path.join(rootB, "backup/d3/f3.txt"), "utf8"), "edited on A again")
      assert.deepStrictEqual(files(Path.join(rootB, "backup")), files(rootA))
      assert.lengthOf(yield* VersionStore.list(rootA, "d2/f2.txt"), 1, "A's replaced copy is a version on A")
    }), 120_000)

  it.scopedLive("a run refuses to start while the peer's replica here is behind (PeerBehind): nothing is planned or written", () =>
    Effect.gen(function* () {
      const rootA = yield* tempDir
      const rootB = yield* tempDir
      Testkit.writeTree(rootA, { "a.txt": "on A" })
      const { a, b, conduits } = yield* pairedWithIndex((b) => addLocation(b, rootB))
      const conduit = yield* conduits.create(rootA, { peer: b.node.peerId, path: rootB }, { mode: "mirror" })
      // The same library, with a link whose gate stays shut: the replica never catches up.
      const refreshed: Array<string> = []
      const behind = PeerLink.PeerLink.of({
        refresh: (peerId) => Effect.sync(() => void refreshed.push(peerId)).pipe(Effect.as(false)),
        route: () => Effect.die("no route may be asked for while the replica is behind"),
        reindex: () => Effect.die("nothing to re-index")
      })
      const gated = yield* (Layer.build(Conduits.layer.pipe(Layer.provide(Layer.succeed(PeerLink.PeerLink, behind)))).pipe(
        Effect.provide(a.context as Context.Context<never>)
      ) as Effect.Effect<Context.Context<Conduits.Conduits>, unknown, Scope.Scope>)
      const refused = yield* Effect.flip(Context.get(gated, Conduits.Conduits).run(conduit.id))
      assert.strictEqual(refused._tag, "SyncError")
      assert.strictEqual((refused as { reason?: string }).reason, "PeerBehind")
      assert.deepStrictEqual(refreshed, [b.node.peerId])
      assert.deepStrictEqual(Fs.readdirSync(rootB), [], "nothing was written to B")
    }), 60_000)

  it.scopedLive("a conduit's bandwidth limit holds a 10-second push to the peer within 10 % of its rate", () =>
    Effect.gen(function* () {
      const rootA = yield* tempDir
      const rootB = yield* tempDir
      // 40 Mbit/s = 5 MB/s: 50 MB take 10 s. Incompressible: the limit counts bytes on the wire.
      const size = 50_000_000
      Fs.writeFileSync(Path.join(rootA, "big.bin"), Crypto.randomBytes(size))
      const { b, conduits } = yield* pairedWithIndex((b) => addLocation(b, rootB))
      const conduit = yield* conduits.create(rootA, { peer: b.node.peerId, path: rootB }, { mode: "mirror", bandwidthLimitMbps: 40 })
      // The transfer is timed on B: from its partial file's appearance to the file in place (the
      // run's index, plan and verification are not the limit's business).
      let began = 0
      let ended = 0
      const watch = yield* Effect.fork(Effect.repeat(
        Effect.sync(() => {
          const names = Fs.readdirSync(rootB)
          if (began === 0 && names.some((n) => n.startsWith(".conduit-tmp-part-"))) began = Date.now()
          if (ended === 0 && names.includes("big.bin")) ended = Date.now()
        }),
        { schedule: Schedule.spaced("10 millis"), until: () => ended !== 0 }
      ))
      const result = yield* conduits.run(conduit.id, { force: true })
      yield* Fiber.join(watch)
      assert.isTrue(result.verified)
      assert.isAbove(began, 0)
      const seconds = (ended - began) / 1000
      const rate = size / seconds / 1_000_000
      assert.isAtLeast(rate, 4.5, `${rate.toFixed(2)} MB/s over ${seconds.toFixed(2)} s`)
      assert.isAtMost(rate, 5.5, `${rate.toFixed(2)} MB/s over ${seconds.toFixed(2)} s`)
      if (process.env["CONDUIT_TEST_FIGURES"] === "1") console.log(`bandwidth: ${rate.toFixed(3)} MB/s over ${seconds.toFixed(2)} s (limit 5 MB/s)`)
      assert.isTrue(Fs.readFileSync(Path.join(rootB, "big.bin")).equals(Fs.readFileSync(Path.join(rootA, "big.bin"))))
    }), 120_000)
})

describe("batched remote operations", () => {
  const rel = (p: string) => p as RelPath.RelPath
  const mtimeNs = 1_600_000_000_000_000_000n
  const mtimeOf = (path: string) => Fs.lstatSync(path, { bigint: true }).mtimeNs

  it.scopedLive("a batch makes nested directories parents first, sets and reads their times, in one request", () =>
    Effect.gen(function* () {
      const { a, b, rootB } = yield* pairedDevices
      const lb = yield* addLocation(b, rootB)
      const route = yield* on(a, RemoteRoute.make(b.node.peerId, lb.id))
      assert.isDefined(route.runMany)
      const { RouteOp } = FileRoute
      const results = yield* FileRoute.runAll(route, "remote", [
        RouteOp.EnsureDirectory({ path: rel("x"), mtimeNs: null, mode: null }),
        RouteOp.EnsureDirectory({ path: rel("x/y"), mtimeNs: null, mode: 0o750 }),
        RouteOp.EnsureDirectory({ path: rel("x/y/z"), mtimeNs, mode: null }),
        RouteOp.SetAttributes({ path: rel("x/y"), mtimeNs: mtimeNs + 1_000_000_000n, mode: null }),
        RouteOp.DirectoryTime({ path: "x/y/z" }),
        RouteOp.DirectoryTime({ path: "x/y" }),
        RouteOp.DirectoryTime({ path: "nowhere" })
      ], { concurrency: 1 })
      assert.deepStrictEqual(results.map((r) => Either.getOrThrow(r)), [null, null, null, null, mtimeNs, mtimeNs + 1_000_000_000n, null])
      assert.isTrue(Fs.statSync(Path.join(rootB, "x/y/z")).isDirectory())
      assert.strictEqual(Fs.statSync(Path.join(rootB, "x/y")).mode & 0o777, 0o750)
      assert.strictEqual(mtimeOf(Path.join(rootB, "x/y/z")), mtimeNs)
    }), 120_000)

  it.scopedLive("a bad request in a batch is refused on its own ('..', an unknown or another device's location, the root); the others run", () =>
    Effect.gen(function* () {
      const { a, b, rootA, rootB } = yield* pairedDevices
      Testkit.writeTree(rootB, { "keep.txt": "keep", "gone.txt": "gone" })
      const la = yield* addLocation(a, rootA)
      const lb = yield* addLocation(b, rootB)
      const answer = yield* RemoteOps.ask(a.node, b.node.peerId, {
        op: "batch",
        requests: [
          { op: "ensureDirectory", location: lb.id, path: "first", mtimeNs: null, mode: null },
          { op: "remove", location: lb.id, path: "../outside" },
          { op: "remove", location: "00000000-0000-4000-8000-000000000000", path: "keep.txt" },
          { op: "remove", location: la.id, path: "keep.txt" },
          { op: "remove", location: lb.id, path: "" },
          { op: "move", location: lb.id, path: "keep.txt", to: "" },
          { op: "remove", location: lb.id, path: "gone.txt" },
          { op: "directoryTime", location: lb.id, path: "first" },
          { op: "verify", location: lb.id, path: "keep.txt", kind: 0, hash: "0".repeat(64), size: 4, linkTarget: null }
        ]
      })
      const results = answer.results ?? []
      assert.deepStrictEqual(results.map((r) => (r.ok ? "ok" : r.reason)), ["ok", "Refused", "Refused", "Refused", "Refused", "Refused", "ok", "ok", "ok"])
      const messages = results.map((r) => (r.ok ? "" : r.message))
      assert.match(messages[1]!, /\.\./)
      assert.match(messages[2]!, /no location/)
      assert.match(messages[3]!, /no location/, "A's own location is not B's to act on")
      assert.match(messages[4]!, /location root/)
      assert.match(messages[5]!, /location root/)
      assert.strictEqual(results[7]!.ok && results[7]!.value, mtimeOf(Path.join(rootB, "first")).toString())
      assert.deepStrictEqual(results[8], { ok: true, value: false })
      assert.isTrue(Fs.statSync(Path.join(rootB, "first")).isDirectory())
      assert.isFalse(Fs.existsSync(Path.join(rootB, "gone.txt")))
      assert.lengthOf(yield* VersionStore.list(rootB, "gone.txt"), 1)
      assert.strictEqual(Fs.readFileSync(Path.join(rootB, "keep.txt"), "utf8"), "keep")
      // Through the route, each failure is a FileOpError on its own path.
      const route = yield* on(a, RemoteRoute.make(b.node.peerId, lb.id))
      const viaRoute = yield* FileRoute.runAll(route, "remote", [
        FileRoute.RouteOp.Remove({ path: rel("") }),
        FileRoute.RouteOp.EnsureDirectory({ path: rel("second"), mtimeNs: null, mode: null })
      ], { concurrency: 1 })
      assert.isTrue(Either.isLeft(viaRoute[0]!) && viaRoute[0].left.path === `${b.node.peerId}:`)
      assert.isTrue(Either.isRight(viaRoute[1]!))
      assert.isTrue(Fs.existsSync(Path.join(rootB, "second")))
    }), 120_000)

  it.scopedLive("a batch over the item limit, over the byte limit or with a request it may not carry is refused whole, nothing run", () =>
    Effect.gen(function* () {
      const { a, b, rootB } = yield* pairedDevices
      const lb = yield* addLocation(b, rootB)
      const mkdir = (path: string): RemoteOps.BatchItem => ({ op: "ensureDirectory", location: lb.id, path, mtimeNs: null, mode: null })
      const ask = (requests: ReadonlyArray<unknown>) =>
        Effect.flip(RemoteOps.ask(a.node, b.node.peerId, { op: "batch", requests: requests as ReadonlyArray<RemoteOps.BatchItem> }))

      const tooMany = yield* ask(Array.from({ length: RemoteOps.MAX_BATCH_ITEMS + 1 }, (_, i) => mkdir(`many-${i}`)))
      assert.match(String((tooMany.cause as Error).message), /malformed/)
      // Each path within its own bound, together over 1 MiB: the client does not send it, and
      // the server stops reading at the limit.
      const long = (i: number) => mkdir(`long-${i}/${"€".repeat(4000)}`)
      const tooBig = [mkdir("big-first"), ...Array.from({ length: 100 }, (_, i) => long(i))]
      const bytes = Buffer.from(JSON.stringify({ op: "batch", requests: tooBig }))
      assert.isAbove(bytes.byteLength, RemoteOps.MAX_MESSAGE_BYTES)
      assert.match(String(((yield* ask(tooBig)).cause as Error).message), /over the limit/)
      const sent = yield* Effect.scoped(Effect.gen(function* () {
        const stream = yield* a.node.openStream(b.node.peerId, RemoteOps.PROTOCOL)
        yield* Streams.write(stream, bytes)
        yield* Streams.closeWrite(stream)
        return yield* Streams.readAll(stream)
      })).pipe(Effect.either)
      assert.isTrue(Either.isLeft(sent) || sent.right.byteLength === 0, "no answer")
      const nested = yield* ask([mkdir("nested-first"), { op: "batch", requests: [] }])
      assert.match(String((nested.cause as Error).message), /malformed/)
      const push = yield* ask([mkdir("push-first"), { op: "reindex", location: lb.id, path: "", directories: [] }])
      assert.match(String((push.cause as Error).message), /malformed/)
      assert.deepStrictEqual(Fs.readdirSync(rootB).filter((n) => !n.startsWith(".conduit")), [], "nothing ran")

      // The client splits what it sends so that each request fits.
      const parts = RemoteOps.splitBatch([...tooBig, ...Array.from({ length: 299 }, (_, i) => mkdir(`small-${i}`))])
      assert.isAbove(parts.length, 2)
      for (const part of parts) {
        assert.isAtMost(part.length, RemoteOps.MAX_BATCH_ITEMS)
        assert.isAtMost(Buffer.byteLength(JSON.stringify({ op: "batch", requests: part })), RemoteOps.MAX_MESSAGE_BYTES)
      }
      assert.strictEqual(parts.flat().length, 400)
    }), 120_000)

  it.scopedLive("the plan runner over a peer's route batches its operations and records a skip per failed one", () =>
    Effect.gen(function* () {
      const { a, b, rootA, rootB } = yield* pairedDevices
      Testkit.writeTree(rootB, { "blocked": "a file where a directory goes", "keep.txt": "keep", "old.txt": "old", "stale.txt": "stale" })
      const lb = yield* addLocation(b, rootB)
      const route = yield* on(a, RemoteRoute.make(b.node.peerId, lb.id))
      // Only batches: a single remote operation would be a defect here.
      let batches = 0
      const single = () => Effect.dieMessage("a single remote operation")
      const batchedOnly: FileRoute.FileRoute = {
        ...route,
        ensureDirectory: single,
        writeSymlink: single,
        setAttributes: single,
        remove: single,
        unlink: single,
        move: single,
        directoryTime: single,
        runMany: (root, ops) => Effect.suspend(() => {
          batches++
          return route.runMany!(root, ops)
        })
      }
      const directory = (mtime: bigint) => ({ kind: 1 as const, hash: null, size: 0, mtimeNs: mtime, mode: null, linkTarget: null })
      const file = { kind: 0 as const, hash: null, size: 3, mtimeNs, mode: null, linkTarget: null }
      const operations: ReadonlyArray<Plan.Operation> = [
        { _tag: "Copy", from: "source", to: "target", path: rel("new/deep"), entry: directory(mtimeNs + 2n * 1_000_000_000n), replaces: null },
        { _tag: "Copy", from: "source", to: "target", path: rel("new"), entry: directory(mtimeNs + 1_000_000_000n), replaces: null },
        { _tag: "Copy", from: "source", to: "target", path: rel("blocked/sub"), entry: directory(mtimeNs), replaces: null },
        { _tag: "Move", side: "target", from: rel("old.txt"), to: rel("new/renamed.txt"), entry: file },
        { _tag: "Move", side: "target", from: rel("gone.txt"), to: rel("there.txt"), entry: file },
        { _tag: "SetAttributes", side: "target", path: rel("keep.txt"), mtimeNs, mode: 0o600 },
        { _tag: "SetAttributes", side: "target", path: rel("missing.txt"), mtimeNs, mode: null },
        { _tag: "Delete", side: "target", path: rel("stale.txt"), entry: file, verifiedOn: null },
        { _tag: "Delete", side: "target", path: rel(""), entry: directory(mtimeNs), verifiedOn: null }
      ]
      const plan: Plan.Plan = { mode: "mirror", operations, conflicts: [], summary: Plan.summarize(operations, []) }
      const report = yield* on(a, LocalPlanRunner.run(plan, {
        source: { root: rootA, dir: rel("") },
        target: { root: "remote", dir: rel(""), route: batchedOnly }
      }).pipe(Effect.provideService(Hasher.Hasher, Context.get(a.context as Context.Context<Hasher.Hasher>, Hasher.Hasher))))

      assert.deepStrictEqual(
        report.skipped.map((s) => [s.operation._tag, (s.operation as { path?: string }).path ?? (s.operation as Plan.Move).from, s.error.reason]),
        [["Copy", "blocked/sub", "Io"], ["Move", "gone.txt", "SourceMissing"], ["SetAttributes", "missing.txt", "Io"], ["Delete", "", "Io"]]
      )
      assert.match(String((report.skipped[3]!.error.cause as Error).message), /location root/)
      assert.deepStrictEqual([report.copied, report.moved, report.attributes, report.deleted], [2, 1, 1, 1])
      assert.strictEqual(Fs.readFileSync(Path.join(rootB, "new/renamed.txt"), "utf8"), "old")
      assert.strictEqual(mtimeOf(Path.join(rootB, "new/renamed.txt")), mtimeNs)
      assert.strictEqual(Fs.statSync(Path.join(rootB, "keep.txt")).mode & 0o777, 0o600)
      assert.isFalse(Fs.existsSync(Path.join(rootB, "stale.txt")))
      // Directory times are set last (writing into `new` changed its time).
      assert.strictEqual(mtimeOf(Path.join(rootB, "new")), mtimeNs + 1_000_000_000n)
      assert.strictEqual(mtimeOf(Path.join(rootB, "new/deep")), mtimeNs + 2n * 1_000_000_000n)
      // Times read, directories, moves, their attributes, attributes, deletes, times set.
      assert.strictEqual(batches, 7)
    }), 120_000)
})
