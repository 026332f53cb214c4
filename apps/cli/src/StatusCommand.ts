/**
 * `conduit status [ID]`: the sync status panel — per conduit its state, the progress of its
 * running (or paused) job with speed and ETA, what is pending, its last generation, its
 * recent conflicts and the storage of both endpoints' volumes.
 *
 * It reads the library directly (`ConduitStatus` of @conduit/sync), daemon or not: a run in
 * the daemon or in another CLI process records its progress in the library at every
 * checkpoint, so it shows here as it goes. The daemon's scheduler view (a pending run, the next
 * scheduled one) is only in `GET /v1/conduits/status`, so `scheduler` is null here.
 *
 * @since 0.1.0
 */
import { ConduitStatus } from "@conduit/sync"
import { Args, Command } from "@effect/cli"
import { Effect, Option } from "effect"
import * as Format from "./Format.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"

/** A percentage of a job's operations, to a whole percent: `42%`. */
const percent = (done: number, total: number) => `${total === 0 ? 0 : Math.floor((Math.min(done, total) * 100) / total)}%`

/** The block of one conduit: a heading line, then one indented `name  value` line per figure. */
export const block = (s: ConduitStatus.StatusJson): Array<string> => {
  const job = s.job
  const last = s.lastGeneration
  const newest = s.conflicts.recent[0]
  const storage = (side: ConduitStatus.StatusJson["storage"]["source"]) =>
    side.freeBytes === null || side.usedBytes === null
      ? `${side.path}: unknown${side.peer === null ? "" : ` (on ${side.peer})`}`
      : `${side.path}: ${Format.bytes(side.usedBytes)} used, ${Format.bytes(side.freeBytes)} free`
  return [
    `${Format.shortId(s.id)}  ${s.source} → ${s.target}`,
    ...Format.table([
      ["mode", s.mode],
      ["schedule", s.schedule + (s.scheduler?.nextRunAt == null ? "" : `, next run ${Format.localTime(new Date(s.scheduler.nextRunAt))}`)],
      ["state", s.state + (job === null ? "" : `, job ${Format.shortId(job.id)}${job.orphaned ? " (interrupted)" : ""}`) +
        (s.scheduler?.lastError == null ? "" : ` (last error: ${s.scheduler.lastError})`)],
      ["progress", job === null || job.total === 0
        ? "-"
        : `${percent(job.done, job.total)} (${job.done}/${job.total} operations, ${Format.bytes(job.bytes)} of ${Format.bytes(job.bytesTotal)})`],
      ["speed", s.bytesPerSecond === null ? "-" : `${Format.bytes(s.bytesPerSecond)}/s`],
      ["eta", s.etaMs === null ? "-" : Format.duration(s.etaMs)],
      ["pending", `${s.pending.operations} operations, ${Format.bytes(s.pending.bytes)}${s.pending.runQueued ? "; another run queued" : ""}`],
      ["last generation", last === null
        ? "none (it never ran)"
        : `${last.generation}: ${last.status}, ${Format.localTime(new Date(last.startedAt))}; ${last.filesCopied} copied, ` +
          `${last.filesDeleted} deleted, ${last.filesMoved} moved, ${Format.bytes(last.bytesTransferred)}` +
          (last.errors === 0 ? "" : `, ${last.errors} errors`)],
      ["conflicts", newest === undefined
        ? "none"
        : `${s.conflicts.count}; newest: ${newest.path} (generation ${newest.generation}) ${newest.reason}, ${newest.resolution}, kept the ${newest.winner}'s`],
      ["source storage", storage(s.storage.source)],
      ["target storage", storage(s.storage.target)]
    ]).map((line) => `  ${line}`)
  ]
}

/** `conduit status`. */
export const command = Command.make("status", {
  id: Args.text({ name: "ID" }).pipe(
    Args.withDescription("show only this conduit: its id or a unique prefix (default: every conduit)"),
    Args.optional
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const all = (yield* ConduitStatus.collect(Option.getOrUndefined(args.id))).map(ConduitStatus.toJson)
    if (args.json) return yield* Output.printJson({ conduits: all })
    if (all.length === 0) return yield* Output.note("no conduits yet; create one with 'conduit conduit create SRC DST'")
    yield* Effect.forEach(all.flatMap((s, i) => [...(i === 0 ? [] : [""]), ...block(s)]), Output.line, { discard: true })
  }).pipe(Effect.provide(Library.conduitsLayer), Output.reportFailures(args))).pipe(
  Command.withDescription(
    "Show each conduit's status: state, progress with speed and ETA, pending work, last generation, recent conflicts, storage used/free of each endpoint."
  )
)
