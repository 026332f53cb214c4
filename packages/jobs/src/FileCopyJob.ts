/**
 * `FileCopyJob`: verified copies of files into one location, through a `FileRoute` (this
 * device's file system now; a paired peer later, with the same job). The copies go in batches:
 * each batch is written under temporary names, verified against the BLAKE3 it was planned
 * with, made durable with one barrier, and renamed into place (what it replaces is kept as a
 * version) — then the job checkpoints, so a paused, cancelled or killed job loses at most the
 * batch in flight and resumes with the next one.
 *
 * Content the destination's device already has (found by its BLAKE3) is read from there
 * instead of the source; a candidate whose bytes turn out different is passed over for the
 * source.
 *
 * `copyBatches` is the work itself, for callers that run copies inside a larger job (a
 * conduit's `FileSyncJob`); `makeHandler` registers it as a job kind of its own.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Hasher } from "@conduit/index"
import { Effect, Either } from "effect"
import * as FileOpError from "./FileOpError.js"
import * as FileRoute from "./FileRoute.js"
import type * as JobRuntime from "./JobRuntime.js"
import type * as LocalFiles from "./LocalFiles.js"

/** The job kind. */
export const kind = "FileCopyJob"

/** Files per batch: one durability barrier each, and the unit a stop or a crash can lose. */
export const FILES_PER_BATCH = 512

/** What a checkpoint between two batches says. */
export type Decision = "continue" | "paused" | "cancelled"

/** Options of `copyBatches`. */
export interface CopyOptions {
  /** Copies at once inside a batch (a route may copy in the kernel and ignore it); default 4. */
  readonly parallel?: number
  /** Other local files with a copy's content, by BLAKE3 (see the module comment). */
  readonly sameContent?: (hash: string) => string | undefined
  /**
   * Called before each batch with the index of its first request; a decision other than
   * `continue` stops the copies there.
   */
  readonly beforeBatch?: (next: number) => Effect.Effect<Decision>
  /** Called after each batch with its requests' results, in order. */
  readonly afterBatch?: (
    first: number,
    results: ReadonlyArray<Either.Either<LocalFiles.CopyResult, FileOpError.FileOpError>>
  ) => Effect.Effect<void>
}

/** How `copyBatches` ended: the requests it got to (results in order), and whether it stopped early. */
export interface CopyOutcome {
  readonly results: ReadonlyArray<Either.Either<LocalFiles.CopyResult, FileOpError.FileOpError>>
  readonly stopped: "paused" | "cancelled" | null
}

/**
 * Copies `requests` into the location at `root` through `route`, batch by batch, starting at
 * request `start`. Never fails: each request's failure is in its result.
 */
export const copyBatches = (
  route: FileRoute.FileRoute,
  root: string,
  requests: ReadonlyArray<LocalFiles.CopyRequest>,
  options: CopyOptions = {},
  start = 0
): Effect.Effect<CopyOutcome, never, Hasher.Hasher> =>
  Effect.gen(function* () {
    const parallel = options.parallel ?? 4
    const results: Array<Either.Either<LocalFiles.CopyResult, FileOpError.FileOpError>> = []
    for (let i = start; i < requests.length; i += FILES_PER_BATCH) {
      if (options.beforeBatch !== undefined) {
        const decision = yield* options.beforeBatch(i)
        if (decision !== "continue") return { results, stopped: decision }
      }
      const batch = requests.slice(i, i + FILES_PER_BATCH)
      const alternative = batch.map((r) => (r.hash === "" ? undefined : options.sameContent?.(r.hash)))
      const first = yield* route.receiveFiles(
        root,
        batch.map((r, j) => (alternative[j] === undefined || alternative[j] === r.from ? r : { ...r, from: alternative[j]! })),
        parallel
      )
      // Where a same-content candidate failed, the source itself is read.
      const retry = first.flatMap((r, j) => (Either.isLeft(r) && alternative[j] !== undefined && alternative[j] !== batch[j]!.from ? [j] : []))
      const merged = [...first]
      if (retry.length > 0) {
        const second = yield* route.receiveFiles(root, retry.map((j) => batch[j]!), parallel)
        retry.forEach((j, k) => (merged[j] = second[k]!))
      }
      for (const r of merged) results.push(r)
      if (options.afterBatch !== undefined) yield* options.afterBatch(i, merged)
    }
    return { results, stopped: null }
  })

// -- the job kind ------------------------------------------------------------------------------

/** One file of a `FileCopyJob`, as stored (JSON: the mtime as a decimal string of nanoseconds). */
export interface Item {
  /** Where the bytes are read (absolute). */
  readonly from: string
  /** Where they go, relative to the payload's `root`. */
  readonly path: RelPath.RelPath
  readonly hash: string
  readonly size: number
  readonly mtimeNs: string
  readonly mode: number | null
}

/** A `FileCopyJob`'s input. */
export interface Payload {
  /** The destination location's root. */
  readonly root: string
  readonly items: ReadonlyArray<Item>
  readonly parallel?: number
}

/** A copy that did not happen. */
export type Failure = FileOpError.Failure

/** Where a `FileCopyJob` is: the next item, and what the batches before it did. */
export interface Checkpoint {
  readonly next: number
  readonly copied: number
  readonly bytes: number
  readonly failed: ReadonlyArray<Failure>
}

/** An item as a copy request. */
export const toRequest = (root: string, item: Item, token?: string): LocalFiles.CopyRequest => ({
  from: item.from,
  root,
  path: item.path,
  hash: item.hash,
  size: item.size,
  mtimeNs: BigInt(item.mtimeNs),
  mode: item.mode,
  ...(token === undefined ? {} : { token })
})

/**
 * The handler of `FileCopyJob`s through `route` (default: this device's file system). A job
 * ends `completed` when every item was tried; the ones that failed are in its checkpoint's
 * `failed`, with their reasons.
 */
export const makeHandler = (
  route: FileRoute.FileRoute = FileRoute.local
): Effect.Effect<JobRuntime.JobHandler<Payload, Checkpoint>, never, Hasher.Hasher> =>
  Effect.map(Hasher.Hasher, (hasher) => ({
    kind,
    run: (context) =>
      Effect.gen(function* () {
        const { root, items } = context.payload
        const requests = items.map((item) => toRequest(root, item))
        const bytesTotal = items.reduce((n, item) => n + item.size, 0)
        let state: Checkpoint = context.checkpoint ?? { next: 0, copied: 0, bytes: 0, failed: [] }
        let stop: JobRuntime.JobStopped | null = null
        const save = (next: number) =>
          context.checkpointAt({ ...state, next }, { done: next, total: items.length, bytes: state.bytes, bytesTotal })
        yield* copyBatches(route, root, requests, {
          ...(context.payload.parallel === undefined ? {} : { parallel: context.payload.parallel }),
          beforeBatch: (next) =>
            save(next).pipe(
              Effect.as("continue" as const),
              Effect.catchTag("JobStopped", (e) => Effect.sync(() => (stop = e)).pipe(Effect.as(e.status))),
              // A checkpoint that cannot be saved does not stop the copies: the next one may.
              Effect.catchTag("LibraryError", () => Effect.succeed("continue" as const))
            ),
          afterBatch: (first, results) =>
            Effect.sync(() => {
              const failed = [...state.failed]
              let copied = state.copied
              let bytes = state.bytes
              results.forEach((r, j) => {
                if (Either.isRight(r)) {
                  copied++
                  bytes += r.right.bytes
                } else {
                  failed.push(FileOpError.toFailure(items[first + j]!.path, r.left))
                }
              })
              state = { next: first + results.length, copied, bytes, failed }
            })
        }, state.next).pipe(Effect.provideService(Hasher.Hasher, hasher))
        if (stop !== null) return yield* Effect.fail(stop)
        yield* Effect.catchTag(save(items.length), "JobStopped", () => Effect.void)
      })
  }))
