/**
 * Where a plan's file operations happen. A plan runner talks to each side through a route:
 * this device's file system (`local`) now; a paired peer over the transfer protocol later, with
 * the same operations and the same guarantees (verified before visible, versions first).
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Hasher } from "@conduit/index"
import { Data, Effect, Either } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fromErrno, type FileOpError } from "./FileOpError.js"
import * as LocalFiles from "./LocalFiles.js"
import type * as VersionStore from "./VersionStore.js"

/** What a route must verify for an archive delete. */
export interface Expected {
  readonly kind: 0 | 1 | 2
  readonly hash: string | null
  readonly size: number
  readonly linkTarget: string | null
}

/** The file operations of one side. Paths are relative to the location root `root`. */
export interface FileRoute {
  /** Writes a verified copy of a file (see `LocalFiles.copyVerified`). */
  readonly receiveFile: (request: LocalFiles.CopyRequest) => Effect.Effect<LocalFiles.CopyResult, FileOpError, Hasher.Hasher>
  /**
   * Writes a batch of verified copies into one location, `parallel` at a time, with one
   * durability barrier for the batch (see `LocalFiles.commitCopies`); results in order.
   */
  readonly receiveFiles: (
    root: string,
    requests: ReadonlyArray<LocalFiles.CopyRequest>,
    parallel: number
  ) => Effect.Effect<ReadonlyArray<Either.Either<LocalFiles.CopyResult, FileOpError>>, never, Hasher.Hasher>
  readonly ensureDirectory: (root: string, path: RelPath.RelPath, mtimeNs: bigint | null, mode: number | null) => Effect.Effect<void, FileOpError>
  readonly writeSymlink: (root: string, path: RelPath.RelPath, target: string, mtimeNs: bigint | null) => Effect.Effect<void, FileOpError>
  readonly setAttributes: (root: string, path: RelPath.RelPath, mtimeNs: bigint, mode: number | null) => Effect.Effect<void, FileOpError>
  /** Removes a path, keeping it as a version. */
  readonly remove: (root: string, path: RelPath.RelPath) => Effect.Effect<VersionStore.Version | null, FileOpError>
  /** Removes a file for good (an archived source whose copy was verified elsewhere). */
  readonly unlink: (root: string, path: RelPath.RelPath) => Effect.Effect<void, FileOpError>
  readonly move: (root: string, from: RelPath.RelPath, to: RelPath.RelPath) => Effect.Effect<void, FileOpError>
  /** Re-reads a path and tells whether it is what `expected` says (BLAKE3 for files). */
  readonly verify: (root: string, path: RelPath.RelPath, expected: Expected) => Effect.Effect<boolean, never, Hasher.Hasher>
  /** A directory's modification time (ns), or null if it does not exist. */
  readonly directoryTime: (root: string, path: string) => Effect.Effect<bigint | null>
  /**
   * Runs `ops` one after another, in order (a directory's parent before it), one result per
   * op. A route whose operations are round trips has it (one request for many); use `runAll`,
   * which falls back to the single methods.
   */
  readonly runMany?: (root: string, ops: ReadonlyArray<RouteOp>) => Effect.Effect<ReadonlyArray<RouteOpResult>>
  /**
   * Only a route to another device has it: asks that device to push files of this route's
   * location to a location of this device (`to`), where this device's transfer receiver puts
   * them (verified, with versions). Results in order.
   */
  readonly pushTo?: (
    requests: ReadonlyArray<PushRequest>,
    to: string
  ) => Effect.Effect<ReadonlyArray<Either.Either<LocalFiles.CopyResult, FileOpError>>>
}

/** One operation of a batch (`runAll`, `FileRoute.runMany`): a single method's arguments but the root. */
export type RouteOp = Data.TaggedEnum<{
  EnsureDirectory: { readonly path: RelPath.RelPath; readonly mtimeNs: bigint | null; readonly mode: number | null }
  WriteSymlink: { readonly path: RelPath.RelPath; readonly target: string; readonly mtimeNs: bigint | null }
  SetAttributes: { readonly path: RelPath.RelPath; readonly mtimeNs: bigint; readonly mode: number | null }
  Remove: { readonly path: RelPath.RelPath }
  Unlink: { readonly path: RelPath.RelPath }
  Move: { readonly from: RelPath.RelPath; readonly to: RelPath.RelPath }
  DirectoryTime: { readonly path: string }
}>

/** Constructors and matchers of `RouteOp`s. */
export const RouteOp = Data.taggedEnum<RouteOp>()

/**
 * What an op gave: a directory's time (`DirectoryTime`: ns, or null if there is none), the
 * version a `Remove` kept (null on a route that keeps it elsewhere), null for the others.
 */
export type RouteOpValue = bigint | VersionStore.Version | null

/** An op's value, or why it did not happen. */
export type RouteOpResult = Either.Either<RouteOpValue, FileOpError>

/** Ops a `runAll` hands to `runMany` at once. */
export const BATCH_SIZE = 256

const runOne = (route: FileRoute, root: string, op: RouteOp): Effect.Effect<RouteOpValue, FileOpError> => {
  switch (op._tag) {
    case "EnsureDirectory":
      return Effect.as(route.ensureDirectory(root, op.path, op.mtimeNs, op.mode), null)
    case "WriteSymlink":
      return Effect.as(route.writeSymlink(root, op.path, op.target, op.mtimeNs), null)
    case "SetAttributes":
      return Effect.as(route.setAttributes(root, op.path, op.mtimeNs, op.mode), null)
    case "Remove":
      return route.remove(root, op.path)
    case "Unlink":
      return Effect.as(route.unlink(root, op.path), null)
    case "Move":
      return Effect.as(route.move(root, op.from, op.to), null)
    case "DirectoryTime":
      return route.directoryTime(root, op.path)
  }
}

/**
 * Runs `ops` through `route`, one result per op, in order: with the route's `runMany` in
 * chunks of `BATCH_SIZE`, else with its single methods. `concurrency` is how many ops (or
 * chunks) go at once: 1 keeps the order (parents before children), more is for ops whose
 * order does not matter.
 */
export const runAll = (
  route: FileRoute,
  root: string,
  ops: ReadonlyArray<RouteOp>,
  options: { readonly concurrency: number }
): Effect.Effect<ReadonlyArray<RouteOpResult>> => {
  const runMany = route.runMany
  if (runMany === undefined) return Effect.forEach(ops, (op) => Effect.either(runOne(route, root, op)), options)
  const chunks: Array<ReadonlyArray<RouteOp>> = []
  for (let i = 0; i < ops.length; i += BATCH_SIZE) chunks.push(ops.slice(i, i + BATCH_SIZE))
  return Effect.map(Effect.forEach(chunks, (chunk) => runMany(root, chunk), options), (results) => results.flat())
}

/** A file a route's device is asked to push (see `FileRoute.pushTo`). */
export interface PushRequest {
  /** Its path in the pushing device's location. */
  readonly path: RelPath.RelPath
  /** Its path in the receiving location. */
  readonly to: RelPath.RelPath
  readonly hash: string
  readonly size: number
  readonly mtimeNs: bigint
  readonly mode: number | null
}

/** This device's file system. */
export const local: FileRoute = {
  receiveFile: LocalFiles.copyVerified,
  receiveFiles: (root, requests, parallel) =>
    Effect.gen(function* () {
      void parallel // the local route copies in the kernel and hashes on the worker pool
      const prepared = yield* LocalFiles.prepareCopies(requests)
      const ready = prepared.flatMap((p) => (Either.isRight(p) ? [p.right] : []))
      const committed = yield* LocalFiles.commitCopies(root, ready)
      let next = 0
      return prepared.map((p) => (Either.isRight(p) ? committed[next++]! : Either.left(p.left)))
    }),
  ensureDirectory: LocalFiles.ensureDirectory,
  writeSymlink: LocalFiles.writeSymlink,
  setAttributes: LocalFiles.setAttributes,
  remove: LocalFiles.remove,
  unlink: (root, path) =>
    Effect.try({
      try: () => Fs.rmSync(Path.join(root, path)),
      catch: (cause) => fromErrno(Path.join(root, path), cause)
    }),
  move: LocalFiles.move,
  verify: (root, path, expected) =>
    Effect.gen(function* () {
      const absolute = Path.join(root, path)
      if (expected.kind === 2) {
        try {
          return Fs.readlinkSync(absolute) === expected.linkTarget
        } catch {
          return false
        }
      }
      const hasher = yield* Hasher.Hasher
      const results = yield* hasher.hashFiles([{ path: absolute, size: expected.size }]).pipe(
        Effect.orElseSucceed((): ReadonlyArray<Hasher.HashResult> => [])
      )
      const result = results[0]
      return result !== undefined && result.state === "ok" && result.hash === expected.hash
    }),
  directoryTime: (root, path) =>
    Effect.sync(() => {
      try {
        return Fs.lstatSync(Path.join(root, path), { bigint: true }).mtimeNs
      } catch {
        return null
      }
    })
}
