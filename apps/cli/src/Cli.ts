/**
 * The `conduit` command line: its commands and how a run of it ends.
 *
 * @since 0.1.0
 */
import { Command, CommandDescriptor as Descriptor } from "@effect/cli"
import type { CliApp, ValidationError } from "@effect/cli"
import type { Effect } from "effect"
import pkg from "../package.json" with { type: "json" }
import * as ConduitCommand from "./ConduitCommand.js"
import * as DaemonCommand from "./DaemonCommand.js"
import * as HistoryCommand from "./HistoryCommand.js"
import * as IndexCommand from "./IndexCommand.js"
import * as JobsCommand from "./JobsCommand.js"
import * as LocationCommand from "./LocationCommand.js"
import * as LsCommand from "./LsCommand.js"
import * as Output from "./Output.js"
import * as PanelCommand from "./PanelCommand.js"
import * as PeerCommand from "./PeerCommand.js"
import * as SelectiveCommand from "./SelectiveCommand.js"
import * as RunCommand from "./RunCommand.js"
import * as StatusCommand from "./StatusCommand.js"
import * as SyncCommand from "./SyncCommand.js"
import * as VersionsCommand from "./VersionsCommand.js"
import * as WatchCommand from "./WatchCommand.js"

/** `conduit` and its subcommands. */
export const command = Command.make("conduit").pipe(
  Command.withDescription("Index and sync your directories (CONDUIT_HOME, default ~/.conduit, holds the library)."),
  Command.withSubcommands([
    LocationCommand.command,
    IndexCommand.command,
    LsCommand.command,
    SyncCommand.command,
    ...ConduitCommand.commands,
    RunCommand.run,
    RunCommand.plan,
    JobsCommand.command,
    StatusCommand.command,
    HistoryCommand.history,
    HistoryCommand.conflicts,
    VersionsCommand.versions,
    VersionsCommand.restore,
    DaemonCommand.command,
    PeerCommand.command,
    WatchCommand.watch,
    PanelCommand.panel,
    SelectiveCommand.get,
    SelectiveCommand.open,
    SelectiveCommand.pin,
    SelectiveCommand.unpin,
    SelectiveCommand.risk,
    SelectiveCommand.cache
  ])
)

const conduitCommands = new Set(ConduitCommand.commands.flatMap((c) => Array.from(Descriptor.getNames(c.descriptor))))

/**
 * The command line as @effect/cli can parse it. It finds a subcommand by its name anywhere on
 * the line, the program's own name included, so a group named `conduit` would capture every
 * command line: `conduit conduit create …` is passed on as the one command `conduit create …`
 * (the group's commands are declared so), and `conduit conduit` alone shows the help. And it
 * reads `--version` anywhere as its own flag: `restore … --version N` is passed on with the
 * option's other name, `--version-number N`.
 */
export const normalizeArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const [runtime = "", script = "", first, second, ...rest] = argv
  if (first === "conduit") {
    if (second === undefined || second === "--help" || second === "-h") return [runtime, script, "--help"]
    const joined = `conduit ${second}`
    return conduitCommands.has(joined) ? [runtime, script, joined, ...rest] : argv
  }
  if (first === "restore") {
    const end = argv.indexOf("--")
    return argv.map((arg, i) =>
      i < 3 || (end !== -1 && i > end) ? arg : arg === "--version" ? "--version-number" : arg.startsWith("--version=") ? `--version-number=${arg.slice(10)}` : arg
    )
  }
  return argv
}

/**
 * Runs the command line `argv` (as `process.argv`: runtime, script, arguments). Every failure
 * is reported before the effect ends; it fails with `Reported` (exit code 1) or a
 * `ValidationError` (a usage error, exit code 2, see `Output.exitCode`).
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, Output.Reported | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  Command.run(command, { name: "conduit", version: pkg.version })(normalizeArgv(argv)).pipe(Output.reportFailures({ json: false }))
