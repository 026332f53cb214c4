/**
 * The `PeerLink` of this device's node: library sync for the gate, `RemoteRoute` for the file
 * operations, the remote `reindex` operation after a run.
 *
 * @since 0.1.0
 */
import { BandwidthLimiter, Node, Transfer } from "@conduit/transport"
import { Effect, Layer } from "effect"
import { PeerLink } from "./PeerLink.js"
import { PeerReplication } from "./PeerReplication.js"
import * as RemoteOps from "./RemoteOps.js"
import * as RemoteRoute from "./RemoteRoute.js"

/** Options of `makeWith`. */
export interface PeerLinkOptions {
  /**
   * This device's total rate for what it pushes to peers: every conduit's pushes are charged to
   * it as well as to the conduit's own limit, so conduits share the total (in the order their
   * blocks ask) instead of each taking its own limit in full.
   */
  readonly deviceLimiter?: BandwidthLimiter.BandwidthLimiter
}

/** Builds the link on the node, the transfer sender and peer replication. */
export const make: Effect.Effect<PeerLink["Type"], never, Node.Node | Transfer.TransferSender | PeerReplication> = Effect.suspend(() => makeWith({}))

/** Builds the link, with a device-wide limit on what it pushes when given one. */
export const makeWith = (
  options: PeerLinkOptions
): Effect.Effect<PeerLink["Type"], never, Node.Node | Transfer.TransferSender | PeerReplication> => Effect.gen(function* () {
  const node = yield* Node.Node
  const sender = yield* Transfer.TransferSender
  const replication = yield* PeerReplication
  const refresh = (peerId: string, location: string) =>
    Effect.zipRight(replication.pull(peerId), replication.isFullySynced(peerId, location))
  return PeerLink.of({
    refresh,
    route: (peerId, location, routeOptions = {}) =>
      Effect.gen(function* () {
        const limiters = [
          ...(routeOptions.bytesPerSecond === undefined ? [] : [yield* BandwidthLimiter.make(routeOptions.bytesPerSecond)]),
          ...(options.deviceLimiter === undefined ? [] : [options.deviceLimiter])
        ]
        return yield* RemoteRoute.make(peerId, location, limiters.length === 0 ? {} : { limiter: BandwidthLimiter.all(limiters) })
      }).pipe(Effect.provideService(Node.Node, node), Effect.provideService(Transfer.TransferSender, sender)),
    reindex: (peerId, location, directories) =>
      Effect.gen(function* () {
        for (let i = 0; i < directories.length; i += 2048) {
          const part = directories.slice(i, i + 2048)
          yield* RemoteOps.ask(node, peerId, { op: "reindex", location, path: part[0] ?? "", directories: part })
        }
        yield* replication.pull(peerId)
      })
  })
})

/** The link, on the node, the transfer sender and peer replication. */
export const layer: Layer.Layer<PeerLink, never, Node.Node | Transfer.TransferSender | PeerReplication> = Layer.effect(PeerLink, make)

/** The link with a device-wide limit of `bytesPerSecond` on what this device pushes (null: none). */
export const layerWith = (bytesPerSecond: number | null): Layer.Layer<PeerLink, never, Node.Node | Transfer.TransferSender | PeerReplication> =>
  Layer.effect(
    PeerLink,
    bytesPerSecond === null ? make : Effect.flatMap(BandwidthLimiter.make(bytesPerSecond), (deviceLimiter) => makeWith({ deviceLimiter }))
  )
