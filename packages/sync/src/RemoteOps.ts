/**
 * Remote operations: the file operations of a plan other than copies (those go over the
 * transfer protocol) — make a directory, write a symlink, set attributes, remove (keeping a
 * version), unlink a verified archive source, move, verify, read a directory's time — and
 * re-indexing the directories a run touched, asked of a paired peer on
 * `/conduit/remote-ops/1.0.0`, one request and one answer per stream.
 *
 * The serving side runs each operation with this device's own `FileRoute.local` (the same
 * guarantees as a local sync: versions first, verified bytes), on a location of this device
 * named by its id; paths are checked as `RelPath`s (relative, NFC, no `..`), requests and
 * answers are bounded (64 KiB) and validated, and anything else is refused with a reason.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import { Hasher, Indexer, LibraryDatabase, Locations } from "@conduit/index"
import { FileOpError, FileRoute } from "@conduit/jobs"
import { Node, Streams, Transfer, type TransportError } from "@conduit/transport"
import * as Path from "node:path"
import { Context, Effect, Either, Layer, Schema, type Scope } from "effect"

/** The protocol id. */
export const PROTOCOL = "/conduit/remote-ops/1.0.0"

/** The most bytes a request or an answer may take (a push names up to `MAX_PUSH_FILES` files). */
export const MAX_MESSAGE_BYTES = 1024 * 1024

/** Files one push request may name. */
export const MAX_PUSH_FILES = 512

const Path_ = Schema.String.pipe(Schema.maxLength(4096))
const Ns = Schema.String.pipe(Schema.pattern(/^\d{1,20}$/))
const Mode = Schema.NullOr(Schema.Int.pipe(Schema.between(0, 0o7777)))
const Location = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/))

/** A request, as it travels (JSON). */
export const Request = Schema.Union(
  Schema.Struct({ op: Schema.Literal("ensureDirectory"), location: Location, path: Path_, mtimeNs: Schema.NullOr(Ns), mode: Mode }),
  Schema.Struct({ op: Schema.Literal("writeSymlink"), location: Location, path: Path_, target: Schema.String.pipe(Schema.maxLength(4096)), mtimeNs: Schema.NullOr(Ns) }),
  Schema.Struct({ op: Schema.Literal("setAttributes"), location: Location, path: Path_, mtimeNs: Ns, mode: Mode }),
  Schema.Struct({ op: Schema.Literal("remove"), location: Location, path: Path_ }),
  Schema.Struct({ op: Schema.Literal("unlink"), location: Location, path: Path_ }),
  Schema.Struct({ op: Schema.Literal("move"), location: Location, path: Path_, to: Path_ }),
  Schema.Struct({
    op: Schema.Literal("verify"),
    location: Location,
    path: Path_,
    kind: Schema.Literal(0, 1, 2),
    hash: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))),
    size: Schema.Int.pipe(Schema.nonNegative()),
    linkTarget: Schema.NullOr(Schema.String.pipe(Schema.maxLength(4096)))
  }),
  Schema.Struct({ op: Schema.Literal("directoryTime"), location: Location, path: Path_ }),
  // The directories a run wrote to, scanned shallowly (new directories whole); `path` is the
  // first of them, for errors.
  Schema.Struct({ op: Schema.Literal("reindex"), location: Location, path: Path_, directories: Schema.Array(Path_).pipe(Schema.maxItems(2048)) }),
  // Push files of this location to the asking device's location `to` (transfer protocol).
  Schema.Struct({
    op: Schema.Literal("push"),
    location: Location,
    path: Path_,
    to: Location,
    files: Schema.Array(Schema.Struct({
      path: Path_,
      to: Path_,
      hash: Schema.String.pipe(Schema.pattern(/^([0-9a-f]{64})?$/)),
      mtimeNs: Ns,
      mode: Mode
    })).pipe(Schema.maxItems(MAX_PUSH_FILES))
  })
)
export type Request = typeof Request.Type

/** An answer: a value (a verification's verdict, a directory's time) or why it failed. */
export const Answer = Schema.Union(
  Schema.Struct({
    ok: Schema.Literal(true),
    value: Schema.optional(Schema.Union(Schema.Boolean, Ns, Schema.Null)),
    // A push's outcome per file, in order.
    files: Schema.optional(Schema.Array(Schema.Struct({
      ok: Schema.Boolean,
      bytes: Schema.Int.pipe(Schema.nonNegative()),
      reason: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
      message: Schema.optional(Schema.String.pipe(Schema.maxLength(4096)))
    })).pipe(Schema.maxItems(MAX_PUSH_FILES)))
  }),
  Schema.Struct({
    ok: Schema.Literal(false),
    reason: Schema.Literal("SourceMissing", "SourceChanged", "VerifyFailed", "PermissionDenied", "DiskFull", "Io", "Refused"),
    message: Schema.String.pipe(Schema.maxLength(4096))
  })
)
export type Answer = typeof Answer.Type

const decode = <A, I>(schema: Schema.Schema<A, I>, bytes: Uint8Array) =>
  Effect.try(() => JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown).pipe(Effect.flatMap(Schema.decodeUnknown(schema)))

const encode = (value: unknown) => Buffer.from(JSON.stringify(value))

/** Serves remote operations on this device's locations. */
export class RemoteOpsServer extends Context.Tag("@conduit/sync/RemoteOpsServer")<RemoteOpsServer, {
  /** Answers paired peers' requests until the scope closes. */
  readonly serve: Effect.Effect<void, TransportError.TransportError, Scope.Scope>
  /** Runs one request of `peerId` here (what `serve` does for each; exposed for tests). */
  readonly handle: (request: Request, peerId: string) => Effect.Effect<Answer>
}>() {}

/** Builds the server. */
export const makeServer: Effect.Effect<
  RemoteOpsServer["Type"],
  never,
  Node.Node | Locations.Locations | LibraryDatabase.LibraryDatabase | Hasher.Hasher | Indexer.Indexer | Transfer.TransferSender
> = Effect.gen(function* () {
  const node = yield* Node.Node
  const sender = yield* Transfer.TransferSender
  const indexer = yield* Indexer.Indexer
  const locations = yield* Locations.Locations
  const db = yield* LibraryDatabase.LibraryDatabase
  const hasher = yield* Hasher.Hasher
  const route = FileRoute.local

  const refused = (message: string): Answer => ({ ok: false, reason: "Refused", message })
  const failed = (e: FileOpError.FileOpError): Answer => ({ ok: false, reason: e.reason, message: e.message })
  const relPath = (path: string) => RelPath.parse(path)

  const handle = (request: Request, peerId: string): Effect.Effect<Answer> =>
    Effect.gen(function* () {
      const location = yield* Effect.either(locations.get(request.location as never))
      if (Either.isLeft(location) || location.right.deviceRowId !== db.self.rowId) {
        return refused(`no location '${request.location}' on this device`)
      }
      const root = location.right.root
      const path = relPath(request.path)
      if (Either.isLeft(path)) return refused(path.left.message)
      // The location root itself is never removed, replaced or moved from a peer's request.
      if (path.right === "" && (request.op === "remove" || request.op === "unlink" || request.op === "move" || request.op === "writeSymlink")) {
        return refused("the location root cannot be removed, replaced or moved")
      }
      const run = <A>(effect: Effect.Effect<A, FileOpError.FileOpError, Hasher.Hasher>, value?: (a: A) => boolean | string | null) =>
        effect.pipe(
          Effect.provideService(Hasher.Hasher, hasher),
          Effect.map((a): Answer => (value === undefined ? { ok: true } : { ok: true, value: value(a) })),
          Effect.catchAll((e) => Effect.succeed(failed(e)))
        )
      switch (request.op) {
        case "ensureDirectory":
          return yield* run(route.ensureDirectory(root, path.right, request.mtimeNs === null ? null : BigInt(request.mtimeNs), request.mode))
        case "writeSymlink":
          return yield* run(route.writeSymlink(root, path.right, request.target, request.mtimeNs === null ? null : BigInt(request.mtimeNs)))
        case "setAttributes":
          return yield* run(route.setAttributes(root, path.right, BigInt(request.mtimeNs), request.mode))
        case "remove":
          return yield* run(route.remove(root, path.right))
        case "unlink":
          return yield* run(route.unlink(root, path.right))
        case "move": {
          const to = relPath(request.to)
          if (Either.isLeft(to)) return refused(to.left.message)
          if (to.right === "") return refused("the location root cannot be replaced")
          return yield* run(route.move(root, path.right, to.right))
        }
        case "verify":
          return yield* run(
            route.verify(root, path.right, { kind: request.kind, hash: request.hash, size: request.size, linkTarget: request.linkTarget }),
            (ok) => ok
          )
        case "directoryTime":
          return yield* run(route.directoryTime(root, path.right), (ns) => (ns === null ? null : ns.toString()))
        case "push": {
          const outgoing: Array<Transfer.OutgoingFile> = []
          for (const f of request.files) {
            const from = relPath(f.path)
            const to = relPath(f.to)
            if (Either.isLeft(from)) return refused(from.left.message)
            if (Either.isLeft(to)) return refused(to.left.message)
            outgoing.push({
              source: Path.join(root, from.right),
              location: request.to,
              path: to.right,
              ...(f.hash === "" ? {} : { hash: f.hash }),
              mtimeNs: BigInt(f.mtimeNs),
              mode: f.mode
            })
          }
          return yield* sender.sendAll(peerId, outgoing).pipe(
            Effect.map((results): Answer => ({
              ok: true,
              files: results.map((r) =>
                Either.isRight(r)
                  ? { ok: true, bytes: r.right.size }
                  : { ok: false, bytes: 0, reason: r.left.reason, message: r.left.message.slice(0, 4096) })
            })),
            Effect.catchAll((e) => Effect.succeed<Answer>({ ok: false, reason: "Io", message: e.message.slice(0, 4096) }))
          )
        }
        case "reindex": {
          const directories: Array<RelPath.RelPath> = []
          for (const d of request.directories) {
            const parsed = relPath(d)
            if (Either.isLeft(parsed)) return refused(parsed.left.message)
            directories.push(parsed.right)
          }
          return yield* indexer.scan(location.right.id, { paths: directories, recursive: false, allowEmptyRoot: true }).pipe(
            Effect.as<Answer>({ ok: true }),
            Effect.catchAll((e) => Effect.succeed<Answer>({ ok: false, reason: "Io", message: e.message }))
          )
        }
      }
    })

  const serve = node.handle(PROTOCOL, (stream, peer) =>
    Effect.gen(function* () {
      const bytes = yield* Streams.readAll(stream, { maxBytes: MAX_MESSAGE_BYTES })
      const request = yield* Effect.either(decode(Request, bytes))
      const answer = Either.isLeft(request) ? refused("malformed request") : yield* handle(request.right, peer.peerId)
      yield* Streams.write(stream, encode(answer))
    }))

  return RemoteOpsServer.of({ serve, handle })
})

/** The server, on the node and the index services. */
export const serverLayer: Layer.Layer<
  RemoteOpsServer,
  never,
  Node.Node | Locations.Locations | LibraryDatabase.LibraryDatabase | Hasher.Hasher | Indexer.Indexer | Transfer.TransferSender
> = Layer.effect(RemoteOpsServer, makeServer)

/**
 * Asks `peerId` to run `request`; a failure to reach it, or an answer that is not one, is a
 * `FileOpError` `Io` on `path` (so a plan runner records a skip, as for a local failure).
 */
export const ask = (node: Node.Node["Type"], peerId: string, request: Request): Effect.Effect<Answer & { ok: true }, FileOpError.FileOpError> =>
  Effect.scoped(Effect.gen(function* () {
    const stream = yield* node.openStream(peerId, PROTOCOL)
    yield* Streams.write(stream, encode(request))
    yield* Streams.closeWrite(stream)
    return yield* decode(Answer, yield* Streams.readAll(stream, { maxBytes: MAX_MESSAGE_BYTES }))
  })).pipe(
    Effect.mapError((cause) => new FileOpError.FileOpError({ reason: "Io", path: `${peerId}:${request.path}`, cause })),
    Effect.flatMap((answer) =>
      answer.ok
        ? Effect.succeed(answer)
        : Effect.fail(new FileOpError.FileOpError({
          reason: answer.reason === "Refused" ? "Io" : answer.reason,
          path: `${peerId}:${request.path}`,
          cause: new Error(answer.message)
        })))
  )
