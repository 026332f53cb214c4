/**
 * ConduitStatus — what the status panel shows of each conduit, assembled from the library: its
 * state, how far its running (or paused) `FileSyncJob` got with speed and ETA, what is pending,
 * its last generation, its recent conflicts and the storage of each endpoint's volume.
 *
 * Everything is read from the library database (jobs write their progress there at every
 * checkpoint), so any process sees a run going on in another; the `Scheduler`, when provided
 * (the daemon), adds whether a run is pending, the next scheduled one and its last error.
 *
 * @since 0.1.0
 */
import { JobRuntime } from "@conduit/jobs"
import { Clock, Effect, Option } from "effect"
import * as Fs from "node:fs"
import { type Conduit, type ConduitEndpoint, type ConduitError, type ConflictRecord, Conduits, FileSyncJob, type FileSyncPayload, type Generation } from "./Conduits.js"
import { Scheduler } from "./Scheduler.js"

/** How many of the newest conflicts a status carries. */
export const RECENT_CONFLICTS = 5

/**
 * What a conduit is doing: `running` (its job runs), `paused` (its job was paused, or was left
 * running by a process that died: `conduit jobs resume` picks it up), `disabled`, `failed` (its
 * last generation failed or the scheduler's last run of it did), else `idle`.
 */
export type State = "idle" | "running" | "paused" | "failed" | "disabled"

/** The storage of the volume an endpoint is on; every figure null when unknown (a peer's endpoint). */
export interface Storage {
  readonly path: string
  /** The paired device's name, or null on this device. */
  readonly peer: string | null
  readonly totalBytes: number | null
  readonly usedBytes: number | null
  /** Free for an unprivileged user (`bavail`). */
  readonly freeBytes: number | null
}

/** The unfinished job of a conduit and how far it got. */
export interface JobStatus {
  readonly id: string
  readonly status: JobRuntime.JobStatus
  /** Left running or queued by a process that is gone. */
  readonly orphaned: boolean
  readonly progress: JobRuntime.JobProgress
  /** When its run started (the running generation's start, else the job's creation). */
  readonly startedAt: Date
}

/** Speed and ETA of a run. */
export interface Rate {
  /** Bytes per second since the run started; null when nothing can be said yet. */
  readonly bytesPerSecond: number | null
  /** Milliseconds left at that speed; null when the speed is unknown. */
  readonly etaMs: number | null
}

/** A conduit's status. */
export interface ConduitStatus {
  readonly conduit: Conduit
  readonly state: State
  /** The conduit's unfinished job (running, paused or queued); null when there is none. */
  readonly job: JobStatus | null
  /** Speed and ETA: only while running. */
  readonly rate: Rate
  /** What the unfinished job has left (total − done), and whether another run is asked for. */
  readonly pending: {
    readonly operations: number
    readonly bytes: number
    /** A run is queued behind the current one (scheduler), or a job is queued. */
    readonly runQueued: boolean
  }
  /** What the scheduler knows (only where one runs: the daemon); null elsewhere. */
  readonly scheduler: {
    readonly nextRunAt: Date | null
    readonly lastRunAt: Date | null
    readonly lastError: string | null
  } | null
  readonly lastGeneration: Generation | null
  /** Conflicts recorded for the conduit, and the newest `RECENT_CONFLICTS` of them. */
  readonly conflicts: { readonly count: number; readonly recent: ReadonlyArray<ConflictRecord> }
  readonly storage: { readonly source: Storage; readonly target: Storage }
}

/**
 * Speed and ETA from a run's progress: bytes done over the time since it started, and the
 * bytes left at that speed. Null speed before any time passed or any byte was copied; an ETA
 * of 0 when nothing is left.
 */
export const rate = (progress: JobRuntime.JobProgress, startedAtMs: number, nowMs: number): Rate => {
  const elapsed = nowMs - startedAtMs
  const left = Math.max(0, progress.bytesTotal - progress.bytes)
  if (elapsed <= 0 || progress.bytes <= 0) return { bytesPerSecond: null, etaMs: left === 0 && progress.total > 0 ? 0 : null }
  const bytesPerSecond = (progress.bytes * 1000) / elapsed
  return { bytesPerSecond, etaMs: Math.round((left / bytesPerSecond) * 1000) }
}

/** The storage of an endpoint's volume: `statfs` of its directory here, unknown for a peer's. */
export const storage = (endpoint: ConduitEndpoint): Storage => {
  const unknown: Storage = { path: endpoint.path, peer: endpoint.peer?.name ?? null, totalBytes: null, usedBytes: null, freeBytes: null }
  if (endpoint.peer !== null) return unknown
  try {
    const s = Fs.statfsSync(endpoint.path)
    return {
      ...unknown,
      totalBytes: s.blocks * s.bsize,
      usedBytes: (s.blocks - s.bfree) * s.bsize,
      freeBytes: s.bavail * s.bsize
    }
  } catch {
    // A directory that is gone (an unplugged disk): nothing can be said of its volume.
    return unknown
  }
}

/**
 * The status of every conduit, or of the one `id` names (its id or an unambiguous prefix; an
 * unknown one fails with `SyncError` `NotFound`).
 */
export const collect = (id?: string): Effect.Effect<
  ReadonlyArray<ConduitStatus>,
  ConduitError,
  Conduits | JobRuntime.JobRuntime
> =>
  Effect.gen(function* () {
    const conduits = yield* Conduits
    const jobs = yield* JobRuntime.JobRuntime
    const scheduler = yield* Effect.serviceOption(Scheduler)
    const list = id === undefined ? yield* conduits.list : [yield* conduits.get(id)]
    const unfinished = yield* jobs.unfinished(FileSyncJob)
    const scheduled = Option.isSome(scheduler) ? yield* scheduler.value.conduits : []
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.forEach(list, (conduit) =>
      Effect.gen(function* () {
        const generations = yield* conduits.history(conduit.id)
        const conflicts = yield* conduits.conflicts(conduit.id)
        const slot = scheduled.find((s) => s.conduitId === conduit.id)
        const mine = unfinished.filter((j) => (j.payload as FileSyncPayload).conduit === conduit.id)
        // The one that matters: a running job, else a paused one, else a queued one.
        const job = mine.find((j) => j.status === "running" && !j.orphaned) ?? mine.find((j) => j.status !== "queued") ?? mine[0]
        const last = generations[0] ?? null
        const running = job !== undefined && job.status === "running" && !job.orphaned
        const startedAt = job === undefined
          ? null
          : last !== null && last.status !== "completed" && last.status !== "failed" && last.startedAt.getTime() >= job.createdAt.getTime()
          ? last.startedAt
          : job.createdAt
        const state: State = running
          ? "running"
          : job !== undefined && job.status !== "queued"
          ? "paused"
          : !conduit.enabled
          ? "disabled"
          : last?.status === "failed" || (slot?.lastError ?? null) !== null
          ? "failed"
          : "idle"
        return {
          conduit,
          state,
          job: job === undefined || startedAt === null
            ? null
            : { id: job.id, status: job.status, orphaned: job.orphaned, progress: job.progress, startedAt },
          rate: running && startedAt !== null ? rate(job.progress, startedAt.getTime(), now) : { bytesPerSecond: null, etaMs: null },
          pending: {
            operations: job === undefined ? 0 : Math.max(0, job.progress.total - job.progress.done),
            bytes: job === undefined ? 0 : Math.max(0, job.progress.bytesTotal - job.progress.bytes),
            runQueued: (slot?.pending ?? false) || mine.some((j) => j.status === "queued")
          },
          scheduler: slot === undefined ? null : {
            nextRunAt: slot.nextRunAt,
            lastRunAt: slot.lastRunAt,
            lastError: slot.lastError
          },
          lastGeneration: last,
          conflicts: { count: conflicts.length, recent: conflicts.slice(0, RECENT_CONFLICTS) },
          storage: { source: storage(conduit.source), target: storage(conduit.target) }
        } satisfies ConduitStatus
      }))
  }).pipe(Effect.withSpan("ConduitStatus.collect"))

// -- JSON ------------------------------------------------------------------------------------

const iso = (date: Date | null) => (date === null ? null : date.toISOString())

/** The JSON of an endpoint's storage. */
export interface StorageJson {
  readonly path: string
  readonly peer: string | null
  readonly totalBytes: number | null
  readonly usedBytes: number | null
  readonly freeBytes: number | null
}

/** The JSON of a status (see `toJson`). */
export interface StatusJson {
  readonly id: string
  /** The endpoints as people name them: the path, `<device name>:<path>` for a paired device's. */
  readonly source: string
  readonly target: string
  readonly mode: string
  readonly schedule: string
  readonly enabled: boolean
  readonly state: State
  readonly job: {
    readonly id: string
    readonly status: string
    readonly orphaned: boolean
    readonly startedAt: string
    readonly done: number
    readonly total: number
    readonly bytes: number
    readonly bytesTotal: number
  } | null
  readonly bytesPerSecond: number | null
  readonly etaMs: number | null
  readonly pending: { readonly operations: number; readonly bytes: number; readonly runQueued: boolean }
  readonly scheduler: { readonly nextRunAt: string | null; readonly lastRunAt: string | null; readonly lastError: string | null } | null
  readonly lastGeneration: {
    readonly generation: number
    readonly status: string
    readonly startedAt: string
    readonly completedAt: string | null
    readonly filesCopied: number
    readonly filesDeleted: number
    readonly filesMoved: number
    readonly bytesTransferred: number
    readonly conflictsResolved: number
    readonly verification: string
    /** How many errors it recorded. */
    readonly errors: number
  } | null
  readonly conflicts: {
    readonly count: number
    readonly recent: ReadonlyArray<{
      readonly generation: number
      readonly path: string
      readonly reason: string
      readonly winner: string
      readonly resolution: string
      readonly createdAt: string
    }>
  }
  readonly storage: { readonly source: StorageJson; readonly target: StorageJson }
}

const storageJson = (s: Storage): StorageJson => ({
  path: s.path,
  peer: s.peer,
  totalBytes: s.totalBytes,
  usedBytes: s.usedBytes,
  freeBytes: s.freeBytes
})

/**
 * A status as JSON: what `conduit status --json` prints (one per conduit) and the daemon's
 * `GET /v1/conduits/status` answers. Times are ISO 8601; byte counts and durations numbers.
 */
export const toJson = (s: ConduitStatus): StatusJson => ({
  id: s.conduit.id,
  source: s.conduit.source.peer === null ? s.conduit.source.path : `${s.conduit.source.peer.name}:${s.conduit.source.path}`,
  target: s.conduit.target.peer === null ? s.conduit.target.path : `${s.conduit.target.peer.name}:${s.conduit.target.path}`,
  mode: s.conduit.mode,
  schedule: s.conduit.schedule,
  enabled: s.conduit.enabled,
  state: s.state,
  job: s.job === null ? null : {
    id: s.job.id,
    status: s.job.status,
    orphaned: s.job.orphaned,
    startedAt: s.job.startedAt.toISOString(),
    done: s.job.progress.done,
    total: s.job.progress.total,
    bytes: s.job.progress.bytes,
    bytesTotal: s.job.progress.bytesTotal
  },
  bytesPerSecond: s.rate.bytesPerSecond === null ? null : Math.round(s.rate.bytesPerSecond),
  etaMs: s.rate.etaMs,
  pending: { operations: s.pending.operations, bytes: s.pending.bytes, runQueued: s.pending.runQueued },
  scheduler: s.scheduler === null ? null : {
    nextRunAt: iso(s.scheduler.nextRunAt),
    lastRunAt: iso(s.scheduler.lastRunAt),
    lastError: s.scheduler.lastError
  },
  lastGeneration: s.lastGeneration === null ? null : {
    generation: s.lastGeneration.generation,
    status: s.lastGeneration.status,
    startedAt: s.lastGeneration.startedAt.toISOString(),
    completedAt: iso(s.lastGeneration.completedAt),
    filesCopied: s.lastGeneration.filesCopied,
    filesDeleted: s.lastGeneration.filesDeleted,
    filesMoved: s.lastGeneration.filesMoved,
    bytesTransferred: s.lastGeneration.bytesTransferred,
    conflictsResolved: s.lastGeneration.conflictsResolved,
    verification: s.lastGeneration.verification,
    errors: s.lastGeneration.errors.length
  },
  conflicts: {
    count: s.conflicts.count,
    recent: s.conflicts.recent.map((c) => ({
      generation: c.generation,
      path: c.path,
      reason: c.reason,
      winner: c.winner,
      resolution: c.resolution,
      createdAt: c.createdAt.toISOString()
    }))
  },
  storage: {
    source: storageJson(s.storage.source),
    target: storageJson(s.storage.target)
  }
})

