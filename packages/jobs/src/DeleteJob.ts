/**
 * `DeleteJob`: removals in one location through a `FileRoute`, each moving what it removes into
 * the location's version store first (a rename on the same file system, so nothing is copied
 * and nothing is lost). Deepest paths first, so a directory's contents go before it. The job
 * checkpoints every `PATHS_PER_CHECKPOINT` removals; a removal is never stopped halfway.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Effect, Either } from "effect"
import * as FileOpError from "./FileOpError.js"
import * as FileRoute from "./FileRoute.js"
import type * as JobRuntime from "./JobRuntime.js"

/** The job kind. */
export const kind = "DeleteJob"

/** Removals between two checkpoints. */
export const PATHS_PER_CHECKPOINT = 256

/** A `DeleteJob`'s input: the location root and the paths (relative to it) to remove. */
export interface Payload {
  readonly root: string
  readonly paths: ReadonlyArray<RelPath.RelPath>
}

/** A removal that did not happen. */
export type Failure = FileOpError.Failure

/** Where a `DeleteJob` is. */
export interface Checkpoint {
  readonly next: number
  readonly deleted: number
  readonly failed: ReadonlyArray<Failure>
}

const depth = (path: string) => (path === "" ? 0 : path.split("/").length)

/** The order removals run in: deepest first, then reverse path order (contents before their directory). */
export const order = (paths: ReadonlyArray<RelPath.RelPath>): Array<RelPath.RelPath> =>
  [...paths].sort((a, b) => depth(b) - depth(a) || (a < b ? 1 : a > b ? -1 : 0))

/** The handler of `DeleteJob`s through `route` (default: this device's file system). */
export const makeHandler = (route: FileRoute.FileRoute = FileRoute.local): JobRuntime.JobHandler<Payload, Checkpoint> => ({
  kind,
  run: (context) =>
    Effect.gen(function* () {
      const { root } = context.payload
      const paths = order(context.payload.paths)
      let state: Checkpoint = context.checkpoint ?? { next: 0, deleted: 0, failed: [] }
      const save = (next: number) =>
        context.checkpointAt({ ...state, next }, { done: next, total: paths.length, bytes: 0, bytesTotal: 0 })
      const start = state.next
      for (let i = start; i < paths.length; i++) {
        if (i > start && (i - start) % PATHS_PER_CHECKPOINT === 0) yield* save(i)
        const removed = yield* Effect.either(route.remove(root, paths[i]!))
        state = Either.isRight(removed)
          ? { ...state, next: i + 1, deleted: state.deleted + 1 }
          : { ...state, next: i + 1, failed: [...state.failed, FileOpError.toFailure(paths[i]!, removed.left)] }
      }
      yield* Effect.catchTag(save(paths.length), "JobStopped", () => Effect.void)
    })
})
