/**
 * The failures the CLI itself detects (the library's errors are in @conduit/domain `Errors`).
 * Same shape as those: a tagged error with a `reason`, a `path` and a one-sentence `message`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A path the command needs in the index is not there. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  reason: Schema.Literal("NotIndexed"),
  path: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotIndexed":
        return `'${this.path}' is not in the index (run 'conduit index' to update it)`
    }
  }
}
