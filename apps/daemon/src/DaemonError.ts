/**
 * Why the daemon could not start.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Another live daemon holds the home (`AlreadyRunning`; `pid` is its process, `api` its
 * control API if it is ready), or the daemon's files in the home could not be written
 * (`HomeUnusable`).
 */
export class DaemonError extends Schema.TaggedError<DaemonError>()("DaemonError", {
  reason: Schema.Literal("AlreadyRunning", "HomeUnusable"),
  path: Schema.String,
  pid: Schema.optional(Schema.Number),
  api: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    switch (this.reason) {
      case "AlreadyRunning":
        return `a daemon is already running on this home (pid ${this.pid}${this.api === undefined ? "" : `, ${this.api}`}; see ${this.path}); stop it first with 'conduit daemon stop'`
      case "HomeUnusable":
        return `the daemon's file ${this.path} could not be written${this.cause instanceof Error ? `: ${this.cause.message}` : ""}`
    }
  }
}
