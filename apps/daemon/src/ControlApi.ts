/**
 * The control API of `conduitd`: what the CLI (or any local program) may ask a running daemon,
 * as an `@effect/platform` HttpApi. The daemon serves it on 127.0.0.1 (see `ControlServer`);
 * clients derive a typed client from the same definition (`HttpApiClient.make(ControlApi.api)`),
 * so both sides encode and decode with these schemas.
 *
 * Every endpoint requires `Authorization: Bearer <token>`, the token being the contents of
 * `$CONDUIT_HOME/daemon.token` (see `DaemonFiles`); anything else is answered 401.
 *
 * This module imports only `effect` and `@effect/platform` (no libp2p, no SQLite), so a
 * CommonJS client bundle can include it.
 *
 * @since 0.1.0
 */
import { HttpApi, HttpApiEndpoint, HttpApiError, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Schema } from "effect"

// -- limits ----------------------------------------------------------------------------------

/**
 * The most addresses a pairing request may carry. Transport's pairing store keeps at most 32
 * per peer; the API refuses more before the daemon does any work.
 */
export const MAX_PAIR_ADDRESSES = 32

/** The longest text accepted for a peer id, an address or a name: real ones are far shorter. */
export const MAX_FIELD_LENGTH = 512

const Bounded = Schema.String.pipe(Schema.maxLength(MAX_FIELD_LENGTH))

// -- shapes ----------------------------------------------------------------------------------

/** What `GET /v1/status` answers: which daemon this is and how to reach its node. */
export class Status extends Schema.Class<Status>("Status")({
  /** The daemon's process id. */
  pid: Schema.Number,
  /** The daemon's version (its package's). */
  version: Schema.String,
  /** This device's libp2p PeerId: what another device pairs with. */
  peerId: Schema.String,
  /** Where the node listens, each ending in `/p2p/<peerId>`; QUIC first. */
  addresses: Schema.Array(Schema.String),
  /** Milliseconds since the daemon started. */
  uptimeMs: Schema.Number,
  /** Paired peers, revoked ones not counted. */
  pairedPeers: Schema.Number,
  /** The Conduit home directory the daemon works on (`library.db` is in it). */
  home: Schema.String,
  /** This device's id and name in the library. */
  device: Schema.Struct({ id: Schema.String, name: Schema.String })
}) {}

/** A paired (or revoked) device. */
export class Peer extends Schema.Class<Peer>("Peer")({
  peerId: Schema.String,
  name: Schema.String,
  /** Where to reach it, QUIC first. */
  addresses: Schema.Array(Schema.String),
  /** When it was (last) paired, ISO 8601. */
  pairedAt: Schema.String,
  revoked: Schema.Boolean,
  /** Whether the daemon has a connection to it now (the daemon redials paired peers with backoff). */
  connected: Schema.optional(Schema.Boolean),
  /** Why the last attempt to reach it failed, while it is unreachable. */
  lastError: Schema.optional(Schema.NullOr(Schema.String))
}) {}

/** The body of `POST /v1/peers`. */
export class PairRequest extends Schema.Class<PairRequest>("PairRequest")({
  peerId: Bounded,
  /** Multiaddrs of the peer; one that carries `/p2p/` must name this peer. At least one. */
  addresses: Schema.Array(Bounded).pipe(Schema.minItems(1), Schema.maxItems(MAX_PAIR_ADDRESSES)),
  /** A display name; the daemon makes one from the peer id when absent. */
  name: Schema.optional(Bounded)
}) {}

/** What a library-sync pull did (`LibrarySync.PullSummary`, field by field). */
export class PullSummary extends Schema.Class<PullSummary>("PullSummary")({
  /** The peer's PeerId. */
  peerId: Schema.String,
  /** The peer's device id and name in its library. */
  device: Schema.String,
  deviceName: Schema.String,
  /** The watermark the pull asked from. */
  fromSeq: Schema.Number,
  batches: Schema.Number,
  /** Entries (rows and tombstones) received and applied. */
  entries: Schema.Number,
  firstSeq: Schema.NullOr(Schema.Number),
  lastSeq: Schema.NullOr(Schema.Number),
  /** The persisted watermark when the pull ended. */
  watermark: Schema.Number,
  /** Whether the replica is caught up with the peer. */
  caughtUp: Schema.Boolean,
  durationMs: Schema.Number
}) {}

/** What a conduit run did (`POST /v1/conduits/:id/run`): the figures of its generation. */
export class RunSummary extends Schema.Class<RunSummary>("RunSummary")({
  conduit: Schema.String,
  /** The generation recorded; null if the run did not start one. */
  generation: Schema.NullOr(Schema.Number),
  mode: Schema.String,
  copies: Schema.Number,
  deletes: Schema.Number,
  moves: Schema.Number,
  conflicts: Schema.Number,
  copied: Schema.Number,
  deleted: Schema.Number,
  moved: Schema.Number,
  bytes: Schema.Number,
  /** Operations that did not happen, and why. */
  skipped: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String, message: Schema.String })),
  /** A fresh comparison after the run found nothing left to do. */
  verified: Schema.Boolean,
  remaining: Schema.Number,
  /** The FileSyncJob that ran it and how it ended. */
  job: Schema.NullOr(Schema.Struct({ id: Schema.String, status: Schema.String })),
  durationMs: Schema.Number
}) {}

/** The storage of the volume an endpoint is on; null figures when unknown (a paired device's endpoint). */
const Storage = Schema.Struct({
  path: Schema.String,
  /** The paired device's name, or null on this device. */
  peer: Schema.NullOr(Schema.String),
  totalBytes: Schema.NullOr(Schema.Number),
  usedBytes: Schema.NullOr(Schema.Number),
  freeBytes: Schema.NullOr(Schema.Number)
})

/**
 * One conduit of `GET /v1/conduits/status` (`ConduitStatus.toJson` of `@conduit/sync`, field
 * by field; `conduit status --json` prints the same shape): its state, its unfinished job's
 * progress with speed and ETA, what is pending, the scheduler's view, its last generation, its
 * recent conflicts and the storage of both endpoints' volumes. Times are ISO 8601.
 */
export const ConduitStatus = Schema.Struct({
  id: Schema.String,
  source: Schema.String,
  target: Schema.String,
  mode: Schema.String,
  schedule: Schema.String,
  enabled: Schema.Boolean,
  state: Schema.Literal("idle", "running", "paused", "failed", "disabled"),
  job: Schema.NullOr(Schema.Struct({
    id: Schema.String,
    status: Schema.String,
    orphaned: Schema.Boolean,
    startedAt: Schema.String,
    done: Schema.Number,
    total: Schema.Number,
    bytes: Schema.Number,
    bytesTotal: Schema.Number
  })),
  /** Bytes per second since the run started; null unless running (and something was copied). */
  bytesPerSecond: Schema.NullOr(Schema.Number),
  etaMs: Schema.NullOr(Schema.Number),
  pending: Schema.Struct({ operations: Schema.Number, bytes: Schema.Number, runQueued: Schema.Boolean }),
  scheduler: Schema.NullOr(Schema.Struct({
    nextRunAt: Schema.NullOr(Schema.String),
    lastRunAt: Schema.NullOr(Schema.String),
    lastError: Schema.NullOr(Schema.String)
  })),
  lastGeneration: Schema.NullOr(Schema.Struct({
    generation: Schema.Number,
    status: Schema.String,
    startedAt: Schema.String,
    completedAt: Schema.NullOr(Schema.String),
    filesCopied: Schema.Number,
    filesDeleted: Schema.Number,
    filesMoved: Schema.Number,
    bytesTransferred: Schema.Number,
    conflictsResolved: Schema.Number,
    verification: Schema.String,
    /** How many errors the generation recorded (`conduit history` lists them). */
    errors: Schema.Number
  })),
  conflicts: Schema.Struct({
    count: Schema.Number,
    recent: Schema.Array(Schema.Struct({
      generation: Schema.Number,
      path: Schema.String,
      reason: Schema.String,
      winner: Schema.String,
      resolution: Schema.String,
      createdAt: Schema.String
    }))
  }),
  storage: Schema.Struct({ source: Storage, target: Storage })
})

/** What `POST /v1/stop` answers, just before the daemon shuts down. */
export class Stopping extends Schema.Class<Stopping>("Stopping")({
  pid: Schema.Number
}) {}

// -- errors ----------------------------------------------------------------------------------

/**
 * The fields of every failure the daemon reports: the daemon-side error's tag (for example
 * `PairingError`, `TransportError`), its reason and its one-sentence message.
 */
const failureFields = {
  error: Schema.String,
  reason: Schema.String,
  message: Schema.String
}

/** The request cannot be carried out as given (a bad peer id or address, pairing with itself). 400. */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()(
  "InvalidRequest",
  failureFields,
  HttpApiSchema.annotations({ status: 400 })
) {}

/** The request names a peer that is not paired. 404. */
export class PeerNotFound extends Schema.TaggedError<PeerNotFound>()(
  "PeerNotFound",
  failureFields,
  HttpApiSchema.annotations({ status: 404 })
) {}

/** A paired peer could not be reached, or replication with it failed. 502. */
export class PeerFailure extends Schema.TaggedError<PeerFailure>()(
  "PeerFailure",
  failureFields,
  HttpApiSchema.annotations({ status: 502 })
) {}

/** The daemon's own library failed (a storage error, for example). 500. */
export class DaemonFailure extends Schema.TaggedError<DaemonFailure>()(
  "DaemonFailure",
  failureFields,
  HttpApiSchema.annotations({ status: 500 })
) {}

/** Any failure of the control API other than authentication. */
export type ControlFailure = InvalidRequest | PeerNotFound | PeerFailure | DaemonFailure

// -- authentication --------------------------------------------------------------------------

/** The bearer token check every endpoint goes through; a wrong or missing token is 401. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@conduit/daemon/Authorization", {
  failure: HttpApiError.Unauthorized,
  security: {
    token: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "the contents of $CONDUIT_HOME/daemon.token, new at every start of the daemon")
    )
  }
}) {}

// -- endpoints -------------------------------------------------------------------------------

const PeerIdPath = Schema.Struct({ peerId: Bounded })

/** The daemon itself: status and stop. */
export class DaemonGroup extends HttpApiGroup.make("daemon")
  .add(HttpApiEndpoint.get("status", "/v1/status").addSuccess(Status))
  .add(HttpApiEndpoint.post("stop", "/v1/stop").addSuccess(Stopping, { status: 202 }))
{}

/**
 * Paired devices: list, pair, revoke, and pull a peer's index. Any of them may fail with
 * `InvalidRequest`, `PeerNotFound` or `PeerFailure`.
 */
export class PeersGroup extends HttpApiGroup.make("peers")
  .add(HttpApiEndpoint.get("list", "/v1/peers").addSuccess(Schema.Struct({ peers: Schema.Array(Peer) })))
  .add(HttpApiEndpoint.post("pair", "/v1/peers").setPayload(PairRequest).addSuccess(Peer))
  .add(HttpApiEndpoint.del("revoke", "/v1/peers/:peerId").setPath(PeerIdPath).addSuccess(Peer))
  .add(HttpApiEndpoint.post("pull", "/v1/peers/:peerId/pull").setPath(PeerIdPath).addSuccess(PullSummary))
  .addError(InvalidRequest)
  .addError(PeerNotFound)
  .addError(PeerFailure)
{}

/**
 * Conduits run in the daemon: the ones with a paired device's endpoint need its node; and the
 * status of every conduit (live: the daemon's scheduler is in it). Fails
 * with `InvalidRequest` (the run was refused: a plan guard, a disabled or busy conduit),
 * `PeerNotFound` (no such conduit) or `PeerFailure` (the peer could not be reached).
 */
export class ConduitsGroup extends HttpApiGroup.make("conduits")
  .add(HttpApiEndpoint.get("status", "/v1/conduits/status").addSuccess(Schema.Struct({ conduits: Schema.Array(ConduitStatus) })))
  .add(
    HttpApiEndpoint.post("run", "/v1/conduits/:id/run")
      .setPath(Schema.Struct({ id: Bounded }))
      .setPayload(Schema.Struct({ force: Schema.optional(Schema.Boolean) }))
      .addSuccess(RunSummary)
  )
  .addError(InvalidRequest)
  .addError(PeerNotFound)
  .addError(PeerFailure)
{}

/**
 * How often the event stream sends a comment line when nothing else happened: proxies and
 * clients see the connection is alive, and a client gone away is noticed.
 */
export const EVENTS_HEARTBEAT_SECONDS = 15

/**
 * The daemon's events (`ConduitEvents` of `@conduit/sync`) as server-sent events: a
 * `text/event-stream` that stays open, each event as `event: <_tag>` and `data: <its JSON>`,
 * a `: connected` comment first (the subscription is then in place) and a `: heartbeat`
 * comment every `EVENTS_HEARTBEAT_SECONDS`. A typed client cannot stream it: read it with a
 * plain HTTP client and the bearer token.
 */
export class EventsGroup extends HttpApiGroup.make("events")
  .add(HttpApiEndpoint.get("events", "/v1/events").addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" })))
{}

/** The whole control API; every endpoint needs the bearer token. */
export class Api extends HttpApi.make("conduitd")
  .add(DaemonGroup)
  .add(PeersGroup)
  .add(ConduitsGroup)
  .add(EventsGroup)
  .addError(DaemonFailure)
  .middleware(Authorization)
  .annotate(OpenApi.Title, "conduitd control API")
{}
