/**
 * `conduit run ID [--force]` and `conduit plan ID [--mode M]`: a conduit's run, and its dry
 * run. Both print what `conduit sync` prints (SyncReport.ts); a run records a generation (see
 * `conduit history`), a dry run records nothing and changes nothing on disk.
 *
 * The exit code of `run` is 0 only when the run verified; `plan` exits 0 whatever the plan is.
 *
 * @since 0.1.0
 */
import { Conduits } from "@conduit/sync"
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as ConduitCommand from "./ConduitCommand.js"
import * as DaemonCommand from "./DaemonCommand.js"
import * as Format from "./Format.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Progress from "./Progress.js"
import { modeOption } from "./SyncCommand.js"
import * as SyncReport from "./SyncReport.js"

/** `conduit run`. */
export const run = Command.make("run", {
  id: ConduitCommand.id,
  force: Options.boolean("force").pipe(
    Options.withDescription("run although a guard refuses the plan (it deletes more than the conduit's max delete ratio of a side, or a side's root is now empty)")
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const conduit = yield* conduits.get(args.id)
    // A conduit with a paired device's endpoint runs in the daemon, which has the node.
    if (conduit.source.peer !== null || conduit.target.peer !== null) {
      const connection = yield* DaemonCommand.connect
      const r = yield* DaemonCommand.request(connection, (c) => c.conduits.run({ path: { id: conduit.id }, payload: { force: args.force } }))
      if (args.json) yield* Output.printJson({ ranIn: "daemon", ...r })
      else {
        yield* Output.line(`plan: ${r.copies} copies, ${r.moves} moves, ${r.deletes} deletes, ${r.conflicts} conflicts (${r.mode})`)
        yield* Output.line(`synced ${Format.conduitName(conduit)} in the daemon: ${r.copied} copied, ${r.moved} moved, ${r.deleted} deleted, ${Format.bytes(r.bytes)} in ${Format.duration(r.durationMs)}; ${r.verified ? "verified" : `not verified: ${r.remaining} differences remain`}`)
        for (const k of r.skipped) yield* Output.line(`skipped: ${k.path}: ${k.message}`)
        if (r.cache != null) for (const line of Format.cacheOutcome(r.cache)) yield* Output.line(line)
      }
      if (!r.verified) {
        yield* Output.note(`the run did not verify; 'conduit history ${Format.shortId(conduit.id)}' has its errors`)
        return yield* new Output.Reported()
      }
      return
    }
    const result = yield* Progress.trackSync("syncing", Progress.enabled(args), (onProgress) =>
      conduits.run(conduit.id, { force: args.force, ...(onProgress === undefined ? {} : { onProgress }) }))
    yield* SyncReport.print(SyncReport.fromRun(result, result.conduit.mode), {
      json: args.json,
      dryRunCommand: `'conduit plan ${Format.shortId(result.conduit.id)}'`,
      ...(result.conduit.mode === "selective" ? { cache: result.cache ?? null } : {})
    })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Run a conduit once: index both sides, plan with its mode, run the plan, verify; recorded as a generation.")
)

/** `conduit plan`. */
export const plan = Command.make("plan", {
  id: ConduitCommand.id,
  mode: modeOption("plan with this mode instead of the conduit's own (which is left as it is)").pipe(Options.optional),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    // A dry run copies nothing, so there is no progress to show.
    const result = yield* (yield* Conduits.Conduits).run(args.id, {
      dryRun: true,
      ...(Option.isSome(args.mode) ? { mode: args.mode.value } : {})
    })
    yield* SyncReport.print(SyncReport.fromRun(result, Option.getOrElse(args.mode, () => result.conduit.mode)), {
      json: args.json,
      dryRunCommand: `'conduit plan ${Format.shortId(result.conduit.id)}'`
    })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Dry-run a conduit: index both sides and print the plan with every operation; change nothing on disk.")
)
