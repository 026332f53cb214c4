/**
 * `conduit location add | list | rm`: the locations of this device.
 *
 * @since 0.1.0
 */
import { Errors, RelPath } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
import { IndexStore, Locations } from "@conduit/index"
import type { Indexer } from "@conduit/index"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import * as Scan from "./Scan.js"

// -- add -------------------------------------------------------------------------------------

const add = Command.make("add", {
  path: Args.text({ name: "PATH" }).pipe(Args.withDescription("the directory to add")),
  name: Options.text("name").pipe(
    Options.withDescription("the location's name (default: the directory's name)"),
    Options.optional
  ),
  mode: Options.choice("mode", ["standard", "sync-complete"]).pipe(
    Options.withDescription(
      "standard: skip system, temporary and development files and what .gitignore/.conduitignore exclude; sync-complete: index everything but the --ignore patterns"
    ),
    Options.withDefault("standard")
  ),
  ignore: Options.text("ignore").pipe(
    Options.withDescription("a further gitignore-style pattern to exclude (repeatable)"),
    Options.repeated
  ),
  noIndex: Options.boolean("no-index").pipe(Options.withDescription("add the location without indexing it now")),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const root = Paths.absolute(args.path)
    yield* Paths.checkDirectory(root)
    let location = yield* locations.add(root, {
      ...(Option.isSome(args.name) ? { name: args.name.value } : {}),
      indexingMode: args.mode === "standard" ? "Standard" : "SyncComplete",
      ignorePatterns: args.ignore
    })
    if (!args.json) yield* Output.line(`added location ${Format.location(location)}`)
    let summary: Indexer.ScanSummary | null = null
    if (!args.noIndex) {
      const target = { location, path: RelPath.root }
      summary = yield* Scan.run(target, { json: args.json, allowEmptyRoot: false })
      if (!args.json) yield* Scan.printSummary("indexed", target, summary)
      location = yield* locations.get(location.id) // with its lastScanAt
    }
    if (args.json) yield* Output.printJson({ location: Json.location(location), scan: summary === null ? null : Json.summary(summary) })
  }).pipe(Effect.provide(Library.indexLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Add a directory as a location, then index it (unless --no-index).")
)

// -- list ------------------------------------------------------------------------------------

const list = Command.make("list", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const store = yield* IndexStore.IndexStore
    const rows = yield* Effect.forEach(yield* locations.list, (location) =>
      Effect.map(store.totals(location), (totals) => ({ location, totals })))
    if (args.json) {
      return yield* Output.printJson({
        locations: rows.map(({ location, totals }) => ({ ...Json.location(location), totals: Json.totals(totals) }))
      })
    }
    if (rows.length === 0) return yield* Output.note("no locations yet; add one with 'conduit location add PATH'")
    yield* Effect.forEach(Format.locationTable(rows), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.queryLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List this device's locations with their file counts and sizes.")
)

// -- rm --------------------------------------------------------------------------------------

// `Ids.LocationId` is a UUID; the schema itself is missing from @conduit/domain's type declarations.
const isLocationId = (u: string): u is Ids.LocationId => Schema.is(Schema.UUID)(u)

/** The location a `rm` argument names: its id, or its root directory (any spelling of it). */
const find = (locations: Locations.Locations["Type"], arg: string) =>
  Effect.gen(function* () {
    if (isLocationId(arg)) {
      const byId = yield* locations.get(arg).pipe(
        Effect.map(Option.some),
        Effect.catchIf((e) => e._tag === "LocationError" && e.reason === "NotFound", () => Effect.succeedNone)
      )
      if (Option.isSome(byId)) return byId.value
    }
    const absolute = Paths.absolute(arg)
    const notFound = new Errors.LocationError({ reason: "NotFound", path: absolute })
    const resolved = yield* locations.resolve(absolute).pipe(
      Effect.catchIf((e) => e._tag === "PathError", () => Effect.fail(notFound))
    )
    if (resolved.path !== RelPath.root) return yield* notFound
    return resolved.location
  })

const rm = Command.make("rm", {
  location: Args.text({ name: "PATH|ID" }).pipe(Args.withDescription("the location's root directory or id")),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const location = yield* find(locations, args.location)
    yield* locations.remove(location.id)
    if (args.json) return yield* Output.printJson({ removed: Json.location(location) })
    yield* Output.line(`removed location ${location.name} (${location.root}) and its index entries; its files were not touched`)
  }).pipe(Effect.provide(Library.queryLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Remove a location from the index. Its files are not touched.")
)

// -- location --------------------------------------------------------------------------------

/** `conduit location`. */
export const command = Command.make("location").pipe(
  Command.withDescription("Manage the directories Conduit indexes."),
  Command.withSubcommands([add, list, rm])
)
