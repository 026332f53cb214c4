/**
 * The control API served: the handlers of `ControlApi` on this daemon's services, the bearer
 * token check, and an HTTP server on 127.0.0.1 (never another interface: the token is the
 * only protection, and it is only as private as the home directory).
 *
 * Failures of the services are answered with the API's errors, each carrying the original
 * error's tag, reason and sentence (see `toFailure`).
 *
 * @since 0.1.0
 */
import { LibraryDatabase } from "@conduit/index"
import { JobRuntime } from "@conduit/jobs"
import { ConduitEvents, Conduits, ConduitSchedule, ConduitStatus, Scheduler } from "@conduit/sync"
import { PeerReplication } from "@conduit/sync/peers"
import { Node, Pairing, PeerKeeper } from "@conduit/transport"
import { HttpApiBuilder, HttpApiError, HttpMiddleware, HttpServer, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Chunk, Duration, Effect, Either, Layer, Option, Predicate, Redacted, Schedule, Stream } from "effect"
import * as Http from "node:http"
import * as ControlApi from "./ControlApi.js"
import * as DaemonFiles from "./DaemonFiles.js"
import { Lifecycle } from "./Lifecycle.js"
import * as StatusPanel from "./StatusPanel.js"

/** The only interface the control API listens on. */
export const HOST = "127.0.0.1"

// -- failures --------------------------------------------------------------------------------

/** A tagged error with a reason and a sentence, as every error of the libraries is. */
interface Described {
  readonly _tag: string
  readonly reason: string
  readonly message: string
}

const fields = (e: Described) => ({ error: e._tag, reason: e.reason, message: e.message })

/**
 * The API error of a service failure: a request that cannot be valid (`InvalidRequest`), a
 * peer that is not paired (`PeerNotFound`), the library (`DaemonFailure`), and anything that
 * happened on the way to or with the peer (`PeerFailure`).
 */
export const toFailure = (e: Described): ControlApi.ControlFailure => {
  switch (e._tag) {
    case "PairingError":
      return e.reason === "NotFound" ? new ControlApi.PeerNotFound(fields(e)) : new ControlApi.InvalidRequest(fields(e))
    case "TransportError":
      return e.reason === "NotPaired"
        ? new ControlApi.PeerNotFound(fields(e))
        : e.reason === "InvalidAddress"
        ? new ControlApi.InvalidRequest(fields(e))
        : new ControlApi.PeerFailure(fields(e))
    case "LibraryError":
      return new ControlApi.DaemonFailure(fields(e))
    default:
      return new ControlApi.PeerFailure(fields(e))
  }
}

/** Answers every failure of `effect` with the API's errors. */
const answer = <A, R>(effect: Effect.Effect<A, Described, R>) => Effect.mapError(effect, toFailure)

/** Only the library can fail here: its errors are the daemon's own. */
const library = <A, R>(effect: Effect.Effect<A, Described, R>) =>
  Effect.mapError(effect, (e) => new ControlApi.DaemonFailure(fields(e)))

const toPeer = (p: Pairing.PairedPeer, state?: PeerKeeper.PeerState) =>
  new ControlApi.Peer({
    peerId: p.peerId,
    name: p.name,
    addresses: p.addresses,
    pairedAt: p.pairedAt.toISOString(),
    revoked: p.revoked,
    ...(state === undefined ? {} : { connected: state.connected, lastError: state.lastError })
  })

// -- handlers --------------------------------------------------------------------------------

const DaemonHandlers = HttpApiBuilder.group(ControlApi.Api, "daemon", (handlers) =>
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle
    const node = yield* Node.Node
    const pairing = yield* Pairing.Pairing
    const db = yield* LibraryDatabase.LibraryDatabase
    return handlers
      .handle("status", () =>
        library(Effect.gen(function* () {
          const peers = yield* pairing.list
          return new ControlApi.Status({
            pid: process.pid,
            version: lifecycle.version,
            peerId: node.peerId,
            addresses: yield* node.addresses,
            uptimeMs: Date.now() - lifecycle.startedAt.getTime(),
            pairedPeers: peers.filter((p) => !p.revoked).length,
            home: lifecycle.home,
            device: { id: db.self.id, name: db.self.name }
          })
        })))
      .handle("stop", () =>
        Effect.zipRight(
          Effect.logInfo("stop requested through the control API"),
          Effect.as(lifecycle.requestStop, new ControlApi.Stopping({ pid: process.pid }))
        ))
  }))

const PeersHandlers = HttpApiBuilder.group(ControlApi.Api, "peers", (handlers) =>
  Effect.gen(function* () {
    const pairing = yield* Pairing.Pairing
    const replication = yield* PeerReplication.PeerReplication
    const keeper = yield* PeerKeeper.PeerKeeper

    /** The paired, not revoked, peer named by a request. */
    const paired = (peerId: string) =>
      Effect.flatMap(pairing.get(peerId), (peer) =>
        peer.revoked
          ? Effect.fail({ _tag: "PairingError", reason: "NotFound", message: `peer ${peer.peerId} was revoked; pair it again to use it` })
          : Effect.succeed(peer))

    return handlers
      .handle("list", () =>
        library(Effect.gen(function* () {
          const peers = yield* pairing.list
          const states = yield* keeper.status
          return { peers: peers.map((p) => toPeer(p, states.find((s) => s.peerId === p.peerId))) }
        })))
      .handle("pair", ({ payload }) =>
        answer(Effect.map(
          pairing.pair(payload.peerId, payload.addresses, payload.name ?? `peer ${payload.peerId.slice(-8)}`),
          (p) => toPeer(p)
        )).pipe(Effect.tap((p) => Effect.logInfo(`paired with ${p.peerId} (${p.name})`))))
      .handle("revoke", ({ path }) =>
        answer(Effect.map(pairing.revoke(path.peerId), toPeer)).pipe(Effect.tap((p) => Effect.logInfo(`revoked ${p.peerId}`))))
      .handle("pull", ({ path }) =>
        answer(Effect.gen(function* () {
          const peer = yield* paired(path.peerId)
          const started = Date.now()
          const s = yield* replication.pull(peer.peerId)
          yield* Effect.logInfo(`pulled ${s.entries} entries from ${peer.peerId} (watermark ${s.watermark})`)
          return new ControlApi.PullSummary({
            peerId: peer.peerId,
            device: s.peer,
            deviceName: s.peerName,
            fromSeq: s.fromSeq,
            batches: s.batches,
            entries: s.entries,
            firstSeq: s.firstSeq,
            lastSeq: s.lastSeq,
            watermark: s.watermark,
            caughtUp: s.caughtUp,
            durationMs: Date.now() - started
          })
        })))
  }))

/** The token check: the token of this run, as a bearer token or the panel's cookie, or 401. */
const AuthorizationLive = Layer.effect(
  ControlApi.Authorization,
  Effect.map(Lifecycle, (lifecycle) => {
    const check = (given: Redacted.Redacted<string>) =>
      DaemonFiles.sameToken(Redacted.value(given), lifecycle.token) ? Effect.void : Effect.fail(new HttpApiError.Unauthorized())
    return ControlApi.Authorization.of({ token: check, panel: check })
  })
)

// -- conduits --------------------------------------------------------------------------------

/** One side of a conduit, as the CLI's `conduit list --json` prints it. */
/** A conduit as `ControlApi.Conduit`: the document of the CLI's `conduit list --json`. */
export const toConduit = (c: Conduits.Conduit): typeof ControlApi.Conduit.Type => Conduits.toDocument(c)

/**
 * The first setting of a `PATCH /v1/conduits/:id` out of its range, with one sentence; none
 * when all are in range. The ranges are the CLI's (`apps/cli/src/Limits.ts`, the constants in
 * `ControlApi`); a schedule is one `ConduitSchedule.parse` accepts. `Conduits.update` stores
 * settings as they come, so they are checked here, before anything is written.
 */
export const checkSettings = (patch: ControlApi.ConduitSettingsPatch): Option.Option<{ readonly reason: ControlApi.SettingProblem; readonly message: string }> => {
  const problem = (reason: ControlApi.SettingProblem, message: string) => Option.some({ reason, message })
  if (patch.schedule !== undefined && Either.isLeft(ConduitSchedule.parse(patch.schedule))) {
    return problem("InvalidSchedule", `'${patch.schedule}' is not a schedule: ${ConduitSchedule.FORMS}`)
  }
  const limit = patch.bandwidthLimitMbps
  if (limit !== undefined && limit !== null && !(Number.isFinite(limit) && limit > 0 && limit <= ControlApi.MAX_BANDWIDTH_MBPS)) {
    return problem("InvalidBandwidthLimit", `a bandwidth limit is above 0 and at most ${ControlApi.MAX_BANDWIDTH_MBPS} Mbit/s (null for none), not ${limit}`)
  }
  const parallel = patch.parallelTransfers
  if (parallel !== undefined && !(Number.isInteger(parallel) && parallel >= 1 && parallel <= ControlApi.MAX_PARALLEL)) {
    return problem("InvalidParallel", `parallel transfers are a whole number from 1 to ${ControlApi.MAX_PARALLEL}, not ${parallel}`)
  }
  const ratio = patch.maxDeleteRatio
  if (ratio !== undefined && !(Number.isFinite(ratio) && ratio > 0 && ratio <= 1)) {
    return problem("InvalidMaxDeleteRatio", `a max delete ratio is above 0 and at most 1 (0 would refuse every delete), not ${ratio}`)
  }
  const days = patch.versionRetentionDays
  if (days !== undefined && !(Number.isInteger(days) && days >= 0 && days <= ControlApi.MAX_RETENTION_DAYS)) {
    return problem("InvalidRetentionDays", `a version retention is a whole number of days from 0 (forever) to ${ControlApi.MAX_RETENTION_DAYS}, not ${days}`)
  }
  for (const [name, value] of [["cacheMaxBytes", patch.cacheMaxBytes], ["cacheMinFreeBytes", patch.cacheMinFreeBytes]] as const) {
    if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
      return problem("InvalidBudget", `${name} is a whole number of bytes, 0 or more (null for none), not ${value}`)
    }
  }
  const percent = patch.cacheMinFreePercent
  if (percent !== undefined && percent !== null && !(Number.isFinite(percent) && percent >= 0 && percent <= 100)) {
    return problem("InvalidBudget", `cacheMinFreePercent is 0 to 100 (null for none), not ${percent}`)
  }
  return Option.none()
}

/**
 * The API error of a failure reading or changing a conduit: no such conduit (404), the
 * library (500), anything else a request that cannot be carried out (400).
 */
const conduitFailure = (e: Described) =>
  e._tag === "SyncError" && e.reason === "NotFound"
    ? new ControlApi.ConduitNotFound(fields(e))
    : e._tag === "LibraryError"
    ? new ControlApi.DaemonFailure(fields(e))
    : new ControlApi.InvalidRequest(fields(e))

/** How many generations `GET /v1/conduits/:id/history` answers without a `limit`. */
const DEFAULT_HISTORY = 50

/** Answers the failures of a conduit operation with `conduitFailure`. */
const onConduit = <A, R>(effect: Effect.Effect<A, Described, R>) => Effect.mapError(effect, conduitFailure)

/** A request the conduit's state does not allow (409). */
const conflict = (reason: string, message: string) => new ControlApi.ConduitConflict({ error: "ConduitState", reason, message })

const ConduitsHandlers = HttpApiBuilder.group(ControlApi.Api, "conduits", (handlers) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const jobs = yield* JobRuntime.JobRuntime
    // The scheduler runs beside this server in the daemon; it adds pending runs and next run times.
    const scheduler = yield* Effect.serviceOption(Scheduler.Scheduler)
    // Resumed runs go on in the background, until they end or the daemon stops.
    const scope = yield* Effect.scope
    /** Jobs resumed here whose run has not ended: a second resume of one is refused. */
    const resuming = new Set<string>()

    /** A conduit's unfinished `FileSyncJob`s (queued, running or paused), oldest first. */
    const jobsOf = (conduit: string) =>
      Effect.map(jobs.unfinished(Conduits.FileSyncJob), (all) => all.filter((j) => (j.payload as Conduits.FileSyncPayload).conduit === conduit))

    return handlers
      .handle("list", () => onConduit(Effect.map(conduits.list, (all) => ({ conduits: all.map(toConduit) }))))
      .handle("get", ({ path }) => onConduit(Effect.map(conduits.get(path.id), (c) => ({ conduit: toConduit(c) }))))
      .handle("update", ({ path, payload }) =>
        Effect.gen(function* () {
          const conduit = yield* onConduit(conduits.get(path.id))
          const problem = checkSettings(payload)
          if (Option.isSome(problem)) return yield* new ControlApi.InvalidRequest({ error: "ConduitSettings", ...problem.value })
          const settings = Object.fromEntries(Object.entries(payload).filter(([, value]) => value !== undefined)) as Partial<Conduits.ConduitSettings>
          if (Object.keys(settings).length === 0) return { conduit: toConduit(conduit) }
          const updated = yield* onConduit(conduits.update(conduit.id, settings))
          yield* Effect.logInfo(`conduit ${updated.id} updated: ${Object.keys(settings).join(", ")}`)
          return { conduit: toConduit(updated) }
        }))
      .handle("history", ({ path, urlParams }) =>
        onConduit(Effect.gen(function* () {
          const conduit = yield* conduits.get(path.id)
          const generations = yield* conduits.history(conduit.id)
          return { generations: generations.slice(0, urlParams.limit ?? DEFAULT_HISTORY).map(Conduits.generationDocument) }
        })))
      .handle("pause", ({ path }) =>
        Effect.gen(function* () {
          const conduit = yield* onConduit(conduits.get(path.id))
          const mine = yield* onConduit(jobsOf(conduit.id))
          const job = mine.find((j) => j.status === "running" && !j.orphaned) ?? mine.find((j) => j.status === "queued")
          if (job === undefined) {
            return yield* mine.some((j) => j.status === "paused")
              ? conflict("AlreadyPaused", `conduit '${conduit.id}' is already paused; resume it with POST /v1/conduits/${conduit.id}/resume`)
              : conflict("NotRunning", `conduit '${conduit.id}' has no run going on to pause`)
          }
          const after = yield* jobs.pause(job.id).pipe(
            Effect.catchTag("JobError", () => conflict("NotRunning", `the run of conduit '${conduit.id}' ended before it could be paused`)),
            Effect.catchTag("LibraryError", (e) => new ControlApi.DaemonFailure(fields(e)))
          )
          yield* Effect.logInfo(`pause of conduit ${conduit.id} (job ${after.id}) requested through the control API`)
          return new ControlApi.JobRequest({ conduit: conduit.id, requested: "pause", job: { id: after.id, status: after.status } })
        }))
      .handle("resume", ({ path }) =>
        Effect.gen(function* () {
          const conduit = yield* onConduit(conduits.get(path.id))
          const mine = yield* onConduit(jobsOf(conduit.id))
          if (mine.some((j) => (j.status === "running" && !j.orphaned) || resuming.has(j.id))) {
            return yield* conflict("AlreadyRunning", `conduit '${conduit.id}' is running; there is nothing to resume`)
          }
          const job = mine.find((j) => j.status === "paused" || j.orphaned)
          if (job === undefined) return yield* conflict("NotPaused", `conduit '${conduit.id}' has no paused run to resume`)
          if (!conduit.enabled) return yield* conflict("Disabled", `conduit '${conduit.id}' is disabled; enable it first`)
          resuming.add(job.id)
          yield* conduits.runJob(job.id).pipe(
            Effect.tap((r) => Effect.logInfo(`resumed run of conduit ${conduit.id} ended: job ${job.id} ${r.job?.status ?? "?"}`)),
            Effect.catchAll((e) => Effect.logWarning(`resumed run of conduit ${conduit.id} (job ${job.id}) failed: ${e.message}`)),
            Effect.ensuring(Effect.sync(() => resuming.delete(job.id))),
            Effect.forkIn(scope)
          )
          return new ControlApi.JobRequest({ conduit: conduit.id, requested: "resume", job: { id: job.id, status: job.status } })
        }))
      .handle("status", () =>
      library(ConduitStatus.collect().pipe(
        Effect.map((all) => ({ conduits: all.map(ConduitStatus.toJson) })),
        Effect.provideService(Conduits.Conduits, conduits),
        Effect.provideService(JobRuntime.JobRuntime, jobs),
        Option.isSome(scheduler) ? Effect.provideService(Scheduler.Scheduler, scheduler.value) : (self) => self
      )))
      .handle("run", ({ path, payload }) =>
      Effect.gen(function* () {
        const r = yield* conduits.run(path.id, { force: payload.force === true })
        const summary = r.plan.summary
        return new ControlApi.RunSummary({
          conduit: r.conduit.id,
          generation: r.generation?.generation ?? null,
          mode: r.plan.mode,
          copies: summary.copies,
          deletes: summary.deletes,
          moves: summary.moves,
          conflicts: summary.conflicts,
          copied: r.report?.copied ?? 0,
          deleted: r.report?.deleted ?? 0,
          moved: r.report?.moved ?? 0,
          bytes: r.report?.bytes ?? 0,
          skipped: (r.report?.skipped ?? []).map((k) => ({ path: k.error.path, reason: k.error.reason, message: k.error.message })),
          verified: r.verified,
          remaining: r.remaining,
          job: r.job === null ? null : { id: r.job.id, status: r.job.status },
          durationMs: r.durationMs,
          ...(r.conduit.mode === "selective" ? { cache: r.cache ?? null } : {})
        })
      }).pipe(Effect.mapError((e) =>
        e._tag === "SyncError" && e.reason === "NotFound"
          ? new ControlApi.PeerNotFound(fields(e))
          : e._tag === "SyncError" && (e.reason === "PeerUnreachable" || e.reason === "PeerBehind")
          ? new ControlApi.PeerFailure(fields(e))
          : e._tag === "LibraryError"
          ? new ControlApi.DaemonFailure(fields(e))
          : new ControlApi.InvalidRequest(fields(e as Described))
      )))
  }))

const FilesHandlers = HttpApiBuilder.group(ControlApi.Api, "files", (handlers) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    return handlers.handle("get", ({ payload }) =>
      conduits.fetch(payload.path).pipe(
        Effect.map((r) => new ControlApi.FetchSummary({ path: r.path, conduit: r.conduit.id, size: r.size, hash: r.hash, fetched: r.fetched, durationMs: r.durationMs })),
        Effect.tap((r) => (r.fetched ? Effect.logInfo(`fetched ${r.path} (${r.size} bytes) for conduit ${r.conduit}`) : Effect.void)),
        Effect.mapError((e) =>
          e._tag === "SyncError" && e.reason === "SecondaryUnavailable"
            ? new ControlApi.PeerFailure(fields(e))
            : e._tag === "LibraryError"
            ? new ControlApi.DaemonFailure(fields(e))
            : new ControlApi.InvalidRequest(fields(e as Described))
        )
      ))
  }))

/** One event as a server-sent event. */
const sse = (event: ConduitEvents.Event) => `event: ${event._tag}\ndata: ${JSON.stringify(ConduitEvents.encode(event))}\n\n`

const EventsHandlers = HttpApiBuilder.group(ControlApi.Api, "events", (handlers) =>
  Effect.gen(function* () {
    const events = yield* ConduitEvents.ConduitEvents
    const encoder = new TextEncoder()
    return handlers.handleRaw("events", () => {
      // Subscribed before the first line goes out: a client that read `: connected` misses nothing after it.
      const body = Stream.unwrapScoped(Effect.map(events.subscribe, (queue) =>
        Stream.concat(Stream.make(": connected\n\n"), Stream.map(Stream.fromQueue(queue), sse))))
      const heartbeat = Stream.map(Stream.fromSchedule(Schedule.spaced(Duration.seconds(ControlApi.EVENTS_HEARTBEAT_SECONDS))), () => ": heartbeat\n\n")
      return Effect.succeed(HttpServerResponse.stream(
        Stream.map(Stream.merge(body, heartbeat, { haltStrategy: "left" }), (text) => encoder.encode(text)),
        { contentType: "text/event-stream", headers: { "cache-control": "no-cache", "x-accel-buffering": "no" } }
      ))
    })
  }))

/** The API with its handlers and the token check. */
const ApiLive = HttpApiBuilder.api(ControlApi.Api).pipe(
  Layer.provide(Layer.mergeAll(DaemonHandlers, PeersHandlers, ConduitsHandlers, FilesHandlers, EventsHandlers)),
  Layer.provide(AuthorizationLive)
)

/** The HTTP server on 127.0.0.1, `port` 0 for any free one. */
export const serverLayer = (port: number) => NodeHttpServer.layer(() => Http.createServer(), { host: HOST, port })

/**
 * A request body that is not JSON at all is answered as a body of the wrong shape is: 400
 * `HttpApiDecodeError` with a sentence. (HttpApi dies with the body's `RequestError` there,
 * which the server would answer with an empty 400.) An API middleware: it runs inside the
 * token check's routing, before the server turns failures into responses.
 */
const explainUnreadableBody = HttpMiddleware.make((app) =>
  Effect.catchAllCause(app, (cause) => {
    const unreadable = Chunk.findFirst(
      Cause.defects(cause),
      (d): d is HttpServerError.RequestError =>
        Predicate.isTagged(d, "RequestError") && Predicate.hasProperty(d, "reason") && d.reason === "Decode"
    )
    if (Option.isNone(unreadable)) return Effect.failCause(cause)
    const why = unreadable.value.cause instanceof Error ? `: ${unreadable.value.cause.message}` : ""
    return Effect.orDie(HttpServerResponse.json({ _tag: "HttpApiDecodeError", issues: [], message: `the request body is not valid JSON${why}` }, { status: 400 }))
  }))

/**
 * Serves the control API and the status panel (`StatusPanel`, at `/panel`) on the HTTP server
 * (from `serverLayer`) until released. The panel is routed before the API: the API's token
 * check covers every route of its router, and the panel's page must answer a browser that has
 * no token yet with a page that says how to get it.
 */
export const layer = Effect.gen(function* () {
  const api = yield* HttpApiBuilder.httpApp
  const panel = yield* StatusPanel.app
  const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => StatusPanel.handles(request.url) ? panel : api)
  return HttpServer.serve(app)
}).pipe(
  Layer.unwrapEffect,
  Layer.provide([HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer]),
  Layer.provide(HttpApiBuilder.middleware(explainUnreadableBody)),
  Layer.provide(ApiLive)
)

/** The URL of the control API on a server. */
export const url = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://${HOST}:${server.address.port}` : `unix:${server.address.path}`)
