/**
 * The daemon as layers: what it runs and in which order it starts.
 *
 * 1. `Lifecycle` claims the home (one daemon per home) and writes the control API's token;
 * 2. the library (`IndexLive`), the transport (identity, pairing, a started libp2p node),
 *    library sync, conduits and the job runtime open on it;
 * 3. the workers start: the node serves library sync, remote operations and file transfers
 *    (into this device's own locations) to paired peers, jobs left unfinished by a previous
 *    process resume, and the control API listens on 127.0.0.1;
 * 4. `daemon.json` is completed with the API's URL and the node's addresses: from then on
 *    clients find the daemon ready.
 *
 * Shutting down releases all of it in reverse: the API and the node stop, the library closes,
 * and the daemon's files are removed last.
 *
 * @since 0.1.0
 */
import type { CachePolicyError } from "@conduit/selective"
import type { Errors } from "@conduit/domain"
import { IndexLive } from "@conduit/index"
import { JobRuntime } from "@conduit/jobs"
import { LibrarySync } from "@conduit/library-sync"
import type { ModeRegistry } from "@conduit/resolver"
import { Conduits, Scheduler } from "@conduit/sync"
import { PeerLinkLive, PeerReplication, RemoteOps, RemoteRoute } from "@conduit/sync/peers"
import { Node, PeerKeeper, Transfer, type TransportError, TransportLive } from "@conduit/transport"
import type { DeviceIdentity } from "@conduit/transport"
import type { ServeError } from "@effect/platform/HttpServerError"
import { Effect, Layer } from "effect"
import * as ControlServer from "./ControlServer.js"
import * as DaemonEvents from "./DaemonEvents.js"
import * as DaemonFiles from "./DaemonFiles.js"
import type { DaemonError } from "./DaemonError.js"
import * as Lifecycle from "./Lifecycle.js"

/** How the daemon runs. */
export interface DaemonOptions {
  /** The Conduit home directory (absolute). */
  readonly home: string
  /** Multiaddrs for the node to listen on; empty for transport's defaults (loopback QUIC and TCP). */
  readonly listen: ReadonlyArray<string>
  /** The control API's port on 127.0.0.1; 0 for any free one. */
  readonly apiPort: number
  /** This device's total rate for what it pushes to peers, megabits per second (null: none). */
  readonly bandwidthLimitMbps?: number | null
}

/** Serves library sync (and who this device is) to paired peers until released. */
export const ReplicationServer = Layer.scopedDiscard(Effect.flatMap(PeerReplication.PeerReplication, (replication) => replication.serve))

/**
 * Serves what a paired device's conduit run asks of this one: remote operations and file
 * transfers, only ever into this device's own locations, with versions kept first.
 */
export const PeerFilesServer = Layer.scopedDiscard(
  Effect.gen(function* () {
    yield* Effect.flatMap(RemoteOps.RemoteOpsServer, (server) => server.serve)
    const policy = yield* RemoteRoute.receiverPolicy
    yield* Effect.flatMap(Transfer.TransferReceiver, (receiver) => receiver.serve(policy))
  })
)

/**
 * Resumes, in the background, the jobs a previous process left queued or running (a crash, a
 * SIGKILL): each conduit run goes on from its checkpoint.
 */
export const ResumeJobs = Layer.scopedDiscard(
  Effect.gen(function* () {
    // Conduits registers the FileSyncJob handler; it must exist before anything resumes.
    yield* Conduits.Conduits
    const jobs = yield* JobRuntime.JobRuntime
    yield* Effect.forkScoped(
      jobs.resumeUnfinished.pipe(
        Effect.tap((ended) =>
          ended.length === 0 ? Effect.void : Effect.logInfo(`resumed ${ended.length} unfinished job(s): ${ended.map((j) => `${j.id} ${j.status}`).join(", ")}`)),
        Effect.catchAllCause((cause) => Effect.logError("resuming unfinished jobs failed", cause))
      )
    )
  })
)

/** Completes `daemon.json` once the node and the control API are up. */
export const Announce = Layer.scopedDiscard(
  Effect.gen(function* () {
    const lifecycle = yield* Lifecycle.Lifecycle
    const node = yield* Node.Node
    const api = yield* ControlServer.url
    const addresses = yield* node.addresses
    yield* DaemonFiles.writeListen(lifecycle.home, addresses)
    yield* lifecycle.announce({ api, peerId: node.peerId, addresses })
    yield* Effect.logInfo(`conduitd ${lifecycle.version} (pid ${process.pid}) ready: control API ${api}, peer ${node.peerId}, listening on ${addresses.join(" ")}`)
  })
)

/** Everything the daemon runs on `options.home`, its `Lifecycle` included. */
export const layer = (options: DaemonOptions): Layer.Layer<
  Lifecycle.Lifecycle,
  | DaemonError
  | Errors.LibraryError
  | Errors.HashError
  | ModeRegistry.ModeError
  | CachePolicyError.CachePolicyError
  | DeviceIdentity.IdentityError
  | TransportError.TransportError
  | ServeError
> => {
  const library = IndexLive.layer({ home: options.home })
  // Without --listen, the ports of last time (peers were given them), else any free ones.
  const remembered = options.listen.length === 0 ? DaemonFiles.readListenSync(options.home) : null
  const transport = remembered !== null
    ? TransportLive.layer({ listen: remembered }).pipe(Layer.orElse(() => TransportLive.layer({})))
    : TransportLive.layer(options.listen.length === 0 ? {} : { listen: options.listen })
  // Conduits get the peer link, so a conduit with a paired device's endpoint runs here.
  const peers = Layer.mergeAll(PeerReplication.layer, Transfer.layer)
  const deviceRate = options.bandwidthLimitMbps == null ? null : (options.bandwidthLimitMbps * 1_000_000) / 8
  const conduits = Conduits.layer.pipe(Layer.provideMerge(PeerLinkLive.layerWith(deviceRate)))
  const services = Layer.mergeAll(conduits, RemoteOps.serverLayer).pipe(
    Layer.provideMerge(DaemonEvents.layer), // the event hub (Conduits publishes to it), peers and library watched
    Layer.provideMerge(peers),
    Layer.provideMerge(LibrarySync.layer),
    Layer.provideMerge(transport),
    Layer.provideMerge(library)
  )
  const server = ControlServer.serverLayer(options.apiPort)
  // The scheduler runs conduits by their schedule and keeps every local location watched; the
  // control API sees it (the conduits' status says what it has pending).
  const control = ControlServer.layer.pipe(Layer.provideMerge(Scheduler.layer()))
  const workers = Layer.mergeAll(ReplicationServer, PeerFilesServer, ResumeJobs, control).pipe(
    Layer.provideMerge(server),
    // Paired peers are redialled with backoff while they are unreachable.
    Layer.provideMerge(PeerKeeper.layer())
  )
  return Announce.pipe(
    Layer.provide(workers),
    Layer.provide(services),
    // Built first: nothing opens the library before the home is claimed.
    Layer.provideMerge(Lifecycle.layer(options.home))
  )
}
