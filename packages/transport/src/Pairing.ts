/**
 * The devices this device is paired with, in the library database (`transport_peers`). A
 * node serves only peers listed here and not revoked; everything else is refused before
 * any protocol runs (see `Node`).
 *
 * Pairing records what the user confirmed: a PeerId, a name and the addresses to reach it
 * at. Revoking keeps the row (so history can still name the device) but the peer is refused
 * from then on, and a running node in this process hangs up on it at once.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import { LibraryDatabase } from "@conduit/index"
import { peerIdFromString } from "@libp2p/peer-id"
import { multiaddr } from "@multiformats/multiaddr"
import { Migrator, SqlClient } from "@effect/sql"
import { Context, Effect, Layer, PubSub, type Queue, Schema, type Scope } from "effect"
import { MAX_ADDRESS_LENGTH, MAX_PEER_ADDRESSES, MAX_PEER_NAME_LENGTH, MIGRATIONS_TABLE } from "./constants.js"
import { DeviceIdentity } from "./DeviceIdentity.js"

/** A pairing request or lookup that cannot be carried out. */
export class PairingError extends Schema.TaggedError<PairingError>()("PairingError", {
  reason: Schema.Literal(
    /** Not a libp2p PeerId. */
    "InvalidPeerId",
    /** An address that is not a multiaddr, names another peer, or too many or too long ones. */
    "InvalidAddress",
    /** An empty or too long name. */
    "InvalidName",
    /** The PeerId is this device's own. */
    "Self",
    /** No paired peer has this PeerId. */
    "NotFound"
  ),
  peerId: Schema.String,
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const detail = this.detail === undefined ? "" : `: ${this.detail}`
    switch (this.reason) {
      case "InvalidPeerId":
        return `'${this.peerId}' is not a valid peer id`
      case "InvalidAddress":
        return `an address given for peer ${this.peerId} is not usable${detail}`
      case "InvalidName":
        return `the name given for peer ${this.peerId} is empty or longer than ${MAX_PEER_NAME_LENGTH} characters`
      case "Self":
        return `${this.peerId} is this device; a device cannot pair with itself`
      case "NotFound":
        return `no paired device has the peer id ${this.peerId}`
    }
  }
}

/** A paired (or formerly paired) device. */
export interface PairedPeer {
  readonly peerId: string
  readonly name: string
  /** Where to reach it, QUIC addresses first. */
  readonly addresses: ReadonlyArray<string>
  readonly pairedAt: Date
  readonly revoked: boolean
}

/** The paired devices. */
export class Pairing extends Context.Tag("@conduit/transport/Pairing")<Pairing, {
  /**
   * Pairs with a device (or pairs again with a revoked one, or updates a paired one's name and
   * addresses). Addresses are multiaddrs; one that carries a `/p2p/` part must name this peer.
   */
  readonly pair: (
    peerId: string,
    addresses: ReadonlyArray<string>,
    name: string
  ) => Effect.Effect<PairedPeer, PairingError | Errors.LibraryError>
  /** Stops serving a device: new connections are refused, open ones closed. */
  readonly revoke: (peerId: string) => Effect.Effect<PairedPeer, PairingError | Errors.LibraryError>
  /** Every device ever paired, revoked ones included, oldest pairing first. */
  readonly list: Effect.Effect<ReadonlyArray<PairedPeer>, Errors.LibraryError>
  /** One device, if it was ever paired. */
  readonly get: (peerId: string) => Effect.Effect<PairedPeer, PairingError | Errors.LibraryError>
  /** Whether a device is paired and not revoked: whether a node may talk to it. */
  readonly isPaired: (peerId: string) => Effect.Effect<boolean, Errors.LibraryError>
  /**
   * Subscribes to the PeerIds revoked through this service from now on, until the scope
   * closes; a node hangs up on them. Revocations by another process are not seen here (the
   * node still refuses their new connections, since it asks the database).
   */
  readonly revocations: Effect.Effect<Queue.Dequeue<string>, never, Scope.Scope>
}>() {}

const migrations = {
  "0001_transport_peers": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // A device this one is paired with. multiaddrs is a JSON array of multiaddr strings, QUIC
    // first. A revoked peer keeps its row (names in history stay resolvable) and is refused.
    yield* sql`CREATE TABLE transport_peers (
      peer_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      multiaddrs TEXT NOT NULL DEFAULT '[]',
      paired_at INTEGER NOT NULL,
      revoked INTEGER NOT NULL DEFAULT 0,
      revoked_at INTEGER
    )`
  })
}

interface PeerRow {
  readonly peer_id: string
  readonly name: string
  readonly multiaddrs: string
  readonly paired_at: number
  readonly revoked: number
}

const toPeer = (row: PeerRow): PairedPeer => ({
  peerId: row.peer_id,
  name: row.name,
  addresses: JSON.parse(row.multiaddrs) as Array<string>,
  pairedAt: new Date(row.paired_at),
  revoked: row.revoked !== 0
})

/** Checks a PeerId's text and returns its canonical form. */
const canonicalPeerId = (peerId: string): Effect.Effect<string, PairingError> =>
  Effect.try({
    try: () => peerIdFromString(peerId).toString(),
    catch: () => new PairingError({ reason: "InvalidPeerId", peerId })
  })

/** QUIC addresses before the others, so a dial tries them first. */
const quicFirst = (addresses: ReadonlyArray<string>): Array<string> => {
  const isQuic = (a: string) => a.includes("/quic-v1")
  return [...addresses.filter(isQuic), ...addresses.filter((a) => !isQuic(a))]
}

/** Checks and normalises a peer's addresses: bounded, parseable, and naming no other peer. */
const checkAddresses = (peerId: string, addresses: ReadonlyArray<string>): Effect.Effect<Array<string>, PairingError> =>
  Effect.try({
    try: () => {
      if (addresses.length > MAX_PEER_ADDRESSES) throw new Error(`more than ${MAX_PEER_ADDRESSES} addresses`)
      const out = new Set<string>()
      for (const text of addresses) {
        if (text.length > MAX_ADDRESS_LENGTH) throw new Error(`an address is longer than ${MAX_ADDRESS_LENGTH} characters`)
        let parsed
        try {
          parsed = multiaddr(text)
        } catch {
          throw new Error(`'${text}' is not a multiaddr`)
        }
        const named = parsed.getComponents().filter((c) => c.name === "p2p").map((c) => c.value)
        if (named.some((id) => id !== peerId)) throw new Error(`'${text}' names another peer`)
        out.add(parsed.toString())
      }
      return quicFirst([...out])
    },
    catch: (e) => new PairingError({ reason: "InvalidAddress", peerId, detail: (e as Error).message })
  })

/** Builds the pairing store; runs this package's migrations on the library. */
export const make: Effect.Effect<
  Pairing["Type"],
  Errors.LibraryError,
  SqlClient.SqlClient | LibraryDatabase.LibraryDatabase | DeviceIdentity
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  const identity = yield* DeviceIdentity
  const lib = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.mapError(effect, (e) => LibraryDatabase.toLibraryError(e, db.file))
  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE }).pipe(
    Effect.mapError((cause) => new Errors.LibraryError({ reason: "Migration", path: db.file, cause }))
  )
  const revoked = yield* PubSub.unbounded<string>()

  const find = (peerId: string) =>
    Effect.map(lib(sql<PeerRow>`SELECT * FROM transport_peers WHERE peer_id = ${peerId}`), (rows) => rows[0])

  const get = Effect.fn("Pairing.get")(function* (peerIdInput: string) {
    const peerId = yield* canonicalPeerId(peerIdInput)
    const row = yield* find(peerId)
    if (row === undefined) return yield* new PairingError({ reason: "NotFound", peerId })
    return toPeer(row)
  })

  const pair = Effect.fn("Pairing.pair")(function* (peerIdInput: string, addresses: ReadonlyArray<string>, nameInput: string) {
    const peerId = yield* canonicalPeerId(peerIdInput)
    if (peerId === identity.peerId) return yield* new PairingError({ reason: "Self", peerId })
    const name = nameInput.trim()
    if (name.length === 0 || name.length > MAX_PEER_NAME_LENGTH) return yield* new PairingError({ reason: "InvalidName", peerId })
    const checked = yield* checkAddresses(peerId, addresses)
    yield* lib(sql`INSERT INTO transport_peers ${
      sql.insert({ peer_id: peerId, name, multiaddrs: JSON.stringify(checked), paired_at: Date.now(), revoked: 0 })
    } ON CONFLICT (peer_id) DO UPDATE SET
      name = excluded.name,
      multiaddrs = excluded.multiaddrs,
      paired_at = CASE WHEN transport_peers.revoked = 0 THEN transport_peers.paired_at ELSE excluded.paired_at END,
      revoked = 0,
      revoked_at = NULL`)
    return yield* get(peerId)
  })

  const revoke = Effect.fn("Pairing.revoke")(function* (peerIdInput: string) {
    const peerId = yield* canonicalPeerId(peerIdInput)
    const rows = yield* lib(sql<PeerRow>`UPDATE transport_peers
      SET revoked = 1, revoked_at = COALESCE(revoked_at, ${Date.now()})
      WHERE peer_id = ${peerId} RETURNING *`)
    if (rows.length === 0) return yield* new PairingError({ reason: "NotFound", peerId })
    yield* PubSub.publish(revoked, peerId)
    return toPeer(rows[0]!)
  })

  const list = lib(sql<PeerRow>`SELECT * FROM transport_peers ORDER BY paired_at, peer_id`).pipe(
    Effect.map((rows) => rows.map(toPeer)),
    Effect.withSpan("Pairing.list")
  )

  const isPaired = (peerId: string) =>
    Effect.map(
      lib(sql<{ ok: number }>`SELECT 1 AS ok FROM transport_peers WHERE peer_id = ${peerId} AND revoked = 0`),
      (rows) => rows.length > 0
    )

  return Pairing.of({ pair, revoke, list, get, isPaired, revocations: PubSub.subscribe(revoked) })
})

/** Provides `Pairing` on the library database. */
export const layer: Layer.Layer<
  Pairing,
  Errors.LibraryError,
  SqlClient.SqlClient | LibraryDatabase.LibraryDatabase | DeviceIdentity
> = Layer.effect(Pairing, make)
