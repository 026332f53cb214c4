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
import type { LocalPlanRunner } from "@conduit/sync"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Layer } from "effect"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import * as Progress from "./Progress.js"

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
    const { plan, report } = result

    if (args.json) {
      yield* Output.printJson(Json.syncResult(result, { operations: args.dryRun }))
    } else {
      for (const endpoint of [result.source, result.target]) {
        if (endpoint.addedLocation) yield* Output.line(`'${Format.endpoint(endpoint)}' was in no location: added it as a location`)
      }
      yield* Output.line(Format.plan(plan.summary))
      for (const conflict of plan.conflicts) yield* Output.line(Format.conflict(conflict, report === null))
      if (report === null) {
        yield* Effect.forEach(plan.operations, (op) => Output.line(Format.operation(op)), { discard: true })
        if (result.refusal !== null) yield* Output.line(`a real run would be refused: ${result.refusal.message}`)
      } else {
        yield* Output.line(Format.synced(result, report))
        for (const skipped of report.skipped) yield* Output.line(Format.skipped(skipped))
      }
    }

    if (report === null) {
      if (!args.json) yield* Output.note("dry run: nothing was changed on disk")
      return
    }
    const failure = outcome(report, result.remaining, result.verified)
    if (failure !== null) {
      yield* Output.note(failure)
      return yield* new Output.Reported()
    }
  })

/** The sentence for a run that did not fully succeed, or null when it did. */
const outcome = (report: LocalPlanRunner.RunReport, remaining: number, verified: boolean): string | null => {
  const skipped = report.skipped.length
  if (skipped > 0) {
    return `${skipped === 1 ? "1 operation was" : `${skipped} operations were`} skipped and left as they were; ` +
      "fix what is listed above and sync again"
  }
  if (!verified) {
    return `the sync ran, but a fresh comparison of both sides still finds ${remaining === 1 ? "1 difference" : `${remaining} differences`}; ` +
      "'conduit sync --dry-run' with the same arguments lists them"
  }
  return null
}

/** `conduit sync`. */
export const command = Command.make("sync", {
  source: Args.text({ name: "SRC" }).pipe(Args.withDescription("the source directory")),
  target: Args.text({ name: "DST" }).pipe(Args.withDescription("the target directory (it must exist)")),
  mode: Options.text("mode").pipe(
    Options.withPseudoName(Modes.builtins.map((m) => m.name).join("|")),
    Options.withDescription(
      `the sync mode (default ${Modes.mirror.name}). ${Modes.builtins.map((m) => `${m.name}: ${m.description}`).join(". ")}.`
    ),
    Options.withDefault(Modes.mirror.name)
  ),
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
