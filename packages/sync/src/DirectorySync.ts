/**
 * A one-shot sync of two directories on this device: index both (only what changed is hashed),
 * read their differences from the index, plan with a mode, check the plan guards, run it, index
 * again and verify that a fresh resolve comes out empty. Two-way modes get the baseline of the
 * last verified sync between the same two directories, and a new one when this sync verifies.
 *
 * This is what `conduit sync SRC DST` runs. Persistent conduits, generations and resumable jobs
 * build on the same steps.
 *
 * @since 0.1.0
 */
import { Errors, RelPath } from "@conduit/domain"
import { Hasher, Indexer, IndexStore, LibraryDatabase, Locations } from "@conduit/index"
import { IndexDiff, ModeRegistry, type Plan, Planner } from "@conduit/resolver"
import { Migrator, SqlClient } from "@effect/sql"
import { Chunk, Context, Effect, Either, Layer, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { migrations } from "./internal/migrations.js"
import * as LocalPlanRunner from "./LocalPlanRunner.js"
import { SyncError } from "./SyncError.js"

/** Options of one sync. */
export interface DirectorySyncOptions {
  /** A mode name in the `ModeRegistry`: `mirror`, `bidirectional`, `archive`, or a user's. */
  readonly mode: string
  /** Plan only; change nothing on disk (the index is still brought up to date). */
  readonly dryRun?: boolean
  /** Run although a plan guard refuses (too many deletes, a root emptied). */
  readonly force?: boolean
  readonly maxDeleteRatio?: number
  /** File copies at once; default 4. */
  readonly parallel?: number
  readonly onProgress?: (done: number, total: number, bytes: number) => void
}

/** One side as the sync saw it. */
export interface SyncedEndpoint {
  /** The location's root. */
  readonly root: string
  /** The directory inside the location ("" for its root). */
  readonly dir: string
  /** Whether this sync added the directory as a new location. */
  readonly addedLocation: boolean
}

/** What a sync did. */
export interface DirectorySyncResult {
  readonly source: SyncedEndpoint
  readonly target: SyncedEndpoint
  readonly mode: string
  readonly plan: Plan.Plan
  /** Null on a dry run. */
  readonly report: LocalPlanRunner.RunReport | null
  /** After the run, a fresh resolve from the index came out empty. */
  readonly verified: boolean
  /** How many operations that fresh resolve still planned (0 when verified). */
  readonly remaining: number
  /** On a dry run: the plan guard that would refuse this plan (a real run fails with it). */
  readonly refusal: Planner.PlanGuardError | null
  readonly durationMs: number
}

/** Syncs two directories of this device. */
export class DirectorySync extends Context.Tag("@conduit/sync/DirectorySync")<DirectorySync, {
  /** Syncs `source` to `target` (absolute or relative paths) with a mode; see the module comment. */
  readonly sync: (
    source: string,
    target: string,
    options: DirectorySyncOptions
  ) => Effect.Effect<
    DirectorySyncResult,
    | SyncError
    | Errors.LocationError
    | Errors.LibraryError
    | Errors.HashError
    | Errors.PathError
    | ModeRegistry.ModeError
    | Planner.PlanGuardError
  >
}>() {}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(Path.sep) ? dir : dir + Path.sep)

/** Builds the service; runs this package's migrations on the library. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const store = yield* IndexStore.IndexStore
  const hasher = yield* Hasher.Hasher
  const diff = yield* IndexDiff.IndexDiff
  const registry = yield* ModeRegistry.ModeRegistry
  const lib = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.mapError(effect, (e) => (e instanceof Errors.LibraryError ? e : LibraryDatabase.toLibraryError(e, db.file)))

  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "conduit_sync_migrations" }).pipe(
    Effect.mapError((cause) => new Errors.LibraryError({ reason: "Migration", path: db.file, cause }))
  )

  const directory = (input: string) =>
    Effect.suspend(() => {
      const absolute = Path.resolve(input)
      let stat: Fs.Stats
      try {
        stat = Fs.statSync(absolute)
      } catch {
        return Effect.fail(new Errors.PathError({ reason: "NotFound", path: absolute }))
      }
      if (!stat.isDirectory()) return Effect.fail(new Errors.PathError({ reason: "NotADirectory", path: absolute }))
      return Effect.succeed(Fs.realpathSync.native(absolute))
    })

  /** The location holding `absolute` (added as a new location when none does) and the directory in it. */
  const endpointOf = (absolute: string) =>
    locations.resolve(absolute).pipe(
      Effect.map(({ location, path }) => ({ location, dir: path, added: false })),
      Effect.catchIf(
        (e): e is Errors.PathError => e._tag === "PathError" && e.reason === "OutsideLocations",
        () => Effect.map(locations.add(absolute), (location) => ({ location, dir: RelPath.root, added: true }))
      )
    )

  const liveEntries = (location: Locations.Location, dir: RelPath.RelPath) =>
    dir === ""
      ? Effect.map(store.totals(location), (t) => t.files + t.directories + t.symlinks)
      : Stream.runCount(store.entriesUnder(location, dir))

  const baselineLoader = (pair: string): IndexDiff.BaselineLoader => (paths) =>
    lib(Effect.gen(function* () {
      const map = new Map<string, import("@conduit/resolver").Fingerprint.Fingerprint>()
      for (let i = 0; i < paths.length; i += 500) {
        const rows = yield* sql<{ path: string; kind: 0 | 1 | 2; size: number; mtime_s: number; mtime_ns: number; mode: number | null; hash: string | null; link_target: string | null }>`
          SELECT path, kind, size, mtime_s, mtime_ns, mode, hash, link_target FROM sync_baselines
          WHERE pair = ${pair} AND ${sql.in("path", paths.slice(i, i + 500))}`
        for (const r of rows) {
          map.set(r.path, {
            kind: r.kind,
            size: r.size,
            mtimeNs: BigInt(r.mtime_s) * 1_000_000_000n + BigInt(r.mtime_ns),
            mode: r.mode,
            hash: r.hash,
            linkTarget: r.link_target
          })
        }
      }
      return map
    }))

  /** After a verified sync both sides are equal: the source side becomes the baseline. */
  const recordBaseline = (pair: string, location: Locations.Location, dir: RelPath.RelPath) =>
    lib(sql.withTransaction(Effect.gen(function* () {
      yield* sql`DELETE FROM sync_baselines WHERE pair = ${pair}`
      const rel = dir === "" ? sql.literal("path") : sql`substr(path, ${dir.length + 2})`
      const range = dir === "" ? sql`` : sql`AND path >= ${dir + "/"} AND path < ${dir + "0"}`
      yield* sql`INSERT INTO sync_baselines (pair, path, kind, size, mtime_s, mtime_ns, mode, hash, link_target)
        SELECT ${pair}, ${rel}, kind, size, mtime_s, mtime_ns, mode, hash, link_target FROM entries
        WHERE location_id = ${location.rowId} AND tombstone = 0 ${range}`
    })))

  const sync = Effect.fn("DirectorySync.sync")(function* (sourceInput: string, targetInput: string, options: DirectorySyncOptions) {
    const started = performance.now()
    const sourcePath = yield* directory(sourceInput)
    const targetPath = yield* directory(targetInput)
    if (sourcePath === targetPath) return yield* new SyncError({ reason: "SamePath", path: sourcePath })
    if (within(sourcePath, targetPath) || within(targetPath, sourcePath)) {
      return yield* new SyncError({ reason: "Nested", path: within(sourcePath, targetPath) ? sourcePath : targetPath })
    }
    const mode = yield* registry.get(options.mode)
    const source = yield* endpointOf(sourcePath)
    const target = yield* endpointOf(targetPath)
    const scan = () =>
      Effect.zipRight(
        indexer.scan(source.location.id, { paths: [source.dir], allowEmptyRoot: options.force === true || source.added }),
        indexer.scan(target.location.id, { paths: [target.dir], allowEmptyRoot: options.force === true || target.added })
      )
    yield* scan()

    const pair = `${source.location.id}:${source.dir}>${target.location.id}:${target.dir}`
    const diffOptions: IndexDiff.DiffOptions = mode.usesBaseline ? { baseline: baselineLoader(pair) } : {}
    const resolve = Effect.map(
      Stream.runCollect(diff.full(source, target, diffOptions)),
      (states) => Planner.plan(mode, Chunk.toReadonlyArray(states))
    )
    const plan = yield* resolve
    const state = (endpoint: typeof source, path: string) =>
      Effect.map(liveEntries(endpoint.location, endpoint.dir), (entries) => ({
        entries,
        rootPresent: true,
        rootEmpty: Fs.readdirSync(path).filter((n) => n !== ".conduit").length === 0
      }))
    const guarded = Planner.guard(
      plan,
      { source: yield* state(source, sourcePath), target: yield* state(target, targetPath) },
      {
        ...(options.force === undefined ? {} : { force: options.force }),
        ...(options.maxDeleteRatio === undefined ? {} : { maxDeleteRatio: options.maxDeleteRatio })
      }
    )
    if (Either.isLeft(guarded) && options.dryRun !== true) return yield* guarded.left

    const endpointInfo = (e: typeof source): SyncedEndpoint => ({ root: e.location.root, dir: e.dir, addedLocation: e.added })
    if (options.dryRun === true) {
      return {
        source: endpointInfo(source),
        target: endpointInfo(target),
        mode: mode.name,
        plan,
        report: null,
        verified: plan.operations.length === 0,
        remaining: plan.operations.length,
        refusal: Either.isLeft(guarded) ? guarded.left : null,
        durationMs: Math.round(performance.now() - started)
      }
    }

    const report = yield* LocalPlanRunner.run(
      plan,
      { source: { root: source.location.root, dir: source.dir }, target: { root: target.location.root, dir: target.dir } },
      {
        ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress })
      }
    ).pipe(Effect.provideService(Hasher.Hasher, hasher))
    yield* scan()
    const after = yield* resolve
    const verified = after.operations.length === 0
    if (verified && mode.usesBaseline) yield* recordBaseline(pair, source.location, source.dir)
    return {
      source: endpointInfo(source),
      target: endpointInfo(target),
      mode: mode.name,
      plan,
      report,
      verified,
      remaining: after.operations.length,
      refusal: null,
      durationMs: Math.round(performance.now() - started)
    }
  })

  return DirectorySync.of({ sync })
})

/** The service with the built-in modes, on the index services. */
export const layer = Layer.effect(DirectorySync, make).pipe(
  Layer.provide(Layer.mergeAll(IndexDiff.layer, ModeRegistry.layer))
)
