/**
 * Conduits — the seed's `SyncConduit`: a persistent sync relationship between two directories
 * of this device (peer endpoints come with library sync) — and their runs, each recorded as a
 * `SyncGeneration` with its figures, errors, verification and conflicts.
 *
 * A run: index both endpoints (only what changed is hashed), read their differences from the
 * index, plan with the conduit's mode, check the plan guards, run the plan (verified copies,
 * versions for everything replaced or deleted), index again, and verify that a fresh resolve
 * is empty. Two-way modes compare against the baseline of the last verified run and get a new
 * one when this run verifies. One run per conduit at a time.
 *
 * @since 0.1.0
 */
import { Errors, type Ids, RelPath } from "@conduit/domain"
import { Hasher, Indexer, type IndexLive, IndexStore, LibraryDatabase, Locations } from "@conduit/index"
import { type Fingerprint, IndexDiff, ModeRegistry, Modes, Plan, Planner } from "@conduit/resolver"
import { type CacheEntry, type CachePlan, CachePlanner, type CachePolicyError, CachePolicyRegistry } from "@conduit/selective"
import { Migrator, SqlClient } from "@effect/sql"
import { Chunk, Context, Effect, Either, Layer, Option, Stream } from "effect"
import { type FileOpError, JobRuntime, LocalFiles, VersionStore } from "@conduit/jobs"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ConduitEvents, throttledProgress } from "./ConduitEvents.js"
import { migrations } from "./internal/migrations.js"
import * as SelectiveStore from "./SelectiveStore.js"
import * as LocalPlanRunner from "./LocalPlanRunner.js"
import { PeerLink } from "./PeerLink.js"
import { SyncError } from "./SyncError.js"

/** A conduit's settings (the seed's configuration fields). */
export interface ConduitSettings {
  readonly mode: string
  readonly enabled: boolean
  /** `manual`, `instant`, or `interval:30s|5m|1h|1d` (the scheduler comes with the daemon). */
  readonly schedule: string
  readonly useIndexRules: boolean
  readonly indexModeOverride: "Standard" | "SyncComplete" | null
  readonly parallelTransfers: number
  readonly bandwidthLimitMbps: number | null
  readonly conflictStrategy: "last-write-wins"
  /** The plan guard's largest share of a side a run may delete. */
  readonly maxDeleteRatio: number
  /**
   * Days a replaced or deleted file is kept in the version store of its location before a
   * later completed run of this conduit removes it; 0 keeps versions forever.
   */
  readonly versionRetentionDays: number
  /**
   * A selective conduit's budget for the local (source) side: at most this many bytes of its
   * files local; null for no such limit.
   */
  readonly cacheMaxBytes: number | null
  /** Keep at least this many bytes free on the source's volume (null: no such limit). */
  readonly cacheMinFreeBytes: number | null
  /** Keep at least this share (0–100) of the source's volume free (null: no such limit). */
  readonly cacheMinFreePercent: number | null
  /** The selective-cache policy that scores files (`@conduit/selective`'s registry). */
  readonly cachePolicy: string
}

/** One side of a conduit. */
export interface ConduitEndpoint {
  readonly location: Locations.Location
  readonly dir: RelPath.RelPath
  /** The directory's absolute path (on its device). */
  readonly path: string
  /** The paired device it is on (its location is a library-sync replica here); null: this device. */
  readonly peer: { readonly device: string; readonly peerId: string | null; readonly name: string } | null
}

/**
 * A directory on a paired device: the device (its PeerId, device id or name) and the absolute
 * path there, inside one of its locations that library sync brought here.
 */
export interface PeerPath {
  readonly peer: string
  readonly path: string
}

/** A conduit endpoint as given: a directory of this device, or one of a paired device. */
export type EndpointInput = string | PeerPath

/** A conduit as stored. */
export interface Conduit extends ConduitSettings {
  readonly id: string
  readonly rowId: number
  readonly source: ConduitEndpoint
  readonly target: ConduitEndpoint
  readonly lastSyncCompletedAt: Date | null
  readonly syncGeneration: number
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** An error of one operation of a run. */
export interface GenerationError {
  readonly path: string
  readonly reason: string
  readonly message: string
}

/** The seed's `SyncGeneration`: one run of a conduit. */
export interface Generation {
  readonly generation: number
  readonly startedAt: Date
  readonly completedAt: Date | null
  /**
   * `running` until the run ends; `completed` when verified, else `failed`; `paused` or
   * `cancelled` when its job was stopped at a checkpoint; `interrupted` if the process died.
   */
  readonly status: "running" | "completed" | "failed" | "paused" | "cancelled" | "interrupted"
  readonly filesCopied: number
  readonly filesDeleted: number
  readonly filesMoved: number
  readonly conflictsResolved: number
  readonly bytesTransferred: number
  readonly errors: ReadonlyArray<GenerationError>
  /** `verified`: a fresh resolve after the run was empty; `not-verified`: it was not. */
  readonly verification: "pending" | "verified" | "not-verified"
  /** Operations the fresh resolve still planned. */
  readonly remaining: number
}

/** A conflict a run decided. */
export interface ConflictRecord {
  readonly conduit: string
  readonly generation: number
  readonly path: string
  readonly reason: Plan.ConflictReason
  readonly winner: Plan.Side
  readonly resolution: Plan.Conflict["resolution"]
  readonly sourceHash: string | null
  readonly targetHash: string | null
  readonly createdAt: Date
}

/** Options of a run. */
export interface RunOptions {
  /** Plan with this mode instead of the conduit's (dry runs of another mode). */
  readonly mode?: string
  /** Plan only: change nothing on disk and record no generation. */
  readonly dryRun?: boolean
  /** Run although a plan guard refuses. */
  readonly force?: boolean
  readonly onProgress?: (done: number, total: number, bytes: number) => void
}

/** What a run did. */
export interface RunResult {
  readonly conduit: Conduit
  /** The generation recorded; null on a dry run. */
  readonly generation: Generation | null
  readonly plan: Plan.Plan
  readonly report: LocalPlanRunner.RunReport | null
  readonly verified: boolean
  readonly remaining: number
  /** On a dry run: the guard that would refuse the plan. */
  readonly refusal: Planner.PlanGuardError | null
  readonly durationMs: number
  /** The `FileSyncJob` that ran it (null on a dry run) and how the job ended. */
  readonly job: { readonly id: string; readonly status: JobRuntime.JobStatus } | null
  /** A selective conduit's cache step after a verified run (null for other modes, or none). */
  readonly cache?: CacheOutcome | null
}

/** What a selective conduit's cache step did after its verified run. */
export interface CacheOutcome {
  /** The local budget the policy planned for, in bytes (null: no budget, only pins and asked-for fetches). */
  readonly limitBytes: number | null
  readonly localBytesBefore: number
  readonly localBytesAfter: number
  /** Files evicted: their secondary copy verified, the local copy removed, the index row kept as `remote`. */
  readonly evicted: ReadonlyArray<{ readonly path: string; readonly size: number; readonly reason: string }>
  /** Files fetched back (pinned, asked for, or hot). */
  readonly fetched: ReadonlyArray<{ readonly path: string; readonly size: number; readonly reason: string }>
  /** Files the plan chose that could not be evicted or fetched, and why. */
  readonly skipped: ReadonlyArray<{ readonly path: string; readonly reason: string; readonly message: string }>
  /** The policy's warnings (pins over the budget: pins win; not enough verified copies to evict). */
  readonly warnings: ReadonlyArray<{ readonly reason: string; readonly message: string }>
}

/** What a selective conduit's next cache step would do (`conduit cache ID`), nothing changed. */
export interface CachePreview {
  readonly conduit: Conduit
  readonly limitBytes: number | null
  readonly localBytes: number
  readonly evict: ReadonlyArray<{ readonly path: string; readonly size: number; readonly reason: string }>
  readonly fetch: ReadonlyArray<{ readonly path: string; readonly size: number; readonly reason: string }>
  /** Local files without a verified copy on the secondary: never evicted until they have one. */
  readonly unverified: ReadonlyArray<string>
  readonly warnings: ReadonlyArray<{ readonly reason: string; readonly message: string }>
}

/** What `fetch` brought back. */
export interface FetchResult {
  readonly conduit: Conduit
  readonly path: string
  readonly size: number
  /** Its BLAKE3 (null for a file not indexed yet). */
  readonly hash: string | null
  /** False when the file was local already (nothing was copied). */
  readonly fetched: boolean
  readonly durationMs: number
}

/** The job kind of a conduit's run in the job runtime. */
export const FileSyncJob = "FileSyncJob"

/** A `FileSyncJob`'s stored input: the conduit, and the run options that outlive the process. */
export interface FileSyncPayload {
  readonly conduit: string
  readonly force: boolean
}

/** A `FileSyncJob`'s checkpoint: the generation running and how far its plan got. */
export interface FileSyncCheckpoint {
  readonly generation: number
  readonly done: number
  readonly total: number
}

/** The errors of conduit operations. */
export type ConduitError =
  | SyncError
  | Errors.LocationError
  | Errors.LibraryError
  | Errors.HashError
  | Errors.PathError
  | ModeRegistry.ModeError
  | Planner.PlanGuardError
  | FileOpError.FileOpError

/** Conduits of this device. */
export class Conduits extends Context.Tag("@conduit/sync/Conduits")<Conduits, {
  /**
   * Creates a conduit between two existing directories (added as locations when they are in
   * none). Refuses the same directory twice, one inside the other, a pair that already has a
   * conduit (either way round) and an unknown mode.
   */
  readonly create: (source: EndpointInput, target: EndpointInput, settings: Partial<ConduitSettings> & { readonly mode: string }) => Effect.Effect<Conduit, ConduitError>
  /**
   * The conduit between two directories, created as needed; an existing one is switched to
   * `mode` unless `switchMode` is false.
   */
  readonly ensure: (source: EndpointInput, target: EndpointInput, mode: string, switchMode?: boolean) => Effect.Effect<Conduit, ConduitError>
  readonly list: Effect.Effect<ReadonlyArray<Conduit>, ConduitError>
  /** A conduit by id (or an unambiguous id prefix). */
  readonly get: (id: string) => Effect.Effect<Conduit, ConduitError>
  readonly update: (id: string, settings: Partial<ConduitSettings>) => Effect.Effect<Conduit, ConduitError>
  /** Removes a conduit and its history; the files are not touched. */
  readonly remove: (id: string) => Effect.Effect<Conduit, ConduitError>
  /**
   * Runs a conduit once (see the module comment) as a `FileSyncJob` of the job runtime: a job
   * of this conduit left unfinished (paused, or running in a process that died) is resumed,
   * else a new one is queued. The job can be paused or cancelled from any process; a stopped
   * run ends at its next checkpoint with `job.status` saying so. A dry run is no job.
   */
  readonly run: (id: string, options?: RunOptions) => Effect.Effect<RunResult, ConduitError>
  /** Runs a `FileSyncJob` by its job id (resume of a paused or interrupted one). */
  readonly runJob: (jobId: string, options?: Pick<RunOptions, "onProgress">) => Effect.Effect<RunResult, ConduitError | JobRuntime.JobError>
  /**
   * Brings an evicted file of a selective conduit's source back from its secondary, verified
   * by BLAKE3 (`conduit get`), and records the open. A file that is local already is only
   * recorded. When the secondary cannot be reached the fetch is remembered (the next run of
   * the conduit does it) and this fails with `SecondaryUnavailable`.
   */
  readonly fetch: (absolutePath: string, options?: Pick<RunOptions, "onProgress">) => Effect.Effect<FetchResult, ConduitError>
  /**
   * What a selective conduit's cache step would evict and fetch now, by its policy and budget,
   * from the index (a paired secondary's as last pulled); changes nothing.
   */
  readonly cachePreview: (id: string) => Effect.Effect<CachePreview, ConduitError>
  /** The selective conduit whose source (primary) holds an absolute path, if any. */
  readonly selectiveOf: (absolutePath: string) => Effect.Effect<Option.Option<{ readonly conduit: Conduit; readonly path: RelPath.RelPath }>, ConduitError>
  /** Generations of a conduit, newest first. */
  readonly history: (id: string) => Effect.Effect<ReadonlyArray<Generation>, ConduitError>
  /** Conflicts, newest first; of one conduit or of all. */
  readonly conflicts: (id?: string) => Effect.Effect<ReadonlyArray<ConflictRecord>, ConduitError>
}>() {}

const defaults: Omit<ConduitSettings, "mode"> = {
  enabled: true,
  schedule: "manual",
  useIndexRules: true,
  indexModeOverride: null,
  parallelTransfers: 4,
  bandwidthLimitMbps: null,
  conflictStrategy: "last-write-wins",
  maxDeleteRatio: 0.5,
  versionRetentionDays: 30,
  cacheMaxBytes: null,
  cacheMinFreeBytes: null,
  cacheMinFreePercent: null,
  cachePolicy: "decayed-frequency"
}

interface ConduitRow {
  readonly id: number
  readonly uuid: string
  readonly source_location_id: number
  readonly source_dir: string
  readonly target_location_id: number
  readonly target_dir: string
  readonly mode: string
  readonly enabled: number
  readonly schedule: string
  readonly use_index_rules: number
  readonly index_mode_override: string | null
  readonly parallel_transfers: number
  readonly bandwidth_limit_mbps: number | null
  readonly conflict_strategy: string
  readonly max_delete_ratio: number
  readonly version_retention_days: number
  readonly cache_max_bytes: number | null
  readonly cache_min_free_bytes: number | null
  readonly cache_min_free_percent: number | null
  readonly cache_policy: string
  readonly last_sync_completed_at: number | null
  readonly sync_generation: number
  readonly source_mark: number | null
  readonly target_mark: number | null
  readonly created_at: number
  readonly updated_at: number
}

interface GenerationRow {
  readonly generation: number
  readonly started_at: number
  readonly completed_at: number | null
  readonly status: Generation["status"]
  readonly files_copied: number
  readonly files_deleted: number
  readonly files_moved: number
  readonly conflicts_resolved: number
  readonly bytes_transferred: number
  readonly errors: string
  readonly verification: Generation["verification"]
  readonly remaining: number
}

const toGeneration = (r: GenerationRow): Generation => ({
  generation: r.generation,
  startedAt: new Date(r.started_at),
  completedAt: r.completed_at === null ? null : new Date(r.completed_at),
  status: r.status,
  filesCopied: r.files_copied,
  filesDeleted: r.files_deleted,
  filesMoved: r.files_moved,
  conflictsResolved: r.conflicts_resolved,
  bytesTransferred: r.bytes_transferred,
  errors: JSON.parse(r.errors) as Array<GenerationError>,
  verification: r.verification,
  remaining: r.remaining
})

/** The settings as `sync_conduits` columns. */
const settingsColumns = (settings: ConduitSettings) => ({
  mode: settings.mode,
  enabled: settings.enabled ? 1 : 0,
  schedule: settings.schedule,
  use_index_rules: settings.useIndexRules ? 1 : 0,
  index_mode_override: settings.indexModeOverride,
  parallel_transfers: settings.parallelTransfers,
  bandwidth_limit_mbps: settings.bandwidthLimitMbps,
  conflict_strategy: settings.conflictStrategy,
  max_delete_ratio: settings.maxDeleteRatio,
  version_retention_days: settings.versionRetentionDays,
  cache_max_bytes: settings.cacheMaxBytes,
  cache_min_free_bytes: settings.cacheMinFreeBytes,
  cache_min_free_percent: settings.cacheMinFreePercent,
  cache_policy: settings.cachePolicy
})

/** A path relative to an endpoint directory, as a path of its location. */
const under = (dir: RelPath.RelPath, path: RelPath.RelPath): RelPath.RelPath =>
  (dir === "" ? path : path === "" ? dir : `${dir}/${path}`) as RelPath.RelPath

/**
 * A conduit as a JSON document: its endpoints (path, location root, directory inside it,
 * location id), every setting and where its runs are (the CLI's `--json` and the control API).
 */
export const toDocument = (c: Conduit) => ({
  id: c.id,
  source: endpointDocument(c.source),
  target: endpointDocument(c.target),
  mode: c.mode,
  enabled: c.enabled,
  schedule: c.schedule,
  parallelTransfers: c.parallelTransfers,
  maxDeleteRatio: c.maxDeleteRatio,
  versionRetentionDays: c.versionRetentionDays,
  cacheMaxBytes: c.cacheMaxBytes,
  cacheMinFreeBytes: c.cacheMinFreeBytes,
  cacheMinFreePercent: c.cacheMinFreePercent,
  cachePolicy: c.cachePolicy,
  useIndexRules: c.useIndexRules,
  indexModeOverride: c.indexModeOverride,
  bandwidthLimitMbps: c.bandwidthLimitMbps,
  conflictStrategy: c.conflictStrategy,
  generation: c.syncGeneration,
  lastSyncCompletedAt: c.lastSyncCompletedAt === null ? null : c.lastSyncCompletedAt.toISOString(),
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString()
})

/**
 * How long a generation took; null while it runs, and for a run the process did not live to
 * finish (its completion time is when the next process noticed).
 */
export const generationDurationMs = (g: Generation): number | null =>
  g.completedAt === null || g.status === "interrupted" ? null : g.completedAt.getTime() - g.startedAt.getTime()

/** A generation as a JSON document (`conduit history --json` and the control API). */
export const generationDocument = (g: Generation) => ({
  generation: g.generation,
  status: g.status,
  startedAt: g.startedAt.toISOString(),
  completedAt: g.completedAt === null ? null : g.completedAt.toISOString(),
  durationMs: generationDurationMs(g),
  filesCopied: g.filesCopied,
  filesDeleted: g.filesDeleted,
  filesMoved: g.filesMoved,
  bytesTransferred: g.bytesTransferred,
  conflictsResolved: g.conflictsResolved,
  verification: g.verification,
  remaining: g.remaining,
  errors: g.errors.map((e) => ({ path: e.path, reason: e.reason, message: e.message }))
})

const endpointDocument = (e: ConduitEndpoint) => ({ path: e.path, root: e.location.root, dir: e.dir, location: e.location.id })

/** An endpoint as people name it: the path, with the paired device's name for a remote one. */
const endpointName = (at: ConduitEndpoint) => (at.peer === null ? at.path : `${at.peer.name}:${at.path}`)

const within = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(Path.sep) ? dir : dir + Path.sep)

/** Builds the service; runs this package's migrations on the library. */
export const make: Effect.Effect<
  Conduits["Type"],
  Errors.LibraryError,
  | SqlClient.SqlClient
  | LibraryDatabase.LibraryDatabase
  | Locations.Locations
  | Indexer.Indexer
  | IndexStore.IndexStore
  | Hasher.Hasher
  | IndexDiff.IndexDiff
  | ModeRegistry.ModeRegistry
  | JobRuntime.JobRuntime
  | CachePolicyRegistry.CachePolicyRegistry
  | SelectiveStore.SelectiveStore
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const store = yield* IndexStore.IndexStore
  const hasher = yield* Hasher.Hasher
  const diff = yield* IndexDiff.IndexDiff
  const registry = yield* ModeRegistry.ModeRegistry
  const policies = yield* CachePolicyRegistry.CachePolicyRegistry
  const selective = yield* SelectiveStore.SelectiveStore
  const jobs = yield* JobRuntime.JobRuntime
  // Provided where this process talks to peers (the daemon): conduits with a peer's endpoint.
  const peerLink = yield* Effect.serviceOption(PeerLink)
  // Provided where events are watched (the daemon): what happens is published there.
  const events = yield* Effect.serviceOption(ConduitEvents)
  const publish = (event: Parameters<ConduitEvents["Type"]["publish"]>[0]) =>
    Option.isSome(events) ? events.value.publish(event) : Effect.void
  const lib = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, unknown> | Errors.LibraryError, R> =>
    Effect.mapError(effect, (e) => (e instanceof Errors.LibraryError ? e : LibraryDatabase.toLibraryError(e, db.file)))

  yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "conduit_sync_migrations" }).pipe(
    Effect.mapError((cause) => new Errors.LibraryError({ reason: "Migration", path: db.file, cause }))
  )
  // A run whose process died is not running any more.
  const alive = JobRuntime.alive
  const reapInterrupted = Effect.gen(function* () {
    const rows = yield* lib(sql<{ id: number; pid: number | null; token: string | null }>`SELECT id, pid, token FROM sync_generations WHERE status = 'running'`)
    const dead = rows.filter((r) => !alive(r.pid))
    for (const r of dead) yield* lib(sql`UPDATE sync_generations SET status = 'interrupted', completed_at = ${Date.now()} WHERE id = ${r.id}`)
    return new Set(rows.filter((r) => alive(r.pid)).map((r) => r.token))
  })
  yield* reapInterrupted

  /** Removes temporary files that no running generation owns (a killed run's leftovers). */
  const removeLeftovers = (root: string, partials: ReadonlyArray<string>, live: ReadonlySet<string | null>) =>
    Effect.sync(() => {
      for (const partial of partials) {
        // A transfer's partial file keeps verified blocks for a resume; its receiver owns it.
        if (Path.basename(partial).startsWith(".conduit-tmp-part-")) continue
        if (live.has(LocalFiles.tokenOf(Path.basename(partial)))) continue
        try {
          Fs.rmSync(Path.join(root, partial), { force: true })
        } catch {
          // left for the next run
        }
      }
    })

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

  const endpointOf = (absolute: string) =>
    locations.resolve(absolute).pipe(
      Effect.map(({ location, path }) => ({ location, dir: path })),
      Effect.catchIf(
        (e): e is Errors.PathError => e._tag === "PathError" && e.reason === "OutsideLocations",
        () => Effect.map(locations.add(absolute), (location) => ({ location, dir: RelPath.root }))
      )
    )

  const toConduit = (row: ConduitRow) =>
    Effect.gen(function* () {
      const endpointOfRow = (rowId: number, dir: string) =>
        Effect.gen(function* () {
          const [owner] = yield* lib(sql<{ uuid: string; device: string; peer_id: string | null; name: string; is_self: number }>`
            SELECT l.uuid, d.uuid AS device, d.peer_id, d.name, d.is_self FROM locations l JOIN devices d ON d.id = l.device_id WHERE l.id = ${rowId}`)
          const location = yield* locations.get(owner!.uuid as Ids.LocationId)
          return {
            location,
            dir: dir as RelPath.RelPath,
            path: dir === "" ? location.root : Path.posix.join(location.root, dir),
            peer: owner!.is_self === 1 ? null : { device: owner!.device, peerId: owner!.peer_id, name: owner!.name }
          } satisfies ConduitEndpoint
        })
      const conduit: Conduit = {
        id: row.uuid,
        rowId: row.id,
        source: yield* endpointOfRow(row.source_location_id, row.source_dir),
        target: yield* endpointOfRow(row.target_location_id, row.target_dir),
        mode: row.mode,
        enabled: row.enabled === 1,
        schedule: row.schedule,
        useIndexRules: row.use_index_rules === 1,
        indexModeOverride: row.index_mode_override as ConduitSettings["indexModeOverride"],
        parallelTransfers: row.parallel_transfers,
        bandwidthLimitMbps: row.bandwidth_limit_mbps,
        conflictStrategy: "last-write-wins",
        maxDeleteRatio: row.max_delete_ratio,
        versionRetentionDays: row.version_retention_days,
        cacheMaxBytes: row.cache_max_bytes,
        cacheMinFreeBytes: row.cache_min_free_bytes,
        cacheMinFreePercent: row.cache_min_free_percent,
        cachePolicy: row.cache_policy,
        lastSyncCompletedAt: row.last_sync_completed_at === null ? null : new Date(row.last_sync_completed_at),
        syncGeneration: row.sync_generation,
        createdAt: new Date(row.created_at),
        updatedAt: new Date(row.updated_at)
      }
      return conduit
    })

  // A conduit whose location was removed (conduit location rm) has nothing left to sync:
  // it goes with its history and baseline.
  const pruneOrphans = lib(sql.withTransaction(Effect.gen(function* () {
    const orphans = yield* sql<{ id: number; uuid: string }>`SELECT id, uuid FROM sync_conduits
      WHERE source_location_id NOT IN (SELECT id FROM locations) OR target_location_id NOT IN (SELECT id FROM locations)`
    for (const o of orphans) {
      yield* sql`DELETE FROM sync_baselines WHERE pair = ${o.uuid}`
      yield* sql`DELETE FROM sync_conflicts WHERE conduit_id = ${o.id}`
      yield* sql`DELETE FROM sync_generations WHERE conduit_id = ${o.id}`
      yield* sql`DELETE FROM sync_conduits WHERE id = ${o.id}`
    }
  })))

  const list = Effect.zipRight(pruneOrphans, lib(sql<ConduitRow>`SELECT * FROM sync_conduits ORDER BY created_at`)).pipe(
    Effect.flatMap((rows) => Effect.forEach(rows, toConduit))
  )

  const get = (id: string) =>
    Effect.gen(function* () {
      yield* pruneOrphans
      const rows = yield* lib(sql<ConduitRow>`SELECT * FROM sync_conduits WHERE uuid = ${id} OR uuid LIKE ${`${id.replace(/[%_]/g, "")}%`}`)
      const exact = rows.find((r) => r.uuid === id)
      if (exact !== undefined) return yield* toConduit(exact)
      if (rows.length !== 1 || id.length < 4) return yield* new SyncError({ reason: "NotFound", path: id })
      return yield* toConduit(rows[0]!)
    })

  const validate = (settings: Partial<ConduitSettings>) =>
    Effect.gen(function* () {
      if (settings.mode !== undefined) yield* registry.get(settings.mode)
      if (settings.cachePolicy !== undefined) {
        yield* Effect.mapError(policies.get(settings.cachePolicy), () => new SyncError({ reason: "UnknownPolicy", path: settings.cachePolicy! }))
      }
      const bytes = (name: string, value: number | null | undefined) =>
        value === undefined || value === null || (Number.isSafeInteger(value) && value >= 0)
          ? Effect.void
          : Effect.fail(new SyncError({ reason: "InvalidBudget", path: `${name} must be a whole number of bytes, 0 or more (got ${value})` }))
      yield* bytes("the local size limit", settings.cacheMaxBytes)
      yield* bytes("the free space to keep", settings.cacheMinFreeBytes)
      const percent = settings.cacheMinFreePercent
      if (percent !== undefined && percent !== null && !(Number.isFinite(percent) && percent >= 0 && percent <= 100)) {
        yield* new SyncError({ reason: "InvalidBudget", path: `the share of the volume to keep free is 0 to 100 % (got ${percent})` })
      }
    })

  const findPair = (source: { location: Locations.Location; dir: string }, target: { location: Locations.Location; dir: string }) =>
    lib(sql<ConduitRow>`SELECT * FROM sync_conduits WHERE
      (source_location_id = ${source.location.rowId} AND source_dir = ${source.dir} AND target_location_id = ${target.location.rowId} AND target_dir = ${target.dir})
      OR (source_location_id = ${target.location.rowId} AND source_dir = ${target.dir} AND target_location_id = ${source.location.rowId} AND target_dir = ${source.dir})`)

  /** The replica location of a paired device that holds `input.path`, and the directory in it. */
  const peerEndpoint = (input: PeerPath) =>
    Effect.gen(function* () {
      const named = `${input.peer}:${input.path}`
      // By PeerId, device id or device name — or by the name given when pairing, when the
      // transport's pairing table is in this library.
      const pairing = yield* lib(sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'transport_peers'`)
      const byPairingName = pairing[0]!.n > 0
        ? sql`OR peer_id IN (SELECT peer_id FROM transport_peers WHERE name = ${input.peer} AND revoked = 0)`
        : sql``
      const devices = yield* lib(sql<{ id: number }>`SELECT id FROM devices
        WHERE is_self = 0 AND (peer_id = ${input.peer} OR uuid = ${input.peer} OR name = ${input.peer} ${byPairingName})`)
      if (devices.length !== 1) return yield* new SyncError({ reason: "UnknownPeer", path: input.peer })
      const absolute = Path.posix.normalize(input.path)
      if (!Path.posix.isAbsolute(absolute)) return yield* new Errors.PathError({ reason: "Invalid", path: named })
      const roots = yield* lib(sql<{ uuid: string; root: string }>`SELECT uuid, root FROM locations WHERE device_id = ${devices[0]!.id}`)
      const holder = roots
        .filter((r) => absolute === r.root || absolute.startsWith(r.root.endsWith("/") ? r.root : `${r.root}/`))
        .sort((a, b) => b.root.length - a.root.length)[0]
      if (holder === undefined) return yield* new SyncError({ reason: "PeerPathUnknown", path: named })
      const rel = absolute === holder.root ? "" : absolute.slice(holder.root.length).replace(/^\/+/, "")
      const dir = RelPath.parse(rel)
      if (Either.isLeft(dir)) return yield* dir.left
      return { location: yield* locations.get(holder.uuid as Ids.LocationId), dir: dir.right }
    })

  const endpoints = (sourceInput: EndpointInput, targetInput: EndpointInput) =>
    Effect.gen(function* () {
      if (typeof sourceInput !== "string" && typeof targetInput !== "string") {
        return yield* new SyncError({ reason: "BothRemote", path: `${sourceInput.peer}:${sourceInput.path}` })
      }
      if (typeof sourceInput !== "string" || typeof targetInput !== "string") {
        const local = (input: EndpointInput) => (typeof input === "string" ? Effect.flatMap(directory(input), endpointOf) : peerEndpoint(input))
        return { source: yield* local(sourceInput), target: yield* local(targetInput) }
      }
      const sourcePath = yield* directory(sourceInput)
      const targetPath = yield* directory(targetInput)
      if (sourcePath === targetPath) return yield* new SyncError({ reason: "SamePath", path: sourcePath })
      if (within(sourcePath, targetPath) || within(targetPath, sourcePath)) {
        return yield* new SyncError({ reason: "Nested", path: within(sourcePath, targetPath) ? sourcePath : targetPath })
      }
      return { source: yield* endpointOf(sourcePath), target: yield* endpointOf(targetPath) }
    })

  const insert = (
    source: { location: Locations.Location; dir: string },
    target: { location: Locations.Location; dir: string },
    settings: ConduitSettings
  ) =>
    Effect.gen(function* () {
      const uuid = crypto.randomUUID()
      const now = Date.now()
      yield* lib(sql`INSERT INTO sync_conduits ${
        sql.insert({
          uuid,
          source_location_id: source.location.rowId,
          source_dir: source.dir,
          target_location_id: target.location.rowId,
          target_dir: target.dir,
          ...settingsColumns(settings),
          created_at: now,
          updated_at: now
        })
      }`)
      const conduit = yield* get(uuid)
      yield* publish({
        _tag: "ConduitCreated",
        at: conduit.createdAt,
        conduit: conduit.id,
        source: endpointName(conduit.source),
        target: endpointName(conduit.target),
        mode: conduit.mode,
        schedule: conduit.schedule
      })
      return conduit
    })

  const create = Effect.fn("Conduits.create")(function* (sourceInput: EndpointInput, targetInput: EndpointInput, settings: Partial<ConduitSettings> & { readonly mode: string }) {
    yield* validate(settings)
    const { source, target } = yield* endpoints(sourceInput, targetInput)
    if (settings.mode === Modes.selective.name && typeof sourceInput !== "string") {
      return yield* new SyncError({ reason: "SelectiveSourceRemote", path: `${sourceInput.peer}:${sourceInput.path}` })
    }
    const existing = yield* findPair(source, target)
    if (existing.length > 0) return yield* new SyncError({ reason: "Duplicate", path: existing[0]!.uuid })
    return yield* insert(source, target, { ...defaults, ...settings })
  })

  const ensure = Effect.fn("Conduits.ensure")(function* (sourceInput: EndpointInput, targetInput: EndpointInput, mode: string, switchMode = true) {
    yield* registry.get(mode)
    const { source, target } = yield* endpoints(sourceInput, targetInput)
    const existing = yield* findPair(source, target)
    const same = existing.find((r) =>
      r.source_location_id === source.location.rowId && r.source_dir === source.dir && r.target_location_id === target.location.rowId && r.target_dir === target.dir
    )
    if (same === undefined && existing.length > 0) return yield* new SyncError({ reason: "Duplicate", path: existing[0]!.uuid })
    if (same === undefined) return yield* insert(source, target, { ...defaults, mode })
    if (same.mode !== mode && switchMode) return yield* update(same.uuid, { mode })
    return yield* toConduit(same)
  })

  const update = (id: string, settings: Partial<ConduitSettings>) =>
    Effect.gen(function* () {
      yield* validate(settings)
      const conduit = yield* get(id)
      const next = { ...conduit, ...settings }
      yield* lib(sql`UPDATE sync_conduits SET ${
        sql.update({ ...settingsColumns(next), updated_at: Date.now() })
      } WHERE id = ${conduit.rowId}`)
      const updated = yield* get(conduit.id)
      yield* publish({ _tag: "ConduitUpdated", at: updated.updatedAt, conduit: updated.id, mode: updated.mode, enabled: updated.enabled, schedule: updated.schedule })
      return updated
    }).pipe(Effect.withSpan("Conduits.update"))

  const remove = (id: string) =>
    Effect.gen(function* () {
      const conduit = yield* get(id)
      yield* lib(sql.withTransaction(Effect.gen(function* () {
        yield* sql`DELETE FROM sync_baselines WHERE pair = ${conduit.id}`
        yield* sql`DELETE FROM sync_conflicts WHERE conduit_id = ${conduit.rowId}`
        yield* sql`DELETE FROM sync_generations WHERE conduit_id = ${conduit.rowId}`
        yield* sql`DELETE FROM sync_conduits WHERE id = ${conduit.rowId}`
      })))
      yield* publish({ _tag: "ConduitRemoved", conduit: conduit.id })
      return conduit
    }).pipe(Effect.withSpan("Conduits.remove"))

  // -- running ------------------------------------------------------------------------------------

  const baselineLoader = (pair: string): IndexDiff.BaselineLoader => (paths) =>
    lib(Effect.gen(function* () {
      const map = new Map<string, Fingerprint.Fingerprint>()
      for (let i = 0; i < paths.length; i += 500) {
        const rows = yield* sql<{ path: string; kind: 0 | 1 | 2; size: number; mtime_s: number; mtime_ns: number; mode: number | null; hash: string | null; link_target: string | null }>`
          SELECT path, kind, size, mtime_s, mtime_ns, mode, hash, link_target FROM sync_baselines
          WHERE pair = ${pair} AND path IN (SELECT value FROM json_each(${JSON.stringify(paths.slice(i, i + 500))}))`
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

  /** After a verified run both sides are equal: the source side becomes the baseline. */
  const recordBaseline = (pair: string, endpoint: ConduitEndpoint) =>
    lib(sql.withTransaction(Effect.gen(function* () {
      yield* sql`DELETE FROM sync_baselines WHERE pair = ${pair}`
      const rel = endpoint.dir === "" ? sql.literal("path") : sql`substr(path, ${endpoint.dir.length + 2})`
      const range = endpoint.dir === "" ? sql`` : sql`AND path >= ${endpoint.dir + "/"} AND path < ${endpoint.dir + "0"}`
      yield* sql`INSERT INTO sync_baselines (pair, path, kind, size, mtime_s, mtime_ns, mode, hash, link_target)
        SELECT ${pair}, ${rel}, kind, size, mtime_s, mtime_ns, mode, hash, link_target FROM entries
        WHERE location_id = ${endpoint.location.rowId} AND tombstone = 0 ${range}`
    })))

  const liveEntries = (endpoint: ConduitEndpoint) =>
    endpoint.dir === ""
      ? Effect.map(store.totals(endpoint.location), (t) => t.files + t.directories + t.symlinks)
      : Stream.runCount(store.entriesUnder(endpoint.location, endpoint.dir))

  const running = new Set<string>()

  /**
   * Brings the index in line with what a run wrote: only the directories it touched are read
   * again (shallowly; a new directory is walked whole), and the files it copied take the digest
   * their copy was verified against instead of being read once more.
   */
  const reindexTouched = (conduit: Conduit, plan: Plan.Plan, report: LocalPlanRunner.RunReport) =>
    Effect.gen(function* () {
      const failed = new Set(report.skipped.map((s) => s.operation))
      const dirs = { source: new Set<RelPath.RelPath>(), target: new Set<RelPath.RelPath>() }
      const known = { source: new Map<string, Indexer.KnownHash>(), target: new Map<string, Indexer.KnownHash>() }
      const endpoint = (side: Plan.Side) => (side === "source" ? conduit.source : conduit.target)
      const touch = (side: Plan.Side, path: RelPath.RelPath) => dirs[side].add(under(endpoint(side).dir, RelPath.parent(path)))
      for (const op of plan.operations) {
        switch (op._tag) {
          case "Copy":
            touch(op.to, op.path)
            if (op.entry.kind === 0 && op.entry.hash !== null && !failed.has(op)) {
              known[op.to].set(under(endpoint(op.to).dir, op.path), { hash: op.entry.hash, size: op.entry.size, mtimeNs: op.entry.mtimeNs })
            }
            break
          case "Move":
            touch(op.side, op.from)
            touch(op.side, op.to)
            break
          default:
            touch(op.side, op.path)
        }
      }
      for (const side of ["source", "target"] as const) {
        if (dirs[side].size === 0) continue
        const at = endpoint(side)
        if (at.peer !== null) {
          // The peer indexes its own disk; its changes come back with library sync.
          yield* linkOf(at).pipe(
            Effect.flatMap((link) => link.reindex(at.peer!.peerId!, at.location.id, [...dirs[side]])),
            Effect.mapError((e) => new SyncError({ reason: "PeerUnreachable", path: `${at.peer!.name}: ${e.message}` }))
          )
          continue
        }
        // An emptied root here is this run's doing (archive), not an unmounted disk.
        yield* indexer.scan(endpoint(side).location.id, {
          paths: [...dirs[side]],
          recursive: false,
          allowEmptyRoot: true,
          knownHashes: known[side]
        })
      }
    })

  /** The link to the peer of a remote endpoint; a conduit with one cannot run without it. */
  const linkOf = (at: ConduitEndpoint): Effect.Effect<PeerLink["Type"], SyncError> =>
    Option.isSome(peerLink) && at.peer?.peerId != null
      ? Effect.succeed(peerLink.value)
      : Effect.fail(new SyncError({ reason: "PeerUnavailable", path: at.peer?.name ?? at.path }))

  /**
   * A side of the plan runner: this device's file system, or the peer's route (its pushes
   * limited to `limit` megabits per second when the conduit has a bandwidth limit).
   */
  const runnerEndpoint = (at: ConduitEndpoint, limit: number | null = null) =>
    at.peer === null
      ? Effect.succeed<LocalPlanRunner.Endpoint>({ root: at.location.root, dir: at.dir, location: at.location.id })
      : Effect.map(
        Effect.flatMap(linkOf(at), (link) =>
          link.route(at.peer!.peerId!, at.location.id, limit === null ? {} : { bytesPerSecond: (limit * 1_000_000) / 8 })),
        (route): LocalPlanRunner.Endpoint => ({ root: at.location.root, dir: at.dir, route })
      )

  const runUnlocked = (conduit: Conduit, options: RunOptions, checkpoint?: LocalPlanRunner.RunOptions["checkpoint"]) =>
    Effect.gen(function* () {
      const started = performance.now()
      const mode = yield* registry.get(options.mode ?? conduit.mode)
      const { source, target } = conduit
      // A peer's side is not scanned here: its index is pulled until caught up (the gate).
      for (const at of [source, target]) {
        if (at.peer === null) continue
        const link = yield* linkOf(at)
        const synced = yield* link.refresh(at.peer.peerId!, at.location.id).pipe(
          Effect.mapError((e) => new SyncError({ reason: "PeerUnreachable", path: `${at.peer!.name}: ${e.message}` }))
        )
        if (!synced) return yield* new SyncError({ reason: "PeerBehind", path: at.peer.name })
      }
      const scanSide = (at: ConduitEndpoint, allowEmptyRoot: boolean) =>
        at.peer !== null ? Effect.succeed(null) : indexer.scan(at.location.id, { paths: [at.dir], allowEmptyRoot })
      const live = yield* reapInterrupted
      const sourceScan = yield* scanSide(source, options.force === true)
      const targetScan = yield* scanSide(target, options.force === true || conduit.syncGeneration === 0)
      if (options.dryRun !== true) {
        if (sourceScan !== null) yield* removeLeftovers(source.location.root, sourceScan.partials, live)
        if (targetScan !== null) yield* removeLeftovers(target.location.root, targetScan.partials, live)
      }
      const diffOptions: IndexDiff.DiffOptions = {
        ...(mode.usesBaseline ? { baseline: baselineLoader(conduit.id) } : {}),
        ...(mode.actsOnEqualPaths === true ? { includeEqual: true } : {})
      }
      // After a verified run both sides were equal: only what changed since can differ now, so
      // the resolve reads just those paths. Modes that act on equal paths read everything.
      const [marked] = yield* lib(sql<{ source_mark: number | null; target_mark: number | null }>`
        SELECT source_mark, target_mark FROM sync_conduits WHERE id = ${conduit.rowId}`)
      const marks = marked?.source_mark == null || marked.target_mark == null || mode.actsOnEqualPaths === true
        ? null
        : { source: marked.source_mark, target: marked.target_mark }
      const differences = marks === null ? diff.full(source, target, diffOptions) : diff.since(source, target, marks, diffOptions)
      const resolve = Effect.map(Stream.runCollect(differences), (states) => Planner.plan(mode, Chunk.toReadonlyArray(states)))
      const plan = yield* resolve
      const endpointState = (endpoint: ConduitEndpoint) =>
        Effect.map(liveEntries(endpoint), (entries) =>
          endpoint.peer !== null
            // The peer's own scans guard its roots; here its index is what there is.
            ? { entries, rootPresent: true, rootEmpty: entries === 0 }
            : {
              entries,
              rootPresent: Fs.existsSync(endpoint.path),
              rootEmpty: Fs.readdirSync(endpoint.path).filter((n) => n !== ".conduit").length === 0
            })
      const guarded = Planner.guard(plan, { source: yield* endpointState(source), target: yield* endpointState(target) }, {
        maxDeleteRatio: conduit.maxDeleteRatio,
        ...(options.force === undefined ? {} : { force: options.force })
      })
      if (options.dryRun === true) {
        return {
          conduit,
          generation: null,
          plan,
          report: null,
          verified: plan.operations.length === 0,
          remaining: plan.operations.length,
          refusal: Either.isLeft(guarded) ? guarded.left : null,
          durationMs: Math.round(performance.now() - started),
          job: null
        } satisfies RunResult
      }
      if (Either.isLeft(guarded)) return yield* guarded.left

      // One run per conduit across processes too: a live process's running generation wins.
      const others = yield* lib(sql<{ pid: number | null }>`SELECT pid FROM sync_generations WHERE conduit_id = ${conduit.rowId} AND status = 'running'`)
      if (others.some((r) => r.pid !== process.pid && alive(r.pid))) return yield* new SyncError({ reason: "Busy", path: conduit.id })

      const generation = conduit.syncGeneration + 1
      const token = Crypto.randomBytes(4).toString("hex")
      yield* lib(sql`INSERT INTO sync_generations ${
        sql.insert({ conduit_id: conduit.rowId, generation, started_at: Date.now(), status: "running", pid: process.pid, token })
      }`)
      yield* lib(sql`UPDATE sync_conduits SET sync_generation = ${generation} WHERE id = ${conduit.rowId}`)

      // Nothing to do: the index, just refreshed, already shows both sides equal — no run, no
      // second scan, no second resolve.
      const idle = plan.operations.length === 0
      const report: LocalPlanRunner.RunReport = idle
        ? { copied: 0, moved: 0, deleted: 0, attributes: 0, bytes: 0, skipped: [], stopped: null }
        : yield* LocalPlanRunner.run(
          plan,
          { source: yield* runnerEndpoint(source, conduit.bandwidthLimitMbps), target: yield* runnerEndpoint(target, conduit.bandwidthLimitMbps) },
          {
            parallel: conduit.parallelTransfers,
            token,
            sameContent: yield* sameContentOf(conduit, plan),
            ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
            ...(checkpoint === undefined ? {} : { checkpoint })
          }
        ).pipe(Effect.provideService(Hasher.Hasher, hasher))
      // A one-way copy also gives the target directory itself the source's time (rsync -a
      // does the same); it is no index entry, so no plan carries it.
      if (!idle && target.peer === null && !mode.usesBaseline && mode.deletesOn.length === 1 && mode.deletesOn[0] === "target") {
        yield* Effect.ignore(Effect.try(() => {
          const ns = Fs.statSync(source.path, { bigint: true }).mtimeNs
          Fs.utimesSync(target.path, Date.now() / 1000, LocalFiles.seconds(ns))
        }))
      }
      if (!idle) yield* reindexTouched(conduit, plan, report)
      const after = idle || report.stopped !== null ? plan : yield* resolve
      const verified = report.stopped === null && after.operations.length === 0
      if (report.stopped === null && !verified) {
        // What was left says why a run did not verify (a file changing under it, a side written meanwhile).
        const sample = after.operations.slice(0, 5).map((op) => `${op._tag} ${"path" in op ? op.path : `${op.from} → ${op.to}`}`)
        yield* Effect.logWarning(`conduit ${conduit.id}: generation ${generation} not verified, ${after.operations.length} operations left (${sample.join("; ")})`)
      }
      const newMarks = verified ? yield* diff.marks(source, target) : null
      // Retention: a completed run removes the versions its locations kept longer than the
      // conduit keeps them (a failure to prune is no failure of the run).
      if (verified && conduit.versionRetentionDays > 0) {
        for (const root of new Set([source.location.root, target.location.root])) {
          yield* Effect.ignore(VersionStore.prune(root, conduit.versionRetentionDays * 86_400_000))
        }
      }
      if (verified && mode.usesBaseline) yield* recordBaseline(conduit.id, source)
      const errors: Array<GenerationError> = report.skipped.map((s) => ({
        path: s.error.path,
        reason: s.error.reason,
        message: s.error.message
      }))
      const completedAt = Date.now()
      yield* lib(sql.withTransaction(Effect.gen(function* () {
        yield* sql`UPDATE sync_generations SET ${
          sql.update({
            completed_at: completedAt,
            status: verified ? "completed" : report.stopped ?? "failed",
            files_copied: report.copied,
            files_deleted: report.deleted,
            files_moved: report.moved,
            conflicts_resolved: plan.conflicts.length,
            bytes_transferred: report.bytes,
            errors: JSON.stringify(errors),
            verification: verified ? "verified" : "not-verified",
            remaining: after.operations.length
          })
        } WHERE conduit_id = ${conduit.rowId} AND generation = ${generation}`
        yield* sql`UPDATE sync_conduits SET ${
          sql.update(newMarks === null
            ? { source_mark: null, target_mark: null }
            : { last_sync_completed_at: completedAt, source_mark: newMarks.source, target_mark: newMarks.target })
        } WHERE id = ${conduit.rowId}`
        if (plan.conflicts.length > 0) {
          yield* sql`INSERT INTO sync_conflicts ${
            sql.insert(plan.conflicts.map((c) => ({
              conduit_id: conduit.rowId,
              generation,
              path: c.path,
              reason: c.reason,
              winner: c.winner,
              resolution: c.resolution,
              source_hash: c.source?.hash ?? null,
              target_hash: c.target?.hash ?? null,
              created_at: completedAt
            })))
          }`
        }
      })))
      const rows = yield* lib(sql<GenerationRow>`SELECT * FROM sync_generations WHERE conduit_id = ${conduit.rowId} AND generation = ${generation}`)
      // Selective: with the secondary now a verified copy, the source keeps only its hot set.
      const cache = verified && mode.name === Modes.selective.name && source.peer === null
        ? yield* cacheStep(conduit, token, options.onProgress)
        : null
      return {
        conduit: yield* get(conduit.id),
        generation: toGeneration(rows[0]!),
        plan,
        report,
        verified,
        remaining: after.operations.length,
        refusal: null,
        durationMs: Math.round(performance.now() - started),
        job: null,
        cache
      } satisfies RunResult
    })

  /**
   * Content the destination's location already has, by BLAKE3, for the plan's file copies: a
   * copy then reads it on the destination's own file system (the candidate is verified like
   * any source, and skipped for the real source if it fails).
   */
  const sameContentOf = (conduit: Conduit, plan: Plan.Plan) =>
    Effect.gen(function* () {
      const wanted = new Map<string, Array<string>>()
      for (const op of plan.operations) {
        if (op._tag !== "Copy" || op.entry.kind !== 0 || op.entry.hash === null) continue
        const location = (op.to === "source" ? conduit.source : conduit.target).location
        const list = wanted.get(location.root) ?? []
        list.push(op.entry.hash)
        wanted.set(location.root, list)
      }
      const found = new Map<string, string>()
      for (const endpoint of [conduit.source, conduit.target]) {
        if (endpoint.peer !== null) continue // its files are not on this device
        const hashes = [...new Set(wanted.get(endpoint.location.root) ?? [])]
        for (let i = 0; i < hashes.length; i += 500) {
          const rows = yield* lib(sql<{ hash: string; path: string; disk_path: string | null }>`
            SELECT hash, path, disk_path FROM entries
            WHERE +location_id = ${endpoint.location.rowId} AND tombstone = 0 AND kind = 0 AND remote = 0 -- "+": by the hash index, not every entry of the location
              AND hash IN (SELECT value FROM json_each(${JSON.stringify(hashes.slice(i, i + 500))}))`)
          for (const r of rows) if (!found.has(r.hash)) found.set(r.hash, Path.join(endpoint.location.root, r.disk_path ?? r.path))
        }
      }
      return (hash: string) => found.get(hash)
    })

  // -- selective ----------------------------------------------------------------------------

  interface CacheRow {
    readonly path: string
    readonly size: number
    readonly mtime_s: number
    readonly mtime_ns: number
    readonly mode: number | null
    readonly hash: string | null
    readonly remote: number
  }

  /** The live files of an endpoint's directory, by path relative to it. */
  const filesOf = (at: ConduitEndpoint) =>
    Effect.map(
      lib(sql<CacheRow>`SELECT path, size, mtime_s, mtime_ns, mode, hash, remote FROM entries
        WHERE location_id = ${at.location.rowId} AND tombstone = 0 AND kind = 0
        ${at.dir === "" ? sql`` : sql`AND path >= ${`${at.dir}/`} AND path < ${`${at.dir}0`}`}`),
      (rows) => new Map(rows.map((r) => [at.dir === "" ? r.path : r.path.slice(at.dir.length + 1), r] as const))
    )

  const fingerprintOf = (r: CacheRow): Fingerprint.Fingerprint => ({
    kind: 0,
    hash: r.hash,
    size: r.size,
    mtimeNs: BigInt(r.mtime_s) * 1_000_000_000n + BigInt(r.mtime_ns),
    mode: r.mode,
    linkTarget: null,
    remote: r.remote === 1
  })

  /** `statfs` of a directory's volume. */
  const volumeOf = (path: string) =>
    Effect.try({
      try: () => {
        const st = Fs.statfsSync(path)
        return { totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize }
      },
      catch: () => new Errors.LocationError({ reason: "RootMissing", path })
    })

  /**
   * What a selective conduit's cache step is to do: the source's files scored with the
   * conduit's policy and planned against its budget (`@conduit/selective`), as operations of
   * a plan — an eviction is an archive-style delete verified on the target, a fetch a copy back.
   */
  const planCache = (conduit: Conduit, record: boolean) =>
    Effect.gen(function* () {
      const { source, target } = conduit
      const policy = yield* Effect.mapError(policies.get(conduit.cachePolicy), () => new SyncError({ reason: "UnknownPolicy", path: conduit.cachePolicy }))
      const primary = yield* filesOf(source)
      const secondary = yield* filesOf(target)
      const access = yield* selective.accessOf(source.location)
      const pins = yield* selective.pins(source.location)
      const requests = yield* selective.fetchRequests(source.location)
      const requested = new Set(requests.map((r) => r.path as string))
      const atimesSeen = yield* selective.atimesOf(source.location)
      const atimesNow = new Map<string, number>()
      const now = Date.now()
      // An atime later than the one the last cache step saw is a use (where the file system
      // keeps atimes; relatime: at most daily). The first step only takes note: the run's own
      // reads (hashing, copying) moved the atimes it sees. Recorded together, in one transaction.
      const used: Array<{ path: RelPath.RelPath; atMs: number }> = []
      for (const [rel, row] of primary) {
        if (row.remote === 1) continue
        const locationPath = under(source.dir, rel as RelPath.RelPath)
        const st = yield* Effect.option(Effect.try(() => Fs.statSync(Path.join(source.location.root, locationPath))))
        if (Option.isNone(st)) continue
        const atime = Math.floor(st.value.atimeMs)
        const seen = atimesSeen.get(locationPath)
        if (record && seen !== undefined && atime > seen + 1000 && atime > (access.get(locationPath)?.lastAccessMs ?? 0) + 1000) {
          used.push({ path: locationPath, atMs: atime })
        }
        if (seen !== atime) atimesNow.set(locationPath, atime)
      }
      const recorded = yield* selective.recordAccesses(source.location, used)
      const entries: Array<CacheEntry.CacheEntry> = []
      for (const [rel, row] of primary) {
        const locationPath = under(source.dir, rel as RelPath.RelPath)
        const stats = recorded.get(locationPath) ?? access.get(locationPath)
        const copy = secondary.get(rel)
        entries.push({
          key: rel,
          size: row.size,
          local: row.remote === 0,
          // Asked-for fetches are served like pins: fetched whatever the budget.
          pinned: SelectiveStore.isPinned(pins, locationPath) || requested.has(locationPath),
          verifiedCopy: copy !== undefined && copy.remote === 0 && copy.hash !== null && copy.hash === row.hash && copy.size === row.size,
          stats: stats ?? { accessCount: 0, lastAccessMs: null, heat: 0, heatAtMs: now }
        })
      }
      const budgeted = conduit.cacheMaxBytes !== null || conduit.cacheMinFreeBytes !== null || conduit.cacheMinFreePercent !== null
      const volume = yield* volumeOf(source.path)
      const planned = CachePlanner.plan(policy, {
        entries,
        // No budget: nothing is evicted (the limit is the whole volume); pins and asked-for fetches still come back.
        budget: budgeted
          ? {
            ...(conduit.cacheMaxBytes === null ? {} : { maxBytes: conduit.cacheMaxBytes }),
            ...(conduit.cacheMinFreeBytes === null ? {} : { minFreeBytes: conduit.cacheMinFreeBytes }),
            ...(conduit.cacheMinFreePercent === null ? {} : { minFreePercent: conduit.cacheMinFreePercent })
          }
          : {},
        volume,
        nowMs: now
      })
      if (Either.isLeft(planned)) return yield* new SyncError({ reason: "InvalidBudget", path: planned.left.message })
      const cachePlan: CachePlan.CachePlan = planned.right
      // Without a budget only pinned and asked-for files are fetched (no speculative prefetch).
      const prefetch = budgeted ? cachePlan.prefetch : cachePlan.prefetch.filter((p) => p.reason === "Pinned")
      const operations: Array<Plan.Operation> = [
        ...prefetch.flatMap((p): ReadonlyArray<Plan.Operation> => {
          const copy = secondary.get(p.key)
          return copy === undefined ? [] : [{ _tag: "Copy", from: "target", to: "source", path: p.key as RelPath.RelPath, entry: fingerprintOf(copy), replaces: null }]
        }),
        ...(budgeted ? cachePlan.evict : []).map((e): Plan.Operation => ({
          _tag: "Delete",
          side: "source",
          path: e.key as RelPath.RelPath,
          entry: fingerprintOf(primary.get(e.key)!),
          verifiedOn: "target"
        }))
      ]
      const warnings = cachePlan.warnings.map((w) => ({
        reason: w.reason,
        message: w.reason === "PinnedOverBudget"
          ? `the pinned files (${w.files} files, ${w.filesBytes} bytes) do not fit in the budget of ${cachePlan.limitBytes} bytes: pins win, the budget is exceeded by ${w.bytes} bytes`
          : w.reason === "UnverifiedOverBudget"
          ? `${w.bytes} bytes over the budget: ${w.files} files (${w.filesBytes} bytes) have no verified copy on the secondary, so they stay local`
          : `${w.files} pinned files (${w.filesBytes} bytes) could not be fetched within the budget`
      }))
      const unverified = entries.filter((e) => e.local && !e.verifiedCopy).map((e) => e.key).sort()
      if (record) yield* selective.saveAtimes(source.location, atimesNow)
      return { cachePlan, operations, prefetch, budgeted, warnings, unverified, primary }
    })

  const cachePreview = (id: string) =>
    Effect.gen(function* () {
      const conduit = yield* get(id)
      if (conduit.mode !== Modes.selective.name || conduit.source.peer !== null) return yield* new SyncError({ reason: "NotSelective", path: conduit.id })
      const { cachePlan, prefetch, budgeted, warnings, unverified } = yield* planCache(conduit, false)
      return {
        conduit,
        limitBytes: budgeted ? cachePlan.limitBytes : null,
        localBytes: cachePlan.localBytesBefore,
        evict: budgeted ? cachePlan.evict.map((e) => ({ path: e.key, size: e.size, reason: e.reason })) : [],
        fetch: prefetch.map((p) => ({ path: p.key, size: p.size, reason: p.reason })),
        unverified,
        warnings
      } satisfies CachePreview
    }).pipe(Effect.withSpan("Conduits.cachePreview"))

  /**
   * A selective conduit's cache step: its plan (`planCache`) run through the same runner as a
   * sync — before an eviction the secondary's copy and the local file are both re-read and
   * checked against the index — and the evicted files' rows kept as `remote`.
   */
  const cacheStep = (conduit: Conduit, token: string, onProgress?: RunOptions["onProgress"]) =>
    Effect.gen(function* () {
      const { source, target } = conduit
      const { cachePlan, operations, prefetch, budgeted, warnings } = yield* planCache(conduit, true)
      for (const w of warnings) yield* Effect.logWarning(`conduit ${conduit.id}: ${w.message}`)
      const outcome = (report: LocalPlanRunner.RunReport | null): CacheOutcome => {
        const failed = new Map((report?.skipped ?? []).map((k) => [k.operation, k.error] as const))
        const done = operations.filter((op) => !failed.has(op))
        const reasonOf = new Map([...cachePlan.evict, ...prefetch].map((x) => [x.key, x.reason] as const))
        const evicted = done.filter((op): op is Plan.Delete => op._tag === "Delete")
        const fetched = done.filter((op): op is Plan.Copy => op._tag === "Copy")
        const evictedBytes = evicted.reduce((n, op) => n + op.entry.size, 0)
        const fetchedBytes = fetched.reduce((n, op) => n + op.entry.size, 0)
        return {
          limitBytes: budgeted ? cachePlan.limitBytes : null,
          localBytesBefore: cachePlan.localBytesBefore,
          localBytesAfter: cachePlan.localBytesBefore - evictedBytes + fetchedBytes,
          evicted: evicted.map((op) => ({ path: op.path, size: op.entry.size, reason: String(reasonOf.get(op.path) ?? "") })),
          fetched: fetched.map((op) => ({ path: op.path, size: op.entry.size, reason: String(reasonOf.get(op.path) ?? "") })),
          skipped: [...failed].map(([op, error]) => ({ path: "path" in op ? op.path : op.to, reason: error.reason, message: error.message })),
          warnings
        }
      }
      if (operations.length === 0) return outcome(null)
      const plan: Plan.Plan = { mode: Modes.selective.name, operations, conflicts: [], summary: Plan.summarize(operations, []) }
      // Marked before they go: a scan (the daemon's watcher) between the removal and the mark
      // would take an evicted file for a deletion. One that is not evicted in the end is marked back.
      const evictions = operations.filter((op): op is Plan.Delete => op._tag === "Delete").map((op) => under(source.dir, op.path))
      const sides = { source: yield* runnerEndpoint(source, conduit.bandwidthLimitMbps), target: yield* runnerEndpoint(target, conduit.bandwidthLimitMbps) }
      yield* store.markRemote(source.location, evictions)
      // A runner that fails outright: the files still here are local again (the ones it removed stay remote).
      const stillHere = Effect.suspend(() =>
        store.markLocal(source.location, evictions.filter((p) => Fs.existsSync(Path.join(source.location.root, p)))))
      const report = yield* LocalPlanRunner.run(plan, sides, { parallel: conduit.parallelTransfers, token, ...(onProgress === undefined ? {} : { onProgress }) }).pipe(
        Effect.provideService(Hasher.Hasher, hasher),
        Effect.onError(() => Effect.ignore(stillHere))
      )
      const result = outcome(report)
      const kept = new Set(result.evicted.map((e) => under(source.dir, e.path as RelPath.RelPath) as string))
      yield* store.markLocal(source.location, evictions.filter((p) => !kept.has(p)))
      yield* reindexTouched(conduit, plan, report)
      // A fetched file may reuse the evicted one's inode, size and time: the scan would not see it change.
      yield* store.markLocal(source.location, result.fetched.map((f) => under(source.dir, f.path as RelPath.RelPath)))
      yield* selective.clearFetches(source.location, result.fetched.map((f) => under(source.dir, f.path as RelPath.RelPath)))
      yield* Effect.logInfo(`conduit ${conduit.id}: cache step evicted ${result.evicted.length} files, fetched ${result.fetched.length} (local ${result.localBytesAfter} of ${result.limitBytes ?? "no limit"} bytes)`)
      return result
    }).pipe(Effect.withSpan("Conduits.cacheStep", { attributes: { conduit: conduit.id } }))

  const selectiveOf = (absolutePath: string) =>
    Effect.gen(function* () {
      const absolute = Path.resolve(absolutePath)
      for (const conduit of yield* list) {
        if (conduit.mode !== Modes.selective.name || conduit.source.peer !== null) continue
        if (!within(absolute, conduit.source.path)) continue
        const rel = absolute === conduit.source.path ? "" : Path.relative(conduit.source.path, absolute).split(Path.sep).join("/")
        const parsed = RelPath.parse(rel)
        if (Either.isRight(parsed)) return Option.some({ conduit, path: parsed.right })
      }
      return Option.none()
    })

  const fetch = (absolutePath: string, options: Pick<RunOptions, "onProgress"> = {}) =>
    Effect.gen(function* () {
      const started = performance.now()
      const found = yield* selectiveOf(absolutePath)
      if (Option.isNone(found)) return yield* new SyncError({ reason: "NotSelective", path: absolutePath })
      const { conduit, path } = found.value
      const { source, target } = conduit
      const locationPath = under(source.dir, path)
      const rows = yield* lib(sql<CacheRow>`SELECT path, size, mtime_s, mtime_ns, mode, hash, remote FROM entries
        WHERE location_id = ${source.location.rowId} AND path = ${locationPath} AND tombstone = 0 AND kind = 0`)
      const row = rows[0]
      if (row === undefined) {
        // A file not indexed yet (new since the last scan) is local: only the open is recorded.
        const st = yield* Effect.option(Effect.try(() => Fs.statSync(Path.resolve(absolutePath))))
        if (Option.isNone(st) || !st.value.isFile()) return yield* new SyncError({ reason: "NotAFile", path: absolutePath })
        yield* selective.recordAccess(source.location, locationPath)
        return { conduit, path: Path.resolve(absolutePath), size: st.value.size, hash: null, fetched: false, durationMs: Math.round(performance.now() - started) } satisfies FetchResult
      }
      yield* selective.recordAccess(source.location, locationPath)
      if (row.remote === 0) {
        return { conduit, path: absolutePath, size: row.size, hash: row.hash, fetched: false, durationMs: Math.round(performance.now() - started) } satisfies FetchResult
      }
      // The secondary's index first (a paired device's is pulled): its copy must be there, with the same content.
      const unavailable = (why: string) =>
        Effect.logWarning(`fetch of ${absolutePath} from the secondary failed (${why}); the conduit's next run tries again`).pipe(
          Effect.zipRight(selective.requestFetch(source.location, locationPath, why)),
          Effect.zipRight(Effect.fail(new SyncError({ reason: "SecondaryUnavailable", path: absolutePath })))
        )
      if (target.peer !== null) {
        const link = yield* Effect.catchAll(linkOf(target), (e) => unavailable(e.message))
        const synced = yield* Effect.either(link.refresh(target.peer.peerId!, target.location.id))
        if (Either.isLeft(synced)) return yield* unavailable(synced.left.message)
      } else if (!Fs.existsSync(target.path)) {
        return yield* unavailable(`${target.path} is missing (unmounted?)`)
      }
      const copies = yield* lib(sql<CacheRow>`SELECT path, size, mtime_s, mtime_ns, mode, hash, remote FROM entries
        WHERE location_id = ${target.location.rowId} AND path = ${under(target.dir, path)} AND tombstone = 0 AND kind = 0`)
      const copy = copies[0]
      if (copy === undefined || copy.remote === 1 || copy.hash !== row.hash) return yield* new SyncError({ reason: "SecondaryMissing", path: absolutePath })
      const operations: Array<Plan.Operation> = [{ _tag: "Copy", from: "target", to: "source", path, entry: fingerprintOf(copy), replaces: null }]
      const plan: Plan.Plan = { mode: Modes.selective.name, operations, conflicts: [], summary: Plan.summarize(operations, []) }
      const targetEndpoint = yield* Effect.catchAll(runnerEndpoint(target, conduit.bandwidthLimitMbps), (e) => unavailable(e.message))
      const report = yield* LocalPlanRunner.run(
        plan,
        { source: yield* runnerEndpoint(source), target: targetEndpoint },
        { parallel: 1, token: Crypto.randomBytes(4).toString("hex"), ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }) }
      ).pipe(Effect.provideService(Hasher.Hasher, hasher))
      if (report.skipped.length > 0) {
        const error = report.skipped[0]!.error
        // A secondary that went away mid-copy is retried by the next run; anything else is this fetch's failure.
        if (target.peer !== null && error.reason === "Io") return yield* unavailable(error.message)
        return yield* Effect.fail(error)
      }
      yield* reindexTouched(conduit, plan, report)
      yield* store.markLocal(source.location, [locationPath])
      yield* selective.clearFetches(source.location, [locationPath])
      return { conduit, path: absolutePath, size: copy.size, hash: copy.hash, fetched: true, durationMs: Math.round(performance.now() - started) } satisfies FetchResult
    }).pipe(Effect.withSpan("Conduits.fetch"))

  /** In-process callers of the jobs this process runs: their options in, their result out. */
  const calls = new Map<string, { readonly options: RunOptions; result?: RunResult; error?: ConduitError }>()

  yield* jobs.register<FileSyncPayload, FileSyncCheckpoint>({
    kind: FileSyncJob,
    run: (context) =>
      Effect.gen(function* () {
        const call = calls.get(context.id) ?? { options: {} }
        if (!calls.has(context.id)) calls.set(context.id, call)
        const conduit = yield* Effect.either(get(context.payload.conduit))
        if (Either.isLeft(conduit)) {
          call.error = conduit.left
          return yield* new JobRuntime.JobFailure({ message: conduit.left.message, transient: false })
        }
        let generation = conduit.right.syncGeneration + 1
        const checkpoint: LocalPlanRunner.RunOptions["checkpoint"] = (progress) =>
          context.checkpointAt({ generation, done: progress.done, total: progress.total }, progress).pipe(
            Effect.as("continue" as const),
            Effect.catchAll((e) => Effect.succeed(e._tag === "JobStopped" ? e.status : "continue" as const))
          )
        const outcome = yield* Effect.either(runUnlocked(conduit.right, { ...call.options, force: context.payload.force || call.options.force === true }, checkpoint))
        if (Either.isLeft(outcome)) {
          call.error = outcome.left
          return yield* new JobRuntime.JobFailure({ message: outcome.left.message, transient: false })
        }
        generation = outcome.right.generation?.generation ?? generation
        call.result = outcome.right
        const stopped = outcome.right.report?.stopped ?? null
        if (stopped !== null) return yield* new JobRuntime.JobStopped({ status: stopped })
        // The job's last progress is the run's end (a stop asked for now comes too late).
        const report = outcome.right.report
        const total = outcome.right.plan.operations.length
        const done = report === null ? total : report.copied + report.moved + report.deleted + report.attributes
        yield* Effect.ignore(context.checkpointAt({ generation, done, total }, { done, total, bytes: report?.bytes ?? 0, bytesTotal: outcome.right.plan.summary.bytes }))
      })
  })

  /**
   * What a run's end publishes: completed or failed, its verification and a conflict event per
   * conflict it recorded.
   */
  const publishEnd = (conduit: Conduit, outcome: Either.Either<RunResult, ConduitError>) =>
    Effect.gen(function* () {
      if (Either.isLeft(outcome)) {
        const e: { readonly _tag: string; readonly message: string; readonly reason?: unknown } = outcome.left
        return yield* publish({ _tag: "SyncFailed", conduit: conduit.id, generation: null, reason: e.reason === undefined ? e._tag : String(e.reason), message: e.message })
      }
      const r = outcome.right
      const generation = r.generation
      if (generation === null) return
      const at = generation.completedAt ?? undefined
      const stamp = at === undefined ? {} : { at }
      for (const c of r.plan.conflicts) {
        yield* publish({ _tag: "ConflictDetected", ...stamp, conduit: conduit.id, generation: generation.generation, path: c.path, reason: c.reason, winner: c.winner, resolution: c.resolution })
      }
      if (generation.verification !== "pending") {
        yield* publish({ _tag: "VerificationDone", ...stamp, conduit: conduit.id, generation: generation.generation, verified: r.verified, remaining: r.remaining })
      }
      if (generation.status === "completed") {
        return yield* publish({
          _tag: "SyncCompleted",
          ...stamp,
          conduit: conduit.id,
          generation: generation.generation,
          copied: generation.filesCopied,
          deleted: generation.filesDeleted,
          moved: generation.filesMoved,
          conflicts: generation.conflictsResolved,
          bytes: generation.bytesTransferred,
          durationMs: r.durationMs
        })
      }
      const stopped = generation.status === "paused" ? "Paused" : generation.status === "cancelled" ? "Cancelled" : "NotVerified"
      yield* publish({
        _tag: "SyncFailed",
        ...stamp,
        conduit: conduit.id,
        generation: generation.generation,
        reason: stopped,
        message: stopped === "NotVerified" ? `${r.remaining} difference(s) remain after the run` : `the run was ${generation.status}`
      })
    })

  /** Runs a job of `conduit` to its end and gives its run's result (or the run's own error). */
  const runAsJob = (conduit: Conduit, jobId: string, options: RunOptions) =>
    Effect.gen(function* () {
      if (running.has(conduit.id)) return yield* new SyncError({ reason: "Busy", path: conduit.id })
      yield* publish({ _tag: "SyncStarted", conduit: conduit.id, generation: conduit.syncGeneration + 1, job: jobId })
      const outcome = yield* Effect.either(runAsJobUnpublished(conduit, jobId, options))
      yield* publishEnd(conduit, outcome)
      return yield* outcome
    })

  const runAsJobUnpublished = (conduit: Conduit, jobId: string, options: RunOptions) =>
    Effect.gen(function* () {
      running.add(conduit.id)
      const onProgress = Option.isSome(events) ? throttledProgress(events.value, conduit.id, options.onProgress) : options.onProgress
      const call: { options: RunOptions; result?: RunResult; error?: ConduitError } = {
        options: onProgress === undefined ? options : { ...options, onProgress }
      }
      calls.set(jobId, call)
      const record = yield* jobs.run(jobId).pipe(
        Effect.catchTag("JobError", (e) => new SyncError({ reason: "JobFailed", path: e.message })),
        Effect.ensuring(Effect.sync(() => {
          running.delete(conduit.id)
          calls.delete(jobId)
        }))
      )
      if (call.error !== undefined) return yield* Effect.fail(call.error)
      if (call.result === undefined) {
        return yield* new SyncError({ reason: "JobFailed", path: `${jobId}: ${record.error ?? record.status}` })
      }
      return { ...call.result, job: { id: jobId, status: record.status } } satisfies RunResult
    })

  const run = (id: string, options: RunOptions = {}) =>
    Effect.gen(function* () {
      const conduit = yield* get(id)
      if (options.dryRun === true) {
        if (running.has(conduit.id)) return yield* new SyncError({ reason: "Busy", path: conduit.id })
        return yield* runUnlocked(conduit, options)
      }
      if (!conduit.enabled) return yield* new SyncError({ reason: "Disabled", path: conduit.id })
      // This conduit's unfinished job (paused, or left by a process that died) goes on;
      // one still running in a live process makes this run wait its turn.
      const unfinished = (yield* lib(jobs.unfinished(FileSyncJob))).filter((j) => (j.payload as FileSyncPayload).conduit === conduit.id)
      if (unfinished.some((j) => j.status === "running" && !j.orphaned)) return yield* new SyncError({ reason: "Busy", path: conduit.id })
      const jobId = unfinished.length > 0
        ? unfinished[0]!.id
        : yield* lib(jobs.enqueue(FileSyncJob, { conduit: conduit.id, force: options.force === true } satisfies FileSyncPayload))
      return yield* runAsJob(conduit, jobId, options)
    }).pipe(Effect.withSpan("Conduits.run"))

  const runJob = (jobId: string, options: Pick<RunOptions, "onProgress"> = {}) =>
    Effect.gen(function* () {
      const job = yield* jobs.get(jobId)
      if (job.kind !== FileSyncJob) return yield* new JobRuntime.JobError({ reason: "UnknownKind", id: jobId })
      const conduit = yield* get((job.payload as FileSyncPayload).conduit)
      return yield* runAsJob(conduit, jobId, options)
    }).pipe(Effect.withSpan("Conduits.runJob"))

  const history = (id: string) =>
    Effect.gen(function* () {
      const conduit = yield* get(id)
      const rows = yield* lib(sql<GenerationRow>`SELECT * FROM sync_generations WHERE conduit_id = ${conduit.rowId} ORDER BY generation DESC`)
      return rows.map(toGeneration)
    })

  const conflicts = (id?: string) =>
    Effect.gen(function* () {
      const filter = id === undefined ? sql`` : sql`WHERE c.conduit_id = ${(yield* get(id)).rowId}`
      const rows = yield* lib(sql<{ uuid: string; generation: number; path: string; reason: Plan.ConflictReason; winner: Plan.Side; resolution: Plan.Conflict["resolution"]; source_hash: string | null; target_hash: string | null; created_at: number }>`
        SELECT k.uuid, c.generation, c.path, c.reason, c.winner, c.resolution, c.source_hash, c.target_hash, c.created_at
        FROM sync_conflicts c JOIN sync_conduits k ON k.id = c.conduit_id ${filter} ORDER BY c.id DESC`)
      return rows.map((r): ConflictRecord => ({
        conduit: r.uuid,
        generation: r.generation,
        path: r.path,
        reason: r.reason,
        winner: r.winner,
        resolution: r.resolution,
        sourceHash: r.source_hash,
        targetHash: r.target_hash,
        createdAt: new Date(r.created_at)
      }))
    })

  return Conduits.of({ create, ensure, list, get, update, remove, run, runJob, fetch, cachePreview, selectiveOf, history, conflicts })
})

/** The service with the built-in modes and the job runtime it runs in, on the index services. */
export const layer: Layer.Layer<
  Conduits | JobRuntime.JobRuntime | SelectiveStore.SelectiveStore,
  Errors.LibraryError | ModeRegistry.ModeError | CachePolicyError.CachePolicyError,
  IndexLive.IndexServices
> = Layer.effect(Conduits, make).pipe(
  Layer.provide(Layer.mergeAll(IndexDiff.layer, ModeRegistry.layer, CachePolicyRegistry.layer)),
  Layer.provideMerge(SelectiveStore.layer),
  Layer.provideMerge(JobRuntime.layer)
)
