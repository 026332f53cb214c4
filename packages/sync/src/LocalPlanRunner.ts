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
   * Called between units of work (after each batch of file copies, every 256 other
   * operations and between the steps) with the progress so far; a run whose job was paused or
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

/** Operations on a peer's side in flight at once (each is a round trip). */
const REMOTE_CONCURRENCY = 16

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
    const attempt = (operation: Plan.Operation, effect: Effect.Effect<void, FileOpError.FileOpError, Hasher.Hasher>) =>
      Effect.catchAll(effect, (error) => Effect.sync(() => void skipped.push({ operation, error })))

    let stopped: "paused" | "cancelled" | null = null
    let sinceCheckpoint = 0
    /** Asks the checkpoint (when due or `force`d); true when the run must stop. */
    const mustStop = (force: boolean) =>
      Effect.gen(function* () {
        if (stopped !== null) return true
        if (options.checkpoint === undefined || (!force && ++sinceCheckpoint < 256)) return false
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
      yield* Effect.forEach([...wanted].filter(([, w]) => w.endpoint === endpoint), ([key, w]) =>
        Effect.map(routeOf(endpoint).directoryTime(endpoint.root, w.dir), (mtimeNs) => void touched.set(key, { ...w, mtimeNs })), {
        concurrency: concurrencyOf(endpoint),
        discard: true
      })
    }

    const copies = plan.operations.filter((op): op is Plan.Copy => op._tag === "Copy")
    const directoryTimes: Array<{ readonly endpoint: Endpoint; readonly path: RelPath.RelPath; readonly mtimeNs: bigint }> = []

    // 1. Directories, parents first; their times are set at the end.
    for (const op of copies.filter((c) => c.entry.kind === 1).sort((a, b) => depth(a.path) - depth(b.path))) {
      if (yield* mustStop(false)) break
      const to = side(op.to)
      yield* attempt(op, Effect.zipRight(
        routeOf(to).ensureDirectory(to.root, locationPath(to, op.path), null, op.entry.mode),
        tally("copied")
      ))
      directoryTimes.push({ endpoint: to, path: op.path, mtimeNs: op.entry.mtimeNs })
    }
    // Symlinks, then files, several at a time.
    for (const op of copies.filter((c) => c.entry.kind === 2)) {
      if (yield* mustStop(false)) break
      const to = side(op.to)
      yield* attempt(op, Effect.zipRight(
        routeOf(to).writeSymlink(to.root, locationPath(to, op.path), op.entry.linkTarget ?? "", op.entry.mtimeNs),
        tally("copied")
      ))
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

    // 2. Moves.
    for (const op of plan.operations) {
      if (op._tag !== "Move") continue
      if (yield* mustStop(false)) break
      const at = side(op.side)
      yield* attempt(op, routeOf(at).move(at.root, locationPath(at, op.from), locationPath(at, op.to)).pipe(
        Effect.zipRight(routeOf(at).setAttributes(at.root, locationPath(at, op.to), op.entry.mtimeNs, op.entry.mode)),
        Effect.zipRight(tally("moved"))
      ))
    }

    // 3. Attributes (directories' mtimes wait for step 5).
    const attributes = plan.operations.filter((op): op is Plan.SetAttributes => op._tag === "SetAttributes")
    for (const s of ["source", "target"] as const) {
      const at = side(s)
      yield* Effect.forEach(attributes.filter((op) => op.side === s), (op) =>
        Effect.gen(function* () {
          if (yield* mustStop(false)) return
          if ((yield* routeOf(at).directoryTime(at.root, locationPath(at, op.path))) !== null) {
            directoryTimes.push({ endpoint: at, path: op.path, mtimeNs: op.mtimeNs })
          }
          yield* attempt(op, Effect.zipRight(
            routeOf(at).setAttributes(at.root, locationPath(at, op.path), op.mtimeNs, op.mode),
            tally("attributes")
          ))
        }), { concurrency: concurrencyOf(at), discard: true })
    }

    // 4. Deletes, deepest first.
    const deletes = plan.operations
      .filter((op): op is Plan.Delete => op._tag === "Delete")
      .sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? 1 : -1))
    // Deletes wait for a checkpoint: a run paused during its copies deletes nothing yet.
    if (deletes.length > 0) yield* mustStop(true)
    // On a peer several at once: a directory kept as a version before its child is fine (the
    // child goes with it, and its own removal then finds nothing to keep).
    const deleteOne = (op: Plan.Delete) => Effect.gen(function* () {
      if (yield* mustStop(false)) return
      const at = side(op.side)
      const path = locationPath(at, op.path)
      if (op.verifiedOn === null) {
        yield* attempt(op, Effect.zipRight(Effect.asVoid(routeOf(at).remove(at.root, path)), tally("deleted")))
        return
      }
      // Archive: re-read the other side's copy; remove the source only if it verifies.
      const copy = side(op.verifiedOn)
      const verified = routeOf(copy).verify(copy.root, locationPath(copy, op.path), {
        kind: op.entry.kind,
        hash: op.entry.hash,
        size: op.entry.size,
        linkTarget: op.entry.linkTarget
      })
      yield* attempt(op, Effect.flatMap(verified, (ok) =>
        ok
          ? Effect.zipRight(routeOf(at).unlink(at.root, path), tally("deleted"))
          : Effect.fail(new FileOpError.FileOpError({ reason: "VerifyFailed", path: Path.join(copy.root, locationPath(copy, op.path)) }))))
    })
    for (const s of ["source", "target"] as const) {
      yield* Effect.forEach(deletes.filter((op) => op.side === s), deleteOne, { concurrency: concurrencyOf(side(s)), discard: true })
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
      yield* Effect.forEach(ordered.filter((t) => t.endpoint === endpoint), (t) =>
        Effect.ignore(routeOf(t.endpoint).setAttributes(t.endpoint.root, t.dir as RelPath.RelPath, t.mtimeNs, null)), {
        concurrency: concurrencyOf(endpoint),
        discard: true
      })
    }

    const c = yield* Ref.get(counts)
    return { copied: c.copied, moved: c.moved, deleted: c.deleted, attributes: c.attributes, bytes: c.bytes, skipped, stopped }
  })
