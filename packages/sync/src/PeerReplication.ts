/**
 * Library sync over the wire: `@conduit/library-sync`'s protocol on libp2p streams of the
 * `@conduit/transport` node, between paired devices only (the node refuses anyone else before
 * any protocol runs).
 *
 * Library sync names devices by their library's device id; the wire authenticates PeerIds.
 * The two are bound here, once per peer: `/conduit/device/1.0.0` answers who this device is
 * (`{ device, name }`, at most 1 KiB, validated), and the answer, which only the holder of the
 * peer's key can give, is stored in `devices.peer_id`. Every replication session is then tied
 * to the device bound to the PeerId that opened or answered it — a paired peer cannot write
 * into another device's replica by claiming its id.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import { LibraryDatabase } from "@conduit/index"
import { LibrarySync, constants as LibrarySyncConstants, PeerChannel, ReplicationError } from "@conduit/library-sync"
import { Node, Streams, TransportError } from "@conduit/transport"
import { SqlClient } from "@effect/sql"
import { Context, Duration, Effect, Layer, Schema, type Scope } from "effect"

/** The protocol that tells a paired peer which device this is. */
export const DEVICE_PROTOCOL = "/conduit/device/1.0.0"

/** The most bytes a device answer may take. */
const MAX_DEVICE_ANSWER_BYTES = 1024

/**
 * How long asking a peer which device it is may take, stream included: the answer is a few
 * dozen bytes a paired peer writes at once. A peer that never answers must not hold a pull, or
 * the library sync session it opened, forever.
 */
const DEVICE_ANSWER_TIMEOUT = Duration.seconds(10)

/** A device's answer to `DEVICE_PROTOCOL`. */
const DeviceAnswer = Schema.Struct({
  device: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)),
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255), Schema.pattern(/^[^\u0000-\u001f\u007f]+$/))
})

/** A paired peer's device as bound to its PeerId. */
export interface PeerDevice {
  readonly peerId: string
  readonly device: string
  readonly name: string
}

/** Why a peer could not be replicated with. */
export class PeerReplicationError extends Schema.TaggedError<PeerReplicationError>()("PeerReplicationError", {
  reason: Schema.Literal("BadAnswer", "IdentityConflict", "SelfPeer"),
  peerId: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "BadAnswer":
        return `peer ${this.peerId} did not say which device it is${this.detail === undefined ? "" : `: ${this.detail}`}`
      case "IdentityConflict":
        return `peer ${this.peerId} claims device ${this.detail ?? "?"}, which this library knows under another key; refused`
      case "SelfPeer":
        return `peer ${this.peerId} claims to be this device; refused`
    }
  }
}

/** The errors of replication over the wire. */
export type PeerReplicationFailure =
  | PeerReplicationError
  | ReplicationError.ReplicationError
  | TransportError.TransportError
  | Errors.LibraryError

/** Library sync with paired peers. */
export class PeerReplication extends Context.Tag("@conduit/sync/PeerReplication")<PeerReplication, {
  /**
   * Answers who this device is and serves its index to paired peers that pull it (backfill,
   * then live updates) until the scope closes.
   */
  readonly serve: Effect.Effect<void, TransportError.TransportError, Scope.Scope>
  /** The device of a paired peer: asked over the wire the first time, then read from the library. */
  readonly deviceOf: (peerId: string) => Effect.Effect<PeerDevice, PeerReplicationFailure>
  /**
   * Pulls a paired peer's index into this library from the persisted watermark; with `live`
   * it goes on applying the peer's changes until the connection ends, else it returns once
   * caught up.
   */
  readonly pull: (peerId: string, options?: { readonly live?: boolean }) => Effect.Effect<LibrarySync.PullSummary, PeerReplicationFailure>
  /** Whether the replica of a paired peer's location is complete (the gate of a sync across devices). */
  readonly isFullySynced: (peerId: string, location: string) => Effect.Effect<boolean, PeerReplicationFailure>
}>() {}

/** A libp2p stream as library sync's frame channel. */
const channelOf = (stream: Streams.Stream, peer: string): PeerChannel.PeerChannel =>
  PeerChannel.fromByteStream({
    source: stream as unknown as AsyncIterable<Uint8Array>,
    write: (bytes) =>
      Streams.write(stream, bytes).pipe(
        Effect.mapError((cause) => new ReplicationError.ReplicationError({ reason: "Channel", peer, cause }))
      ),
    close: Effect.ignore(Streams.closeWrite(stream)),
    peer
  })

/** Builds the service on the node, the library and library sync. */
export const make: Effect.Effect<
  PeerReplication["Type"],
  never,
  Node.Node | LibrarySync.LibrarySync | LibraryDatabase.LibraryDatabase | SqlClient.SqlClient
> = Effect.gen(function* () {
  const node = yield* Node.Node
  const librarySync = yield* LibrarySync.LibrarySync
  const db = yield* LibraryDatabase.LibraryDatabase
  const sql = yield* SqlClient.SqlClient
  /** Database failures as `LibraryError`; this module's own errors pass through. */
  const lib = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.mapError(effect, (e) =>
      e instanceof Errors.LibraryError || e instanceof PeerReplicationError ? e : LibraryDatabase.toLibraryError(e, db.file))

  const bound = (peerId: string) =>
    Effect.map(
      lib(sql<{ uuid: string; name: string }>`SELECT uuid, name FROM devices WHERE peer_id = ${peerId}`),
      (rows) => (rows.length === 0 ? null : { peerId, device: rows[0]!.uuid, name: rows[0]!.name })
    )

  /** Stores the binding of a PeerId to the device it answered for; refuses a conflicting one. */
  const bind = (peerId: string, answer: typeof DeviceAnswer.Type) =>
    lib(sql.withTransaction(Effect.gen(function* () {
      if (answer.device === db.self.id) return yield* new PeerReplicationError({ reason: "SelfPeer", peerId })
      const rows = yield* sql<{ uuid: string; peer_id: string | null }>`SELECT uuid, peer_id FROM devices WHERE uuid = ${answer.device} OR peer_id = ${peerId}`
      for (const row of rows) {
        const sameDevice = row.uuid === answer.device
        if ((sameDevice && row.peer_id !== null && row.peer_id !== peerId) || (!sameDevice && row.peer_id === peerId)) {
          return yield* new PeerReplicationError({ reason: "IdentityConflict", peerId, detail: answer.device })
        }
      }
      const now = Date.now()
      if (rows.some((r) => r.uuid === answer.device)) {
        yield* sql`UPDATE devices SET peer_id = ${peerId}, paired_at = coalesce(paired_at, ${now}), last_seen = ${now} WHERE uuid = ${answer.device}`
      } else {
        yield* sql`INSERT INTO devices ${sql.insert({ uuid: answer.device, name: answer.name, peer_id: peerId, paired_at: now, last_seen: now, created_at: now })}`
      }
      return { peerId, device: answer.device, name: answer.name } satisfies PeerDevice
    })))

  const ask = (peerId: string) =>
    Effect.scoped(Effect.gen(function* () {
      const bytes = yield* Effect.gen(function* () {
        const stream = yield* node.openStream(peerId, DEVICE_PROTOCOL)
        yield* Streams.closeWrite(stream)
        return yield* Streams.readAll(stream, { maxBytes: MAX_DEVICE_ANSWER_BYTES })
      }).pipe(
        Effect.timeoutFail({
          duration: DEVICE_ANSWER_TIMEOUT,
          onTimeout: () => new PeerReplicationError({ reason: "BadAnswer", peerId, detail: `no answer within ${Duration.format(DEVICE_ANSWER_TIMEOUT)}` })
        })
      )
      const answer = yield* Effect.try(() => JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown).pipe(
        Effect.flatMap(Schema.decodeUnknown(DeviceAnswer)),
        Effect.mapError((e) => new PeerReplicationError({ reason: "BadAnswer", peerId, detail: String(e) }))
      )
      return yield* bind(peerId, answer)
    }))

  const deviceOf = (peerId: string) =>
    Effect.flatMap(bound(peerId), (known) => (known === null ? ask(peerId) : Effect.succeed(known))).pipe(
      Effect.withSpan("PeerReplication.deviceOf")
    )

  const serve = Effect.gen(function* () {
    const self = JSON.stringify({ device: db.self.id, name: db.self.name })
    yield* node.handle(DEVICE_PROTOCOL, (stream) => Streams.write(stream, Buffer.from(self)))
    yield* node.handle(LibrarySyncConstants.PROTOCOL_ID, (stream, peer) =>
      Effect.flatMap(deviceOf(peer.peerId), (device) => librarySync.serve(channelOf(stream, device.device), device.device)))
  })

  const pull = (peerId: string, options: { readonly live?: boolean } = {}) =>
    Effect.scoped(Effect.gen(function* () {
      const device = yield* deviceOf(peerId)
      const stream = yield* node.openStream(peerId, LibrarySyncConstants.PROTOCOL_ID)
      return yield* librarySync.pull(channelOf(stream, device.device), { expectedPeer: device.device, untilCaughtUp: options.live !== true })
    })).pipe(Effect.withSpan("PeerReplication.pull"))

  const isFullySynced = (peerId: string, location: string) =>
    Effect.flatMap(deviceOf(peerId), (device) => librarySync.isFullySynced(device.device, location))

  return PeerReplication.of({ serve, deviceOf, pull, isFullySynced })
})

/** The service, on the node, library sync and the library. */
export const layer: Layer.Layer<
  PeerReplication,
  never,
  Node.Node | LibrarySync.LibrarySync | LibraryDatabase.LibraryDatabase | SqlClient.SqlClient
> = Layer.effect(PeerReplication, make)
