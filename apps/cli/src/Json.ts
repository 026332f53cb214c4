/**
 * The JSON the CLI prints with `--json`: a stable contract that scripts are written against
 * (documented in README.md). The library's types are copied field by field, so a change
 * inside @conduit/index cannot silently change what scripts see.
 *
 * @since 0.1.0
 */
import type { Entry } from "@conduit/domain"
import { Entry as EntryModule } from "@conduit/domain"
import type { Indexer, IndexStore, Locations } from "@conduit/index"
import type { JobRuntime, VersionStore } from "@conduit/jobs"
import type { Fingerprint, Plan } from "@conduit/resolver"
import { Conduits } from "@conduit/sync"
import type { DirectorySync, LocalPlanRunner } from "@conduit/sync"
import { describe } from "./Output.js"

/** A location. */
export interface LocationJson {
  readonly id: string
  readonly name: string
  readonly root: string
  readonly mode: "Standard" | "SyncComplete"
  readonly ignorePatterns: ReadonlyArray<string>
  /** ISO 8601. */
  readonly createdAt: string
  /** ISO 8601, or null before the first completed scan. */
  readonly lastScanAt: string | null
}

/** Encodes a location. */
export const location = (l: Locations.Location): LocationJson => ({
  id: l.id,
  name: l.name,
  root: l.root,
  mode: l.indexingMode,
  ignorePatterns: l.ignorePatterns,
  createdAt: l.createdAt.toISOString(),
  lastScanAt: l.lastScanAt === null ? null : l.lastScanAt.toISOString()
})

/** Encodes a location's totals. */
export const totals = (t: IndexStore.LocationTotals) => ({
  files: t.files,
  directories: t.directories,
  symlinks: t.symlinks,
  bytes: t.bytes,
  tombstones: t.tombstones,
  unhashed: t.unhashed
})

/** An index entry. */
export interface EntryJson {
  /** Relative to the directory that was listed, `/`-separated. */
  readonly path: string
  readonly kind: "file" | "directory" | "symlink"
  readonly size: number
  /** ISO 8601, millisecond precision. */
  readonly mtime: string
  /** Nanoseconds since the Unix epoch, as a decimal string (too large for a JSON number). */
  readonly mtimeNs: string
  /** BLAKE3-256, 64 hex digits, or null when not hashed (see hashState). */
  readonly hash: string | null
  readonly hashState: "ok" | "pending" | "unreadable" | "unstable"
  readonly linkTarget: string | null
  readonly inode: number | null
  readonly mode: number | null
  readonly seq: number
  /** Selective mode evicted it: the index keeps the row, the bytes are on the secondary. */
  readonly remote: boolean
}

/** Modification time of an entry as an ISO 8601 string. */
export const mtimeIso = (mtimeNs: bigint): string => new Date(Number(mtimeNs / 1_000_000n)).toISOString()

/** Encodes an entry, with its path as the caller shows it. */
export const entry = (e: Entry.Entry, path: string): EntryJson => ({
  path,
  kind: EntryModule.kindName(e.kind),
  size: e.size,
  mtime: mtimeIso(e.mtimeNs),
  mtimeNs: e.mtimeNs.toString(),
  hash: e.hash,
  hashState: e.hashState,
  linkTarget: e.linkTarget,
  inode: e.inode,
  mode: e.mode,
  seq: e.seq,
  remote: e.remote
})

/** Encodes a scan summary: the fields of `Indexer.ScanSummary`. */
export const summary = (s: Indexer.ScanSummary) => ({
  location: s.location,
  root: s.root,
  entriesSeen: s.entriesSeen,
  added: s.added,
  modified: s.modified,
  moved: s.moved,
  deleted: s.deleted,
  filesHashed: s.filesHashed,
  bytesHashed: s.bytesHashed,
  problems: s.problems.map((p) => ({ path: p.path, reason: p.reason, detail: p.detail })),
  sequences: s.sequences === null ? null : { first: s.sequences.first, last: s.sequences.last },
  durationMs: s.durationMs
})

/** The state of a path in a plan: what a copy writes, what a delete removes. */
export const fingerprint = (f: Fingerprint.Fingerprint) => ({
  kind: EntryModule.kindName(f.kind),
  hash: f.hash,
  size: f.size,
  /** Nanoseconds since the Unix epoch, as a decimal string. */
  mtimeNs: f.mtimeNs.toString(),
  mode: f.mode,
  linkTarget: f.linkTarget
})

/** A plan operation; paths are relative to the endpoints. */
export const operation = (op: Plan.Operation) => {
  switch (op._tag) {
    case "Copy":
      return {
        _tag: op._tag,
        path: op.path,
        from: op.from,
        to: op.to,
        entry: fingerprint(op.entry),
        replaces: op.replaces === null ? null : fingerprint(op.replaces)
      }
    case "Delete":
      return { _tag: op._tag, path: op.path, side: op.side, entry: fingerprint(op.entry), verifiedOn: op.verifiedOn }
    case "Move":
      return { _tag: op._tag, from: op.from, to: op.to, side: op.side, entry: fingerprint(op.entry) }
    case "SetAttributes":
      return { _tag: op._tag, path: op.path, side: op.side, mtimeNs: op.mtimeNs.toString(), mode: op.mode }
  }
}

/** An endpoint of a sync. */
const syncEndpoint = (e: DirectorySync.SyncedEndpoint) => ({
  path: e.dir === "" ? e.root : `${e.root}/${e.dir}`,
  root: e.root,
  dir: e.dir,
  addedLocation: e.addedLocation
})

/** What a sync run did; each skipped operation with its error. */
const report = (r: LocalPlanRunner.RunReport) => ({
  copied: r.copied,
  moved: r.moved,
  deleted: r.deleted,
  attributes: r.attributes,
  bytes: r.bytes,
  skipped: r.skipped.map((s) => ({ operation: operation(s.operation), error: describe(s.error) })),
  /** "paused" or "cancelled" when the run's job was stopped at a checkpoint. */
  stopped: r.stopped
})

/**
 * The document of `conduit sync`. The plan's operations are listed only for a dry run (a
 * real run's can be millions); `report` and `generation` are null on a dry run, `refusal` is
 * the plan guard a real run would have failed with (dry run only).
 */
export const syncResult = (r: DirectorySync.DirectorySyncResult, options: { readonly operations: boolean }) => ({
  conduit: r.conduit,
  generation: r.generation,
  source: syncEndpoint(r.source),
  target: syncEndpoint(r.target),
  mode: r.mode,
  plan: {
    summary: {
      copies: r.plan.summary.copies,
      moves: r.plan.summary.moves,
      deletes: r.plan.summary.deletes,
      attributes: r.plan.summary.attributes,
      conflicts: r.plan.summary.conflicts,
      bytes: r.plan.summary.bytes
    },
    conflicts: r.plan.conflicts.map((c) => ({ path: c.path, reason: c.reason, winner: c.winner, resolution: c.resolution })),
    ...(options.operations ? { operations: r.plan.operations.map(operation) } : {})
  },
  report: r.report === null ? null : report(r.report),
  refusal: r.refusal === null ? null : describe(r.refusal),
  verified: r.verified,
  remaining: r.remaining,
  durationMs: r.durationMs,
  job: r.job === null ? null : { id: r.job.id, status: r.job.status }
})

// -- jobs ------------------------------------------------------------------------------------

/** Encodes a job of the runtime. */
export const job = (j: JobRuntime.JobRecord) => ({
  id: j.id,
  kind: j.kind,
  status: j.status,
  /** The conduit of a FileSyncJob. */
  conduit: typeof (j.payload as { conduit?: unknown } | null)?.conduit === "string" ? (j.payload as { conduit: string }).conduit : null,
  progress: j.progress,
  attempts: j.attempts,
  error: j.error,
  orphaned: j.orphaned,
  createdAt: j.createdAt.toISOString(),
  updatedAt: j.updatedAt.toISOString()
})

// -- conduits --------------------------------------------------------------------------------

/** Encodes a conduit: its endpoints, every setting and where its runs are. */
export const conduit = Conduits.toDocument

/**
 * How long a generation took, or null while it runs and for one that was interrupted (its end
 * is when a later process noticed, not when it stopped).
 */
export const generationDurationMs = Conduits.generationDurationMs

/** Encodes a generation: one run of a conduit. */
export const generation = Conduits.generationDocument

/** Encodes a recorded conflict. */
export const conflictRecord = (r: Conduits.ConflictRecord) => ({
  conduit: r.conduit,
  generation: r.generation,
  path: r.path,
  reason: r.reason,
  winner: r.winner,
  resolution: r.resolution,
  sourceHash: r.sourceHash,
  targetHash: r.targetHash,
  createdAt: r.createdAt.toISOString()
})

/** Encodes a kept version with its number (1 = the newest) and its size (null for a directory). */
export const version = (v: VersionStore.Version, number: number, size: number | null) => ({
  version: number,
  keptAt: v.keptAt.toISOString(),
  size,
  file: v.file
})

/** An error. Internal defects have `_tag` "InternalError" and `reason` "Defect". */
export interface ErrorJson {
  readonly _tag: string
  readonly reason: string
  readonly message: string
  readonly path: string | null
}
