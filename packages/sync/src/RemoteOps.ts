/**
 * Remote operations: the file operations of a plan other than copies (those go over the
 * transfer protocol) — make a directory, write a symlink, set attributes, remove (keeping a
 * version), unlink a verified archive source, move, verify, read a directory's time — and
 * re-indexing the directories a run touched, asked of a paired peer on
 * `/conduit/remote-ops/1.0.0`, one request and one answer per stream. A `batch` request
 * carries up to `MAX_BATCH_ITEMS` of the small operations, run in order: one round trip for
 * many.
 *
 * The serving side runs each operation with this device's own `FileRoute.local` (the same
 * guarantees as a local sync: versions first, verified bytes), on a location of this device
 * named by its id; paths are checked as `RelPath`s (relative, NFC, no `..`), requests and
 * answers are bounded (`MAX_MESSAGE_BYTES`) and validated, and anything else is refused with
 * a reason.
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

/** Requests one batch may carry: a round trip for this many small operations, a bounded wait. */
export const MAX_BATCH_ITEMS = 256

/**
 * The longest message of a failed request in a batch's answer: at most 6 bytes a character in
 * JSON, `MAX_BATCH_ITEMS` of them stay well under `MAX_MESSAGE_BYTES`.
 */
export const MAX_BATCH_MESSAGE = 512

const Path_ = Schema.String.pipe(Schema.maxLength(4096))
const Ns = Schema.String.pipe(Schema.pattern(/^\d{1,20}$/))
const Mode = Schema.NullOr(Schema.Int.pipe(Schema.between(0, 0o7777)))
const Location = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/))

const EnsureDirectory = Schema.Struct({ op: Schema.Literal("ensureDirectory"), location: Location, path: Path_, mtimeNs: Schema.NullOr(Ns), mode: Mode })
const WriteSymlink = Schema.Struct({ op: Schema.Literal("writeSymlink"), location: Location, path: Path_, target: Schema.String.pipe(Schema.maxLength(4096)), mtimeNs: Schema.NullOr(Ns) })
const SetAttributes = Schema.Struct({ op: Schema.Literal("setAttributes"), location: Location, path: Path_, mtimeNs: Ns, mode: Mode })
const Remove = Schema.Struct({ op: Schema.Literal("remove"), location: Location, path: Path_ })
const Unlink = Schema.Struct({ op: Schema.Literal("unlink"), location: Location, path: Path_ })
const Move = Schema.Struct({ op: Schema.Literal("move"), location: Location, path: Path_, to: Path_ })
const Verify = Schema.Struct({
  op: Schema.Literal("verify"),
  location: Location,
  path: Path_,
  kind: Schema.Literal(0, 1, 2),
  hash: Schema.NullOr(Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/))),
  size: Schema.Int.pipe(Schema.nonNegative()),
  linkTarget: Schema.NullOr(Schema.String.pipe(Schema.maxLength(4096)))
})
const DirectoryTime = Schema.Struct({ op: Schema.Literal("directoryTime"), location: Location, path: Path_ })

/** A request a batch may carry: the operations that move no file content and scan nothing. */
export const BatchItem = Schema.Union(EnsureDirectory, WriteSymlink, SetAttributes, Remove, Unlink, Move, Verify, DirectoryTime)
export type BatchItem = typeof BatchItem.Type

/** A request, as it travels (JSON). */
export const Request = Schema.Union(
  EnsureDirectory,
  WriteSymlink,
  SetAttributes,
  Remove,
  Unlink,
  Move,
  Verify,
  DirectoryTime,
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
  }),
  // Several requests run one after another, in order, each checked and answered on its own.
  Schema.Struct({ op: Schema.Literal("batch"), requests: Schema.Array(BatchItem).pipe(Schema.maxItems(MAX_BATCH_ITEMS)) })
)
export type Request = typeof Request.Type

/** A request other than a batch. */
type Single = Exclude<Request, { readonly op: "batch" }>

const Reason = Schema.Literal("SourceMissing", "SourceChanged", "VerifyFailed", "PermissionDenied", "DiskFull", "Io", "Refused")
const Value = Schema.Union(Schema.Boolean, Ns, Schema.Null)

/** The answer to one request of a batch. */
export const BatchResult = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), value: Schema.optional(Value) }),
  Schema.Struct({ ok: Schema.Literal(false), reason: Reason, message: Schema.String.pipe(Schema.maxLength(MAX_BATCH_MESSAGE)) })
)
export type BatchResult = typeof BatchResult.Type

/** An answer: a value (a verification's verdict, a directory's time) or why it failed. */
export const Answer = Schema.Union(
  Schema.Struct({
    ok: Schema.Literal(true),
    value: Schema.optional(Value),
    // A push's outcome per file, in order.
    files: Schema.optional(Schema.Array(Schema.Struct({
      ok: Schema.Boolean,
      bytes: Schema.Int.pipe(Schema.nonNegative()),
      reason: Schema.optional(Schema.String.pipe(Schema.maxLength(64))),
      message: Schema.optional(Schema.String.pipe(Schema.maxLength(4096)))
    })).pipe(Schema.maxItems(MAX_PUSH_FILES))),
    // A batch's answers, one per request, in order.
    results: Schema.optional(Schema.Array(BatchResult).pipe(Schema.maxItems(MAX_BATCH_ITEMS)))
  }),
  Schema.Struct({
    ok: Schema.Literal(false),
    reason: Reason,
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
  /**
   * Notes a file the transfer receiver verified and put in place here: the next `reindex` of
   * its location takes this digest instead of reading the file again (if its size and time
   * still match).
   */
  readonly received: (location: string, path: string, known: Indexer.KnownHash) => void
}>() {}

/** Received files remembered per location until a re-index uses them (bounded: beyond it, the oldest go). */
const MAX_RECEIPTS = 500_000

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

  const refused = (message: string): Answer => ({ ok: false, reason: "Refused", message: message.slice(0, 4096) })
  const failed = (e: FileOpError.FileOpError): Answer => ({ ok: false, reason: e.reason, message: e.message.slice(0, 4096) })
  const relPath = (path: string) => RelPath.parse(path)

  /** This device's location `id`, or null (unknown, or another device's). */
  const ownLocation = (id: string) =>
    Effect.map(Effect.either(locations.get(id as never)), (found) =>
      Either.isRight(found) && found.right.deviceRowId === db.self.rowId ? found.right : null)

  const handleOne = (request: Single, peerId: string, location: Locations.Location | null): Effect.Effect<Answer> =>
    Effect.gen(function* () {
      if (location === null) return refused(`no location '${request.location}' on this device`)
      const root = location.root
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
          const knownHashes = receipts.get(request.location)
          // Taken now: what arrives during the scan waits for the next one.
          receipts.delete(request.location)
          return yield* indexer.scan(location.id, {
            paths: directories,
            recursive: false,
            allowEmptyRoot: true,
            ...(knownHashes === undefined ? {} : { knownHashes })
          }).pipe(
            Effect.as<Answer>({ ok: true }),
            Effect.catchAll((e) => Effect.succeed<Answer>({ ok: false, reason: "Io", message: e.message }))
          )
        }
      }
    })

  // In order, each request checked as if it came alone; a failure is its own answer only.
  const handleBatch = (requests: ReadonlyArray<BatchItem>, peerId: string): Effect.Effect<Answer> =>
    Effect.gen(function* () {
      const found = new Map<string, Locations.Location | null>()
      const results: Array<BatchResult> = []
      for (const request of requests) {
        let location = found.get(request.location)
        if (location === undefined) {
          location = yield* ownLocation(request.location)
          found.set(request.location, location)
        }
        const answer = yield* handleOne(request, peerId, location)
        results.push(
          !answer.ok
            ? { ok: false, reason: answer.reason, message: answer.message.slice(0, MAX_BATCH_MESSAGE) }
            : answer.value === undefined
            ? { ok: true }
            : { ok: true, value: answer.value }
        )
      }
      return { ok: true, results }
    })

  const handle = (request: Request, peerId: string): Effect.Effect<Answer> =>
    request.op === "batch"
      ? handleBatch(request.requests, peerId)
      : Effect.flatMap(ownLocation(request.location), (location) => handleOne(request, peerId, location))

  const serve = node.handle(PROTOCOL, (stream, peer) =>
    Effect.gen(function* () {
      const bytes = yield* Streams.readAll(stream, { maxBytes: MAX_MESSAGE_BYTES })
      const request = yield* Effect.either(decode(Request, bytes))
      const answer = Either.isLeft(request) ? refused("malformed request") : yield* handle(request.right, peer.peerId)
      yield* Streams.write(stream, encode(answer))
    }))

  const receipts = new Map<string, Map<string, Indexer.KnownHash>>()
  let receiptCount = 0
  const received = (location: string, path: string, known: Indexer.KnownHash) => {
    if (receiptCount >= MAX_RECEIPTS) {
      receipts.clear()
      receiptCount = 0
    }
    let forLocation = receipts.get(location)
    if (forLocation === undefined) receipts.set(location, (forLocation = new Map()))
    forLocation.set(path, known)
    receiptCount++
  }

  return RemoteOpsServer.of({ serve, handle, received })
})

/** The server, on the node and the index services. */
export const serverLayer: Layer.Layer<
  RemoteOpsServer,
  never,
  Node.Node | Locations.Locations | LibraryDatabase.LibraryDatabase | Hasher.Hasher | Indexer.Indexer | Transfer.TransferSender
> = Layer.effect(RemoteOpsServer, makeServer)

const named = (peerId: string, path: string) => `${peerId}:${path}`

/** The path a request's errors name. */
const pathOf = (request: Request) => (request.op === "batch" ? (request.requests[0]?.path ?? "") : request.path)

const refusal = (peerId: string, path: string, answer: { readonly reason: typeof Reason.Type; readonly message: string }) =>
  new FileOpError.FileOpError({
    reason: answer.reason === "Refused" ? "Io" : answer.reason,
    path: named(peerId, path),
    cause: new Error(answer.message)
  })

/**
 * Asks `peerId` to run `request`; a failure to reach it, or an answer that is not one, is a
 * `FileOpError` `Io` on `path` (so a plan runner records a skip, as for a local failure).
 */
export const ask = (node: Node.Node["Type"], peerId: string, request: Request): Effect.Effect<Answer & { ok: true }, FileOpError.FileOpError> =>
  Effect.scoped(Effect.gen(function* () {
    const bytes = encode(request)
    // The peer would stop reading at the limit; say so here instead.
    if (bytes.byteLength > MAX_MESSAGE_BYTES) return yield* Effect.fail(new Error(`a request of ${bytes.byteLength} bytes is over the limit`))
    const stream = yield* node.openStream(peerId, PROTOCOL)
    yield* Streams.write(stream, bytes)
    yield* Streams.closeWrite(stream)
    return yield* decode(Answer, yield* Streams.readAll(stream, { maxBytes: MAX_MESSAGE_BYTES }))
  })).pipe(
    Effect.mapError((cause) => new FileOpError.FileOpError({ reason: "Io", path: named(peerId, pathOf(request)), cause })),
    Effect.flatMap((answer) => (answer.ok ? Effect.succeed(answer) : Effect.fail(refusal(peerId, pathOf(request), answer))))
  )

const BATCH_ENVELOPE_BYTES = encode({ op: "batch", requests: [] }).byteLength

/**
 * Splits `requests` into batches the peer accepts: at most `MAX_BATCH_ITEMS` each, each encoded
 * request within `MAX_MESSAGE_BYTES` (one request alone always is: its strings are bounded).
 */
export const splitBatch = (requests: ReadonlyArray<BatchItem>): ReadonlyArray<ReadonlyArray<BatchItem>> => {
  const parts: Array<Array<BatchItem>> = []
  let part: Array<BatchItem> = []
  let bytes = BATCH_ENVELOPE_BYTES
  for (const request of requests) {
    const size = encode(request).byteLength + 1 // and a comma
    if (part.length > 0 && (part.length === MAX_BATCH_ITEMS || bytes + size > MAX_MESSAGE_BYTES)) {
      parts.push(part)
      part = []
      bytes = BATCH_ENVELOPE_BYTES
    }
    part.push(request)
    bytes += size
  }
  if (part.length > 0) parts.push(part)
  return parts
}

/**
 * Asks `peerId` to run `requests` in order, in as few `batch` requests as the limits allow
 * (sent one after another, so the order holds across them); one result per request. A request
 * the peer refused or failed is a `FileOpError` on its own path, as from `ask`; a batch that
 * did not get through fails each of its requests.
 */
export const askBatch = (
  node: Node.Node["Type"],
  peerId: string,
  requests: ReadonlyArray<BatchItem>
): Effect.Effect<ReadonlyArray<Either.Either<BatchResult & { ok: true }, FileOpError.FileOpError>>> =>
  Effect.gen(function* () {
    const results: Array<Either.Either<BatchResult & { ok: true }, FileOpError.FileOpError>> = []
    for (const part of splitBatch(requests)) {
      const answer = yield* Effect.either(ask(node, peerId, { op: "batch", requests: part }))
      part.forEach((request, i) => {
        if (Either.isLeft(answer)) {
          results.push(Either.left(new FileOpError.FileOpError({ reason: answer.left.reason, path: named(peerId, request.path), cause: answer.left.cause })))
          return
        }
        const result = answer.right.results?.[i]
        results.push(
          result === undefined
            ? Either.left(new FileOpError.FileOpError({ reason: "Io", path: named(peerId, request.path), cause: new Error("the peer did not answer this operation") }))
            : result.ok
            ? Either.right(result)
            : Either.left(refusal(peerId, request.path, result))
        )
      })
    }
    return results
  })
