/**
 * `conduit sync SRC DST [--mode M] [--dry-run] [--force]`: a one-shot sync of two directories
 * of this device with `DirectorySync`: both are indexed (each is added as a location if it is
 * in none), their differences planned with the mode, the plan run, and the result verified by
 * a fresh resolve from the index.
 *
 * The exit code is 0 only when the run verified; an operation that was skipped or a result
 * that did not verify exits 1 after the summary is printed.
 *
 * @since 0.1.0
 */
import { Modes } from "@conduit/resolver"
import { DirectorySync } from "@conduit/sync"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Layer } from "effect"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import * as Progress from "./Progress.js"
import * as SyncReport from "./SyncReport.js"

interface SyncArgs {
  readonly source: string
  readonly target: string
  readonly mode: string
  readonly dryRun: boolean
  readonly force: boolean
  readonly json: boolean
}

/** `DirectorySync` with the built-in modes, on every index service (a sync scans and hashes). */
const layer = DirectorySync.layer.pipe(Layer.provide(Library.indexLayer))

const sync = (args: SyncArgs) =>
  Effect.gen(function* () {
    const directorySync = yield* DirectorySync.DirectorySync
    const result = yield* Progress.trackSync("syncing", Progress.enabled(args), (onProgress) =>
      directorySync.sync(Paths.absolute(args.source), Paths.absolute(args.target), {
        mode: args.mode,
        dryRun: args.dryRun,
        force: args.force,
        ...(onProgress === undefined ? {} : { onProgress })
      }))
    yield* SyncReport.print(result, { json: args.json, dryRunCommand: "'conduit sync --dry-run' with the same arguments" })
  })

/**
 * `--mode M`, with the built-in modes in its help; `purpose` says what the mode is for and its
 * default. Any name is accepted here: an unknown one is the registry's `ModeError` (exit 1).
 */
export const modeOption = (purpose: string): Options.Options<string> =>
  Options.text("mode").pipe(
    Options.withPseudoName(Modes.builtins.map((m) => m.name).join("|")),
    Options.withDescription(`${purpose}. ${Modes.builtins.map((m) => `${m.name}: ${m.description}`).join(". ")}.`)
  )

/** `conduit sync`. */
export const command = Command.make("sync", {
  source: Args.text({ name: "SRC" }).pipe(Args.withDescription("the source directory")),
  target: Args.text({ name: "DST" }).pipe(Args.withDescription("the target directory (it must exist)")),
  mode: modeOption(`the sync mode (default ${Modes.mirror.name})`).pipe(Options.withDefault(Modes.mirror.name)),
  dryRun: Options.boolean("dry-run").pipe(
    Options.withDescription("index both sides and print the plan with every operation; change nothing on disk")
  ),
  force: Options.boolean("force").pipe(
    Options.withDescription("run although a guard refuses the plan (it deletes more than half of a side, or a side's root is now empty)")
  ),
  json: Output.json
}, (args) => sync(args).pipe(Effect.provide(layer), Output.reportFailures(args))).pipe(
  Command.withDescription("Sync two directories once: index both, plan with the mode, run the plan, verify.")
)
