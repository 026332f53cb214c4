/**
 * @conduit/library-sync — replication of each device's index rows to its paired peers: a
 * versioned, bounded and validated message protocol, an abstract channel to run it on, and
 * the `LibrarySync` service that serves this device's changes and pulls a peer's into replica
 * locations of the same library.
 *
 * @since 0.1.0
 */
export * as constants from "./constants.js"
export * as Framing from "./Framing.js"
export * as LibrarySync from "./LibrarySync.js"
export * as PeerChannel from "./PeerChannel.js"
export * as Protocol from "./Protocol.js"
export * as ReplicationError from "./ReplicationError.js"
