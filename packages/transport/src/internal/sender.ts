/**
 * The sending side of a transfer session: opens the session stream (and block streams when
 * both sides want them), offers files with the offer window, sends the blocks asked for
 * within each stream's byte window, and settles each file on the receiver's `Done`.
 */
import { RelPath } from "@conduit/domain"
import type { Hasher } from "@conduit/index"
import type { Stream } from "@libp2p/interface"
import { Deferred, Duration, Effect, Either, Fiber, ParseResult, Queue, Schema, type Scope } from "effect"
import * as Crypto from "node:crypto"
import * as FsSync from "node:fs"
import * as Fs from "node:fs/promises"
import {
  DEFAULT_BUNDLES_IN_FLIGHT,
  DEFAULT_OFFERS_IN_FLIGHT,
  DEFAULT_PARALLEL_STREAMS,
  DEFAULT_TRANSFER_IDLE_TIMEOUT_MILLIS,
  DEFAULT_WINDOW_BYTES,
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_FILE_SIZE,
  MAX_BUNDLE_FILES,
  MAX_BUNDLES_IN_FLIGHT,
  MAX_FILE_SIZE,
  MAX_OFFERS_IN_FLIGHT,
  MAX_PARALLEL_STREAMS,
  MAX_TRANSFER_FRAME_BYTES,
  MIN_COMPRESSION_SAVING,
  OFFER_BYTES_IN_FLIGHT,
  STREAM_CLOSE_TIMEOUT_MILLIS,
  TRANSFER_BLOCKS_PROTOCOL,
  TRANSFER_HANDSHAKE_TIMEOUT_MILLIS,
  TRANSFER_PROTOCOL,
  TRANSFER_VERSION
} from "../constants.js"
import type { Node } from "../Node.js"
import type { OutgoingFile, SenderSession, SendOptions, SendResult, SessionOptions } from "../Transfer.js"
import { TransferError } from "../TransferError.js"
import type { TransportError } from "../TransportError.js"
import * as Blocks from "./blocks.js"
import * as Frames from "./frames.js"
import * as Protocol from "./transferProtocol.js"

export interface Deps {
  readonly node: Node["Type"]
  readonly hasher: Hasher.Hasher["Type"]
}

/** Blocks of a file not worth compressing are tried again only after this many. */
const COMPRESSION_RETRY_BLOCKS = 8

/** The most bytes of small frames (needs, dones, acks) a receiver may have sent ahead. */
const CONTROL_BUFFER_BYTES = 8 * 1024 * 1024

/** How many `send`s `sendAll` runs at once: enough to keep the offer window full while files are hashed. */
export const concurrencyFor = (options: SessionOptions): number => 2 * clampOffers(options.offers)

const clampOffers = (offers: number | undefined) =>
  Math.max(1, Math.min(MAX_OFFERS_IN_FLIGHT, Math.floor(offers ?? DEFAULT_OFFERS_IN_FLIGHT)))

const fromTransport = (peerId: string) => (error: TransportError): TransferError =>
  new TransferError({
    reason: error.reason === "UnsupportedProtocol" ? "Refused" : "PeerClosed",
    peerId,
    detail: error.message,
    cause: error
  })

/** A file offered and not yet settled. */
interface Pending {
  readonly id: number
  readonly offer: Protocol.Offer
  readonly file: Fs.FileHandle
  readonly need: Deferred.Deferred<ReadonlyArray<Protocol.Range> | null>
  readonly done: Deferred.Deferred<Protocol.Done, TransferError>
  readonly offerPermits: number
  readonly onProgress: SendOptions["onProgress"]
  bytesSent: number
  /** No more blocks go out for it (given up, or its file changed). */
  cancelled: boolean
  compressionSkip: number
}

/** A stream blocks go out on, with its byte window. */
interface Lane {
  readonly stream: Stream
  readonly permits: Effect.Semaphore
  /** Permits held by each block in flight, oldest first. */
  readonly inFlight: Array<number>
}

interface Work {
  readonly pending: Pending
  readonly index: number
}

/** A file, opened and hashed, ready to offer. */
interface Prepared {
  readonly file: Fs.FileHandle
  readonly size: number
  readonly hash: string
  readonly blockSize: number
  readonly blockHashes: ReadonlyArray<string>
  readonly mtimeNs: bigint
  readonly mode: number | null
}

const ioError = (path: string, cause: unknown) =>
  new TransferError({ reason: "Io", path, detail: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * Opens and hashes a file: every block on this thread, the whole file on the hasher's workers
 * (a file of one block has its block's hash). Files of more than one block take a `hashing`
 * permit while they are read.
 */
const prepare = (
  hasher: Hasher.Hasher["Type"],
  hashing: Effect.Semaphore,
  file: OutgoingFile,
  preferredBlockSize: number | undefined
): Effect.Effect<Prepared, TransferError, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => Fs.open(file.source, SOURCE_FLAGS), catch: (cause) => ioError(file.path, cause) }),
      (h) => Effect.promise(() => h.close().catch(() => undefined))
    )
    const before = yield* Effect.tryPromise({ try: () => handle.stat({ bigint: true }), catch: (cause) => ioError(file.path, cause) })
    if (!before.isFile()) return yield* new TransferError({ reason: "Io", path: file.path, detail: "not a regular file" })
    const size = Number(before.size)
    if (size > MAX_FILE_SIZE) return yield* new TransferError({ reason: "Refused", path: file.path, detail: `larger than ${MAX_FILE_SIZE} bytes` })
    const blockSize = Blocks.chooseBlockSize(size, preferredBlockSize)
    const count = Protocol.blockCount(size, blockSize)
    const blockHashes = Effect.tryPromise({
      try: async () => {
        const buffer = new Uint8Array(Math.min(blockSize, size))
        const hashes: Array<string> = []
        for (let index = 0; index < count; index++) {
          const length = Protocol.blockLength(size, blockSize, index)
          const read = await Blocks.readFully(handle, buffer, length, index * blockSize)
          if (read !== length) throw new SourceChanged("the file got shorter while it was hashed")
          hashes.push(Blocks.hashBlock(buffer.subarray(0, length)))
        }
        return hashes
      },
      catch: (cause) =>
        cause instanceof SourceChanged
          ? new TransferError({ reason: "SourceChanged", path: file.path, detail: cause.message })
          : ioError(file.path, cause)
    })
    const changed = () => new TransferError({ reason: "SourceChanged", path: file.path, detail: "the file changed while it was hashed" })
    const { hash, hashes } = count <= 1
      ? yield* Effect.map(blockHashes, (hashes) => ({ hash: count === 0 ? Blocks.EMPTY_HASH : hashes[0]!, hashes }))
      : yield* hashing.withPermits(1)(Effect.gen(function* () {
        // The whole file on a worker while this fiber hashes the blocks.
        const whole = yield* Effect.fork(hasher.hashFiles([{ path: file.source, size }]))
        const hashes = yield* blockHashes
        const [result] = yield* Fiber.join(whole).pipe(Effect.mapError((cause) => ioError(file.path, cause)))
        if (result?.state !== "ok" || result.size !== size) return yield* changed()
        return { hash: result.hash as string, hashes }
      }))
    const after = yield* Effect.tryPromise({ try: () => handle.stat({ bigint: true }), catch: (cause) => ioError(file.path, cause) })
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs) return yield* changed()
    if (file.hash !== undefined && file.hash !== hash) {
      return yield* new TransferError({ reason: "SourceChanged", path: file.path, detail: "the file's bytes do not have the expected hash" })
    }
    return {
      file: handle,
      size,
      hash,
      blockSize,
      blockHashes: hashes,
      mtimeNs: file.mtimeNs ?? before.mtimeNs,
      mode: file.mode === undefined ? Number(before.mode & 0o7777n) : file.mode
    }
  })

class SourceChanged extends Error {}

/**
 * A source is opened without following a symlink at its name: a file replaced by a link since it
 * was indexed (to something outside the location, say) is not read and sent (`ELOOP`: `Io`).
 */
const SOURCE_FLAGS = FsSync.constants.O_RDONLY | FsSync.constants.O_NOFOLLOW

/** A small file read whole for a bundle, or why it cannot go in one. */
type SmallRead =
  | { readonly _tag: "Small"; readonly bytes: Buffer; readonly hash: string; readonly mtimeNs: bigint; readonly mode: number | null }
  | { readonly _tag: "Large" }
  | { readonly _tag: "Failed"; readonly error: TransferError }

/**
 * Reads a file of at most `MAX_BUNDLE_FILE_SIZE` bytes whole and hashes it, on this thread (a
 * few syscalls; a worker round trip would cost more than the hash). The bytes sent are the
 * bytes hashed, so a file that changes later cannot be sent torn; one that changes while it is
 * read (size or mtime moved) is `SourceChanged`, as is one without the expected hash.
 */
const readSmall = (file: OutgoingFile): SmallRead => {
  const failed = (error: TransferError): SmallRead => ({ _tag: "Failed", error })
  const changed = (detail: string) => failed(new TransferError({ reason: "SourceChanged", path: file.path, detail }))
  let fd: number
  try {
    fd = FsSync.openSync(file.source, SOURCE_FLAGS)
  } catch (cause) {
    return failed(ioError(file.path, cause))
  }
  try {
    const before = FsSync.fstatSync(fd, { bigint: true })
    if (!before.isFile()) return failed(new TransferError({ reason: "Io", path: file.path, detail: "not a regular file" }))
    if (before.size > BigInt(MAX_BUNDLE_FILE_SIZE)) return { _tag: "Large" }
    const size = Number(before.size)
    const bytes = Buffer.allocUnsafe(size)
    let read = 0
    while (read < size) {
      const n = FsSync.readSync(fd, bytes, read, size - read, read)
      if (n === 0) break
      read += n
    }
    if (read !== size) return changed("the file got shorter while it was read")
    const after = FsSync.fstatSync(fd, { bigint: true })
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs) return changed("the file changed while it was read")
    const hash = Blocks.hashBlock(bytes)
    if (file.hash !== undefined && file.hash !== hash) return changed("the file's bytes do not have the expected hash")
    return {
      _tag: "Small",
      bytes,
      hash,
      mtimeNs: file.mtimeNs ?? before.mtimeNs,
      mode: file.mode === undefined ? Number(before.mode & 0o7777n) : file.mode
    }
  } catch (cause) {
    return failed(ioError(file.path, cause))
  } finally {
    FsSync.closeSync(fd)
  }
}

/** A bundle offered and not yet settled. */
interface PendingBundle {
  readonly id: number
  readonly count: number
  readonly need: Deferred.Deferred<ReadonlyArray<number>, TransferError>
  readonly done: Deferred.Deferred<Protocol.BundleDone, TransferError>
}

/** A small file read for a bundle, with its place in `sendMany`'s list. */
interface BundledFile {
  readonly index: number
  readonly file: Protocol.BundleFile
  readonly bytes: Buffer
}

/** Reads the receiver's `Hello` (or its refusal). */
const readHello = (reader: Frames.FrameReader, peerId: string): Effect.Effect<Protocol.Hello, TransferError> =>
  Effect.gen(function* () {
    const frame = yield* reader.next
    if (frame === null) return yield* new TransferError({ reason: "PeerClosed", peerId, detail: "the peer closed the session before its hello" })
    const message = yield* Protocol.decodeEither(frame, peerId)
    if (message._tag === "Refused") {
      return yield* new TransferError({
        reason: message.reason === "UnsupportedVersion" ? "UnsupportedVersion" : "Refused",
        peerId,
        ...(message.detail === undefined ? {} : { detail: message.detail })
      })
    }
    if (message._tag !== "Hello") return yield* new TransferError({ reason: "Protocol", peerId, detail: `a ${message._tag} instead of a hello` })
    if (message.version !== TRANSFER_VERSION) {
      return yield* new TransferError({ reason: "UnsupportedVersion", peerId, detail: `version ${message.version}` })
    }
    return message
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.millis(TRANSFER_HANDSHAKE_TIMEOUT_MILLIS),
      onTimeout: () => new TransferError({ reason: "Timeout", peerId, detail: "no hello" })
    })
  )

/** A transfer error from a failed `Done`. */
const doneError = (done: Protocol.Done, offer: Protocol.Offer, peerId: string): TransferError =>
  new TransferError({
    reason: done.reason ?? "Refused",
    peerId,
    path: offer.path,
    ...(done.detail === undefined ? {} : { detail: done.detail })
  })

/** Opens a sending session with `peerId`; it closes with the scope. */
export const open = (
  deps: Deps,
  peerId: string,
  options: SessionOptions
): Effect.Effect<SenderSession, TransferError, Scope.Scope> =>
  Effect.gen(function* () {
    const { hasher, node } = deps
    const wantedStreams = Math.max(0, Math.min(MAX_PARALLEL_STREAMS, Math.floor(options.streams ?? DEFAULT_PARALLEL_STREAMS)))
    const compress = options.compress ?? options.limiter !== undefined
    const wantedBundles = Math.max(0, Math.min(MAX_BUNDLES_IN_FLIGHT, Math.floor(options.bundles ?? DEFAULT_BUNDLES_IN_FLIGHT)))
    const idleMillis = Duration.toMillis(Duration.decode(options.idleTimeout ?? Duration.millis(DEFAULT_TRANSFER_IDLE_TIMEOUT_MILLIS)))

    let lastActivity = Date.now()
    const touch = () => {
      lastActivity = Date.now()
    }
    const control = yield* Effect.mapError(node.openStream(peerId, TRANSFER_PROTOCOL), fromTransport(peerId))
    const controlReader = Frames.reader(control, {
      maxFrameBytes: MAX_TRANSFER_FRAME_BYTES,
      maxBufferedBytes: CONTROL_BUFFER_BYTES,
      peerId,
      onActivity: touch
    })
    yield* Effect.addFinalizer(() => Effect.sync(controlReader.release))

    const sessionId = Crypto.randomBytes(16).toString("hex")
    yield* Frames.write(control, Protocol.encodeFrame({
      _tag: "Hello",
      version: TRANSFER_VERSION,
      session: sessionId,
      streams: wantedStreams,
      compression: compress ? ["deflate-raw"] : [],
      offers: clampOffers(options.offers),
      windowBytes: DEFAULT_WINDOW_BYTES,
      bundles: wantedBundles
    }), peerId)
    const hello = yield* readHello(controlReader, peerId)
    const offers = Math.min(clampOffers(options.offers), hello.offers)
    const bundleWindow = Math.min(wantedBundles, hello.bundles ?? 0)
    const compression = compress && hello.compression.includes("deflate-raw") ? "deflate-raw" as const : null
    const windowBytes = hello.windowBytes

    // -- session state ---------------------------------------------------------------------

    const pending = new Map<number, Pending>()
    const bundles = new Map<number, PendingBundle>()
    let nextBundleId = 1
    let nextId = 1
    let failure: TransferError | null = null
    const offerSlots = yield* Effect.makeSemaphore(offers)
    const offerBytes = yield* Effect.makeSemaphore(OFFER_BYTES_IN_FLIGHT)
    const work = yield* Queue.unbounded<Work>()
    // Files of more than one block are hashed two at a time: hashing is bound by the disk and
    // the cores, and each holds a block buffer.
    const hashing = yield* Effect.makeSemaphore(2)

    const makeLane = (stream: Stream) =>
      Effect.map(Effect.makeSemaphore(windowBytes), (permits): Lane => ({ stream, permits, inFlight: [] }))

    /** Settles a transfer: frees its offer slot, wakes its `send`. */
    const settle = (p: Pending, outcome: Either.Either<Protocol.Done, TransferError>) =>
      Effect.gen(function* () {
        if (pending.get(p.id) !== p) return
        pending.delete(p.id)
        p.cancelled = true
        yield* offerSlots.release(1)
        yield* offerBytes.release(p.offerPermits)
        yield* Deferred.succeed(p.need, null)
        yield* Deferred.complete(p.done, outcome)
      })

    /** Ends the session: every transfer in flight fails with `error`. */
    const failSession = (error: TransferError) =>
      Effect.gen(function* () {
        if (failure !== null) return
        failure = error
        for (const p of [...pending.values()]) yield* settle(p, Either.left(error))
        for (const b of [...bundles.values()]) {
          yield* Deferred.fail(b.need, error)
          yield* Deferred.fail(b.done, error)
        }
        bundles.clear()
        yield* Queue.shutdown(work)
      })

    /** Tells the receiver why, then fails the session (for a peer that broke the protocol). */
    const refuse = (error: TransferError) =>
      Effect.gen(function* () {
        if (failure !== null) return
        const reason = Protocol.RefusalReason.literals.find((r) => r === error.reason) ?? "Refused"
        yield* Effect.ignore(Frames.write(control, Protocol.encodeFrame({ _tag: "Refused", reason, detail: Protocol.clip(error.message) }), peerId))
        yield* failSession(error)
        // Closed, not reset, so the refusal arrives.
        yield* Effect.ignore(Effect.tryPromise((signal) => control.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(STREAM_CLOSE_TIMEOUT_MILLIS)]) })))
      })

    const violation = (detail: string) => new TransferError({ reason: "Protocol", peerId, detail })

    /** The oldest blocks in flight on a lane were processed: their permits return. */
    const acknowledge = (lane: Lane, blocks: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < blocks; i++) {
          const permits = lane.inFlight.shift()
          if (permits === undefined) return yield* violation("an acknowledgement of more blocks than were sent")
          yield* lane.permits.release(permits)
        }
      })

    /** The receiver gave the session up: it fails with the receiver's reason (and is not refused back). */
    const refusedBy = (message: Protocol.Refused) =>
      failSession(new TransferError({
        reason: message.reason === "Refused" || message.reason === "Timeout" ? "Refused" : message.reason,
        peerId,
        detail: `the peer refused the session${message.detail === undefined ? "" : `: ${message.detail}`}`
      }))

    // -- lanes -------------------------------------------------------------------------------

    const lanes: Array<Lane> = []
    if (wantedStreams > 0 && hello.streams > 0) {
      const count = Math.min(wantedStreams, hello.streams)
      for (let i = 0; i < count; i++) {
        const opened = yield* Effect.either(Effect.gen(function* () {
          const stream = yield* Effect.mapError(node.openStream(peerId, TRANSFER_BLOCKS_PROTOCOL), fromTransport(peerId))
          yield* Frames.write(stream, Protocol.encodeFrame({ _tag: "Attach", session: sessionId }), peerId)
          return stream
        }))
        // A peer that cannot take one more stream still gets the session on the ones it took.
        if (Either.isLeft(opened)) break
        lanes.push(yield* makeLane(opened.right))
      }
    }
    const controlLane = lanes.length === 0 ? yield* makeLane(control) : null
    if (controlLane !== null) lanes.push(controlLane)

    // Acknowledgements on block streams.
    for (const lane of lanes) {
      if (lane === controlLane) continue
      const laneReader = Frames.reader(lane.stream, { maxFrameBytes: MAX_TRANSFER_FRAME_BYTES, maxBufferedBytes: CONTROL_BUFFER_BYTES, peerId, onActivity: touch })
      yield* Effect.addFinalizer(() => Effect.sync(laneReader.release))
      const readAcks: Effect.Effect<void, TransferError> = Effect.gen(function* () {
        for (;;) {
          const frame = yield* laneReader.next
          if (frame === null) {
            if (failure === null) return yield* new TransferError({ reason: "PeerClosed", peerId, detail: "the peer closed a block stream" })
            return
          }
          const message = yield* Protocol.decodeEither(frame, peerId)
          if (message._tag === "Ack") yield* acknowledge(lane, message.blocks)
          else if (message._tag === "Refused") return yield* refusedBy(message)
          else return yield* violation(`a ${message._tag} on a block stream`)
        }
      })
      yield* Effect.forkScoped(Effect.catchAll(readAcks, (error) => (isPeerFault(error) ? refuse(error) : failSession(error))))
    }

    // -- the session stream ------------------------------------------------------------------

    const readControl: Effect.Effect<void, TransferError> = Effect.gen(function* () {
      for (;;) {
        const frame = yield* controlReader.next
        if (frame === null) {
          return yield* new TransferError({ reason: "PeerClosed", peerId, detail: "the peer closed the session" })
        }
        const message = yield* Protocol.decodeEither(frame, peerId)
        switch (message._tag) {
          case "Need": {
            const p = pending.get(message.transferId)
            if (p === undefined) {
              if (message.transferId < nextId) continue // settled already (cancelled)
              return yield* violation(`a need for transfer ${message.transferId}, never offered`)
            }
            const count = p.offer.blockHashes.length
            if (message.ranges.some(([, end]) => end > count)) return yield* violation(`a need beyond the ${count} blocks of transfer ${p.id}`)
            if (!(yield* Deferred.succeed(p.need, message.ranges))) return yield* violation(`a second need for transfer ${p.id}`)
            break
          }
          case "Done": {
            const p = pending.get(message.transferId)
            if (p === undefined) {
              if (message.transferId < nextId) continue
              return yield* violation(`a done for transfer ${message.transferId}, never offered`)
            }
            yield* settle(p, Either.right(message))
            break
          }
          case "BundleNeed": {
            const b = bundles.get(message.bundleId)
            if (b === undefined) {
              if (message.bundleId < nextBundleId) continue
              return yield* violation(`a need for bundle ${message.bundleId}, never offered`)
            }
            if (message.indexes.some((i) => i >= b.count)) return yield* violation(`a need beyond the ${b.count} files of bundle ${b.id}`)
            if (!(yield* Deferred.succeed(b.need, message.indexes))) return yield* violation(`a second need for bundle ${b.id}`)
            break
          }
          case "BundleDone": {
            const b = bundles.get(message.bundleId)
            if (b === undefined) {
              if (message.bundleId < nextBundleId) continue
              return yield* violation(`a done for bundle ${message.bundleId}, never offered`)
            }
            if (!(yield* Deferred.isDone(b.need))) return yield* violation(`a done for bundle ${b.id} before its need`)
            if (message.results.length !== b.count) return yield* violation(`${message.results.length} results for the ${b.count} files of bundle ${b.id}`)
            bundles.delete(b.id)
            yield* Deferred.succeed(b.done, message)
            break
          }
          case "Ack":
            if (controlLane === null) return yield* violation("an acknowledgement on the session stream, which carries no blocks")
            yield* acknowledge(controlLane, message.blocks)
            break
          case "Refused":
            return yield* refusedBy(message)
          default:
            return yield* violation(`a ${message._tag} from the receiver`)
        }
      }
    })
    yield* Effect.forkScoped(Effect.catchAll(readControl, (error) => (isPeerFault(error) ? refuse(error) : failSession(error))))

    // -- blocks ------------------------------------------------------------------------------

    /** The file changed under a transfer: stop its blocks and tell the receiver. */
    const cancel = (p: Pending, reason: "SourceChanged" | "Cancelled" | "Io", detail: string) =>
      Effect.gen(function* () {
        if (p.cancelled || pending.get(p.id) !== p) return
        p.cancelled = true
        yield* Effect.ignore(Frames.write(control, Protocol.encodeFrame({ _tag: "Cancel", transferId: p.id, reason, detail: Protocol.clip(detail) }), peerId))
      })

    /** Reads, checks and (maybe) compresses one block into its frame; null if its transfer is off. */
    const readBlock = (p: Pending, index: number) =>
      Effect.gen(function* () {
        const { blockSize, size } = p.offer
        const length = Protocol.blockLength(size, blockSize, index)
        const raw = Protocol.blockFrame(p.id, index, length)
        const read = yield* Effect.tryPromise({
          try: () => Blocks.readFully(p.file, raw.data, length, index * blockSize),
          catch: (cause) => ioError(p.offer.path, cause)
        })
        if (read !== length || Blocks.hashBlock(raw.data) !== p.offer.blockHashes[index]) {
          yield* cancel(p, "SourceChanged", `block ${index} changed after the offer`)
          return null
        }
        if (compression === null || p.compressionSkip-- > 0) return { frame: raw.frame, data: length }
        const packed = yield* Effect.tryPromise({ try: () => Blocks.deflate(raw.data), catch: (cause) => ioError(p.offer.path, cause) })
        if (packed.byteLength > length * (1 - MIN_COMPRESSION_SAVING)) {
          p.compressionSkip = COMPRESSION_RETRY_BLOCKS
          return { frame: raw.frame, data: length }
        }
        const small = Protocol.blockFrame(p.id, index, packed.byteLength, compression)
        small.data.set(packed)
        return { frame: small.frame, data: packed.byteLength }
      })

    const sendBlocks = (lane: Lane): Effect.Effect<void, TransferError> =>
      Effect.forever(Effect.gen(function* () {
        const { index, pending: p } = yield* Queue.take(work)
        if (p.cancelled) return
        const built = yield* Effect.catchAll(readBlock(p, index), (error) => Effect.as(cancel(p, "Io", error.message), null))
        if (built === null || p.cancelled) return
        const permits = Math.min(built.frame.byteLength, windowBytes)
        yield* lane.permits.take(permits)
        if (lane.inFlight.length === 0) touch()
        lane.inFlight.push(permits)
        if (options.limiter !== undefined) yield* options.limiter.take(built.frame.byteLength)
        yield* Frames.write(lane.stream, built.frame, peerId)
        p.bytesSent += built.data
        if (p.onProgress !== undefined) yield* p.onProgress({ path: p.offer.path, size: p.offer.size, bytesSent: p.bytesSent })
      }))
    for (const lane of lanes) yield* Effect.forkScoped(Effect.catchAll(sendBlocks(lane), failSession))

    // A receiver that stops acknowledging while blocks are in flight.
    const watchdog = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep(Duration.millis(Math.max(50, idleMillis / 4)))
        if (failure !== null) return
        const waiting = bundles.size > 0 || lanes.some((lane) => lane.inFlight.length > 0)
        if (waiting && Date.now() - lastActivity > idleMillis) {
          return yield* refuse(new TransferError({ reason: "Timeout", peerId, detail: `no acknowledgement for ${idleMillis} ms` }))
        }
      }
    })
    yield* Effect.forkScoped(watchdog)

    // Closing the session settles what is still in flight (the streams close after this).
    yield* Effect.addFinalizer(() => failSession(new TransferError({ reason: "PeerClosed", peerId, detail: "the session was closed" })))

    // -- send ----------------------------------------------------------------------------------

    const send = (file: OutgoingFile, sendOptions: SendOptions = {}): Effect.Effect<SendResult, TransferError> =>
      Effect.scoped(Effect.gen(function* () {
        if (failure !== null) return yield* failure
        const path = RelPath.parse(file.path)
        if (Either.isLeft(path) || path.right === "") {
          return yield* new TransferError({ reason: "PathRefused", path: file.path, detail: "not a relative path inside a location" })
        }
        const prepared = yield* prepare(hasher, hashing, file, options.blockSize)
        const offer: Protocol.Offer = {
          _tag: "Offer",
          transferId: 1,
          location: file.location,
          path: path.right,
          size: prepared.size,
          hash: prepared.hash,
          blockSize: prepared.blockSize,
          blockHashes: prepared.blockHashes,
          mtimeNs: prepared.mtimeNs.toString(),
          mode: prepared.mode
        }
        // The same checks the receiver makes: a bad location or path fails here, not there.
        const checked = validateOffer(offer)
        if (Either.isLeft(checked)) {
          const detail = Protocol.clip(ParseResult.TreeFormatter.formatErrorSync(checked.left))
          return yield* new TransferError({ reason: "PathRefused", path: file.path, detail })
        }

        const p = yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            yield* restore(offerSlots.take(1))
            const id = nextId
            const frame = Protocol.encodeFrame({ ...offer, transferId: id })
            const offerPermits = Math.min(frame.byteLength, OFFER_BYTES_IN_FLIGHT)
            yield* Effect.onInterrupt(restore(offerBytes.take(offerPermits)), () => offerSlots.release(1))
            if (failure !== null) {
              yield* offerSlots.release(1)
              yield* offerBytes.release(offerPermits)
              return yield* failure
            }
            nextId++
            const p: Pending = {
              id,
              offer: { ...offer, transferId: id },
              file: prepared.file,
              need: yield* Deferred.make<ReadonlyArray<Protocol.Range> | null>(),
              done: yield* Deferred.make<Protocol.Done, TransferError>(),
              offerPermits,
              onProgress: sendOptions.onProgress,
              bytesSent: 0,
              cancelled: false,
              compressionSkip: 0
            }
            pending.set(id, p)
            // Queued at once: frames never interleave, and the pending entry exists before any answer.
            yield* Effect.try({ try: () => control.send(frame), catch: (cause) => ioError(file.path, cause) }).pipe(
              Effect.catchAll((error) => settle(p, Either.left(new TransferError({ reason: "PeerClosed", peerId, path: file.path, detail: error.detail ?? "" }))))
            )
            return p
          })
        )
        const settled = Effect.gen(function* () {
          const ranges = yield* Deferred.await(p.need)
          if (ranges !== null && !p.cancelled) {
            const items: Array<Work> = []
            for (const [start, end] of ranges) for (let index = start; index < end; index++) items.push({ pending: p, index })
            yield* Queue.offerAll(work, items)
          }
          return yield* Deferred.await(p.done)
        })
        const done = yield* settled.pipe(
          Effect.onInterrupt(() => cancel(p, "Cancelled", "the sender stopped waiting"))
        )
        if (!done.ok) return yield* doneError(done, p.offer, peerId)
        return {
          transferId: p.id,
          location: offer.location,
          path: offer.path,
          size: offer.size,
          hash: offer.hash,
          bytesSent: p.bytesSent,
          bytesReceived: done.bytesReceived,
          bytesReused: done.bytesReused,
          localCopy: done.localCopy
        }
      })).pipe(Effect.withSpan("TransferSender.send", { attributes: { peerId, path: file.path } }))

    // -- bundles -------------------------------------------------------------------------------

    const bundleSlots = yield* Effect.makeSemaphore(Math.max(1, bundleWindow))

    /** Offers one bundle, sends the bytes the receiver needs, and maps its `BundleDone` to results. */
    const sendBundle = (files: ReadonlyArray<BundledFile>): Effect.Effect<ReadonlyArray<Either.Either<SendResult, TransferError>>> =>
      Effect.gen(function* () {
        if (failure !== null) return yield* failure
        const b: PendingBundle = {
          id: nextBundleId++,
          count: files.length,
          need: yield* Deferred.make<ReadonlyArray<number>, TransferError>(),
          done: yield* Deferred.make<Protocol.BundleDone, TransferError>()
        }
        bundles.set(b.id, b)
        const frame = Protocol.encodeFrame({ _tag: "Bundle", bundleId: b.id, files: files.map((f) => f.file) })
        // Queued at once, after the entry exists: frames never interleave.
        yield* Effect.try({ try: () => control.send(frame), catch: (cause) => ioError(files[0]!.file.path, cause) })
        const indexes = yield* Deferred.await(b.need)
        if (indexes.length > 0) {
          const data = Protocol.encodeFrame({ _tag: "BundleData", bundleId: b.id, data: indexes.map((i) => files[i]!.bytes) })
          if (options.limiter !== undefined) yield* options.limiter.take(data.byteLength)
          touch()
          yield* Frames.write(control, data, peerId)
        }
        const needed = new Set(indexes)
        const done = yield* Deferred.await(b.done)
        return done.results.map((r, i): Either.Either<SendResult, TransferError> => {
          const f = files[i]!.file
          return r.ok
            ? Either.right({
              transferId: b.id,
              location: f.location,
              path: f.path,
              size: f.size,
              hash: f.hash,
              bytesSent: needed.has(i) ? f.size : 0,
              bytesReceived: r.bytesReceived,
              bytesReused: r.bytesReused,
              localCopy: r.localCopy
            })
            : Either.left(new TransferError({
              reason: r.reason ?? "Refused",
              peerId,
              path: f.path,
              ...(r.detail === undefined ? {} : { detail: r.detail })
            }))
        })
      }).pipe(Effect.catchAll((error) => Effect.succeed(files.map(() => Either.left(error)))))

    const sendMany = (
      files: ReadonlyArray<OutgoingFile>,
      concurrency: number
    ): Effect.Effect<ReadonlyArray<Either.Either<SendResult, TransferError>>> =>
      Effect.gen(function* () {
        const results: Array<Either.Either<SendResult, TransferError>> = new Array(files.length)
        const sendOne = (i: number) => Effect.map(Effect.either(send(files[i]!)), (r) => void (results[i] = r))
        if (bundleWindow === 0) {
          yield* Effect.forEach(files.keys(), sendOne, { concurrency, discard: true })
          return results
        }
        // A stat walk splits the list; a file that grew past the bound by the time it is read
        // is sent on its own after all.
        const large: Array<number> = []
        const small: Array<number> = []
        files.forEach((f, i) => {
          let size: number
          try {
            size = FsSync.statSync(f.source).size
          } catch {
            size = Infinity // `send` reports why
          }
          ;(size <= MAX_BUNDLE_FILE_SIZE ? small : large).push(i)
        })
        const bundled = Effect.gen(function* () {
          const running: Array<Fiber.RuntimeFiber<void>> = []
          let current: Array<BundledFile> = []
          let bytes = 0
          const flush = Effect.gen(function* () {
            if (current.length === 0) return
            const part = current
            current = []
            bytes = 0
            // A slot before the next bundle is read: at most the window's bundles in memory.
            yield* bundleSlots.take(1)
            running.push(yield* Effect.fork(sendBundle(part).pipe(
              Effect.map((rs) => rs.forEach((r, j) => (results[part[j]!.index] = r))),
              Effect.ensuring(bundleSlots.release(1))
            )))
          })
          for (const i of small) {
            const f = files[i]!
            if (failure !== null) {
              results[i] = Either.left(failure)
              continue
            }
            const path = RelPath.parse(f.path)
            if (Either.isLeft(path) || path.right === "") {
              results[i] = Either.left(new TransferError({ reason: "PathRefused", path: f.path, detail: "not a relative path inside a location" }))
              continue
            }
            const read = readSmall(f)
            if (read._tag === "Large") {
              large.push(i)
              continue
            }
            if (read._tag === "Failed") {
              results[i] = Either.left(read.error)
              continue
            }
            const file: Protocol.BundleFile = {
              location: f.location,
              path: path.right,
              size: read.bytes.byteLength,
              hash: read.hash,
              mtimeNs: read.mtimeNs.toString(),
              mode: read.mode
            }
            const checked = validateBundleFile(file)
            if (Either.isLeft(checked)) {
              const detail = Protocol.clip(ParseResult.TreeFormatter.formatErrorSync(checked.left))
              results[i] = Either.left(new TransferError({ reason: "PathRefused", path: f.path, detail }))
              continue
            }
            if (current.length === MAX_BUNDLE_FILES || bytes + file.size > MAX_BUNDLE_BYTES) yield* flush
            current.push({ index: i, file, bytes: read.bytes })
            bytes += file.size
          }
          yield* flush
          yield* Fiber.joinAll(running)
        })
        // Large files go beside the bundles; those found large while bundling, after them.
        const first = large.length
        yield* Effect.all([
          bundled,
          Effect.forEach(large.slice(0, first), sendOne, { concurrency, discard: true })
        ], { concurrency: 2, discard: true })
        yield* Effect.forEach(large.slice(first), sendOne, { concurrency, discard: true })
        return results
      })

    return {
      peerId,
      streams: controlLane === null ? lanes.length : 0,
      compression,
      send,
      bundles: bundleWindow,
      sendMany
    } satisfies SenderSession
  })

const validateOffer = Schema.validateEither(Protocol.Offer, { errors: "first" })
const validateBundleFile = Schema.validateEither(Protocol.BundleFile, { errors: "first" })

/** Errors that are the peer's fault: it is told why before the session closes. */
const isPeerFault = (error: TransferError) =>
  error.reason === "Protocol" || error.reason === "Malformed" || error.reason === "FrameTooLarge"
