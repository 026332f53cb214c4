/**
 * `conduit conduit create | list | show | set | rm | enable | disable`: the conduits of this device,
 * each a lasting sync relationship between two directories with its mode and settings, run
 * with `conduit run` (see RunCommand.ts) and recorded generation by generation.
 *
 * @since 0.1.0
 */
import { Locations } from "@conduit/index"
import { Modes } from "@conduit/resolver"
import { Conduits } from "@conduit/sync"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { CliError } from "./CliError.js"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Limits from "./Limits.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import { modeOption } from "./SyncCommand.js"

/** The `ID` argument of the commands that act on one conduit. */
export const id: Args.Args<string> = Args.text({ name: "ID" }).pipe(
  Args.withDescription("the conduit's id, or a prefix of it that no other conduit's id starts with (at least 4 characters)")
)

// -- create ----------------------------------------------------------------------------------

interface CreateArgs {
  readonly schedule: Option.Option<string>
  readonly parallel: Option.Option<number>
  readonly maxDeleteRatio: Option.Option<number>
  readonly keepVersions: Option.Option<number>
  readonly bandwidthLimit: Option.Option<number>
  readonly cacheMax: Option.Option<string>
  readonly cacheMinFree: Option.Option<string>
  readonly cachePolicy: Option.Option<string>
}

/** The settings given, checked against `Limits`; the ones not given keep the library's defaults. */
const settingsOf = (args: CreateArgs) =>
  Effect.gen(function* () {
    const { schedule, parallel, maxDeleteRatio, keepVersions, bandwidthLimit, cacheMax, cacheMinFree, cachePolicy } = args
    const maxBytes = Option.map(cacheMax, (text) => ({ text, bytes: Limits.parseSize(text) }))
    if (Option.isSome(maxBytes) && maxBytes.value.bytes === undefined) {
      return yield* new CliError({ reason: "InvalidCacheSize", value: maxBytes.value.text })
    }
    const minFree = Option.map(cacheMinFree, (text) => ({ text, free: Limits.parseFree(text) }))
    if (Option.isSome(minFree) && minFree.value.free === undefined) {
      return yield* new CliError({ reason: "InvalidCacheFree", value: minFree.value.text })
    }
    if (Option.isSome(bandwidthLimit) && !Limits.isBandwidthLimit(bandwidthLimit.value)) {
      return yield* new CliError({ reason: "InvalidBandwidthLimit", value: String(bandwidthLimit.value) })
    }
    if (Option.isSome(schedule) && !Limits.isSchedule(schedule.value)) {
      return yield* new CliError({ reason: "InvalidSchedule", value: schedule.value })
    }
    if (Option.isSome(parallel) && !Limits.isParallel(parallel.value)) {
      return yield* new CliError({ reason: "InvalidParallel", value: String(parallel.value) })
    }
    if (Option.isSome(keepVersions) && !Limits.isRetentionDays(keepVersions.value)) {
      return yield* new CliError({ reason: "InvalidKeepVersions", value: String(keepVersions.value) })
    }
    if (Option.isSome(maxDeleteRatio) && !Limits.isMaxDeleteRatio(maxDeleteRatio.value)) {
      return yield* new CliError({ reason: "InvalidMaxDeleteRatio", value: String(maxDeleteRatio.value) })
    }
    return {
      ...(Option.isSome(schedule) ? { schedule: schedule.value } : {}),
      ...(Option.isSome(parallel) ? { parallelTransfers: parallel.value } : {}),
      ...(Option.isSome(maxDeleteRatio) ? { maxDeleteRatio: maxDeleteRatio.value } : {}),
      ...(Option.isSome(keepVersions) ? { versionRetentionDays: keepVersions.value } : {}),
      ...(Option.isSome(bandwidthLimit) ? { bandwidthLimitMbps: bandwidthLimit.value } : {}),
      ...(Option.isSome(maxBytes) ? { cacheMaxBytes: maxBytes.value.bytes! } : {}),
      ...(Option.isSome(minFree)
        ? "percent" in minFree.value.free!
          ? { cacheMinFreePercent: minFree.value.free.percent, cacheMinFreeBytes: null }
          : { cacheMinFreeBytes: minFree.value.free!.bytes, cacheMinFreePercent: null }
        : {}),
      ...(Option.isSome(cachePolicy) ? { cachePolicy: cachePolicy.value } : {})
    }
  })

/** Whether an absolute path is in no location yet (creating the conduit will add it as one). */
const inNoLocation = (absolute: string) =>
  Effect.flatMap(Locations.Locations, (locations) =>
    locations.resolve(absolute).pipe(
      Effect.as(false),
      Effect.catchIf((e) => e._tag === "PathError" && e.reason === "OutsideLocations", () => Effect.succeed(true))
    ))

/** The options of the settings `create` and `set` take. */
const settingOptions = {
  schedule: Options.text("schedule").pipe(
    Options.withPseudoName("manual|instant|interval:<n>s|m|h|d"),
    Options.withDescription(`when the daemon is to run the conduit (default manual: only 'conduit run' does): ${Limits.SCHEDULE_FORMS}`),
    Options.optional
  ),
  parallel: Options.integer("parallel").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(`file copies at once, 1 to ${Limits.MAX_PARALLEL} (default 4)`),
    Options.optional
  ),
  maxDeleteRatio: Options.float("max-delete-ratio").pipe(
    Options.withPseudoName("R"),
    Options.withDescription(
      "the largest share of a side's entries a run may delete; a plan that deletes more is refused unless --force. Above 0, at most 1 (default 0.5)"
    ),
    Options.optional
  ),
  keepVersions: Options.integer("keep-versions").pipe(
    Options.withPseudoName("DAYS"),
    Options.withDescription(
      `days the files a run replaces or deletes stay in the version store before a later completed run removes them; 0 keeps them forever (default 30, at most ${Limits.MAX_RETENTION_DAYS})`
    ),
    Options.optional
  ),
  bandwidthLimit: Options.float("bandwidth-limit").pipe(
    Options.withPseudoName("MBPS"),
    Options.withDescription(`megabits per second the files this conduit sends to a paired device may use (default: no limit; above 0, at most ${Limits.MAX_BANDWIDTH_MBPS})`),
    Options.optional
  ),
  cacheMax: Options.text("cache-max").pipe(
    Options.withPseudoName("SIZE"),
    Options.withDescription("selective mode: at most this much of the source's files stay local (e.g. 500M, 20G; default: no limit)"),
    Options.optional
  ),
  cacheMinFree: Options.text("cache-min-free").pipe(
    Options.withPseudoName("SIZE|PCT%"),
    Options.withDescription("selective mode: keep this much of the source's volume free (e.g. 10G or 15%)"),
    Options.optional
  ),
  cachePolicy: Options.choice("cache-policy", ["decayed-frequency", "lru", "lfu"]).pipe(
    Options.withDescription("selective mode: how files are ranked for eviction (default decayed-frequency: recency and frequency together)"),
    Options.optional
  ),
}

const create = Command.make("conduit create", {
  source: Args.text({ name: "SRC" }).pipe(Args.withDescription("the source directory (it must exist), or DEVICE:/path on a paired device")),
  target: Args.text({ name: "DST" }).pipe(Args.withDescription("the target directory (it must exist), or DEVICE:/path on a paired device (its peer id or name; its index must have been pulled)")),
  mode: modeOption(`the conduit's sync mode (default ${Modes.mirror.name})`).pipe(Options.withDefault(Modes.mirror.name)),
  ...settingOptions,
  disabled: Options.boolean("disabled").pipe(
    Options.withDescription("create it disabled: 'conduit run' refuses it until 'conduit conduit enable ID'")
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const settings = yield* settingsOf(args)
    const source = Paths.endpoint(args.source)
    const target = Paths.endpoint(args.target)
    const sourceNew = typeof source === "string" ? yield* inNoLocation(source) : false
    const targetNew = typeof target === "string" ? yield* inNoLocation(target) : false
    const conduit = yield* conduits.create(source, target, { mode: args.mode, enabled: !args.disabled, ...settings })
    const added = [...(sourceNew ? [conduit.source.location] : []), ...(targetNew ? [conduit.target.location] : [])]
    if (args.json) return yield* Output.printJson({ conduit: Json.conduit(conduit), addedLocations: added.map(Json.location) })
    for (const location of added) yield* Output.line(`'${location.root}' was in no location: added it as a location`)
    yield* Output.line(`created conduit ${Format.conduitName(conduit)}`)
    yield* Effect.forEach(Format.conduitDetails(conduit), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Create a conduit: a lasting sync between two directories, run with 'conduit run ID'.")
)

// -- list ------------------------------------------------------------------------------------

const list = Command.make("conduit list", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const conduits = yield* (yield* Conduits.Conduits).list
    if (args.json) return yield* Output.printJson({ conduits: conduits.map(Json.conduit) })
    if (conduits.length === 0) return yield* Output.note("no conduits yet; create one with 'conduit conduit create SRC DST'")
    yield* Effect.forEach(Format.conduitTable(conduits), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the conduits: id, mode, whether enabled, generation, last sync, source and target.")
)

// -- show ------------------------------------------------------------------------------------

const show = Command.make("conduit show", { id, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const conduit = yield* conduits.get(args.id)
    const last = (yield* conduits.history(conduit.id))[0] ?? null
    if (args.json) {
      return yield* Output.printJson({ conduit: Json.conduit(conduit), lastGeneration: last === null ? null : Json.generation(last) })
    }
    yield* Effect.forEach(Format.conduitDetails(conduit, last), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Show every setting of a conduit and its last generation.")
)

// -- set -----------------------------------------------------------------------------------

const set = Command.make("conduit set", {
  id,
  ...settingOptions,
  noBandwidthLimit: Options.boolean("no-bandwidth-limit").pipe(Options.withDescription("remove the conduit's bandwidth limit")),
  noCacheBudget: Options.boolean("no-cache-budget").pipe(Options.withDescription("selective mode: remove the local budget (nothing is evicted any more)")),
  conflictStrategy: Options.choice("conflict-strategy", ["last-write-wins"]).pipe(
    Options.withDescription("how a bidirectional run decides a file both sides changed: last-write-wins (the loser is kept as a version and a conflict)"),
    Options.optional
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    if (args.noBandwidthLimit && Option.isSome(args.bandwidthLimit)) {
      return yield* new CliError({ reason: "InvalidBandwidthLimit", value: `${args.bandwidthLimit.value} together with --no-bandwidth-limit` })
    }
    const settings: Partial<Conduits.ConduitSettings> = {
      ...(yield* settingsOf(args)),
      ...(args.noBandwidthLimit ? { bandwidthLimitMbps: null } : {}),
      ...(args.noCacheBudget ? { cacheMaxBytes: null, cacheMinFreeBytes: null, cacheMinFreePercent: null } : {}),
      ...(Option.isSome(args.conflictStrategy) ? { conflictStrategy: args.conflictStrategy.value } : {})
    }
    if (Object.keys(settings).length === 0) return yield* new CliError({ reason: "NoSettings" })
    // The conduit is found first: an unknown id is refused before anything is written.
    const conduit = yield* conduits.update((yield* conduits.get(args.id)).id, settings)
    if (args.json) return yield* Output.printJson({ conduit: Json.conduit(conduit) })
    yield* Output.line(`updated conduit ${Format.conduitName(conduit)}: ${Object.keys(settings).join(", ")}`)
    yield* Effect.forEach(Format.conduitDetails(conduit), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription(
    "Change a conduit's settings (schedule, bandwidth limit, parallel transfers, conflict strategy, max delete ratio, version retention); a running daemon picks them up at its next look (within a second)."
  )
)

// -- rm --------------------------------------------------------------------------------------

const rm = Command.make("conduit rm", { id, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const removed = yield* (yield* Conduits.Conduits).remove(args.id)
    if (args.json) return yield* Output.printJson({ removed: Json.conduit(removed) })
    yield* Output.line(`removed conduit ${Format.conduitName(removed)} and its history; the files were not touched`)
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Remove a conduit with its history and conflicts. The files and locations are not touched.")
)

// -- enable, disable -------------------------------------------------------------------------

const setEnabled = (enabled: boolean) =>
  Command.make(enabled ? "conduit enable" : "conduit disable", { id, json: Output.json }, (args) =>
    Effect.gen(function* () {
      const conduit = yield* (yield* Conduits.Conduits).update(args.id, { enabled })
      if (args.json) return yield* Output.printJson({ conduit: Json.conduit(conduit) })
      yield* Output.line(
        enabled
          ? `enabled conduit ${Format.conduitName(conduit)}`
          : `disabled conduit ${Format.conduitName(conduit)}; 'conduit run' refuses it until 'conduit conduit enable ${Format.shortId(conduit.id)}'`
      )
    }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
    Command.withDescription(
      enabled
        ? "Enable a conduit, so that 'conduit run' (and the daemon's schedule) runs it."
        : "Disable a conduit: 'conduit run' refuses it ('conduit plan' still works) until it is enabled."
    )
  )

// -- conduit ---------------------------------------------------------------------------------

/**
 * The `conduit conduit …` commands. Each is named with both words (`conduit create`): a group
 * named `conduit` cannot be parsed under a program of that name (see `Cli.normalizeArgv`).
 */
export const commands = [create, list, show, set, rm, setEnabled(true), setEnabled(false)] as const
