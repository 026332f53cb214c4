/**
 * The failures the CLI itself detects (the library's errors are in @conduit/domain `Errors`).
 * Same shape as those: a tagged error with a `reason`, a `path` and a one-sentence `message`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as Limits from "./Limits.js"

/**
 * A path the command needs in the index is not there (`NotIndexed`), an option's value is out
 * of its range (`InvalidParallel`, `InvalidMaxDeleteRatio`, `InvalidSchedule`; `value` is what
 * was given), `conduit set` was given no setting (`NoSettings`), or `restore --version` names a version that does not exist (`NoSuchVersion`;
 * `value` is the number asked for, `versions` how many there are), or a job id matches no job (`UnknownJob`), several
 * (`AmbiguousJob`) or one that has ended (`JobEnded`).
 *
 * The daemon commands (`path` is the daemon's state or token file, `value` its pid, `detail`
 * what went wrong): no daemon runs on the home (`NoDaemon`; `detail` names a stale state file),
 * one is still starting (`DaemonStarting`), one already runs (`DaemonRunning`; `detail` its
 * API), it does not answer (`DaemonUnreachable`), it refused the token (`DaemonTokenRefused`),
 * it could not be started (`DaemonStartFailed`) or did not stop in time (`DaemonStopTimeout`).
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  reason: Schema.Literal("NotIndexed", "InvalidParallel", "InvalidMaxDeleteRatio", "InvalidSchedule", "InvalidKeepVersions", "InvalidBandwidthLimit", "NoSettings", "InvalidCacheSize", "InvalidCacheFree", "NoSuchVersion", "UnknownJob", "AmbiguousJob", "JobEnded",
    "NoDaemon", "DaemonStarting", "DaemonRunning", "DaemonUnreachable", "DaemonTokenRefused", "DaemonStartFailed", "DaemonStopTimeout"),
  path: Schema.optional(Schema.String),
  value: Schema.optional(Schema.String),
  versions: Schema.optional(Schema.Number),
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotIndexed":
        return `'${this.path}' is not in the index (run 'conduit index' to update it)`
      case "InvalidParallel":
        return `--parallel must be a whole number from 1 to ${Limits.MAX_PARALLEL} (got ${this.value})`
      case "InvalidMaxDeleteRatio":
        return `--max-delete-ratio must be a number above 0 and at most 1, the largest share of a side a run may delete (got ${this.value})`
      case "InvalidBandwidthLimit":
        return `--bandwidth-limit must be a number of megabits per second above 0 and at most ${Limits.MAX_BANDWIDTH_MBPS} (got ${this.value})`
      case "InvalidKeepVersions":
        return `--keep-versions must be a whole number of days from 0 (keep forever) to ${Limits.MAX_RETENTION_DAYS} (got ${this.value})`
      case "InvalidSchedule":
        return `unknown schedule '${this.value}' (accepted: ${Limits.SCHEDULE_FORMS})`
      case "InvalidCacheSize":
        return `--cache-max must be a size such as 500M, 20G or 4096 (bytes) (got ${this.value})`
      case "InvalidCacheFree":
        return `--cache-min-free must be a size such as 10G, or a share of the volume from 0% to 100% (got ${this.value})`
      case "NoSettings":
        return `nothing to change: give at least one setting (see 'conduit conduit set --help')`
      case "UnknownJob":
        return `no job '${this.value}' (see 'conduit jobs')`
      case "AmbiguousJob":
        return `'${this.value}' is the start of more than one job's id; give more of it`
      case "JobEnded":
        return `job ${this.value}: it has ended, so it cannot be paused, cancelled or resumed`
      case "NoDaemon":
        return this.detail === undefined
          ? `no daemon is running on this home (start one with 'conduit daemon start')`
          : `no daemon is running on this home: ${this.detail} (start one with 'conduit daemon start')`
      case "DaemonStarting":
        return `the daemon (pid ${this.value}) is still starting; try again in a moment`
      case "DaemonRunning":
        return `a daemon is already running on this home (pid ${this.value}${this.detail === undefined ? "" : `, ${this.detail}`})`
      case "DaemonUnreachable":
        return `the daemon (pid ${this.value}) did not answer: ${this.detail ?? "no answer"}`
      case "DaemonTokenRefused":
        return `the daemon (pid ${this.value}) refused the token in ${this.path}; restart it ('kill ${this.value}', then 'conduit daemon start')`
      case "DaemonStartFailed":
        return `the daemon did not start: ${this.detail ?? "it exited"} (its output is in ${this.path})`
      case "DaemonStopTimeout":
        return `the daemon (pid ${this.value}) was asked to stop but is still running after ${this.detail}`
      case "NoSuchVersion":
        return this.versions === 0
          ? `there are no versions of '${this.path}' to restore`
          : `'${this.path}' has ${this.versions === 1 ? "1 version" : `${this.versions} versions`}, so --version must be from 1 (the newest) to ${this.versions} (got ${this.value})`
    }
  }
}
