/**
 * The control API of `conduitd`: what the CLI (or any local program) may ask a running daemon,
 * as an `@effect/platform` HttpApi. The daemon serves it on 127.0.0.1 (see `ControlServer`);
 * clients derive a typed client from the same definition (`HttpApiClient.make(ControlApi.api)`),
 * so both sides encode and decode with these schemas.
 *
 * Every endpoint requires `Authorization: Bearer <token>`, the token being the contents of
 * `$CONDUIT_HOME/daemon.token` (see `DaemonFiles`), or the status panel's cookie (set when the
 * panel is opened with that token, see `StatusPanel`); anything else is answered 401.
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

/**
 * The most file copies a conduit's run may have going at once (as the CLI's `--parallel`): the
 * copies of one run share one disk (or two); beyond a few dozen they only compete for it and
 * for file descriptors.
 */
export const MAX_PARALLEL = 64

/** The highest bandwidth limit, in megabits per second (100 Gbit/s: any real link), as the CLI's. */
export const MAX_BANDWIDTH_MBPS = 100_000

/** The longest version retention in days (about 100 years); 0 keeps versions forever. */
export const MAX_RETENTION_DAYS = 36_500

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

const CacheFile = Schema.Struct({ path: Schema.String, size: Schema.Number, reason: Schema.String })

/** What a selective conduit's cache step did after its verified run (`Conduits.CacheOutcome`). */
export const CacheOutcome = Schema.Struct({
  limitBytes: Schema.NullOr(Schema.Number),
  localBytesBefore: Schema.Number,
  localBytesAfter: Schema.Number,
  evicted: Schema.Array(CacheFile),
  fetched: Schema.Array(CacheFile),
  skipped: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String, message: Schema.String })),
  warnings: Schema.Array(Schema.Struct({ reason: Schema.String, message: Schema.String }))
})

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
  durationMs: Schema.Number,
  /** A selective conduit's cache step (evictions, fetches, warnings); absent for other modes. */
  cache: Schema.optional(Schema.NullOr(CacheOutcome))
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

/** One side of a conduit: its directory, the location it is in and where in it. */
const ConduitEndpoint = Schema.Struct({
  /** The directory's absolute path (on its device). */
  path: Schema.String,
  /** The root of its location. */
  root: Schema.String,
  /** The directory, relative to the root ("" for the root itself). */
  dir: Schema.String,
  /** The location's id. */
  location: Schema.String
})

/**
 * A conduit with every setting, the document `conduit list --json` prints for each (see
 * `apps/cli/README.md`). Times are ISO 8601.
 */
export const Conduit = Schema.Struct({
  id: Schema.String,
  source: ConduitEndpoint,
  target: ConduitEndpoint,
  mode: Schema.String,
  enabled: Schema.Boolean,
  schedule: Schema.String,
  parallelTransfers: Schema.Number,
  maxDeleteRatio: Schema.Number,
  versionRetentionDays: Schema.Number,
  /** A selective conduit's local budget: bytes at most, bytes or percent of the volume kept free (null: none). */
  cacheMaxBytes: Schema.NullOr(Schema.Number),
  cacheMinFreeBytes: Schema.NullOr(Schema.Number),
  cacheMinFreePercent: Schema.NullOr(Schema.Number),
  /** The selective-cache policy: `decayed-frequency` (default), `lru` or `lfu`. */
  cachePolicy: Schema.String,
  useIndexRules: Schema.Boolean,
  indexModeOverride: Schema.NullOr(Schema.String),
  bandwidthLimitMbps: Schema.NullOr(Schema.Number),
  conflictStrategy: Schema.String,
  /** Generations (runs) recorded so far. */
  generation: Schema.Number,
  lastSyncCompletedAt: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.String
})

/**
 * The body of `PATCH /v1/conduits/:id`: the settings to change, each optional (the others are
 * kept). The types are checked here (a body that is not JSON, or a field of the wrong type, is
 * a 400 `HttpApiDecodeError`); the ranges by the daemon, a 400 `InvalidRequest` with the
 * setting's reason (`SettingProblem`) — nothing is changed then.
 */
export const ConduitSettingsPatch = Schema.Struct({
  enabled: Schema.optional(Schema.Boolean),
  /** `manual`, `instant` or `interval:<n>s|m|h|d`. */
  schedule: Schema.optional(Bounded),
  /** Megabits per second for what the conduit pushes to a paired device; null: no limit. */
  bandwidthLimitMbps: Schema.optional(Schema.NullOr(Schema.Number)),
  parallelTransfers: Schema.optional(Schema.Number),
  conflictStrategy: Schema.optional(Schema.Literal("last-write-wins")),
  maxDeleteRatio: Schema.optional(Schema.Number),
  versionRetentionDays: Schema.optional(Schema.Number),
  cacheMaxBytes: Schema.optional(Schema.NullOr(Schema.Number)),
  cacheMinFreeBytes: Schema.optional(Schema.NullOr(Schema.Number)),
  cacheMinFreePercent: Schema.optional(Schema.NullOr(Schema.Number)),
  cachePolicy: Schema.optional(Schema.Literal("decayed-frequency", "lru", "lfu"))
})

/** The settings of a `PATCH /v1/conduits/:id`, decoded. */
export type ConduitSettingsPatch = typeof ConduitSettingsPatch.Type

/** Why a setting of a `PATCH /v1/conduits/:id` is refused (`InvalidRequest.reason`). */
export type SettingProblem = "InvalidSchedule" | "InvalidBandwidthLimit" | "InvalidParallel" | "InvalidMaxDeleteRatio" | "InvalidRetentionDays" | "InvalidBudget"

/**
 * What `POST /v1/conduits/:id/pause` and `/resume` answer (202): the conduit and its
 * `FileSyncJob` as it is just after the request — a running job asked to pause still says
 * `running` until its next checkpoint; a resumed one says how it was before it runs again.
 */
export class JobRequest extends Schema.Class<JobRequest>("JobRequest")({
  conduit: Schema.String,
  requested: Schema.Literal("pause", "resume"),
  job: Schema.Struct({ id: Schema.String, status: Schema.String })
}) {}

/** One generation (run) of a conduit, as `conduit history --json` prints it. Times are ISO 8601. */
export const Generation = Schema.Struct({
  generation: Schema.Number,
  status: Schema.String,
  startedAt: Schema.String,
  completedAt: Schema.NullOr(Schema.String),
  /** Null while running, and for a run the process did not live to finish. */
  durationMs: Schema.NullOr(Schema.Number),
  filesCopied: Schema.Number,
  filesDeleted: Schema.Number,
  filesMoved: Schema.Number,
  conflictsResolved: Schema.Number,
  bytesTransferred: Schema.Number,
  verification: Schema.String,
  remaining: Schema.Number,
  errors: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String, message: Schema.String }))
})

/** The most generations one `GET /v1/conduits/:id/history` answers. */
export const MAX_HISTORY = 1000

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

/** The request names a conduit that does not exist (or an id prefix that is ambiguous). 404. */
export class ConduitNotFound extends Schema.TaggedError<ConduitNotFound>()(
  "ConduitNotFound",
  failureFields,
  HttpApiSchema.annotations({ status: 404 })
) {}

/** The conduit is not in a state that allows the request (nothing to pause or to resume). 409. */
export class ConduitConflict extends Schema.TaggedError<ConduitConflict>()(
  "ConduitConflict",
  failureFields,
  HttpApiSchema.annotations({ status: 409 })
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

/** The failures `toFailure` answers service errors with (the conduits add `ConduitNotFound` and `ConduitConflict`). */
export type ControlFailure = InvalidRequest | PeerNotFound | PeerFailure | DaemonFailure

// -- authentication --------------------------------------------------------------------------

/**
 * The cookie the status panel's page authenticates its requests with: the token itself,
 * `HttpOnly` and `SameSite=Strict` (another site's page cannot make the browser send it).
 */
export const PANEL_COOKIE = "conduit_panel"

/**
 * The token check every endpoint goes through: the bearer token, or the panel's cookie holding
 * the same token. A wrong or missing token is 401.
 */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@conduit/daemon/Authorization", {
  failure: HttpApiError.Unauthorized,
  security: {
    token: HttpApiSecurity.bearer.pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "the contents of $CONDUIT_HOME/daemon.token, new at every start of the daemon")
    ),
    panel: HttpApiSecurity.apiKey({ key: PANEL_COOKIE, in: "cookie" }).pipe(
      HttpApiSecurity.annotate(OpenApi.Description, "the status panel's cookie (the same token), set by GET /panel?token=…")
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

const ConduitIdPath = Schema.Struct({ id: Bounded })

/**
 * Conduits: list, read and change their settings, read their history (newest first); run them in the daemon (the ones with a
 * paired device's endpoint need its node); pause and resume their runs; and the status of
 * every conduit (live: the daemon's scheduler is in it). Fails with `InvalidRequest` (a setting
 * out of range; a run refused: a plan guard, a disabled or busy conduit), `ConduitNotFound`
 * (no such conduit; `run` answers `PeerNotFound` there, as it always has), `ConduitConflict`
 * (nothing to pause or resume) or `PeerFailure` (the peer could not be reached).
 */
export class ConduitsGroup extends HttpApiGroup.make("conduits")
  .add(HttpApiEndpoint.get("status", "/v1/conduits/status").addSuccess(Schema.Struct({ conduits: Schema.Array(ConduitStatus) })))
  .add(HttpApiEndpoint.get("list", "/v1/conduits").addSuccess(Schema.Struct({ conduits: Schema.Array(Conduit) })))
  .add(HttpApiEndpoint.get("get", "/v1/conduits/:id").setPath(ConduitIdPath).addSuccess(Schema.Struct({ conduit: Conduit })))
  .add(
    HttpApiEndpoint.patch("update", "/v1/conduits/:id")
      .setPath(ConduitIdPath)
      .setPayload(ConduitSettingsPatch)
      .addSuccess(Schema.Struct({ conduit: Conduit }))
  )
  .add(
    HttpApiEndpoint.get("history", "/v1/conduits/:id/history")
      .setPath(ConduitIdPath)
      .setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, MAX_HISTORY))) }))
      .addSuccess(Schema.Struct({ generations: Schema.Array(Generation) }))
  )
  .add(HttpApiEndpoint.post("pause", "/v1/conduits/:id/pause").setPath(ConduitIdPath).addSuccess(JobRequest, { status: 202 }))
  .add(HttpApiEndpoint.post("resume", "/v1/conduits/:id/resume").setPath(ConduitIdPath).addSuccess(JobRequest, { status: 202 }))
  .add(
    HttpApiEndpoint.post("run", "/v1/conduits/:id/run")
      .setPath(ConduitIdPath)
      .setPayload(Schema.Struct({ force: Schema.optional(Schema.Boolean) }))
      .addSuccess(RunSummary)
  )
  .addError(InvalidRequest)
  .addError(PeerNotFound)
  .addError(ConduitNotFound)
  .addError(ConduitConflict)
  .addError(PeerFailure)
{}

/** What `POST /v1/files/get` did: the file, its content and whether it had to be fetched. */
export class FetchSummary extends Schema.Class<FetchSummary>("FetchSummary")({
  /** The file's absolute path (on this device). */
  path: Schema.String,
  /** The selective conduit whose source holds it. */
  conduit: Schema.String,
  size: Schema.Number,
  /** Its BLAKE3, verified on arrival (null for a file not indexed yet). */
  hash: Schema.NullOr(Schema.String),
  /** False: it was local already (only the open was recorded). */
  fetched: Schema.Boolean,
  durationMs: Schema.Number
}) {}

/**
 * Files of selective conduits: `get` brings an evicted file back from the secondary (verified)
 * and records the open — what `conduit get` and `conduit open` ask of the daemon when the
 * secondary is on a paired device. A path in no selective conduit's source, or no file of the
 * index, is `InvalidRequest`; a secondary that cannot be reached `PeerFailure` (reason
 * `SecondaryUnavailable`: the fetch is remembered and done by the conduit's next run).
 */
export class FilesGroup extends HttpApiGroup.make("files")
  .add(HttpApiEndpoint.post("get", "/v1/files/get").setPayload(Schema.Struct({ path: Bounded.pipe(Schema.maxLength(4096)) })).addSuccess(FetchSummary))
  .addError(InvalidRequest)
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
  .add(FilesGroup)
  .add(EventsGroup)
  .addError(DaemonFailure)
  .middleware(Authorization)
  .annotate(OpenApi.Title, "conduitd control API")
{}
