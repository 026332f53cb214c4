/**
 * Test devices: each one a real home directory with its own library database (opened with
 * `IndexLive.layer`) and the library sync service, which can be closed and opened again on
 * the same home; a scripted peer that speaks the protocol frame by frame; and snapshots of a
 * replica.
 */
import { IndexLive, Indexer, Locations } from "@conduit/index"
import type { Errors } from "@conduit/domain"
import * as Testkit from "@conduit/testkit"
import type { SqlClient as SqlClientNs } from "@effect/sql"
import { SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Exit, Layer, Option, Scope, Stream } from "effect"
import { LibrarySync, PeerChannel, Protocol } from "../src/index.js"

export { writeTree } from "@conduit/testkit"

export const tempDir = (prefix: string) => Testkit.tempDir(prefix)

type Services = IndexLive.IndexServices | LibrarySync.LibrarySync

/** One device: its home, its services, and a way to close and reopen its library. */
export interface Device {
  readonly home: string
  readonly name: string
  /** Runs an effect with this device's services. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.Effect<A, E>
  readonly sync: LibrarySync.LibrarySync["Type"]
  readonly sql: SqlClientNs.SqlClient
  readonly id: string
  /** Closes the library (the database connection, workers). */
  readonly close: Effect.Effect<void>
}

/** Opens the library in `home` (creating it) with every index service and library sync. */
export const openDevice = (home: string, name: string): Effect.Effect<Device, Errors.LibraryError | Errors.HashError, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    // Closed with the test at the latest; closing twice is harmless.
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const layer = LibrarySync.layer.pipe(Layer.provideMerge(IndexLive.layer({ home, deviceName: name, workers: 1 })))
    const context = yield* Layer.buildWithScope(Layer.fresh(layer), scope)
    const sync = Context.get(context, LibrarySync.LibrarySync)
    const sql = Context.get(context, SqlClient.SqlClient)
    const [self] = yield* sql<{ uuid: string }>`SELECT uuid FROM devices WHERE is_self = 1`.pipe(Effect.orDie)
    return {
      home,
      name,
      run: (effect) => Effect.provide(effect, context),
      sync,
      sql,
      id: self!.uuid,
      close: Scope.close(scope, Exit.void)
    } satisfies Device
  })

/** A device in a fresh temporary home. */
export const newDevice = (name: string) => Effect.flatMap(tempDir(`conduit-ls-${name}-`), (home) => openDevice(home, name))

/** Adds `root` as a location of `device` and indexes it; returns the location and a rescan. */
export const indexTree = (device: Device, root: string) =>
  device.run(Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const indexer = yield* Indexer.Indexer
    const location = yield* locations.add(root)
    const summary = yield* indexer.scan(location.id)
    return { location, summary }
  }))

/** Rescans a location of `device`. */
export const rescan = (device: Device, location: string) =>
  device.run(Effect.flatMap(Indexer.Indexer, (indexer) => indexer.scan(location as Locations.Location["id"])))

/** The rows of one location, as comparable records, by path. */
export interface Row {
  readonly path: string
  readonly kind: number
  readonly size: number
  readonly mtime_s: number
  readonly mtime_ns: number
  readonly mode: number | null
  readonly hash: string | null
  readonly hash_state: string
  readonly link_target: string | null
  readonly seq: number
  readonly tombstone: number
  readonly moved_from: string | null
  readonly remote: number
}

export const rowsOf = (device: Device, location: string) =>
  device.sql<Row>`SELECT e.path, e.kind, e.size, e.mtime_s, e.mtime_ns, e.mode, e.hash, e.hash_state, e.link_target,
      e.seq, e.tombstone, e.moved_from, e.remote
    FROM entries e JOIN locations l ON l.id = e.location_id WHERE l.uuid = ${location} ORDER BY e.path`.pipe(Effect.orDie)

export const countOf = (device: Device, location: string) =>
  device.sql<{ n: number }>`SELECT count(*) AS n FROM entries e JOIN locations l ON l.id = e.location_id
    WHERE l.uuid = ${location}`.pipe(Effect.map((r) => r[0]!.n), Effect.orDie)

/** Everything replicated into a library: entries, locations and watermarks of other devices. */
export const snapshot = (device: Device) =>
  Effect.all({
    entries: device.sql`SELECT e.* FROM entries e JOIN locations l ON l.id = e.location_id
      JOIN devices d ON d.id = l.device_id WHERE d.is_self = 0 ORDER BY e.id`,
    locations: device.sql`SELECT l.* FROM locations l JOIN devices d ON d.id = l.device_id WHERE d.is_self = 0 ORDER BY l.id`,
    watermarks: device.sql`SELECT device_id, watermark, caught_up FROM peer_watermarks ORDER BY device_id`
  }).pipe(Effect.orDie)

/** Waits until `check` holds (polling every 20 ms), or dies after `timeout`. */
export const eventually = <E>(check: Effect.Effect<boolean, E>, timeout: Duration.DurationInput = "20 seconds") =>
  Effect.gen(function* () {
    const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
    for (;;) {
      if (yield* check) return
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met in time")
      yield* Effect.sleep("20 millis")
    }
  })

/** A peer played by the test: sends any message or raw frame, reads what the other side sends. */
export interface ScriptedPeer {
  readonly send: (message: Protocol.Message) => Effect.Effect<void, unknown>
  readonly sendRaw: (frame: Uint8Array) => Effect.Effect<void, unknown>
  /** The next message from the other side, or null once it closed. */
  readonly receive: Effect.Effect<Protocol.Message | null, unknown>
  readonly close: Effect.Effect<void>
}

export const scripted = (channel: PeerChannel.PeerChannel): Effect.Effect<ScriptedPeer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(channel.incoming)
    const buffer: Array<Uint8Array> = []
    const receive: Effect.Effect<Protocol.Message | null, unknown> = Effect.suspend(() => {
      const frame = buffer.shift()
      if (frame !== undefined) return Protocol.decode(frame)
      return Effect.matchEffect(pull, {
        onFailure: Option.match({ onNone: () => Effect.succeed(null), onSome: (e) => Effect.fail(e) }),
        onSuccess: (chunk) => {
          for (const f of chunk) buffer.push(f)
          return receive
        }
      })
    })
    return {
      send: (message) => channel.send(Protocol.encode(message)),
      sendRaw: (frame) => channel.send(frame),
      receive,
      close: channel.close
    }
  })

/** A lower-case UUID. */
export const uuid = () => crypto.randomUUID()

/** A valid wire entry of `location` at `seq`, with fields overridable. */
export const wireEntry = (location: string, path: string, seq: number, over: Partial<Record<keyof Protocol.WireEntry, unknown>> = {}) =>
  ({
    location,
    path,
    kind: 0,
    size: 5,
    mtimeS: 1_700_000_000,
    mtimeNs: 123_456_789,
    mode: 0o644,
    hash: "a".repeat(64),
    hashState: "ok",
    linkTarget: null,
    seq,
    tombstone: false,
    movedFrom: null,
    remote: false,
    ...over
  }) as unknown as Protocol.WireEntry

/** A location announcement entry. */
export const wireLocation = (id: string, root = `/peer/${id.slice(0, 8)}`): Protocol.WireLocation =>
  ({ id, name: root.slice(root.lastIndexOf("/") + 1), root, indexingMode: "Standard" }) as Protocol.WireLocation
