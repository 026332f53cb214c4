/**
 * @conduit/sync — runs the resolver's plans with the jobs' file operations: one-shot directory
 * syncs with baselines and verification. Conduits, generations and the FileSyncJob build on it.
 *
 * @since 0.1.0
 */
export * as Conduits from "./Conduits.js"
export * as DirectorySync from "./DirectorySync.js"
export * as LocalPlanRunner from "./LocalPlanRunner.js"
export * as SyncError from "./SyncError.js"
