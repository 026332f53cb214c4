/**
 * @conduit/sync — runs the resolver's plans with the jobs' file operations. Conduits,
 * generations, baselines and the FileSyncJob build on it.
 *
 * @since 0.1.0
 */
export * as LocalPlanRunner from "./LocalPlanRunner.js"
