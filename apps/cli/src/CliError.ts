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
 * was given), or `restore --version` names a version that does not exist (`NoSuchVersion`;
 * `value` is the number asked for, `versions` how many there are), or a job id matches no job (`UnknownJob`), several
 * (`AmbiguousJob`) or one that has ended (`JobEnded`).
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  reason: Schema.Literal("NotIndexed", "InvalidParallel", "InvalidMaxDeleteRatio", "InvalidSchedule", "InvalidKeepVersions", "NoSuchVersion", "UnknownJob", "AmbiguousJob", "JobEnded"),
  path: Schema.optional(Schema.String),
  value: Schema.optional(Schema.String),
  versions: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotIndexed":
        return `'${this.path}' is not in the index (run 'conduit index' to update it)`
      case "InvalidParallel":
        return `--parallel must be a whole number from 1 to ${Limits.MAX_PARALLEL} (got ${this.value})`
      case "InvalidMaxDeleteRatio":
        return `--max-delete-ratio must be a number above 0 and at most 1, the largest share of a side a run may delete (got ${this.value})`
      case "InvalidKeepVersions":
        return `--keep-versions must be a whole number of days from 0 (keep forever) to ${Limits.MAX_RETENTION_DAYS} (got ${this.value})`
      case "InvalidSchedule":
        return `unknown schedule '${this.value}' (accepted: ${Limits.SCHEDULE_FORMS})`
      case "UnknownJob":
        return `no job '${this.value}' (see 'conduit jobs')`
      case "AmbiguousJob":
        return `'${this.value}' is the start of more than one job's id; give more of it`
      case "JobEnded":
        return `job ${this.value}: it has ended, so it cannot be paused, cancelled or resumed`
      case "NoSuchVersion":
        return this.versions === 0
          ? `there are no versions of '${this.path}' to restore`
          : `'${this.path}' has ${this.versions === 1 ? "1 version" : `${this.versions} versions`}, so --version must be from 1 (the newest) to ${this.versions} (got ${this.value})`
    }
  }
}
