/**
 * @conduit/sync/peers — sync with paired devices over `@conduit/transport`: library sync on
 * libp2p streams (`PeerReplication`), a plan's file operations on a peer (`RemoteRoute`,
 * `RemoteOps`) and the `PeerLink` that gives conduits a peer's endpoint (`PeerLinkLive`).
 *
 * @since 0.1.0
 */
export * as PeerLinkLive from "./PeerLinkLive.js"
export * as PeerReplication from "./PeerReplication.js"
export * as RemoteOps from "./RemoteOps.js"
export * as RemoteRoute from "./RemoteRoute.js"
