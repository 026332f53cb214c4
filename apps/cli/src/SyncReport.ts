/**
 * The output of a sync — `conduit sync`, and a conduit's `conduit run` and `conduit plan`,
 * which print the same: the plan, its conflicts, then the result of the run or (dry run) every
 * operation; and the exit code, 0 only when the run verified.
 *
 * @since 0.1.0
 */
import type { Conduits, DirectorySync, LocalPlanRunner } from "@conduit/sync"
import { Effect } from "effect"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Output from "./Output.js"

/**
 * A conduit's run as the result of a sync, so that both print alike. A run uses the conduit's
 * endpoints as they are, so it never adds a location; `mode` is the mode it planned with.
 */
export const fromRun = (r: Conduits.RunResult, mode: string): DirectorySync.DirectorySyncResult => {
  const endpoint = (e: Conduits.ConduitEndpoint): DirectorySync.SyncedEndpoint => ({ root: e.location.root, dir: e.dir, addedLocation: false })
  return {
    conduit: r.conduit.id,
    generation: r.generation?.generation ?? null,
    source: endpoint(r.conduit.source),
    target: endpoint(r.conduit.target),
    mode,
    plan: r.plan,
    report: r.report,
    verified: r.verified,
    remaining: r.remaining,
    refusal: r.refusal,
    durationMs: r.durationMs,
    job: r.job
  }
}

/**
 * Prints a sync's result (a dry run when it has no report) as text or JSON. A run that skipped
 * an operation or did not verify gets its sentence on stderr and fails with `Reported` (exit
 * code 1); `dryRunCommand` is the command that would list what is left, for that sentence.
 */
export const print = (
  result: DirectorySync.DirectorySyncResult,
  options: { readonly json: boolean; readonly dryRunCommand: string; readonly cache?: Conduits.CacheOutcome | null }
): Effect.Effect<void, Output.Reported> =>
  Effect.gen(function* () {
    const { plan, report } = result
    const cache = options.cache ?? null
    if (options.json) {
      yield* Output.printJson({ ...Json.syncResult(result, { operations: report === null }), ...(options.cache === undefined ? {} : { cache }) })
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
      if (cache !== null) for (const line of Format.cacheOutcome(cache)) yield* Output.line(line)
    }

    if (report === null) {
      if (!options.json) yield* Output.note("dry run: nothing was changed on disk")
      return
    }
    if (report.stopped !== null && result.job !== null) {
      yield* Output.note(`the run was ${report.stopped} at a checkpoint (job ${Format.shortId(result.job.id)}); ` +
        (report.stopped === "paused" ? `'conduit jobs resume ${Format.shortId(result.job.id)}' or the next run goes on from there` : "the next run plans afresh"))
      return yield* new Output.Reported()
    }
    const failure = outcome(report, result.remaining, result.verified, options.dryRunCommand)
    if (failure !== null) {
      yield* Output.note(failure)
      return yield* new Output.Reported()
    }
  })

/** The sentence for a run that did not fully succeed, or null when it did. */
const outcome = (report: LocalPlanRunner.RunReport, remaining: number, verified: boolean, dryRunCommand: string): string | null => {
  const skipped = report.skipped.length
  if (skipped > 0) {
    return `${skipped === 1 ? "1 operation was" : `${skipped} operations were`} skipped and left as they were; ` +
      "fix what is listed above and sync again"
  }
  if (!verified) {
    return `the sync ran, but a fresh comparison of both sides still finds ${remaining === 1 ? "1 difference" : `${remaining} differences`}; ` +
      `${dryRunCommand} lists them`
  }
  return null
}
