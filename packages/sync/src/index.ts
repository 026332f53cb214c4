/**
 * @conduit/sync — runs the resolver's plans with the jobs' file operations: conduits, their
 * generations and FileSyncJobs, one-shot directory syncs. What talks to peers over the wire
 * (library sync, remote routes) is in `@conduit/sync/peers`, so this entry loads no libp2p.
 *
 * @since 0.1.0
 */
export * as ConduitSchedule from "./ConduitSchedule.js"
export * as ConduitStatus from "./ConduitStatus.js"
export * as ConduitEvents from "./ConduitEvents.js"
export * as Conduits from "./Conduits.js"
export * as DirectorySync from "./DirectorySync.js"
export * as LocalPlanRunner from "./LocalPlanRunner.js"
export * as PeerLink from "./PeerLink.js"
export * as Scheduler from "./Scheduler.js"
export * as SelectiveStore from "./SelectiveStore.js"
export * as SyncError from "./SyncError.js"
