/**
 * `conduit jobs [pause | resume | cancel ID]`: the persistent jobs of the library — each
 * conduit run is a `FileSyncJob` — with their status and progress. A pause or cancel asked
 * from here reaches a run going on in another process at its next checkpoint (between two
 * batches of copies, never halfway through a file); `resume` runs a paused or interrupted job
 * here, from where it stopped.
 *
 * @since 0.1.0
 */
import { JobRuntime } from "@conduit/jobs"
import { Conduits } from "@conduit/sync"
import { Args, Command } from "@effect/cli"
import { Effect } from "effect"
import { CliError } from "./CliError.js"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Progress from "./Progress.js"
import * as SyncReport from "./SyncReport.js"

const jobId = Args.text({ name: "JOB" }).pipe(
  Args.withDescription("the job's id, or a prefix of it that no other job's id starts with (at least 4 characters)")
)

/** The job whose id is `id` or starts with it. */
const find = (id: string) =>
  Effect.gen(function* () {
    const all = yield* (yield* JobRuntime.JobRuntime).list
    const matches = id.length < 4 ? all.filter((j) => j.id === id) : all.filter((j) => j.id.startsWith(id))
    if (matches.length === 0) return yield* new CliError({ reason: "UnknownJob", value: id })
    if (matches.length > 1) return yield* new CliError({ reason: "AmbiguousJob", value: id })
    return matches[0]!
  })

const progressOf = (j: JobRuntime.JobRecord) =>
  j.progress.total === 0 ? "" : `${j.progress.done}/${j.progress.total} ${Format.bytes(j.progress.bytes)}`

const table = (jobs: ReadonlyArray<JobRuntime.JobRecord>) =>
  Format.table([
    ["JOB", "KIND", "STATUS", "CONDUIT", "PROGRESS", "UPDATED", "ERROR"],
    ...jobs.map((j) => {
      const json = Json.job(j)
      return [
        Format.shortId(j.id),
        j.kind,
        j.orphaned ? `${j.status} (interrupted)` : j.status,
        json.conduit === null ? "" : Format.shortId(json.conduit),
        progressOf(j),
        Format.localTime(j.updatedAt),
        j.error ?? ""
      ]
    })
  ])

/** Pause or cancel: the request, and what the job says now. */
const request = (name: "pause" | "cancel", description: string) =>
  Command.make(name, { id: jobId, json: Output.json }, (args) =>
    Effect.gen(function* () {
      const jobs = yield* JobRuntime.JobRuntime
      const job = yield* find(args.id)
      const after = yield* (name === "pause" ? jobs.pause(job.id) : jobs.cancel(job.id)).pipe(
        Effect.catchTag("JobError", () => new CliError({ reason: "JobEnded", value: `${Format.shortId(job.id)} is ${job.status}` }))
      )
      if (args.json) return yield* Output.printJson({ job: Json.job(after) })
      yield* Output.line(after.status === "running"
        ? `job ${Format.shortId(after.id)}: ${name} requested; the run stops at its next checkpoint`
        : `job ${Format.shortId(after.id)}: ${after.status}`)
    }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(Command.withDescription(description))

/** `conduit jobs resume`. */
const resume = Command.make("resume", { id: jobId, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const job = yield* find(args.id)
    if (job.status === "completed" || job.status === "cancelled" || job.status === "failed") {
      return yield* new CliError({ reason: "JobEnded", value: `${Format.shortId(job.id)} is ${job.status}` })
    }
    if (job.kind !== Conduits.FileSyncJob) return yield* new CliError({ reason: "UnknownJob", value: `${args.id} (a ${job.kind}, which this command cannot run)` })
    const conduits = yield* Conduits.Conduits
    const result = yield* Progress.trackSync("syncing", Progress.enabled(args), (onProgress) =>
      conduits.runJob(job.id, onProgress === undefined ? {} : { onProgress }))
    yield* SyncReport.print(SyncReport.fromRun(result, result.conduit.mode), {
      json: args.json,
      dryRunCommand: `'conduit plan ${Format.shortId(result.conduit.id)}'`
    })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("Run a paused or interrupted job here, from where it stopped (a sync re-plans from the index: what is done stays done).")
)

/** `conduit jobs`. */
export const command = Command.make("jobs", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const all = yield* (yield* JobRuntime.JobRuntime).list
    if (args.json) return yield* Output.printJson({ jobs: all.map(Json.job) })
    if (all.length === 0) return yield* Output.note("no jobs yet: every 'conduit run' and 'conduit sync' is one")
    yield* Effect.forEach(table(all), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the jobs (every conduit run is a FileSyncJob) with status and progress; pause, resume or cancel one."),
  Command.withSubcommands([
    request("pause", "Ask a job to pause: a running one stops at its next checkpoint, a queued one at once; resume it with 'conduit jobs resume'."),
    resume,
    request("cancel", "Ask a job to stop for good: a running one stops at its next checkpoint; the next run of its conduit is a new job.")
  ])
)
