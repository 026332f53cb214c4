/**
 * Selective mode on the command line: `conduit get PATH` (bring an evicted file back from the
 * secondary, verified), `conduit open PATH` (record an open, fetching first if needed, and
 * print the path), `conduit pin|unpin PATH` (a directory pins its files) and `conduit risk`
 * (files whose only verified copy is on one device).
 *
 * A file whose secondary is on a paired device is fetched by the daemon (it has the node);
 * the rest happens here, on the library.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import { IndexStore, Locations } from "@conduit/index"
import { Conduits, SelectiveStore } from "@conduit/sync"
import { Args, Command } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import { CliError } from "./CliError.js"
import * as ConduitCommand from "./ConduitCommand.js"
import * as DaemonCommand from "./DaemonCommand.js"
import * as Format from "./Format.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"
import * as Progress from "./Progress.js"

const pathArg = (what: string) => Args.text({ name: "PATH" }).pipe(Args.withDescription(what))

/** The document of `get` and `open`. */
const fetchJson = (r: { readonly path: string; readonly size: number; readonly hash: string | null; readonly fetched: boolean; readonly durationMs: number; readonly conduit: string }) => ({
  path: r.path,
  conduit: r.conduit,
  size: r.size,
  hash: r.hash,
  fetched: r.fetched,
  durationMs: r.durationMs
})

/** Fetches a file: through the daemon when its secondary is on a paired device, else here. */
const fetchFile = (absolute: string, json: boolean) =>
  Effect.gen(function* () {
    const conduits = yield* Conduits.Conduits
    const found = yield* conduits.selectiveOf(absolute)
    if (Option.isSome(found) && found.value.conduit.target.peer !== null) {
      const connection = yield* DaemonCommand.connect
      const r = yield* DaemonCommand.request(connection, (c) => c.files.get({ payload: { path: absolute } }))
      return { ...r, ranIn: "daemon" as const }
    }
    const r = yield* Progress.trackSync("fetching", Progress.enabled({ json }), (onProgress) =>
      conduits.fetch(absolute, onProgress === undefined ? {} : { onProgress }))
    return { path: r.path, conduit: r.conduit.id, size: r.size, hash: r.hash, fetched: r.fetched, durationMs: r.durationMs, ranIn: "cli" as const }
  })

/** `conduit get`. */
export const get = Command.make("get", { path: pathArg("a file of a selective conduit's source (evicted or not)"), json: Output.json }, (args) =>
  Effect.gen(function* () {
    const r = yield* fetchFile(Paths.absolute(args.path), args.json)
    if (args.json) return yield* Output.printJson(fetchJson(r))
    yield* Output.line(
      r.fetched
        ? `fetched ${r.path} (${Format.bytes(r.size)}) from the secondary, verified (BLAKE3 ${(r.hash ?? "").slice(0, 12)}) in ${Format.duration(r.durationMs)}`
        : `${r.path} is local already`
    )
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Bring an evicted file of a selective conduit back from its secondary, verified by BLAKE3; the open is recorded. If the secondary is offline the fetch is remembered and done by the conduit's next run.")
)

/** `conduit open`. */
export const open = Command.make("open", { path: pathArg("a file of a selective conduit's source"), json: Output.json }, (args) =>
  Effect.gen(function* () {
    const r = yield* fetchFile(Paths.absolute(args.path), args.json)
    if (args.json) return yield* Output.printJson(fetchJson(r))
    // The path alone on stdout: `xdg-open "$(conduit open F)"`.
    yield* Output.line(r.path)
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Record an open of a file (the selective policy keeps files opened often and recently local), fetching it first if it was evicted; prints its path.")
)

/** The location and path of a PATH the index knows, or that is on disk (a file or a directory). */
const indexed = (absolute: string) =>
  Effect.gen(function* () {
    const { location, path } = yield* (yield* Locations.Locations).resolve(absolute)
    if (path !== RelPath.root) {
      const entry = yield* (yield* IndexStore.IndexStore).get(location, path)
      // On disk but not indexed yet (a new file) is fine: the pin waits for it.
      if ((Option.isNone(entry) || entry.value.tombstone) && !Fs.existsSync(absolute)) return yield* new CliError({ reason: "NotIndexed", path: absolute })
    }
    return { location, path }
  })

const pinCommand = (pinning: boolean) =>
  Command.make(pinning ? "pin" : "unpin", { path: pathArg("a file or directory inside a location"), json: Output.json }, (args) =>
    Effect.gen(function* () {
      const absolute = Paths.absolute(args.path)
      const { location, path } = yield* indexed(absolute)
      const store = yield* SelectiveStore.SelectiveStore
      const changed = pinning ? yield* store.pin(location, path) : yield* store.unpin(location, path)
      const covered = Option.isSome(yield* (yield* Conduits.Conduits).selectiveOf(absolute))
      if (args.json) return yield* Output.printJson({ path: absolute, pinned: pinning, changed, selective: covered })
      yield* Output.line(
        pinning
          ? changed ? `pinned ${absolute}: it stays local (fetched back by the next run if it was evicted)` : `${absolute} was pinned already`
          : changed ? `unpinned ${absolute}` : `${absolute} was not pinned${SelectiveStore.isPinned(yield* store.pins(location), path) ? " (a directory above it is)" : ""}`
      )
      if (!covered) yield* Output.note(`note: no selective conduit has ${absolute} in its source yet; the pin counts once one does`)
    }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
    Command.withDescription(
      pinning
        ? "Pin a file or directory: a selective conduit never evicts it (a directory pins its whole subtree), and fetches it back if it was evicted."
        : "Unpin a file or directory pinned with 'conduit pin'."
    )
  )

/** `conduit pin`, `conduit unpin`. */
export const pin = pinCommand(true)
export const unpin = pinCommand(false)

/** How many files `conduit risk` lists as text. */
const RISK_LINES = 50

/** `conduit risk`. */
export const risk = Command.make("risk", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    yield* (yield* Conduits.Conduits).list // the selective tables come with the conduits' migrations
    const entries = yield* (yield* SelectiveStore.SelectiveStore).risk
    if (args.json) {
      return yield* Output.printJson({
        files: entries.map((e) => ({ device: e.device, path: `${e.root}/${e.path}`, size: e.size, hash: e.hash, state: e.state, copies: e.copies }))
      })
    }
    if (entries.length === 0) return yield* Output.note("every file has verified copies on at least two devices")
    // The worst first: files with no copy at all, then the largest; a long list is cut (--json has all).
    const sorted = [...entries].sort((x, y) => x.copies - y.copies || y.size - x.size)
    for (const e of sorted.slice(0, RISK_LINES)) {
      const where = e.device.self ? "this device" : e.device.name
      const what = e.copies === 0 ? "NO verified copy anywhere (evicted, and the secondary's copy is gone)" : `only on ${where}`
      yield* Output.line(`${Format.bytes(e.size).padStart(10)}  ${what.padEnd(24)}  ${e.root}/${e.path}`)
    }
    if (sorted.length > RISK_LINES) yield* Output.line(`… and ${sorted.length - RISK_LINES} more (--json lists them all)`)
    const bytes = entries.reduce((n, e) => n + e.size, 0)
    const lost = entries.filter((e) => e.copies === 0).length
    yield* Output.note(`${entries.length} files (${Format.bytes(bytes)}) whose only verified copy is on one device` + (lost === 0 ? "" : `; ${lost} with none left`))
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the files whose only verified copy is on one device (this one or a paired one), or on none: what a lost disk would take with it.")
)


/** `conduit cache`. */
export const cache = Command.make("cache", { id: ConduitCommand.id, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const p = yield* (yield* Conduits.Conduits).cachePreview(args.id)
    if (args.json) {
      return yield* Output.printJson({
        conduit: p.conduit.id,
        limitBytes: p.limitBytes,
        localBytes: p.localBytes,
        evict: p.evict,
        fetch: p.fetch,
        unverified: p.unverified,
        warnings: p.warnings
      })
    }
    yield* Output.line(`${Format.conduitName(p.conduit)}: ${Format.bytes(p.localBytes)} local` + (p.limitBytes === null ? ", no budget" : ` of a ${Format.bytes(p.limitBytes)} budget`))
    for (const e of p.evict) yield* Output.line(`would evict: ${e.path} (${Format.bytes(e.size)}): ${e.reason}`)
    for (const f of p.fetch) yield* Output.line(`would fetch: ${f.path} (${Format.bytes(f.size)}): ${f.reason}`)
    for (const u of p.unverified) yield* Output.line(`not evictable: ${u}: no verified copy on the secondary`)
    for (const w of p.warnings) yield* Output.line(`warning: ${w.message}`)
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Show what a selective conduit's next run would evict and fetch (by its policy and budget), and which local files cannot be evicted for want of a verified copy; changes nothing.")
)
