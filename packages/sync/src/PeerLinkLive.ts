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

/** Builds the link on the node, the transfer sender and peer replication. */
export const make: Effect.Effect<PeerLink["Type"], never, Node.Node | Transfer.TransferSender | PeerReplication> = Effect.gen(function* () {
  const node = yield* Node.Node
  const sender = yield* Transfer.TransferSender
  const replication = yield* PeerReplication
  const refresh = (peerId: string, location: string) =>
    Effect.zipRight(replication.pull(peerId), replication.isFullySynced(peerId, location))
  return PeerLink.of({
    refresh,
    route: (peerId, location, options = {}) =>
      Effect.gen(function* () {
        const limiter = options.bytesPerSecond === undefined ? undefined : yield* BandwidthLimiter.make(options.bytesPerSecond)
        return yield* RemoteRoute.make(peerId, location, limiter === undefined ? {} : { limiter })
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
