/**
 * The `conduit` command line: its commands and how a run of it ends.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import type { CliApp, ValidationError } from "@effect/cli"
import type { Effect } from "effect"
import pkg from "../package.json" with { type: "json" }
import * as IndexCommand from "./IndexCommand.js"
import * as LocationCommand from "./LocationCommand.js"
import * as LsCommand from "./LsCommand.js"
import * as Output from "./Output.js"
import * as SyncCommand from "./SyncCommand.js"

/** `conduit` and its subcommands. */
export const command = Command.make("conduit").pipe(
  Command.withDescription("Index and sync your directories (CONDUIT_HOME, default ~/.conduit, holds the library)."),
  Command.withSubcommands([LocationCommand.command, IndexCommand.command, LsCommand.command, SyncCommand.command])
)

/**
 * Runs the command line `argv` (as `process.argv`: runtime, script, arguments). Every failure
 * is reported before the effect ends; it fails with `Reported` (exit code 1) or a
 * `ValidationError` (a usage error, exit code 2, see `Output.exitCode`).
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, Output.Reported | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  Command.run(command, { name: "conduit", version: pkg.version })(argv).pipe(Output.reportFailures({ json: false }))
