/**
 * The human-readable text of the CLI: summaries, tables and listing lines. Plain text, no
 * colours, so it reads the same in a terminal, a pipe and a log.
 *
 * @since 0.1.0
 */
import type { Entry } from "@conduit/domain"
import { Entry as EntryModule } from "@conduit/domain"
import type { Indexer, IndexStore, Locations } from "@conduit/index"
import type { VersionStore } from "@conduit/jobs"
import type { Plan } from "@conduit/resolver"
import type { Conduits, DirectorySync, LocalPlanRunner } from "@conduit/sync"
import { generationDurationMs, mtimeIso } from "./Json.js"

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]

/** A byte count in binary units: `0 B`, `512 B`, `1.5 KiB`, `20 GiB`. */
export const bytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`
}

/** A duration: `15 ms`, `1.2 s`, `3 min 4 s`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)} min ${s % 60} s`
}

/** A count with its noun, singular or plural. */
const count = (n: number, singular: string, plural = `${singular}s`) => `${n} ${n === 1 ? singular : plural}`

/** A local date and time to the second: `2025-03-01 14:05:09`. */
export const localTime = (date: Date): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`
}

/** One line saying what a location is. */
export const location = (l: Locations.Location): string =>
  `${l.name} (${l.root}), mode ${l.indexingMode}${l.ignorePatterns.length > 0 ? `, ignoring ${l.ignorePatterns.join(" ")}` : ""}, id ${l.id}`

/**
 * A scan summary: one line of counts, then one indented line per problem.
 * `verb` says what happened: "indexed", "rescanned".
 */
export const summary = (verb: string, name: string, s: Indexer.ScanSummary): Array<string> => [
  `${verb} ${name}: ${count(s.entriesSeen, "entry", "entries")}, ${s.added} added, ${s.modified} modified, ` +
  `${s.moved} moved, ${s.deleted} deleted, ${count(s.filesHashed, "file")} hashed (${bytes(s.bytesHashed)}) ` +
  `in ${duration(s.durationMs)}` + (s.problems.length > 0 ? `, ${count(s.problems.length, "problem")}:` : ""),
  ...s.problems.map((p) => `  ${p.path === "" ? "." : p.path}: ${p.reason} ${p.detail}`)
]

/** Aligns rows of cells into columns (the last column is not padded). */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
}

/** The location table of `conduit location list`. */
export const locationTable = (
  rows: ReadonlyArray<{ readonly location: Locations.Location; readonly totals: IndexStore.LocationTotals }>
): Array<string> =>
  table([
    ["ID", "NAME", "MODE", "LAST SCAN", "FILES", "SIZE", "ROOT"],
    ...rows.map(({ location: l, totals }) => [
      l.id,
      l.name,
      l.indexingMode,
      l.lastScanAt === null ? "never" : localTime(l.lastScanAt),
      String(totals.files),
      bytes(totals.bytes),
      l.root
    ])
  ])

const KIND = ["-", "d", "l"] as const

/** Width of the size column of a listing: room for sizes up to 1 PB without shifting. */
const SIZE_WIDTH = 15

/**
 * One line of `conduit ls`: kind, size, mtime, the first 12 hex digits of the hash (or why
 * there is none), the path and, for a symlink, its target. Fixed columns, so lines can be
 * printed as they stream.
 */
export const entry = (e: Entry.Entry, path: string, pinned = false): string => {
  const hash = e.hash !== null ? e.hash.slice(0, 12) : e.kind === 0 ? e.hashState : "-"
  const target = e.kind === 2 && e.linkTarget !== null ? ` -> ${e.linkTarget}` : ""
  // Selective mode: an evicted file's bytes are on the secondary; a pinned one always stays local.
  const marks = [...(e.remote ? ["remote"] : []), ...(pinned ? ["pinned"] : [])]
  return `${KIND[e.kind]} ${String(e.size).padStart(SIZE_WIDTH)} ${mtimeIso(e.mtimeNs)} ${hash.padEnd(12)} ${path}${target}${marks.length === 0 ? "" : ` [${marks.join(", ")}]`}`
}

// -- sync ------------------------------------------------------------------------------------

/** A path of a plan, relative to its endpoint: the endpoint itself reads `.`. */
const planPath = (path: string): string => (path === "" ? "." : path)

/** The plan line of `conduit sync`: what the mode decided, counted. */
export const plan = (s: Plan.PlanSummary): string =>
  `plan: ${count(s.copies, "copy", "copies")} (${bytes(s.bytes)}), ${count(s.moves, "move")}, ${count(s.deletes, "delete")}, ` +
  `${count(s.attributes, "attribute change")}, ${count(s.conflicts, "conflict")}`

const RESOLUTION: Record<Plan.Conflict["resolution"], string> = {
  LastWriteWins: "the later write",
  EditKept: "the edit",
  SourceWins: "the source always wins"
}

/** Why a conflict is one, in words. */
const conflictReason = (c: Plan.Conflict): string => {
  const loser = c.winner === "source" ? "target" : "source"
  switch (c.reason) {
    case "BothChanged":
      return "changed on both sides"
    case "DeleteVsEdit":
      return `deleted on the ${loser}, changed on the ${c.winner}`
    case "TypeChange": {
      const kind = (f: Plan.Conflict["source"]) => (f === null ? "nothing" : `a ${EntryModule.kindName(f.kind)}`)
      return `${kind(c.source)} on the source, ${kind(c.target)} on the target`
    }
  }
}

/**
 * One line per conflict: the path, why, whose version was kept and where the other went (a
 * deletion that lost leaves nothing to keep). `planned` words it as what a run will do.
 */
export const conflict = (c: Plan.Conflict, planned: boolean): string => {
  const kept = `${planned ? "will keep" : "kept"} the ${c.winner}'s version (${RESOLUTION[c.resolution]})`
  const other = c.reason === "DeleteVsEdit"
    ? ""
    : planned ? "; the other will go to the version store" : "; the other is in the version store"
  return `conflict: ${planPath(c.path)} — ${conflictReason(c)}, ${kept}${other}`
}

/** One operation of a plan: `copy docs/a.txt → target`, `delete old.txt on target`, … */
export const operation = (op: Plan.Operation): string => {
  switch (op._tag) {
    case "Copy":
      return `copy ${planPath(op.path)}${op.entry.kind === 1 && op.path !== "" ? "/" : ""} → ${op.to}` +
        (op.replaces === null ? "" : ` (replacing the ${op.to}'s)`)
    case "Delete":
      return `delete ${planPath(op.path)} on ${op.side}${op.verifiedOn === null ? "" : ` once verified on the ${op.verifiedOn}`}`
    case "Move":
      return `move ${op.from} → ${op.to} on ${op.side}`
    case "SetAttributes":
      return `attributes ${planPath(op.path)} on ${op.side}`
  }
}

/** An operation a run skipped, with the error's sentence. */
export const skipped = (s: LocalPlanRunner.Skipped): string => `skipped: ${operation(s.operation)}: ${s.error.message}`

/** An endpoint of a sync as an absolute path. */
export const endpoint = (e: DirectorySync.SyncedEndpoint): string => (e.dir === "" ? e.root : `${e.root}/${e.dir}`)

/** The closing line of a sync that ran. */
export const synced = (r: DirectorySync.DirectorySyncResult, report: LocalPlanRunner.RunReport): string =>
  `synced ${endpoint(r.source)} → ${endpoint(r.target)} (${r.mode}): ${report.copied} copied, ${report.moved} moved, ` +
  `${report.deleted} deleted, ${report.attributes} attributes set in ${duration(r.durationMs)}; ` +
  (report.stopped !== null
    ? `${report.stopped} after ${report.copied + report.moved + report.deleted + report.attributes} of ${r.plan.operations.length} operations`
    : r.verified
    ? "verified"
    : `not verified: ${r.remaining === 1 ? "1 difference remains" : `${r.remaining} differences remain`}`)

// -- conduits --------------------------------------------------------------------------------

/** The first 8 characters of a conduit id: what tables show, and a prefix every command accepts. */
export const shortId = (id: string): string => id.slice(0, 8)

/** A conduit in a phrase: `5b0e1c2d (/home/me/photos → /mnt/backup/photos)`. */
export const conduitName = (c: Conduits.Conduit): string => `${shortId(c.id)} (${c.source.path} → ${c.target.path})`

const yesNo = (b: boolean) => (b ? "yes" : "no")

/** The conduit table of `conduit conduit list`. */
export const conduitTable = (conduits: ReadonlyArray<Conduits.Conduit>): Array<string> =>
  table([
    ["ID", "MODE", "ENABLED", "GENERATION", "LAST SYNC", "SOURCE → TARGET"],
    ...conduits.map((c) => [
      shortId(c.id),
      c.mode,
      yesNo(c.enabled),
      String(c.syncGeneration),
      c.lastSyncCompletedAt === null ? "never" : localTime(c.lastSyncCompletedAt),
      `${c.source.path} → ${c.target.path}`
    ])
  ])

/** An endpoint of a conduit with the location it is in. */
const conduitEndpoint = (e: Conduits.ConduitEndpoint): string =>
  `${e.path} (location ${e.location.name}${e.dir === "" ? "" : `, directory ${e.dir}`})`

/**
 * Every field of a conduit, one `name  value` line each (`create`); with `last` (`show`), its
 * last generation too (null: it never ran), then that generation's errors.
 */
export const conduitDetails = (c: Conduits.Conduit, last?: Conduits.Generation | null): Array<string> => [
  ...table([
    ["id", c.id],
    ["source", conduitEndpoint(c.source)],
    ["target", conduitEndpoint(c.target)],
    ["mode", c.mode],
    ["enabled", yesNo(c.enabled)],
    ["schedule", c.schedule],
    ["parallel transfers", String(c.parallelTransfers)],
    ["max delete ratio", String(c.maxDeleteRatio)],
    ["keep versions", c.versionRetentionDays === 0 ? "forever" : `${c.versionRetentionDays} days`],
    ["index rules", c.useIndexRules ? "used" : "ignored"],
    ["index mode override", c.indexModeOverride ?? "none"],
    ["bandwidth limit", c.bandwidthLimitMbps === null ? "none" : `${c.bandwidthLimitMbps} Mbit/s`],
    ["conflict strategy", c.conflictStrategy],
    ...(c.mode === "selective"
      ? [["cache budget", cacheBudget(c)], ["cache policy", c.cachePolicy]] as Array<[string, string]>
      : []),
    ["generation", String(c.syncGeneration)],
    ["last sync", c.lastSyncCompletedAt === null ? "never" : localTime(c.lastSyncCompletedAt)],
    ["created", localTime(c.createdAt)],
    ["updated", localTime(c.updatedAt)],
    ...(last === undefined ? [] : [["last generation", last === null ? "none (it never ran)" : generationSummary(last)]])
  ]),
  ...(last === undefined || last === null ? [] : generationErrors(last))
]

/** What a selective conduit's cache step did, a line per part. */
export const cacheOutcome = (c: Conduits.CacheOutcome): Array<string> => [
  `cache: ${count(c.evicted.length, "file")} evicted, ${count(c.fetched.length, "file")} fetched; ${bytes(c.localBytesAfter)} local` +
  (c.limitBytes === null ? " (no budget)" : ` of a ${bytes(c.limitBytes)} budget`),
  ...c.evicted.map((e) => `evicted: ${e.path} (${bytes(e.size)}): ${e.reason}`),
  ...c.fetched.map((f) => `fetched: ${f.path} (${bytes(f.size)}): ${f.reason}`),
  ...c.skipped.map((k) => `cache skipped: ${k.path}: ${k.message}`),
  ...c.warnings.map((w) => `warning: ${w.message}`)
]

/** A selective conduit's budget in words. */
const cacheBudget = (c: Conduits.Conduit): string => {
  const parts = [
    ...(c.cacheMaxBytes === null ? [] : [`at most ${bytes(c.cacheMaxBytes)} local`]),
    ...(c.cacheMinFreeBytes === null ? [] : [`keep ${bytes(c.cacheMinFreeBytes)} free`]),
    ...(c.cacheMinFreePercent === null ? [] : [`keep ${c.cacheMinFreePercent}% free`])
  ]
  return parts.length === 0 ? "none (nothing is evicted; pins and asked-for files are fetched)" : parts.join(", ")
}

/** A generation in one phrase: `3: completed, started 2025-03-01 14:05:09, took 1.2 s; 3 copied, …; verified`. */
export const generationSummary = (g: Conduits.Generation): string =>
  `${g.generation}: ${g.status}, started ${localTime(g.startedAt)}, took ${generationDuration(g)}; ${g.filesCopied} copied, ` +
  `${g.filesDeleted} deleted, ${g.filesMoved} moved, ${bytes(g.bytesTransferred)}, ${count(g.conflictsResolved, "conflict")}; ${g.verification}`

/** A generation's errors, one indented line each: `REASON: SENTENCE`. */
const generationErrors = (g: Conduits.Generation): Array<string> => g.errors.map((e) => `  ${e.reason}: ${e.message}`)

/** How long a generation took: `-` while it runs or when it was interrupted. */
const generationDuration = (g: Conduits.Generation): string => {
  const ms = generationDurationMs(g)
  return ms === null ? "-" : duration(ms)
}

/**
 * The generations of `conduit history` as a table, newest first; after each its errors, one
 * indented line each (`REASON: SENTENCE`).
 */
export const generationTable = (generations: ReadonlyArray<Conduits.Generation>): Array<string> => {
  const rows = table([
    ["GENERATION", "STATUS", "STARTED", "DURATION", "COPIED", "DELETED", "MOVED", "BYTES", "CONFLICTS", "VERIFICATION"],
    ...generations.map((g) => [
      String(g.generation),
      g.status,
      localTime(g.startedAt),
      generationDuration(g),
      String(g.filesCopied),
      String(g.filesDeleted),
      String(g.filesMoved),
      bytes(g.bytesTransferred),
      String(g.conflictsResolved),
      g.verification
    ])
  ])
  return [rows[0]!, ...generations.flatMap((g, i) => [rows[i + 1]!, ...generationErrors(g)])]
}

/** The conflicts of `conduit conflicts`, newest first. */
export const conflictTable = (conflicts: ReadonlyArray<Conduits.ConflictRecord>): Array<string> =>
  table([
    ["CONDUIT", "GENERATION", "PATH", "REASON", "WINNER", "RESOLUTION"],
    ...conflicts.map((c) => [shortId(c.conduit), String(c.generation), planPath(c.path), c.reason, c.winner, c.resolution])
  ])

// -- versions --------------------------------------------------------------------------------

/** The versions of `conduit versions`, numbered from 1 (the newest); a directory's size reads `directory`. */
export const versionTable = (
  versions: ReadonlyArray<{ readonly version: VersionStore.Version; readonly size: number | null }>
): Array<string> =>
  table([
    ["VERSION", "KEPT AT", "SIZE", "FILE"],
    ...versions.map(({ version, size }, i) => [
      String(i + 1),
      localTime(version.keptAt),
      size === null ? "directory" : bytes(size),
      version.file
    ])
  ])
