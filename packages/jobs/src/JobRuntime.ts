/**
 * The job runtime: jobs persisted in the library database with their input, a checkpoint,
 * progress and status (`queued`, `running`, `paused`, `completed`, `failed`, `cancelled`), run
 * by handlers registered per kind. Pause and cancel are requests stored on the job, which the
 * handler honours at its next `checkpoint` (between two operations, never in the middle of
 * one). A transient failure is retried with exponential backoff. At start-up, the jobs that
 * were queued or running in a process that has died are run again from their checkpoint.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import { LibraryDatabase } from "@conduit/index"
import { Migrator, SqlClient } from "@effect/sql"
import { Context, Data, Duration, Effect, Layer, PubSub, Schedule, Stream } from "effect"

/** A job's state. */
export type JobStatus = "queued" | "running" | "paused" | "completed" | "failed" | "cancelled"

/** How far a job is. */
export interface JobProgress {
  readonly done: number
  readonly total: number
  readonly bytes: number
  readonly bytesTotal: number
}

/** A job as stored. */
export interface JobRecord {
  readonly id: string
  readonly kind: string
  readonly status: JobStatus
  readonly payload: unknown
  readonly checkpoint: unknown
  readonly progress: JobProgress
  readonly attempts: number
  readonly error: string | null
  /** The process running it (or that last ran it). */
  readonly owner: number | null
  /** Left `running` or `queued` by a process that is gone: `resumeUnfinished` picks it up. */
  readonly orphaned: boolean
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** A handler's failure; `transient` ones are retried with backoff. */
export class JobFailure extends Data.TaggedError("JobFailure")<{
  readonly message: string
  readonly transient: boolean
}> {}

/** Raised inside a handler at a checkpoint when its job was paused or cancelled. */
export class JobStopped extends Data.TaggedError("JobStopped")<{ readonly status: "paused" | "cancelled" }> {}

/** What a handler gets. */
export interface JobContext<Payload, Checkpoint> {
  readonly id: string
  readonly payload: Payload
  /** Where a previous run stopped, or null on the first run. */
  readonly checkpoint: Checkpoint | null
  /**
   * Saves where the job is and reports progress; stops the handler (with `JobStopped`) when a
   * pause or cancel was requested. Call it between units of work.
   */
  readonly checkpointAt: (checkpoint: Checkpoint, progress?: JobProgress) => Effect.Effect<void, JobStopped | Errors.LibraryError>
}

/** Runs the jobs of one kind. */
export interface JobHandler<Payload, Checkpoint, R = never> {
  readonly kind: string
  readonly run: (context: JobContext<Payload, Checkpoint>) => Effect.Effect<void, JobFailure | JobStopped | Errors.LibraryError, R>
}

/** A job that does not exist, or a request its status does not allow. */
export class JobError extends Data.TaggedError("JobError")<{
  readonly reason: "NotFound" | "UnknownKind" | "NotAllowed"
  readonly id: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotFound":
        return `no job '${this.id}'`
      case "UnknownKind":
        return `no handler is registered for the kind of job '${this.id}'`
      case "NotAllowed":
        return `job '${this.id}' cannot do that in its current state`
    }
  }
}

/** The job runtime. */
export class JobRuntime extends Context.Tag("@conduit/jobs/JobRuntime")<JobRuntime, {
  /** Registers the handler of a kind. */
  readonly register: <P, C>(handler: JobHandler<P, C>) => Effect.Effect<void>
  /** Stores a new queued job; returns its id. */
  readonly enqueue: (kind: string, payload: unknown) => Effect.Effect<string, Errors.LibraryError>
  /**
   * Runs a queued or paused job to its end (or until paused or cancelled), retrying transient
   * failures; returns the job as it ended.
   */
  readonly run: (id: string) => Effect.Effect<JobRecord, JobError | Errors.LibraryError>
  /** Asks a running job to stop at its next checkpoint (a queued one is paused at once). */
  readonly pause: (id: string) => Effect.Effect<JobRecord, JobError | Errors.LibraryError>
  /** Asks a job to stop for good (a running one at its next checkpoint). */
  readonly cancel: (id: string) => Effect.Effect<JobRecord, JobError | Errors.LibraryError>
  readonly get: (id: string) => Effect.Effect<JobRecord, JobError | Errors.LibraryError>
  readonly list: Effect.Effect<ReadonlyArray<JobRecord>, Errors.LibraryError>
  /** Jobs of a kind that have not ended (queued, running or paused), oldest first. */
  readonly unfinished: (kind: string) => Effect.Effect<ReadonlyArray<JobRecord>, Errors.LibraryError>
  /** Progress updates of the jobs run by this process. */
  readonly progress: Stream.Stream<{ readonly id: string; readonly progress: JobProgress }>
  /** Runs again the jobs left queued or running by a process that died; returns how they ended. */
  readonly resumeUnfinished: Effect.Effect<ReadonlyArray<JobRecord>, Errors.LibraryError>
}>() {}

/** Retry settings. */
export interface RuntimeOptions {
  /** Attempts of a job whose failures are transient; default 4. */
  readonly maxAttempts?: number
  /** First backoff delay; default 200 ms, doubling. */
  readonly backoff?: Duration.DurationInput
}

const migrations = {
  "0001_jobs": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // A job: its input, where it got to (checkpoint) and a pending pause/cancel request.
    yield* sql`CREATE TABLE jobs (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      status TEXT NOT NULL,
      request TEXT,
      payload TEXT NOT NULL,
      checkpoint TEXT,
      progress TEXT NOT NULL DEFAULT '{"done":0,"total":0,"bytes":0,"bytesTotal":0}',
      attempts INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      pid INTEGER,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL
    )`
    yield* sql`CREATE INDEX jobs_by_status ON jobs (status)`
  })
}

/** Ended jobs kept in the table (the newest). */
const KEEP_ENDED_JOBS = 500

interface JobRow {
  readonly id: string
  readonly kind: string
  readonly status: JobStatus
  readonly request: "pause" | "cancel" | null
  readonly payload: string
  readonly checkpoint: string | null
  readonly progress: string
  readonly attempts: number
  readonly error: string | null
  readonly pid: number | null
  readonly created_at: number
  readonly updated_at: number
}

/** Whether the process `pid` still runs (a job or a run it owned is not orphaned). */
export const alive = (pid: number | null): boolean => {
  if (pid === null) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const toRecord = (r: JobRow): JobRecord => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  payload: JSON.parse(r.payload),
  checkpoint: r.checkpoint === null ? null : JSON.parse(r.checkpoint),
  progress: JSON.parse(r.progress) as JobProgress,
  attempts: r.attempts,
  error: r.error,
  owner: r.pid,
  orphaned: (r.status === "running" || r.status === "queued") && r.pid !== null && !alive(r.pid),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at)
})

/** Builds the runtime; runs this module's migrations on the library. */
export const make = (options: RuntimeOptions = {}): Effect.Effect<
  JobRuntime["Type"],
  Errors.LibraryError,
  SqlClient.SqlClient | LibraryDatabase.LibraryDatabase
> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const db = yield* LibraryDatabase.LibraryDatabase
    const lib = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.mapError(effect, (e) => (e instanceof Errors.LibraryError ? e : LibraryDatabase.toLibraryError(e, db.file)))
    yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "conduit_jobs_migrations" }).pipe(
      Effect.mapError((cause) => new Errors.LibraryError({ reason: "Migration", path: db.file, cause }))
    )
    const handlers = new Map<string, JobHandler<any, any>>()
    const updates = yield* PubSub.unbounded<{ readonly id: string; readonly progress: JobProgress }>()
    const maxAttempts = options.maxAttempts ?? 4
    const backoff = options.backoff ?? "200 millis"

    const row = (id: string) =>
      Effect.flatMap(lib(sql<JobRow>`SELECT * FROM jobs WHERE id = ${id}`), (rows) =>
        rows.length === 0 ? Effect.fail(new JobError({ reason: "NotFound", id })) : Effect.succeed(rows[0]!))
    const get = (id: string) => Effect.map(row(id), toRecord)
    const setStatus = (id: string, status: JobStatus, error: string | null = null) =>
      lib(sql`UPDATE jobs SET status = ${status}, request = NULL, error = ${error}, updated_at = ${Date.now()} WHERE id = ${id}`)

    const enqueue = (kind: string, payload: unknown) =>
      Effect.gen(function* () {
        const id = crypto.randomUUID()
        const now = Date.now()
        // Ended jobs are history: the newest ones are kept, the table does not grow forever.
        yield* lib(sql`DELETE FROM jobs WHERE status IN ('completed', 'cancelled', 'failed')
          AND id NOT IN (SELECT id FROM jobs ORDER BY created_at DESC LIMIT ${KEEP_ENDED_JOBS})`)
        yield* lib(sql`INSERT INTO jobs ${
          sql.insert({ id, kind, status: "queued", payload: JSON.stringify(payload), created_at: now, updated_at: now })
        }`)
        return id
      })

    const runOnce = (job: JobRow, handler: JobHandler<any, any>) => {
      const context: JobContext<unknown, unknown> = {
        id: job.id,
        payload: JSON.parse(job.payload),
        checkpoint: job.checkpoint === null ? null : JSON.parse(job.checkpoint),
        checkpointAt: (checkpoint, progress) =>
          Effect.gen(function* () {
            const now = Date.now()
            yield* lib(progress === undefined
              ? sql`UPDATE jobs SET checkpoint = ${JSON.stringify(checkpoint)}, updated_at = ${now} WHERE id = ${job.id}`
              : sql`UPDATE jobs SET checkpoint = ${JSON.stringify(checkpoint)}, progress = ${JSON.stringify(progress)}, updated_at = ${now} WHERE id = ${job.id}`)
            if (progress !== undefined) yield* PubSub.publish(updates, { id: job.id, progress })
            const [current] = yield* lib(sql<{ request: "pause" | "cancel" | null }>`SELECT request FROM jobs WHERE id = ${job.id}`)
            if (current?.request === "pause") return yield* new JobStopped({ status: "paused" })
            if (current?.request === "cancel") return yield* new JobStopped({ status: "cancelled" })
          })
      }
      return Effect.zipRight(
        lib(sql`UPDATE jobs SET attempts = attempts + 1, updated_at = ${Date.now()} WHERE id = ${job.id}`),
        handler.run(context)
      )
    }

    const run = (id: string) =>
      Effect.gen(function* () {
        const job = yield* row(id)
        const handler = handlers.get(job.kind)
        if (handler === undefined) return yield* new JobError({ reason: "UnknownKind", id })
        if (job.status === "completed" || job.status === "cancelled") return yield* new JobError({ reason: "NotAllowed", id })
        yield* lib(sql`UPDATE jobs SET status = 'running', request = NULL, pid = ${process.pid}, updated_at = ${Date.now()} WHERE id = ${id}`)
        // Each attempt re-reads the row, so a retry starts from the last checkpoint.
        const attempt = Effect.flatMap(row(id), (current) => runOnce(current, handler))
        const retried = attempt.pipe(
          Effect.retry({
            while: (e) => e._tag === "JobFailure" && e.transient,
            schedule: Schedule.exponential(backoff),
            times: maxAttempts - 1
          })
        )
        yield* retried.pipe(
          Effect.matchEffect({
            onSuccess: () => setStatus(id, "completed"),
            onFailure: (e) =>
              e._tag === "JobStopped"
                ? setStatus(id, e.status)
                : setStatus(id, "failed", e.message)
          })
        )
        return yield* get(id)
      }).pipe(Effect.withSpan("JobRuntime.run"))

    const request = (id: string, what: "pause" | "cancel") =>
      Effect.gen(function* () {
        const job = yield* row(id)
        if (job.status === "completed" || job.status === "cancelled" || job.status === "failed") {
          return yield* new JobError({ reason: "NotAllowed", id })
        }
        if (job.status === "running" && alive(job.pid)) {
          yield* lib(sql`UPDATE jobs SET request = ${what}, updated_at = ${Date.now()} WHERE id = ${id}`)
        } else {
          yield* setStatus(id, what === "pause" ? "paused" : "cancelled")
        }
        return yield* get(id)
      })

    const list = Effect.map(lib(sql<JobRow>`SELECT * FROM jobs ORDER BY created_at`), (rows) => rows.map(toRecord))
    const unfinished = (kind: string) =>
      Effect.map(
        lib(sql<JobRow>`SELECT * FROM jobs WHERE kind = ${kind} AND status IN ('queued', 'running', 'paused') ORDER BY created_at`),
        (rows) => rows.map(toRecord)
      )

    const resumeUnfinished = Effect.gen(function* () {
      const rows = yield* lib(sql<JobRow>`SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at`)
      const orphans = rows.filter((r) => r.status === "queued" || !alive(r.pid))
      const ended: Array<JobRecord> = []
      for (const r of orphans) {
        if (!handlers.has(r.kind)) continue
        ended.push(yield* Effect.catchTag(run(r.id), "JobError", () => get(r.id).pipe(Effect.orDie)))
      }
      return ended
    })

    return JobRuntime.of({
      register: (handler) => Effect.sync(() => void handlers.set(handler.kind, handler)),
      enqueue,
      run,
      pause: (id) => request(id, "pause"),
      cancel: (id) => request(id, "cancel"),
      get,
      list,
      unfinished,
      progress: Stream.fromPubSub(updates),
      resumeUnfinished
    })
  })

/** The runtime with default retry settings, on the library database. */
export const layer: Layer.Layer<JobRuntime, Errors.LibraryError, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> = Layer.effect(
  JobRuntime,
  make()
)

/** The runtime with explicit retry settings. */
export const layerWith = (options: RuntimeOptions): Layer.Layer<JobRuntime, Errors.LibraryError, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> =>
  Layer.effect(JobRuntime, make(options))
