/**
 * `conduit index [PATH] [--allow-empty] [--watch]`: brings the index in line with the disk.
 *
 * Without PATH every location of this device is scanned; one that fails (an unmounted disk)
 * does not stop the others. A PATH inside a location scans that directory; a directory in no
 * location becomes a location (Standard mode) first. `--watch` then keeps the index current
 * until SIGINT or SIGTERM.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import { Locations, Watcher } from "@conduit/index"
import type { Indexer } from "@conduit/index"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Either, Option } from "effect"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import * as Scan from "./Scan.js"

interface IndexArgs {
  readonly path: Option.Option<string>
  readonly allowEmpty: boolean
  readonly watch: boolean
  readonly json: boolean
}

/**
 * What `index PATH` scans: the location and directory PATH lies in, or, for a directory in no
 * location, a new location made of it (returned as `added`).
 */
const targetOf = (arg: string) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const absolute = Paths.absolute(arg)
    const inside = yield* locations.resolve(absolute).pipe(
      Effect.map(Option.some),
      Effect.catchIf((e) => e._tag === "PathError" && e.reason === "OutsideLocations", () => Effect.succeedNone)
    )
    if (Option.isSome(inside)) return { target: inside.value, added: null, absolute }
    yield* Paths.checkDirectory(absolute)
    const location = yield* locations.add(absolute, { indexingMode: "Standard" })
    return { target: { location, path: RelPath.root }, added: location, absolute }
  })

const index = (args: IndexArgs) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    let targets: ReadonlyArray<Scan.Target>
    let added: Locations.Location | null = null
    if (Option.isSome(args.path)) {
      const resolved = yield* targetOf(args.path.value)
      targets = [resolved.target]
      added = resolved.added
      if (added !== null && !args.json) {
        yield* Output.line(`'${resolved.absolute}' was in no location: added location ${Format.location(added)}`)
      }
    } else {
      targets = (yield* locations.list).map((location) => ({ location, path: RelPath.root }))
      if (targets.length === 0 && !args.json) {
        yield* Output.note("no locations to index; add one with 'conduit location add PATH' or 'conduit index PATH'")
      }
    }

    const scans: Array<Indexer.ScanSummary> = []
    const errors: Array<unknown> = []
    for (const target of targets) {
      const result = yield* Effect.either(Scan.run(target, { json: args.json, allowEmptyRoot: args.allowEmpty }))
      if (Either.isRight(result)) {
        scans.push(result.right)
        if (!args.json) yield* Scan.printSummary("indexed", target, result.right)
      } else if (Option.isSome(args.path)) {
        // The one location asked for could not be scanned: that is the command's failure.
        return yield* Effect.fail(result.left)
      } else {
        // One location of several: say so and go on with the others.
        errors.push(result.left)
        yield* Output.note(Output.describe(result.left).message)
      }
    }
    if (args.json) {
      yield* Output.printJson({
        addedLocation: added === null ? null : Json.location(added),
        scans: scans.map(Json.summary),
        errors: errors.map(Output.describe)
      })
    }
    if (errors.length > 0) return yield* new Output.Reported()
    if (args.watch) yield* watch(targets.map((t) => t.location), args)
  })

/** Watches the locations and prints each rescan until the process is interrupted. */
const watch = (watched: ReadonlyArray<Locations.Location>, args: IndexArgs) =>
  Effect.scoped(Effect.gen(function* () {
    const watcher = yield* Watcher.Watcher
    if (watched.length === 0) return
    for (const location of watched) {
      const target: Scan.Target = { location, path: RelPath.root }
      yield* watcher.watch(location.id, {
        onScan: (summary) => {
          if (args.json) Output.unsafeLine(JSON.stringify({ rescan: Json.summary(summary) }))
          else for (const text of Format.summary("rescanned", Scan.label(target), summary)) Output.unsafeLine(text)
        },
        onError: (error) => {
          const described = Output.describe(error)
          process.stderr.write(`${described.message}\n`)
          if (args.json) Output.unsafeLine(JSON.stringify({ error: described }))
        }
      })
    }
    yield* Output.note(`watching ${watched.map((l) => l.root).join(", ")} for changes; press Ctrl-C to stop`)
    return yield* Effect.never
  }))

/** `conduit index`. */
export const command = Command.make("index", {
  path: Args.text({ name: "PATH" }).pipe(
    Args.withDescription("a location, a directory inside one, or a directory to add as a location (default: every location)"),
    Args.optional
  ),
  allowEmpty: Options.boolean("allow-empty").pipe(
    Options.withDescription("accept a location root that is now empty although the index has files there (they were really deleted)")
  ),
  watch: Options.boolean("watch").pipe(Options.withDescription("after the scan, keep watching for changes until interrupted")),
  json: Output.json
}, (args) => index(args).pipe(Effect.provide(Library.indexLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Index locations: hash new and changed files, record moves and deletions.")
)
