/**
 * @conduit/sync — runs the resolver's plans with the jobs' file operations: conduits, their
 * generations and FileSyncJobs, one-shot directory syncs, and library sync with paired peers.
 *
 * @since 0.1.0
 */
export * as Conduits from "./Conduits.js"
export * as DirectorySync from "./DirectorySync.js"
export * as LocalPlanRunner from "./LocalPlanRunner.js"
export * as PeerLink from "./PeerLink.js"
export * as PeerReplication from "./PeerReplication.js"
export * as RemoteOps from "./RemoteOps.js"
export * as RemoteRoute from "./RemoteRoute.js"
export * as SyncError from "./SyncError.js"
