/**
 * What a conduit run needs of a paired peer whose location is one of its endpoints: its index
 * brought up to date here (library sync until caught up, the gate of the run), the route of
 * its location (transfer protocol and remote operations), and a re-index of the directories a
 * run touched there. `Conduits` uses it when it is provided; without it, a conduit with a
 * peer's endpoint refuses to run. Only the tag lives here (no wire code, so the main entry of
 * this package stays free of libp2p); `PeerLinkLive` in `@conduit/sync/peers` builds it.
 *
 * @since 0.1.0
 */
import type { FileOpError, FileRoute } from "@conduit/jobs"
import { Context, type Effect } from "effect"
import type { PeerReplicationFailure } from "./PeerReplication.js"

/** A paired peer's side of conduit runs. */
export class PeerLink extends Context.Tag("@conduit/sync/PeerLink")<PeerLink, {
  /** Pulls the peer's index until caught up; true when its replica of `location` is complete. */
  readonly refresh: (peerId: string, location: string) => Effect.Effect<boolean, PeerReplicationFailure>
  /**
   * The file operations on the peer's location `location`; with `bytesPerSecond`, the files
   * pushed to the peer go no faster than that (the conduit's bandwidth limit).
   */
  readonly route: (peerId: string, location: string, options?: { readonly bytesPerSecond?: number }) => Effect.Effect<FileRoute.FileRoute>
  /** Has the peer re-index `directories` of its location, then pulls the result. */
  readonly reindex: (
    peerId: string,
    location: string,
    directories: ReadonlyArray<string>
  ) => Effect.Effect<void, FileOpError.FileOpError | PeerReplicationFailure>
}>() {}
