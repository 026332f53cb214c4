/**
 * `conduit versions PATH` and `conduit restore PATH [--version N]`: the previous versions of a
 * file that syncs kept (everything a sync overwrites or deletes goes to the version store of
 * its location first), and putting one back.
 *
 * Versions are numbered from 1, the newest. A restore keeps what it replaces as a version too,
 * so it can be undone with `restore PATH` (the replaced content is then version 1). The index
 * learns of a restored file at the next scan (`conduit index`, or the next run of a conduit).
 *
 * @since 0.1.0
 */
import { Locations } from "@conduit/index"
import { VersionStore } from "@conduit/jobs"
import { Args, Command, Options } from "@effect/cli"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { CliError } from "./CliError.js"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"

const pathArg = Args.text({ name: "PATH" }).pipe(
  Args.withDescription("a file inside a location, absolute or relative to the working directory (it need not exist any more)")
)

/** A kept version with its size: bytes for a file or symlink, null for a directory (or one gone meanwhile). */
interface Sized {
  readonly version: VersionStore.Version
  readonly size: number | null
}

const sized = (version: VersionStore.Version): Sized => {
  try {
    const stat = Fs.lstatSync(version.file)
    return { version, size: stat.isDirectory() ? null : stat.size }
  } catch {
    return { version, size: null }
  }
}

/** The location and relative path of a PATH argument, and its versions, newest first. */
const versionsOf = (arg: string) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const absolute = Paths.absolute(arg)
    const { location, path } = yield* locations.resolve(absolute)
    const versions = yield* VersionStore.list(location.root, path)
    return { absolute, root: location.root, path, versions: versions.map(sized) }
  })

/** `conduit versions`. */
export const versions = Command.make("versions", { path: pathArg, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const { absolute, versions } = yield* versionsOf(args.path)
    if (args.json) {
      return yield* Output.printJson({ path: absolute, versions: versions.map((v, i) => Json.version(v.version, i + 1, v.size)) })
    }
    if (versions.length === 0) return yield* Output.note(`no versions of '${absolute}'`)
    yield* Effect.forEach(Format.versionTable(versions), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.queryLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the kept versions of a file, newest first (1 is the newest): when each was kept, its size, where it is.")
)

/** `conduit restore`. */
export const restore = Command.make("restore", {
  path: pathArg,
  // `--version-number` is what `--version` reaches the parser as (see `Cli.normalizeArgv`).
  version: Options.integer("version").pipe(
    Options.withAlias("version-number"),
    Options.withPseudoName("N"),
    Options.withDescription("the version to restore, as 'conduit versions PATH' numbers them (1, the default, is the newest)"),
    Options.withDefault(1)
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const { absolute, root, path, versions } = yield* versionsOf(args.path)
    const chosen = versions[args.version - 1]
    if (args.version < 1 || chosen === undefined) {
      return yield* new CliError({ reason: "NoSuchVersion", path: absolute, value: String(args.version), versions: versions.length })
    }
    yield* VersionStore.restore(root, path, chosen.version)
    // What the restore kept of the content it replaced: the one version that was not there before.
    const before = new Set(versions.map((v) => v.version.file))
    const replaced = (yield* VersionStore.list(root, path)).map(sized).find((v) => !before.has(v.version.file)) ?? null

    if (args.json) {
      return yield* Output.printJson({
        path: absolute,
        restored: Json.version(chosen.version, args.version, chosen.size),
        replaced: replaced === null ? null : Json.version(replaced.version, 1, replaced.size)
      })
    }
    yield* Output.line(
      `restored '${absolute}' from version ${args.version}, kept ${Format.localTime(chosen.version.keptAt)}` +
        (chosen.size === null ? "" : ` (${Format.bytes(chosen.size)})`)
    )
    yield* Output.line(
      replaced === null
        ? "there was nothing at that path before, so no version was kept"
        : `the content it replaced was kept as version 1 (${replaced.version.file})`
    )
  }).pipe(Effect.provide(Library.queryLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Put a kept version of a file back (the newest unless --version); what it replaces is kept as a version first.")
)
