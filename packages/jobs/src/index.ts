/**
 * @conduit/jobs — the file operations sync jobs run: verified copies and the version store.
 *
 * @since 0.1.0
 */
export * as FileOpError from "./FileOpError.js"
export * as FileRoute from "./FileRoute.js"
export * as JobRuntime from "./JobRuntime.js"
export * as LocalFiles from "./LocalFiles.js"
export * as VersionStore from "./VersionStore.js"
