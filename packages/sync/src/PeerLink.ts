/**
 * What a conduit run needs of a paired peer whose location is one of its endpoints: its index
 * brought up to date here (library sync until caught up, the gate of the run), the route of
 * its location (transfer protocol and remote operations), and a re-index of the directories a
 * run touched there. `Conduits` uses it when it is provided; without it, a conduit with a
 * peer's endpoint refuses to run.
 *
 * @since 0.1.0
 */
import type { FileRoute } from "@conduit/jobs"
import { FileOpError } from "@conduit/jobs"
import { Node, Transfer } from "@conduit/transport"
import { Context, Effect, Layer } from "effect"
import { PeerReplication, type PeerReplicationFailure } from "./PeerReplication.js"
import * as RemoteOps from "./RemoteOps.js"
import * as RemoteRoute from "./RemoteRoute.js"

/** A paired peer's side of conduit runs. */
export class PeerLink extends Context.Tag("@conduit/sync/PeerLink")<PeerLink, {
  /** Pulls the peer's index until caught up; true when its replica of `location` is complete. */
  readonly refresh: (peerId: string, location: string) => Effect.Effect<boolean, PeerReplicationFailure>
  /** The file operations on the peer's location `location`. */
  readonly route: (peerId: string, location: string) => Effect.Effect<FileRoute.FileRoute>
  /** Has the peer re-index `directories` of its location, then pulls the result. */
  readonly reindex: (
    peerId: string,
    location: string,
    directories: ReadonlyArray<string>
  ) => Effect.Effect<void, FileOpError.FileOpError | PeerReplicationFailure>
}>() {}

/** Builds the link on the node, the transfer sender and peer replication. */
export const make: Effect.Effect<PeerLink["Type"], never, Node.Node | Transfer.TransferSender | PeerReplication> = Effect.gen(function* () {
  const node = yield* Node.Node
  const sender = yield* Transfer.TransferSender
  const replication = yield* PeerReplication
  const refresh = (peerId: string, location: string) =>
    Effect.zipRight(replication.pull(peerId), replication.isFullySynced(peerId, location))
  return PeerLink.of({
    refresh,
    route: (peerId, location) =>
      RemoteRoute.make(peerId, location).pipe(Effect.provideService(Node.Node, node), Effect.provideService(Transfer.TransferSender, sender)),
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
