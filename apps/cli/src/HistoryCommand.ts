/**
 * `conduit history ID` and `conduit conflicts [ID]`: what the runs of a conduit recorded — its
 * generations, and the conflicts they decided.
 *
 * @since 0.1.0
 */
import { Conduits } from "@conduit/sync"
import { Args, Command } from "@effect/cli"
import { Effect, Option } from "effect"
import * as ConduitCommand from "./ConduitCommand.js"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"

/** `conduit history`. */
export const history = Command.make("history", { id: ConduitCommand.id, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const conduit = yield* conduits.get(args.id)
    const generations = yield* conduits.history(conduit.id)
    if (args.json) return yield* Output.printJson({ conduit: conduit.id, generations: generations.map(Json.generation) })
    if (generations.length === 0) {
      return yield* Output.note(`conduit ${Format.conduitName(conduit)} has not run yet; run it with 'conduit run ${Format.shortId(conduit.id)}'`)
    }
    yield* Effect.forEach(Format.generationTable(generations), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the generations (runs) of a conduit, newest first, with their figures, verification and errors.")
)

/** `conduit conflicts`. */
export const conflicts = Command.make("conflicts", {
  id: Args.text({ name: "ID" }).pipe(
    Args.withDescription("list only this conduit's conflicts: its id or a unique prefix (default: every conduit's)"),
    Args.optional
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const records = yield* conduits.conflicts(Option.getOrUndefined(args.id))
    if (args.json) return yield* Output.printJson({ conflicts: records.map(Json.conflictRecord) })
    if (records.length === 0) return yield* Output.note("no conflicts recorded")
    yield* Effect.forEach(Format.conflictTable(records), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the conflicts runs decided, newest first: conduit, generation, path, reason, winner, resolution.")
)
