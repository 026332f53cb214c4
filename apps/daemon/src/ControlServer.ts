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
import { ConduitEvents, Conduits, ConduitStatus, Scheduler } from "@conduit/sync"
import { PeerReplication } from "@conduit/sync/peers"
import { Node, Pairing, PeerKeeper } from "@conduit/transport"
import { HttpApiBuilder, HttpApiError, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer, Option, Redacted, Schedule, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import * as ControlApi from "./ControlApi.js"
import { Lifecycle } from "./Lifecycle.js"

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

/** Compares two tokens in constant time. */
const sameToken = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && Crypto.timingSafeEqual(a, b)
}

/** The bearer token check: the token of this run, or 401. */
const AuthorizationLive = Layer.effect(
  ControlApi.Authorization,
  Effect.map(Lifecycle, (lifecycle) =>
    ControlApi.Authorization.of({
      token: (given) => (sameToken(Redacted.value(given), lifecycle.token) ? Effect.void : Effect.fail(new HttpApiError.Unauthorized()))
    }))
)

const ConduitsHandlers = HttpApiBuilder.group(ControlApi.Api, "conduits", (handlers) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const jobs = yield* JobRuntime.JobRuntime
    // The scheduler runs beside this server in the daemon; it adds pending runs and next run times.
    const scheduler = yield* Effect.serviceOption(Scheduler.Scheduler)
    return handlers.handle("status", () =>
      library(ConduitStatus.collect().pipe(
        Effect.map((all) => ({ conduits: all.map(ConduitStatus.toJson) })),
        Effect.provideService(Conduits.Conduits, conduits),
        Effect.provideService(JobRuntime.JobRuntime, jobs),
        Option.isSome(scheduler) ? Effect.provideService(Scheduler.Scheduler, scheduler.value) : (self) => self
      ))).handle("run", ({ path, payload }) =>
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
          durationMs: r.durationMs
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
  Layer.provide(Layer.mergeAll(DaemonHandlers, PeersHandlers, ConduitsHandlers, EventsHandlers)),
  Layer.provide(AuthorizationLive)
)

/** The HTTP server on 127.0.0.1, `port` 0 for any free one. */
export const serverLayer = (port: number) => NodeHttpServer.layer(() => Http.createServer(), { host: HOST, port })

/** Serves the control API on the HTTP server (from `serverLayer`) until released. */
export const layer = HttpApiBuilder.serve().pipe(Layer.provide(ApiLive))

/** The URL of the control API on a server. */
export const url = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress" ? `http://${HOST}:${server.address.port}` : `unix:${server.address.path}`)
