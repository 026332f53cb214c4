/**
 * Library sync: each device replicates its paired peers' index rows into its own library
 * database, so that conduits between devices are resolved by queries, like local ones.
 *
 * - `serve` answers a peer's `Want` with this device's own changes above the peer's
 *   watermark (read in batches, paged by seq from SQL), then `CaughtUp`, then keeps the peer
 *   up to date: it polls this device's change counter (`devices.last_seq`) and sends a round
 *   of changes whenever it moved. Serving writes nothing.
 * - `pull` asks a peer for its changes from the persisted watermark and applies them into the
 *   same `entries` table, under replica locations owned by the peer's `devices` row. Each
 *   batch and the new watermark are written in one transaction, so a restart resumes exactly
 *   where the last one stopped.
 * - `isFullySynced` is the gate of a conduit between devices: the replica of a peer's
 *   location is complete as of the peer's latest announced change.
 *
 * The protocol is in `Protocol`; the channel is abstract (`PeerChannel`), the sync layer
 * plugs it onto libp2p streams.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
import { LibraryDatabase } from "@conduit/index"
import { Migrator, SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Layer, Option, type Scope } from "effect"
import {
  DEFAULT_BATCH_ROWS,
  DEFAULT_POLL_INTERVAL_MILLIS,
  HANDSHAKE_TIMEOUT_MILLIS,
  MAX_BATCH_ENTRIES,
  MAX_DETAIL_LENGTH,
  MIGRATIONS_TABLE,
  PROTOCOL_VERSION,
  ROWS_PER_INSERT
} from "./constants.js"
import { batches, type OwnLocation, ownLocations, wireName } from "./internal/changes.js"
import { migrations } from "./internal/migrations.js"
import * as MessageReader from "./internal/reader.js"
import type { PeerChannel } from "./PeerChannel.js"
import * as Protocol from "./Protocol.js"
import { ReplicationError } from "./ReplicationError.js"

/** Options of `serve`. */
export interface ServeOptions {
  /**
   * Keep the peer up to date after the backfill (default true). With false the session ends
   * after the first `CaughtUp` and this side closes.
   */
  readonly live?: boolean
  /** How often to look for new local changes while live (default 250 ms). */
  readonly pollInterval?: Duration.DurationInput
  /** Rows per batch (default 2,000; at most `MAX_BATCH_ENTRIES`). */
  readonly batchRows?: number
}

/** Options of `pull`. */
export interface PullOptions {
  /**
   * The device this session must be with (its device id). A different device on the other
   * end is refused with `NotPaired`. The device id in `Hello` is only a claim: the sync layer
   * must pass the device bound to the authenticated PeerId it dialled, or a paired peer
   * could write into another device's replica.
   */
  readonly expectedPeer?: string
  /**
   * Return after the first `CaughtUp` (closing this side) instead of applying live updates
   * until the peer closes (default false).
   */
  readonly untilCaughtUp?: boolean
}

/** What a `pull` session did. */
export interface PullSummary {
  readonly peer: Ids.DeviceId
  readonly peerName: string
  /** The watermark the session asked from (`Want.fromSeq`). */
  readonly fromSeq: number
  readonly batches: number
  readonly entries: number
  /** The lowest and highest change number received, or null if none arrived. */
  readonly firstSeq: number | null
  readonly lastSeq: number | null
  /** The persisted watermark when the session ended. */
  readonly watermark: number
  /** Whether a `CaughtUp` was applied in this session. */
  readonly caughtUp: boolean
}

/** How far this device's replica of a peer is, as persisted. */
export interface PeerState {
  readonly peer: Ids.DeviceId
  /** Every change of the peer up to this number is applied. */
  readonly watermark: number
  /** The highest change number the peer announced. */
  readonly announced: number
  /** The last `CaughtUp` applied, or null if none ever was. */
  readonly caughtUp: number | null
  /** The locations the peer last announced as its own. */
  readonly locations: ReadonlyArray<Ids.LocationId>
  /** Whether the replica is complete as of `announced`. */
  readonly fullySynced: boolean
}

/** Replicates indexes between this device and its peers. */
export class LibrarySync extends Context.Tag("@conduit/library-sync/LibrarySync")<LibrarySync, {
  /**
   * Serves this device's index to the peer on `channel`, which must introduce itself as
   * `peer` (a device id; the caller has authenticated it): backfill from the peer's
   * watermark, `CaughtUp`, then live rounds until the peer closes its side (or, with
   * `live: false`, until caught up). Fails with a `ReplicationError` on anything the peer
   * does wrong, after telling it why with `Refused`.
   */
  readonly serve: (
    channel: PeerChannel,
    peer: string,
    options?: ServeOptions
  ) => Effect.Effect<void, ReplicationError | Errors.LibraryError>
  /**
   * Pulls the index of the peer on `channel` into this library, from the persisted watermark,
   * until the peer closes (or, with `untilCaughtUp`, until caught up). Creates the peer's
   * `devices` row and replica locations as it announces them. A malformed or hostile message
   * fails the session with a `ReplicationError` and nothing of it is written.
   */
  readonly pull: (channel: PeerChannel, options?: PullOptions) => Effect.Effect<PullSummary, ReplicationError | Errors.LibraryError>
  /**
   * Whether this device's replica of a peer's location is complete: a `CaughtUp` at or beyond
   * the peer's latest announced change was applied, and the peer's latest announcement
   * listed this location as its own. False for a peer or location never heard of. For this
   * device's own id, true for its own locations (its index needs no replication).
   */
  readonly isFullySynced: (peer: string, location: string) => Effect.Effect<boolean, Errors.LibraryError>
  /** The persisted replication state of a peer, if this device ever pulled from it. */
  readonly peerState: (peer: string) => Effect.Effect<Option.Option<PeerState>, Errors.LibraryError>
}>() {}

// ---------------------------------------------------------------------------------------------

interface WatermarkRow {
  readonly device_id: number
  readonly watermark: number
  readonly announced: number
  readonly caught_up: number | null
  readonly locations: string
}

const fullySynced = (row: WatermarkRow) =>
  row.caught_up !== null && row.caught_up >= row.announced && row.watermark >= row.announced

const clip = (text: string) => (text.length <= MAX_DETAIL_LENGTH ? text : `${text.slice(0, MAX_DETAIL_LENGTH - 1)}…`)

/** Errors the other side caused, which it is told about before the channel closes. */
const refusalOf = (error: ReplicationError | Errors.LibraryError): Protocol.Refused | null => {
  if (error._tag !== "ReplicationError") return null
  switch (error.reason) {
    case "Refused":
    case "Closed":
    case "Timeout":
    case "Channel":
      return null
    default:
      return { _tag: "Refused", reason: error.reason, ...(error.detail === undefined ? {} : { detail: clip(error.detail) }) }
  }
}

/** What a replica row of an entry is written as. */
const entryColumns = (entry: Protocol.WireEntry, locationRowId: number) => {
  const slash = entry.path.lastIndexOf("/")
  return {
    location_id: locationRowId,
    path: entry.path,
    parent: slash < 0 ? "" : entry.path.slice(0, slash),
    disk_path: null,
    kind: entry.kind,
    size: entry.size,
    mtime_s: entry.mtimeS,
    mtime_ns: entry.mtimeNs,
    inode: null,
    mode: entry.mode,
    hash: entry.hash,
    hash_state: entry.hashState,
    link_target: entry.linkTarget,
    seq: entry.seq,
    tombstone: entry.tombstone ? 1 : 0,
    moved_from: entry.movedFrom,
    remote: entry.remote ? 1 : 0
  }
}

/** Builds the service; runs this package's migrations on the library. */
export const make: Effect.Effect<
  LibrarySync["Type"],
  Errors.LibraryError,
  SqlClient.SqlClient | LibraryDatabase.LibraryDatabase
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  const lib = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.mapError(effect, (e) => (e instanceof Errors.LibraryError ? e : LibraryDatabase.toLibraryError(e, db.file)))
  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE }).pipe(
    Effect.mapError((cause) => new Errors.LibraryError({ reason: "Migration", path: db.file, cause }))
  )

  const hello: Protocol.Hello = {
    _tag: "Hello",
    version: PROTOCOL_VERSION,
    device: db.self.id as Protocol.DeviceUuid,
    name: wireName(db.self.name, "device")
  }
  const send = (channel: PeerChannel, message: Protocol.Message) => Effect.suspend(() => channel.send(Protocol.encode(message)))

  /** Tells the peer why the session ends (best effort), and closes this side either way. */
  const finish = <A>(channel: PeerChannel, session: Effect.Effect<A, ReplicationError | Errors.LibraryError, Scope.Scope>) =>
    session.pipe(
      Effect.tapError((error) => {
        const refusal = refusalOf(error)
        return refusal === null ? Effect.void : Effect.ignore(send(channel, refusal))
      }),
      Effect.ensuring(channel.close),
      Effect.scoped
    )

  const refuse = (reason: ReplicationError["reason"], peer: string | undefined, detail?: string) =>
    Effect.fail(new ReplicationError({ reason, ...(peer === undefined ? {} : { peer }), ...(detail === undefined ? {} : { detail }) }))

  /** The next message, which must be of the given kind; a `Refused` from the peer fails. */
  const expect = <T extends Protocol.Message["_tag"]>(reader: MessageReader.MessageReader, tag: T, peer: string | undefined) =>
    Effect.flatMap(reader.next, (message): Effect.Effect<Extract<Protocol.Message, { _tag: T }>, ReplicationError> => {
      if (message === null) return refuse("Closed", peer)
      if (message._tag === tag) return Effect.succeed(message as Extract<Protocol.Message, { _tag: T }>)
      if (message._tag === "Refused") return refuse("Refused", peer, `${message.reason}${message.detail === undefined ? "" : `: ${message.detail}`}`)
      return refuse("Protocol", peer, `expected ${tag}, got ${message._tag}`)
    })

  /** `expect` for the handshake messages, which must come within `HANDSHAKE_TIMEOUT_MILLIS`. */
  const handshake = <T extends Protocol.Message["_tag"]>(reader: MessageReader.MessageReader, tag: T, peer: string | undefined) =>
    expect(reader, tag, peer).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(HANDSHAKE_TIMEOUT_MILLIS),
        onTimeout: () => new ReplicationError({ reason: "Timeout", ...(peer === undefined ? {} : { peer }), detail: `waiting for ${tag}` })
      })
    )

  const checkHello = (message: Protocol.Hello, expected: string | undefined) => {
    if (message.version !== PROTOCOL_VERSION) {
      return refuse("UnsupportedVersion", message.device, `it speaks version ${message.version}, this device ${PROTOCOL_VERSION}`)
    }
    if (message.device === db.self.id) return refuse("SelfPeer", message.device)
    if (expected !== undefined && message.device !== expected) {
      return refuse("NotPaired", message.device, `expected device ${expected}`)
    }
    return Effect.void
  }

  // -- serving ----------------------------------------------------------------------------------

  const serve = Effect.fn("LibrarySync.serve")(function* (channel: PeerChannel, peer: string, options: ServeOptions = {}) {
    const live = options.live ?? true
    const pollInterval = Duration.decode(options.pollInterval ?? Duration.millis(DEFAULT_POLL_INTERVAL_MILLIS))
    const batchRows = Math.max(1, Math.min(options.batchRows ?? DEFAULT_BATCH_ROWS, MAX_BATCH_ENTRIES))
    yield* Effect.annotateCurrentSpan("peer", peer)

    const session = Effect.gen(function* () {
      if (peer === db.self.id) return yield* refuse("SelfPeer", peer)
      const reader = yield* MessageReader.make(channel)
      reader.setPeer(peer)
      yield* Effect.flatMap(handshake(reader, "Hello", peer), (message) => checkHello(message, peer))
      yield* send(channel, hello)
      const want = yield* handshake(reader, "Want", peer)
      const startHead = yield* db.lastSequence
      if (want.fromSeq > startHead) {
        return yield* refuse("Sequence", peer, `it asks from change ${want.fromSeq}, but this device is at ${startHead}`)
      }

      let sent = want.fromSeq
      let announced = ""
      /** One round: announce locations and head, send the changes up to head, then CaughtUp. */
      const round = (head: number, locations: ReadonlyArray<OwnLocation>) =>
        Effect.gen(function* () {
          yield* send(channel, { _tag: "Locations", head, locations: locations.map((l) => l.wire) })
          const source = batches(sql, locations, sent, head, batchRows)
          for (;;) {
            const next = yield* lib(source.next)
            for (const s of next.skipped) {
              yield* Effect.logWarning("library sync: a row the wire refuses was not sent").pipe(
                Effect.annotateLogs({ location: s.location, path: s.path, seq: s.seq })
              )
            }
            if (next.batch !== null) yield* send(channel, next.batch)
            if (next.done) break
          }
          yield* send(channel, { _tag: "CaughtUp", seq: head })
          sent = head
          announced = JSON.stringify(locations.map((l) => l.wire))
        }).pipe(Effect.withSpan("LibrarySync.round", { attributes: { peer, head } }))

      // The head is read before the locations: a location created after it has no change up
      // to that head, so every change of the round belongs to an announced location.
      const current = Effect.gen(function* () {
        const head = yield* db.lastSequence
        const locations = yield* lib(ownLocations(sql, db.self.rowId))
        return { head, locations }
      })

      const rounds = Effect.gen(function* () {
        const first = yield* current
        yield* round(first.head, first.locations)
        if (!live) return
        for (;;) {
          yield* Effect.sleep(pollInterval)
          const { head, locations } = yield* current
          if (head !== sent || JSON.stringify(locations.map((l) => l.wire)) !== announced) yield* round(head, locations)
        }
      })

      // After `Want` the peer only listens: its closing ends the session; anything else it
      // sends is out of turn.
      const peerSide = Effect.gen(function* () {
        const message = yield* reader.next
        if (message === null) return
        if (message._tag === "Refused") return yield* refuse("Refused", peer, message.reason)
        return yield* refuse("Protocol", peer, `unexpected ${message._tag} while serving`)
      })

      yield* Effect.raceFirst(rounds, peerSide)
    })
    yield* finish(channel, session)
  })

  // -- pulling ----------------------------------------------------------------------------------

  const peerRow = (uuid: string, name: string) =>
    lib(Effect.gen(function* () {
      const now = Date.now()
      yield* sql`INSERT INTO devices ${sql.insert({ uuid, name, is_self: 0, last_seq: 0, last_seen: now, created_at: now })}
        ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen WHERE devices.is_self = 0`
      const rows = yield* sql<{ id: number; is_self: number }>`SELECT id, is_self FROM devices WHERE uuid = ${uuid}`
      return rows[0]!
    }))

  const watermarkRow = (deviceRowId: number) =>
    lib(Effect.gen(function* () {
      yield* sql`INSERT INTO peer_watermarks ${sql.insert({ device_id: deviceRowId, updated_at: Date.now() })}
        ON CONFLICT (device_id) DO NOTHING`
      const rows = yield* sql<WatermarkRow>`SELECT * FROM peer_watermarks WHERE device_id = ${deviceRowId}`
      return rows[0]!
    }))

  const pull = Effect.fn("LibrarySync.pull")(function* (channel: PeerChannel, options: PullOptions = {}) {
    const session = Effect.gen(function* () {
      const reader = yield* MessageReader.make(channel)
      yield* send(channel, hello)
      const theirs = yield* handshake(reader, "Hello", options.expectedPeer)
      const peer = theirs.device
      reader.setPeer(peer)
      yield* Effect.annotateCurrentSpan("peer", peer)
      yield* checkHello(theirs, options.expectedPeer)
      const device = yield* peerRow(peer, theirs.name)
      if (device.is_self !== 0) return yield* refuse("SelfPeer", peer)
      const state = yield* watermarkRow(device.id)
      const fromSeq = state.watermark
      yield* send(channel, { _tag: "Want", fromSeq })

      let watermark = state.watermark
      let announced = state.announced
      /** The peer's head as of its last `Locations` in this session, and what it listed. */
      let head: number | null = null
      let locations = new Map<string, number>()
      let batchCount = 0
      let entryCount = 0
      let firstSeq: number | null = null
      let lastSeq: number | null = null
      let caughtUp = false

      const applyLocations = (message: Protocol.Locations) =>
        Effect.gen(function* () {
          // A device's change counter never goes back; if it did, its library was restored or
          // replaced, and what this replica holds can no longer be compared with it.
          if (message.head < watermark || message.head < announced) {
            return yield* refuse("Sequence", peer, `its head ${message.head} is below what it announced before (${Math.max(watermark, announced)}); was its library restored?`)
          }
          const ids = new Set<string>()
          const roots = new Set<string>()
          for (const l of message.locations) {
            if (ids.has(l.id)) return yield* refuse("Malformed", peer, `location ${l.id} is announced twice`)
            if (roots.has(l.root)) return yield* refuse("Malformed", peer, `two locations have the root ${l.root}`)
            ids.add(l.id)
            roots.add(l.root)
          }
          const uuids = JSON.stringify([...ids])
          const taken = yield* lib(sql<{ uuid: string }>`SELECT uuid FROM locations
            WHERE device_id != ${device.id} AND uuid IN (SELECT value FROM json_each(${uuids}))`)
          if (taken.length > 0) return yield* refuse("LocationConflict", peer, `location ${taken[0]!.uuid}`)

          const rows = yield* lib(sql.withTransaction(Effect.gen(function* () {
            // Roots are unique per device: free every announced root first, so that roots can
            // move between the peer's locations within one announcement. A replica location
            // the peer no longer announces keeps its entries under the root `withdrawn:<id>`
            // if an announced one took its root; it is not fully synced and takes no batches
            // unless announced again.
            yield* sql`UPDATE locations SET root = 'withdrawn:' || uuid
              WHERE device_id = ${device.id} AND root IN (SELECT value FROM json_each(${JSON.stringify([...roots])}))`
            const now = Date.now()
            for (const l of message.locations) {
              yield* sql`INSERT INTO locations ${sql.insert({
                uuid: l.id,
                device_id: device.id,
                name: l.name,
                root: l.root,
                indexing_mode: l.indexingMode,
                created_at: now
              })} ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, root = excluded.root,
                indexing_mode = excluded.indexing_mode WHERE locations.device_id = ${device.id}`
            }
            const next = Math.max(announced, message.head)
            yield* sql`UPDATE peer_watermarks SET announced = ${next}, locations = ${uuids}, updated_at = ${now}
              WHERE device_id = ${device.id}`
            return yield* sql<{ id: number; uuid: string }>`SELECT id, uuid FROM locations
              WHERE device_id = ${device.id} AND uuid IN (SELECT value FROM json_each(${uuids}))`
          })))
          locations = new Map(rows.map((r) => [r.uuid, r.id]))
          announced = Math.max(announced, message.head)
          head = message.head
        })

      const applyBatch = (message: Protocol.Batch) =>
        Effect.gen(function* () {
          if (head === null) return yield* refuse("Protocol", peer, "a batch before any Locations")
          if (message.upTo > head) return yield* refuse("Sequence", peer, `a batch up to ${message.upTo} beyond the announced head ${head}`)
          let previous = watermark
          for (const entry of message.entries) {
            if (entry.seq <= previous) {
              return yield* refuse("Sequence", peer, `change ${entry.seq} after ${previous} (the watermark is ${watermark})`)
            }
            previous = entry.seq
            if (!locations.has(entry.location)) return yield* refuse("UnannouncedLocation", peer, `location ${entry.location}`)
          }
          if (previous > message.upTo) return yield* refuse("Sequence", peer, `change ${previous} in a batch up to ${message.upTo}`)

          const rows = message.entries.map((entry) => entryColumns(entry, locations.get(entry.location)!))
          yield* lib(sql.withTransaction(Effect.gen(function* () {
            for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
              yield* sql`INSERT INTO entries ${sql.insert(rows.slice(i, i + ROWS_PER_INSERT))}
                ON CONFLICT (location_id, path) DO UPDATE SET
                  parent = excluded.parent, disk_path = NULL, kind = excluded.kind, size = excluded.size,
                  mtime_s = excluded.mtime_s, mtime_ns = excluded.mtime_ns, inode = NULL, mode = excluded.mode,
                  hash = excluded.hash, hash_state = excluded.hash_state, link_target = excluded.link_target,
                  seq = excluded.seq, tombstone = excluded.tombstone, moved_from = excluded.moved_from,
                  remote = excluded.remote
                WHERE excluded.seq > entries.seq`
            }
            // max(): a concurrent session with the same peer never moves the watermark back.
            yield* sql`UPDATE peer_watermarks SET watermark = max(watermark, ${message.upTo}), updated_at = ${Date.now()}
              WHERE device_id = ${device.id}`
          })))
          watermark = message.upTo
          batchCount++
          entryCount += message.entries.length
          firstSeq ??= message.entries[0]!.seq
          lastSeq = previous
        })

      const applyCaughtUp = (message: Protocol.CaughtUp) =>
        Effect.gen(function* () {
          if (head === null) return yield* refuse("Protocol", peer, "CaughtUp before any Locations")
          if (message.seq < watermark || message.seq > head) {
            return yield* refuse("Sequence", peer, `caught up at ${message.seq}, with the watermark at ${watermark} and the head at ${head}`)
          }
          yield* lib(sql`UPDATE peer_watermarks SET watermark = max(watermark, ${message.seq}),
            caught_up = max(coalesce(caught_up, 0), ${message.seq}), updated_at = ${Date.now()}
            WHERE device_id = ${device.id}`)
          watermark = message.seq
          caughtUp = true
        })

      for (;;) {
        const message = yield* reader.next
        if (message === null) break
        if (message._tag === "Locations") yield* applyLocations(message)
        else if (message._tag === "Batch") yield* applyBatch(message)
        else if (message._tag === "CaughtUp") {
          yield* applyCaughtUp(message)
          if (options.untilCaughtUp) break
        } else if (message._tag === "Refused") {
          return yield* refuse("Refused", peer, `${message.reason}${message.detail === undefined ? "" : `: ${message.detail}`}`)
        } else return yield* refuse("Protocol", peer, `unexpected ${message._tag} while pulling`)
      }

      const summary: PullSummary = {
        peer: peer as Ids.DeviceId,
        peerName: theirs.name,
        fromSeq,
        batches: batchCount,
        entries: entryCount,
        firstSeq,
        lastSeq,
        watermark,
        caughtUp
      }
      return summary
    })
    return yield* finish(channel, session)
  })

  // -- state ------------------------------------------------------------------------------------

  const peerState = Effect.fn("LibrarySync.peerState")(function* (peer: string) {
    const rows = yield* lib(sql<WatermarkRow>`SELECT w.* FROM peer_watermarks w JOIN devices d ON d.id = w.device_id
      WHERE d.uuid = ${peer} AND d.is_self = 0`)
    const row = rows[0]
    if (row === undefined) return Option.none<PeerState>()
    return Option.some<PeerState>({
      peer: peer as Ids.DeviceId,
      watermark: row.watermark,
      announced: row.announced,
      caughtUp: row.caught_up,
      locations: JSON.parse(row.locations) as Array<Ids.LocationId>,
      fullySynced: fullySynced(row)
    })
  })

  const isFullySynced = Effect.fn("LibrarySync.isFullySynced")(function* (peer: string, location: string) {
    if (peer === db.self.id) {
      const own = yield* lib(sql<{ n: number }>`SELECT count(*) AS n FROM locations WHERE uuid = ${location} AND device_id = ${db.self.rowId}`)
      return own[0]!.n > 0
    }
    const state = yield* peerState(peer)
    return Option.match(state, {
      onNone: () => false,
      onSome: (s) => s.fullySynced && s.locations.includes(location as Ids.LocationId)
    })
  })

  return LibrarySync.of({ serve, pull, isFullySynced, peerState })
})

/** The service on the library database (`IndexLive.layer` or `LibraryDatabase.layer` provides it). */
export const layer: Layer.Layer<LibrarySync, Errors.LibraryError, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> = Layer.effect(
  LibrarySync,
  make
)
