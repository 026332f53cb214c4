/**
 * Runs a plan between two endpoints on this device with the jobs' file operations, in the order
 * that keeps every step safe:
 *
 * 1. directories the plan creates (parents first), then symlinks and files — files copied
 *    several at a time, each verified before it becomes visible;
 * 2. moves (renames on one side);
 * 3. attributes of files;
 * 4. deletes, deepest first, each kept as a version; an archive delete of a source file runs only
 *    after the target's bytes were re-read and their BLAKE3 matched;
 * 5. directory modification times, deepest first (writing children changed them).
 *
 * The operations other than file copies go to their route a chunk at a time
 * (`FileRoute.runAll`): on a peer, one round trip a chunk.
 *
 * An operation that fails is recorded and skipped; the others go on. What failed stays as it
 * was on disk, so the next resolve plans it again.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Hasher } from "@conduit/index"
import { FileCopyJob, FileOpError, FileRoute } from "@conduit/jobs"
import type { Plan } from "@conduit/resolver"
import { Effect, Either, Ref } from "effect"
import * as Path from "node:path"

/**
 * One side of the run: a location root, the endpoint directory inside it, and the route its
 * file operations go through (this device's file system unless given).
 */
export interface Endpoint {
  readonly root: string
  readonly dir: RelPath.RelPath
  readonly route?: FileRoute.FileRoute
  /** The location's id: where a peer pushes files copied from its side to this one. */
  readonly location?: string
}

/** An operation that did not happen, and why. */
export interface Skipped {
  readonly operation: Plan.Operation
  readonly error: FileOpError.FileOpError
}

/** What a run did. */
export interface RunReport {
  readonly copied: number
  readonly moved: number
  readonly deleted: number
  readonly attributes: number
  readonly bytes: number
  readonly skipped: ReadonlyArray<Skipped>
  /** Set when the run stopped early at a checkpoint; what is done stays done. */
  readonly stopped: "paused" | "cancelled" | null
}

/** How far a run is at a checkpoint: operations and bytes done, of the plan's. */
export interface CheckpointProgress {
  readonly done: number
  readonly total: number
  readonly bytes: number
  readonly bytesTotal: number
}

/** What a checkpoint says: go on, or stop here. */
export type CheckpointDecision = "continue" | "paused" | "cancelled"


/** Run settings. */
export interface RunOptions {
  /** File copies at once (the conduit's `parallel_transfers`); default 4. */
  readonly parallel?: number
  /** Called after each operation. */
  readonly onProgress?: (done: number, total: number, bytes: number) => void
  /** The run's token, written into temporary file names (see `LocalFiles.CopyRequest.token`). */
  readonly token?: string
  /**
   * Called between units of work (after each batch of file copies, about every 256 other
   * operations, between the chunks they run in, and between the steps) with the progress so far; a run whose job was paused or
   * cancelled stops there. Nothing is ever stopped halfway.
   */
  readonly checkpoint?: (progress: CheckpointProgress) => Effect.Effect<CheckpointDecision>
  /**
   * Local files with the same content as a copy's source, by BLAKE3: a copy reads them instead
   * (on the destination's own file system a reflink or in-kernel copy). A candidate whose bytes
   * turn out different is passed over for the source.
   */
  readonly sameContent?: (hash: string) => string | undefined
}

const locationPath = (endpoint: Endpoint, path: RelPath.RelPath): RelPath.RelPath =>
  (endpoint.dir === "" ? path : path === "" ? endpoint.dir : `${endpoint.dir}/${path}`) as RelPath.RelPath

const depth = (path: string) => (path === "" ? 0 : path.split("/").length)

/** A `DirectoryTime`'s time; one that could not be read counts as none (as `directoryTime` says). */
const timeOf = (result: FileRoute.RouteOpResult): bigint | null =>
  Either.isRight(result) && typeof result.right === "bigint" ? result.right : null

/** Operations (or batches of them) on a peer's side in flight at once (each is a round trip). */
const REMOTE_CONCURRENCY = 16

/** Operations a step hands to its route at once; the run's checkpoint is asked between chunks. */
const CHUNK = 256

const chunksOf = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const chunks: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += CHUNK) chunks.push(items.slice(i, i + CHUNK))
  return chunks
}

/** Runs `plan` between `endpoints`. Never fails: failures are in the report. */
export const run = (
  plan: Plan.Plan,
  endpoints: { readonly source: Endpoint; readonly target: Endpoint },
  options: RunOptions = {}
): Effect.Effect<RunReport, never, Hasher.Hasher> =>
  Effect.gen(function* () {
    const skipped: Array<Skipped> = []
    const counts = yield* Ref.make({ copied: 0, moved: 0, deleted: 0, attributes: 0, bytes: 0, done: 0 })
    const total = plan.operations.length
    const side = (s: Plan.Side) => endpoints[s]
    const routeOf = (endpoint: Endpoint) => endpoint.route ?? FileRoute.local
    // A peer's operations are round trips: several go at once. This device's go one by one.
    const concurrencyOf = (endpoint: Endpoint) => (routeOf(endpoint) === FileRoute.local ? 1 : REMOTE_CONCURRENCY)
    const tally = (key: "copied" | "moved" | "deleted" | "attributes", bytes = 0) =>
      Ref.updateAndGet(counts, (c) => ({ ...c, [key]: c[key] + 1, bytes: c.bytes + bytes, done: c.done + 1 })).pipe(
        Effect.tap((c) => Effect.sync(() => options.onProgress?.(c.done, total, c.bytes)))
      )
    /** What an operation's result means for the run: a skip with its error, or `then`. */
    const record = <A>(operation: Plan.Operation, result: Either.Either<A, FileOpError.FileOpError>, then: Effect.Effect<unknown>) =>
      Either.isLeft(result) ? Effect.sync(() => void skipped.push({ operation, error: result.left })) : Effect.asVoid(then)
    const runAll = (endpoint: Endpoint, ops: ReadonlyArray<FileRoute.RouteOp>, ordered: boolean) =>
      FileRoute.runAll(routeOf(endpoint), endpoint.root, ops, { concurrency: ordered ? 1 : concurrencyOf(endpoint) })

    let stopped: "paused" | "cancelled" | null = null
    let sinceCheckpoint = 0
    /** Asks the checkpoint (when due or `force`d) before `ops` more operations; true when the run must stop. */
    const mustStop = (force: boolean, ops = 1) =>
      Effect.gen(function* () {
        if (stopped !== null) return true
        sinceCheckpoint += ops
        if (options.checkpoint === undefined || (!force && sinceCheckpoint < CHUNK)) return false
        sinceCheckpoint = 0
        const c = yield* Ref.get(counts)
        const decision = yield* options.checkpoint({ done: c.done, total, bytes: c.bytes, bytesTotal: plan.summary.bytes })
        if (decision !== "continue") stopped = decision
        return stopped !== null
      })

    // Writing into a directory changes its mtime. Directories the plan sets a time for get that
    // time at the end; any other directory written into gets its own time back (it was equal
    // on both sides, or the plan would have said otherwise).
    const touched = new Map<string, { readonly endpoint: Endpoint; readonly dir: string; readonly mtimeNs: bigint | null }>()
    const wanted = new Map<string, { readonly endpoint: Endpoint; readonly dir: string }>()
    const touch = (endpoint: Endpoint, path: RelPath.RelPath) => {
      const dir = Path.posix.dirname(locationPath(endpoint, path))
      const key = `${endpoint.root}\0${dir}`
      if (!wanted.has(key)) wanted.set(key, { endpoint, dir: dir === "." ? "" : dir })
    }
    for (const op of plan.operations) {
      if (op._tag === "Copy") touch(side(op.to), op.path)
      else if (op._tag === "Delete") touch(side(op.side), op.path)
      else if (op._tag === "Move") {
        touch(side(op.side), op.from)
        touch(side(op.side), op.to)
      }
    }
    for (const s of ["source", "target"] as const) {
      const endpoint = side(s)
      const dirs = [...wanted].filter(([, w]) => w.endpoint === endpoint)
      const results = yield* runAll(endpoint, dirs.map(([, w]) => FileRoute.RouteOp.DirectoryTime({ path: w.dir })), false)
      dirs.forEach(([key, w], i) => touched.set(key, { ...w, mtimeNs: timeOf(results[i]!) }))
    }

    const copies = plan.operations.filter((op): op is Plan.Copy => op._tag === "Copy")
    const directoryTimes: Array<{ readonly endpoint: Endpoint; readonly path: RelPath.RelPath; readonly mtimeNs: bigint }> = []

    // 1. Directories, parents first (in order, a chunk at a time); their times are set at the end.
    const directories = copies.filter((c) => c.entry.kind === 1).sort((a, b) => depth(a.path) - depth(b.path))
    for (const s of ["target", "source"] as const) {
      const to = side(s)
      for (const part of chunksOf(directories.filter((op) => op.to === s))) {
        if (yield* mustStop(false, part.length)) break
        const results = yield* runAll(to, part.map((op) => FileRoute.RouteOp.EnsureDirectory({ path: locationPath(to, op.path), mtimeNs: null, mode: op.entry.mode })), true)
        yield* Effect.forEach(part, (op, i) => record(op, results[i]!, tally("copied")), { discard: true })
        for (const op of part) directoryTimes.push({ endpoint: to, path: op.path, mtimeNs: op.entry.mtimeNs })
      }
    }
    // Symlinks, then files, several at a time.
    const symlinks = copies.filter((c) => c.entry.kind === 2)
    for (const s of ["target", "source"] as const) {
      const to = side(s)
      for (const part of chunksOf(symlinks.filter((op) => op.to === s))) {
        if (yield* mustStop(false, part.length)) break
        const results = yield* runAll(to, part.map((op) => FileRoute.RouteOp.WriteSymlink({ path: locationPath(to, op.path), target: op.entry.linkTarget ?? "", mtimeNs: op.entry.mtimeNs })), false)
        yield* Effect.forEach(part, (op, i) => record(op, results[i]!, tally("copied")), { discard: true })
      }
    }
    // Files go per destination as a FileCopyJob's batches: verified copies under temporary
    // names, one sync of the file system, then the renames (two syncs a batch instead of two
    // fsyncs a file); the run's checkpoint is asked before each batch.
    const fileCopies = copies.filter((c) => c.entry.kind === 0)
    for (const to of ["target", "source"] as const) {
      const batch = fileCopies.filter((c) => c.to === to)
      const destination = side(to)
      const requests = batch.map((op) => {
        const from = side(op.from)
        return {
          from: Path.join(from.root, locationPath(from, op.path)),
          root: destination.root,
          path: locationPath(destination, op.path),
          hash: op.entry.hash ?? "",
          size: op.entry.size,
          mtimeNs: op.entry.mtimeNs,
          mode: op.entry.mode,
          ...(options.token === undefined ? {} : { token: options.token })
        }
      })
      // Copies from a peer's side are pushed by the peer into this device's location.
      const from = side(to === "target" ? "source" : "target")
      if (from.route?.pushTo !== undefined && destination.location !== undefined) {
        for (let i = 0; i < batch.length; i += 512) {
          if (yield* mustStop(true)) break
          const part = batch.slice(i, i + 512)
          const results = yield* from.route.pushTo(part.map((op) => ({
            path: locationPath(from, op.path),
            to: locationPath(destination, op.path),
            hash: op.entry.hash ?? "",
            size: op.entry.size,
            mtimeNs: op.entry.mtimeNs,
            mode: op.entry.mode
          })), destination.location)
          yield* Effect.forEach(results, (result, j) =>
            Either.isLeft(result)
              ? Effect.sync(() => void skipped.push({ operation: part[j]!, error: result.left }))
              : Effect.asVoid(tally("copied", result.right.bytes)), { discard: true })
        }
        continue
      }
      yield* FileCopyJob.copyBatches(routeOf(destination), destination.root, requests, {
        parallel: options.parallel ?? 4,
        ...(options.sameContent === undefined ? {} : { sameContent: options.sameContent }),
        beforeBatch: () => Effect.map(mustStop(true), (stop) => (stop ? stopped ?? "paused" : "continue")),
        afterBatch: (first, results) =>
          Effect.forEach(results, (result, j) =>
            Either.isLeft(result)
              ? Effect.sync(() => void skipped.push({ operation: batch[first + j]!, error: result.left }))
              : Effect.asVoid(tally("copied", result.right.bytes)), { discard: true })
      })
    }

    // 2. Moves, in the plan's order; then the moved entries' attributes (only where the move
    // happened: whatever else is at `to` keeps its own).
    const moves = plan.operations.filter((op): op is Plan.Move => op._tag === "Move")
    for (const s of ["source", "target"] as const) {
      const at = side(s)
      for (const part of chunksOf(moves.filter((op) => op.side === s))) {
        if (yield* mustStop(false, part.length)) break
        const results = yield* runAll(at, part.map((op) => FileRoute.RouteOp.Move({ from: locationPath(at, op.from), to: locationPath(at, op.to) })), true)
        const moved = part.filter((op, i) => {
          const result = results[i]!
          if (Either.isLeft(result)) skipped.push({ operation: op, error: result.left })
          return Either.isRight(result)
        })
        const attributes = yield* runAll(at, moved.map((op) => FileRoute.RouteOp.SetAttributes({ path: locationPath(at, op.to), mtimeNs: op.entry.mtimeNs, mode: op.entry.mode })), false)
        yield* Effect.forEach(moved, (op, i) => record(op, attributes[i]!, tally("moved")), { discard: true })
      }
    }

    // 3. Attributes (directories' mtimes wait for step 5): each path's time read (does it
    // exist?), then its attributes set.
    const attributes = plan.operations.filter((op): op is Plan.SetAttributes => op._tag === "SetAttributes")
    for (const s of ["source", "target"] as const) {
      const at = side(s)
      for (const part of chunksOf(attributes.filter((op) => op.side === s))) {
        if (yield* mustStop(false, part.length)) break
        const results = yield* runAll(at, part.flatMap((op) => {
          const path = locationPath(at, op.path)
          return [FileRoute.RouteOp.DirectoryTime({ path }), FileRoute.RouteOp.SetAttributes({ path, mtimeNs: op.mtimeNs, mode: op.mode })]
        }), false)
        yield* Effect.forEach(part, (op, i) =>
          Effect.suspend(() => {
            if (timeOf(results[2 * i]!) !== null) directoryTimes.push({ endpoint: at, path: op.path, mtimeNs: op.mtimeNs })
            return record(op, results[2 * i + 1]!, tally("attributes"))
          }), { discard: true })
      }
    }

    // 4. Deletes, deepest first.
    const deletes = plan.operations
      .filter((op): op is Plan.Delete => op._tag === "Delete")
      .sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? 1 : -1))
    // Deletes wait for a checkpoint: a run paused during its copies deletes nothing yet.
    if (deletes.length > 0) yield* mustStop(true)
    // A chunk at a time, deepest first. Within a chunk the archive deletes (files) go before the
    // removals, which may include their directories.
    type Archived = Plan.Delete & { readonly verifiedOn: Plan.Side }
    const archiveDeletes = (at: Endpoint, part: ReadonlyArray<Archived>) =>
      Effect.gen(function* () {
        // Re-read the other side's copy, and the file itself (a write since it was indexed would
        // be lost with it); remove the file only if both are the bytes the plan was made for.
        const verified = yield* Effect.filter(part, (op) =>
          Effect.gen(function* () {
            const expected = { kind: op.entry.kind, hash: op.entry.hash, size: op.entry.size, linkTarget: op.entry.linkTarget }
            const copy = side(op.verifiedOn)
            if (!(yield* routeOf(copy).verify(copy.root, locationPath(copy, op.path), expected))) {
              skipped.push({
                operation: op,
                error: new FileOpError.FileOpError({ reason: "VerifyFailed", path: Path.join(copy.root, locationPath(copy, op.path)) })
              })
              return false
            }
            if (!(yield* routeOf(at).verify(at.root, locationPath(at, op.path), expected))) {
              skipped.push({
                operation: op,
                error: new FileOpError.FileOpError({ reason: "SourceChanged", path: Path.join(at.root, locationPath(at, op.path)) })
              })
              return false
            }
            return true
          }), { concurrency: Math.max(...part.map((op) => concurrencyOf(side(op.verifiedOn)))) })
        const results = yield* runAll(at, verified.map((op) => FileRoute.RouteOp.Unlink({ path: locationPath(at, op.path) })), false)
        yield* Effect.forEach(verified, (op, i) => record(op, results[i]!, tally("deleted")), { discard: true })
      })
    for (const s of ["source", "target"] as const) {
      const at = side(s)
      for (const part of chunksOf(deletes.filter((op) => op.side === s))) {
        if (yield* mustStop(false, part.length)) break
        const archived = part.filter((op): op is Archived => op.verifiedOn !== null)
        if (archived.length > 0) yield* archiveDeletes(at, archived)
        const removals = part.filter((op) => op.verifiedOn === null)
        const results = yield* runAll(at, removals.map((op) => FileRoute.RouteOp.Remove({ path: locationPath(at, op.path) })), false)
        yield* Effect.forEach(removals, (op, i) => record(op, results[i]!, tally("deleted")), { discard: true })
      }
    }

    // 5. Directory times, deepest first: the planned ones, else the time they had before.
    const times = new Map<string, { readonly endpoint: Endpoint; readonly dir: string; readonly mtimeNs: bigint }>()
    for (const [key, t] of touched) if (t.mtimeNs !== null) times.set(key, { endpoint: t.endpoint, dir: t.dir, mtimeNs: t.mtimeNs })
    for (const d of directoryTimes) {
      const dir = locationPath(d.endpoint, d.path)
      times.set(`${d.endpoint.root}\0${dir}`, { endpoint: d.endpoint, dir, mtimeNs: d.mtimeNs })
    }
    const ordered = [...times.values()].sort((a, b) => depth(b.dir) - depth(a.dir)).filter((t) => t.dir !== "") // a location root is not an entry
    for (const s of ["source", "target"] as const) {
      const endpoint = side(s)
      const ops = ordered.filter((t) => t.endpoint === endpoint).map((t) => FileRoute.RouteOp.SetAttributes({ path: t.dir as RelPath.RelPath, mtimeNs: t.mtimeNs, mode: null }))
      yield* runAll(endpoint, ops, false) // a time that could not be set stays as it is
    }

    const c = yield* Ref.get(counts)
    return { copied: c.copied, moved: c.moved, deleted: c.deleted, attributes: c.attributes, bytes: c.bytes, skipped, stopped }
  })
