/**
 * @conduit/jobs — the job runtime and the jobs of a sync: `FileCopyJob` (verified copies),
 * `DeleteJob` (removals kept as versions), the file routes they run through and the version store.
 *
 * @since 0.1.0
 */
export * as DeleteJob from "./DeleteJob.js"
export * as FileCopyJob from "./FileCopyJob.js"
export * as FileOpError from "./FileOpError.js"
export * as FileRoute from "./FileRoute.js"
export * as JobRuntime from "./JobRuntime.js"
export * as LocalFiles from "./LocalFiles.js"
export * as VersionStore from "./VersionStore.js"
