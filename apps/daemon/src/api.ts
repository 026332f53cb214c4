/**
 * `@conduit/daemon/api` — what a client of `conduitd` needs and nothing of the daemon itself:
 * the control API's contract, a typed client of it, and the daemon's files in the home
 * directory. Imports only `effect`, `@effect/platform` and Node built-ins (no libp2p, no
 * SQLite), so the CLI's CommonJS bundle can include it.
 *
 * @since 0.1.0
 */
export * as ControlApi from "./ControlApi.js"
export * as ControlClient from "./ControlClient.js"
export * as DaemonFiles from "./DaemonFiles.js"
