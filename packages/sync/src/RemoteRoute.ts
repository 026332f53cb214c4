/**
 * A plan's file operations on a paired peer's location: a `FileRoute` whose copies go over the
 * transfer protocol (pushed from this device, verified block by block and as a whole on the
 * peer, committed there with the replaced file kept as a version) and whose other operations
 * are remote operations (`RemoteOps`). The plan runner uses it unchanged: only the route of
 * the peer's endpoint differs from a local sync.
 *
 * The receiving side: `receiverPolicy` maps a transfer's location id to a location of this
 * device (anything else refused), copies content the index already has locally instead of
 * receiving it, and commits like a local copy (the file in the way kept as a version first).
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { LibraryDatabase, Locations } from "@conduit/index"
import { FileOpError, type FileRoute, VersionStore } from "@conduit/jobs"
import { type BandwidthLimiter, Node, Transfer, TransferError } from "@conduit/transport"
import { SqlClient } from "@effect/sql"
import { Effect, Either, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as RemoteOps from "./RemoteOps.js"

const copyError = (path: string, e: TransferError.TransferError): FileOpError.FileOpError =>
  new FileOpError.FileOpError({
    reason: e.reason === "SourceChanged" || e.reason === "HashMismatch" || e.reason === "SizeMismatch"
      ? "SourceChanged"
      : e.reason === "DiskFull"
      ? "DiskFull"
      : "Io",
    path,
    cause: e
  })

/** Options of a route. */
export interface RouteOptions {
  /** The rate the files pushed to the peer are charged to (a conduit's bandwidth limit). */
  readonly limiter?: BandwidthLimiter.BandwidthLimiter
}

/** The route of a paired peer's location `location` (its id), through this device's node. */
export const make = (
  peerId: string,
  location: string,
  options: RouteOptions = {}
): Effect.Effect<FileRoute.FileRoute, never, Node.Node | Transfer.TransferSender> =>
  Effect.gen(function* () {
    const node = yield* Node.Node
    const sender = yield* Transfer.TransferSender
    const ask = (request: RemoteOps.Request) => RemoteOps.ask(node, peerId, request)
    const session = (): Transfer.SessionOptions => (options.limiter === undefined ? {} : { limiter: options.limiter })
    const named = (path: string) => `${peerId}:${path}`
    const ns = (mtimeNs: bigint | null) => (mtimeNs === null ? null : mtimeNs.toString())
    const batchItem = (op: FileRoute.RouteOp): RemoteOps.BatchItem => {
      switch (op._tag) {
        case "EnsureDirectory":
          return { op: "ensureDirectory", location, path: op.path, mtimeNs: ns(op.mtimeNs), mode: op.mode }
        case "WriteSymlink":
          return { op: "writeSymlink", location, path: op.path, target: op.target, mtimeNs: ns(op.mtimeNs) }
        case "SetAttributes":
          return { op: "setAttributes", location, path: op.path, mtimeNs: op.mtimeNs.toString(), mode: op.mode }
        case "Remove":
          return { op: "remove", location, path: op.path }
        case "Unlink":
          return { op: "unlink", location, path: op.path }
        case "Move":
          return { op: "move", location, path: op.from, to: op.to }
        case "DirectoryTime":
          return { op: "directoryTime", location, path: op.path }
      }
    }

    const outgoing = (request: { readonly from: string; readonly path: string; readonly hash: string; readonly mtimeNs: bigint; readonly mode: number | null }): Transfer.OutgoingFile => ({
      source: request.from,
      location,
      path: request.path,
      ...(request.hash === "" ? {} : { hash: request.hash }),
      mtimeNs: request.mtimeNs,
      mode: request.mode
    })

    const route: FileRoute.FileRoute = {
      receiveFile: (request) =>
        Effect.scoped(Effect.flatMap(sender.open(peerId, session()), (s) => s.send(outgoing(request)))).pipe(
          // The bytes that crossed the wire: a resumed or locally copied file costs less than its size.
          Effect.map((result) => ({ bytes: result.bytesReceived, kept: null })),
          Effect.mapError((e) => copyError(named(request.path), e))
        ),
      receiveFiles: (_root, requests, parallel) =>
        Effect.gen(function* () {
          if (requests.length === 0) return []
          const results = yield* sender.sendAll(peerId, requests.map(outgoing), { ...session(), streams: Math.max(0, Math.min(parallel, 4) - 1) }).pipe(Effect.either)
          if (Either.isLeft(results)) return requests.map((r) => Either.left(copyError(named(r.path), results.left)))
          return results.right.map((result, i) =>
            Either.isRight(result)
              ? Either.right({ bytes: result.right.bytesReceived, kept: null })
              : Either.left(copyError(named(requests[i]!.path), result.left))
          )
        }),
      ensureDirectory: (_root, path, mtimeNs, mode) =>
        Effect.asVoid(ask({ op: "ensureDirectory", location, path, mtimeNs: mtimeNs === null ? null : mtimeNs.toString(), mode })),
      writeSymlink: (_root, path, target, mtimeNs) =>
        Effect.asVoid(ask({ op: "writeSymlink", location, path, target, mtimeNs: mtimeNs === null ? null : mtimeNs.toString() })),
      setAttributes: (_root, path, mtimeNs, mode) => Effect.asVoid(ask({ op: "setAttributes", location, path, mtimeNs: mtimeNs.toString(), mode })),
      // The version is kept on the peer, in its location's version store.
      remove: (_root, path) => Effect.as(ask({ op: "remove", location, path }), null),
      unlink: (_root, path) => Effect.asVoid(ask({ op: "unlink", location, path })),
      move: (_root, from, to) => Effect.asVoid(ask({ op: "move", location, path: from, to })),
      verify: (_root, path, expected) =>
        ask({ op: "verify", location, path, kind: expected.kind, hash: expected.hash, size: expected.size, linkTarget: expected.linkTarget }).pipe(
          Effect.map((answer) => answer.value === true),
          Effect.orElseSucceed(() => false)
        ),
      pushTo: (requests, to) =>
        Effect.gen(function* () {
          const results: Array<Either.Either<{ bytes: number; kept: null }, FileOpError.FileOpError>> = []
          for (let i = 0; i < requests.length; i += RemoteOps.MAX_PUSH_FILES) {
            const part = requests.slice(i, i + RemoteOps.MAX_PUSH_FILES)
            const answer = yield* Effect.either(ask({
              op: "push",
              location,
              path: part[0]!.path,
              to,
              files: part.map((r) => ({ path: r.path, to: r.to, hash: r.hash, mtimeNs: r.mtimeNs.toString(), mode: r.mode }))
            }))
            part.forEach((r, j) => {
              const file = Either.isRight(answer) ? answer.right.files?.[j] : undefined
              results.push(
                file?.ok === true
                  ? Either.right({ bytes: file.bytes, kept: null })
                  : Either.left(new FileOpError.FileOpError({
                    reason: file?.reason === "SourceChanged" ? "SourceChanged" : file?.reason === "DiskFull" ? "DiskFull" : "Io",
                    path: named(r.path),
                    cause: Either.isLeft(answer) ? answer.left : new Error(file?.message ?? "the peer did not report this file")
                  }))
              )
            })
          }
          return results
        }),
      directoryTime: (_root, path) =>
        ask({ op: "directoryTime", location, path }).pipe(
          Effect.map((answer) => (typeof answer.value === "string" ? BigInt(answer.value) : null)),
          Effect.orElseSucceed(() => null)
        ),
      runMany: (_root, ops) =>
        Effect.map(RemoteOps.askBatch(node, peerId, ops.map(batchItem)), (results) =>
          results.map((result, i) =>
            Either.map(result, (answer): FileRoute.RouteOpValue =>
              ops[i]!._tag === "DirectoryTime" && typeof answer.value === "string" ? BigInt(answer.value) : null)
          ))
    }
    return route
  })

/**
 * The transfer receiver's policy on this device: files go only into this device's own
 * locations; content the index already has in that location is copied locally; the file a
 * transfer replaces is kept as a version before the rename.
 */
export const receiverPolicy: Effect.Effect<
  Transfer.ReceiverPolicy,
  never,
  Locations.Locations | LibraryDatabase.LibraryDatabase | SqlClient.SqlClient
> = Effect.gen(function* () {
  const locations = yield* Locations.Locations
  const db = yield* LibraryDatabase.LibraryDatabase
  const sql = yield* SqlClient.SqlClient
  // The remote-ops server, when this device runs one, re-indexes received files by their verified digest.
  const server = yield* Effect.serviceOption(RemoteOps.RemoteOpsServer)
  const roots = new Map<string, string>()

  const rootOf = (location: string, path: string) =>
    Effect.gen(function* () {
      const known = roots.get(location)
      if (known !== undefined) return known
      const found = yield* Effect.either(locations.get(location as never))
      if (Either.isLeft(found) || found.right.deviceRowId !== db.self.rowId) {
        return yield* new TransferError.TransferError({ reason: "Refused", path, detail: `no location '${location}' on this device` })
      }
      roots.set(location, found.right.root)
      return found.right.root
    })

  return {
    resolve: (location, path) =>
      Effect.map(rootOf(location, path), (root) => ({ root, destination: Path.join(root, path) })),
    have: (hash, offer) =>
      Effect.gen(function* () {
        const root = yield* Effect.orElseSucceed(rootOf(offer.location, offer.path), () => null)
        if (root === null) return null
        // `+e.location_id`: look the hash up in its index; by location SQLite would read every entry of it.
        const rows = yield* sql<{ path: string; disk_path: string | null }>`SELECT e.path, e.disk_path FROM entries e
          JOIN locations l ON l.id = +e.location_id
          WHERE l.uuid = ${offer.location} AND e.hash = ${hash} AND e.tombstone = 0 AND e.kind = 0 AND e.remote = 0 LIMIT 1`
        return rows.length === 0 ? null : Path.join(root, rows[0]!.disk_path ?? rows[0]!.path)
      }).pipe(Effect.orElseSucceed(() => null)),
    haveAll: (offers) =>
      Effect.gen(function* () {
        const found = new Map<string, string>()
        for (const location of new Set(offers.map((o) => o.location))) {
          const first = offers.find((o) => o.location === location)!
          const root = yield* Effect.orElseSucceed(rootOf(location, first.path), () => null)
          if (root === null) continue
          const hashes = [...new Set(offers.filter((o) => o.location === location).map((o) => o.hash))]
          // One query per bundle, by the hash index (`+e.location_id`, as in `have`).
          const rows = yield* sql<{ hash: string; path: string; disk_path: string | null }>`SELECT e.hash, e.path, e.disk_path FROM entries e
            JOIN locations l ON l.id = +e.location_id
            WHERE l.uuid = ${location} AND e.tombstone = 0 AND e.kind = 0 AND e.remote = 0 -- an evicted file's bytes are not here
              AND e.hash IN (SELECT value FROM json_each(${JSON.stringify(hashes)}))`
          for (const row of rows) if (!found.has(row.hash)) found.set(row.hash, Path.join(root, row.disk_path ?? row.path))
        }
        return found as ReadonlyMap<string, string>
      }).pipe(Effect.orElseSucceed(() => new Map<string, string>())),
    received: (result) =>
      Effect.sync(() => {
        if (!result.ok || Option.isNone(server)) return
        const { offer } = result
        server.value.received(offer.location, offer.path, { hash: offer.hash, size: offer.size, mtimeNs: offer.mtimeNs })
      }),
    keep: (destination, offer) =>
      Effect.gen(function* () {
        const root = yield* rootOf(offer.location, offer.path)
        const rel = offer.path as RelPath.RelPath
        // lstat: a symlink in the way (even one pointing nowhere) is kept too.
        const existing = Fs.lstatSync(destination, { throwIfNoEntry: false }) ?? null
        if (existing === null) return
        yield* (existing.isFile() ? VersionStore.snapshot(root, rel) : VersionStore.keep(root, rel)).pipe(
          Effect.mapError((e) => new TransferError.TransferError({ reason: "Io", path: offer.path, detail: e.message }))
        )
      })
  } satisfies Transfer.ReceiverPolicy
})
