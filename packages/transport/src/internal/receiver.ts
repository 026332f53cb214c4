/**
 * The receiving side: serves the session protocol and the block streams, asks the policy
 * where each offered file goes, resumes from a partial file or copies a local one, verifies
 * every block before writing it at its offset in the temporary file, verifies the whole file,
 * fsyncs it and hands it to the policy's commit.
 */
import type { Hasher } from "@conduit/index"
import type { Stream } from "@libp2p/interface"
import { Cause, Deferred, Duration, Effect, Either, Exit, FiberSet, Option, type Scope } from "effect"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import {
  DEFAULT_BUNDLES_IN_FLIGHT,
  DEFAULT_OFFERS_IN_FLIGHT,
  DEFAULT_PARALLEL_STREAMS,
  DEFAULT_TRANSFER_IDLE_TIMEOUT_MILLIS,
  DEFAULT_WINDOW_BYTES,
  MAX_BUNDLES_IN_FLIGHT,
  MAX_OFFERS_IN_FLIGHT,
  MAX_PARALLEL_STREAMS,
  MAX_TRANSFER_FRAME_BYTES,
  MAX_WINDOW_BYTES,
  MIN_WINDOW_BYTES,
  OFFER_BYTES_IN_FLIGHT,
  TRANSFER_BLOCKS_PROTOCOL,
  TRANSFER_HANDSHAKE_TIMEOUT_MILLIS,
  TRANSFER_PROTOCOL,
  TRANSFER_VERSION
} from "../constants.js"
import type { Node, PeerConnection } from "../Node.js"
import type { OfferInfo, ReceiverOptions, ReceiverPolicy, ReceiveResult } from "../Transfer.js"
import { TransferError } from "../TransferError.js"
import type { TransportError } from "../TransportError.js"
import * as Blocks from "./blocks.js"
import { defaultCommit, ioError, syncFileSystem } from "./commit.js"
import * as Destination from "./destination.js"
import * as Frames from "./frames.js"
import * as Protocol from "./transferProtocol.js"

export interface Deps {
  readonly node: Node["Type"]
  readonly hasher: Hasher.Hasher["Type"]
}

/** One offered file, from its offer to its `Done`. */
interface Incoming {
  readonly offer: Protocol.Offer
  readonly info: OfferInfo
  /** Encoded size of the offer, held against the offer byte budget. */
  readonly offerBytes: number
  state: "preparing" | "receiving" | "finalizing" | "closed"
  destination: Destination.CheckedDestination | null
  /** The temporary file, once named. */
  part: string | null
  /**
   * Whether this transfer has made the temporary file its own (scanned or written it): until
   * then a file under that name is an earlier attempt's, and a failure leaves it alone.
   */
  partOwned: boolean
  /** The destination key held in `busy`. */
  busyKey: string | null
  file: FsP.FileHandle | null
  /** 1 for each block still needed and not yet arrived. */
  needed: Uint8Array
  /** Blocks asked for and not yet written. */
  remaining: number
  /** Blocks in the temporary file known to be right (reused or written). */
  verified: number
  bytesReceived: number
  bytesReused: number
  localCopy: boolean
}

/** One file of a bundle, once the policy placed it. */
interface BundleSlot {
  readonly info: OfferInfo
  readonly destination: Destination.CheckedDestination
  readonly part: string
  readonly busyKey: string
  /** Its content was copied from a local file into `part` (no bytes needed). */
  localCopy: boolean
}

/** An offered bundle, from its `Bundle` to its `BundleDone`. */
interface IncomingBundle {
  readonly bundle: Protocol.Bundle
  /** Settled files' results (failed early, or committed). */
  readonly results: Array<Protocol.BundleResult | null>
  /** Placed files (null: failed before it was placed). */
  readonly slots: Array<BundleSlot | null>
  /** The indexes asked for, once the need was sent. */
  needed: ReadonlyArray<number> | null
  state: "preparing" | "awaiting" | "writing" | "closed"
}

/** A stream blocks arrive on: bytes received and not yet acknowledged. */
interface Lane {
  readonly stream: Stream
  unacked: number
}

interface Session {
  readonly key: string
  readonly peerId: string
  readonly control: Stream
  readonly streams: number
  readonly compression: ReadonlySet<Protocol.Compression>
  readonly offers: number
  readonly windowBytes: number
  readonly transfers: Map<number, Incoming>
  /** Bundles a session may have in flight (0: not agreed). */
  readonly bundleLimit: number
  readonly bundles: Map<number, IncomingBundle>
  highestBundle: number
  readonly failed: Deferred.Deferred<never, TransferError>
  highest: number
  attached: number
  offerBytes: number
  lastActivity: number
}

const partName = (hash: string, name: string) => `.conduit-tmp-part-${hash.slice(0, 16)}-${name.slice(0, 160)}`

const clampInt = (value: number | undefined, fallback: number, min: number, max: number) =>
  Math.max(min, Math.min(max, Math.floor(value ?? fallback)))

const isPeerFault = (error: TransferError) =>
  error.reason === "Protocol" || error.reason === "Malformed" || error.reason === "FrameTooLarge" || error.reason === "SizeMismatch" ||
  error.reason === "UnsupportedVersion" || error.reason === "Timeout"

const doneReason = (reason: TransferError["reason"]): Protocol.DoneReason =>
  Protocol.DoneReason.literals.find((r) => r === reason) ?? "Refused"

const removeQuietly = (path: string) => {
  try {
    Fs.rmSync(path, { force: true })
  } catch {
    // best effort: the name is a temporary one, never indexed
  }
}

/** Serves the transfer protocols until the scope closes. */
export const serve = (
  deps: Deps,
  policy: ReceiverPolicy,
  options: ReceiverOptions
): Effect.Effect<void, TransportError, Scope.Scope> =>
  Effect.gen(function* () {
    const { hasher, node } = deps
    const myStreams = clampInt(options.streams, DEFAULT_PARALLEL_STREAMS, 0, MAX_PARALLEL_STREAMS)
    const myCompression: ReadonlyArray<Protocol.Compression> = options.compression === false ? [] : ["deflate-raw"]
    const myOffers = clampInt(options.offers, DEFAULT_OFFERS_IN_FLIGHT, 1, MAX_OFFERS_IN_FLIGHT)
    const myBundles = clampInt(options.bundles, DEFAULT_BUNDLES_IN_FLIGHT, 0, MAX_BUNDLES_IN_FLIGHT)
    const windowBytes = clampInt(options.windowBytes, DEFAULT_WINDOW_BYTES, MIN_WINDOW_BYTES, MAX_WINDOW_BYTES)
    const idleMillis = Duration.toMillis(Duration.decode(options.idleTimeout ?? Duration.millis(DEFAULT_TRANSFER_IDLE_TIMEOUT_MILLIS)))
    const commit = (temp: string, destination: string, info: OfferInfo) =>
      policy.keep === undefined ? defaultCommit(temp, destination) : Effect.zipRight(policy.keep(destination, info), defaultCommit(temp, destination))

    const sessions = new Map<string, Session>()
    /** Destinations being written, receiver-wide: one transfer per destination at a time. */
    const busy = new Set<string>()

    // -- one transfer --------------------------------------------------------------------------

    const report = (t: Incoming, ok: boolean, error?: TransferError) =>
      policy.received === undefined
        ? Effect.void
        : Effect.ignore(policy.received({
          offer: t.info,
          destination: t.destination?.destination ?? null,
          ok,
          bytesReceived: t.bytesReceived,
          bytesReused: t.bytesReused,
          localCopy: t.localCopy,
          ...(error === undefined ? {} : { error })
        } satisfies ReceiveResult))

    const release = (session: Session, t: Incoming) =>
      Effect.promise(async () => {
        t.state = "closed"
        session.transfers.delete(t.offer.transferId)
        session.offerBytes -= t.offerBytes
        if (t.busyKey !== null) busy.delete(t.busyKey)
        const file = t.file
        t.file = null
        await file?.close().catch(() => undefined)
      })

    /**
     * Gives a transfer up: its temporary file stays only if `resumable` and it holds verified
     * blocks; the sender is told (unless `tell` is false: the session is gone).
     */
    const fail = (session: Session, t: Incoming, error: TransferError, resumable: boolean, tell = true) =>
      Effect.gen(function* () {
        if (t.state === "closed") return
        yield* release(session, t)
        if (t.part !== null && t.partOwned && !(resumable && t.verified > 0)) removeQuietly(t.part)
        if (tell) {
          yield* Effect.ignore(Frames.write(session.control, Protocol.encodeFrame({
            _tag: "Done",
            transferId: t.offer.transferId,
            ok: false,
            bytesReceived: t.bytesReceived,
            bytesReused: t.bytesReused,
            localCopy: t.localCopy,
            reason: doneReason(error.reason),
            detail: Protocol.clip(error.message)
          }), session.peerId))
        }
        yield* report(t, false, error)
      })

    const fileError = (t: Incoming) => (cause: unknown) => ioError(t.offer.path, cause)

    /** The temporary file is complete: check it whole, fsync it, commit it, say so. */
    const finalize = (session: Session, t: Incoming) =>
      Effect.gen(function* () {
        if (t.state !== "receiving" && t.state !== "preparing") return
        t.state = "finalizing"
        const part = t.part!
        const { offer } = t
        if (!t.localCopy) {
          const file = t.file!
          yield* Effect.tryPromise({
            try: async () => {
              if (offer.mode !== null) await file.chmod(offer.mode)
              await file.utimes(Date.now() / 1000, seconds(t.info.mtimeNs))
              await file.sync()
              t.file = null
              await file.close()
            },
            catch: fileError(t)
          })
        }
        // A single block was checked against its hash already; the whole file then has it too.
        const count = offer.blockHashes.length
        const wholeOk = count === 0
          ? offer.hash === Blocks.EMPTY_HASH
          : count === 1 && !t.localCopy
          ? offer.hash === offer.blockHashes[0]
          : yield* Effect.map(
            Effect.orElseSucceed(hasher.hashFiles([{ path: part, size: offer.size }]), () => []),
            ([result]) => result?.state === "ok" && result.hash === offer.hash && result.size === offer.size
          )
        if (!wholeOk) {
          return yield* new TransferError({ reason: "HashMismatch", peerId: session.peerId, path: offer.path, detail: "the whole file does not have the offered hash" })
        }
        // Once committed, the transfer is done whatever happens to the session.
        yield* Effect.uninterruptible(Effect.gen(function* () {
          yield* commit(part, t.destination!.destination, t.info)
          yield* release(session, t)
          yield* writeControl(session, {
            _tag: "Done",
            transferId: offer.transferId,
            ok: true,
            bytesReceived: t.bytesReceived,
            bytesReused: t.bytesReused,
            localCopy: t.localCopy
          })
          yield* report(t, true)
        }))
      }).pipe(
        Effect.catchAll((error) =>
          // A whole-file mismatch cannot be resumed into the offered content; anything else can.
          fail(session, t, error, error.reason !== "HashMismatch")
        )
      )

    /** Copies a local file with the content into the temporary file and checks it. */
    const copyLocal = (t: Incoming, from: string) =>
      Effect.gen(function* () {
        const part = t.part!
        yield* Effect.tryPromise({
          try: async () => {
            t.partOwned = true
          await FsP.rm(part, { force: true })
            // Exclusive: whatever took the name since is not written through.
            await FsP.copyFile(from, part, Fs.constants.COPYFILE_FICLONE | Fs.constants.COPYFILE_EXCL)
            if (t.offer.mode !== null) await FsP.chmod(part, t.offer.mode)
            await FsP.utimes(part, Date.now() / 1000, seconds(t.info.mtimeNs))
          },
          catch: fileError(t)
        })
        const [result] = yield* Effect.orElseSucceed(hasher.hashFiles([{ path: part, size: t.offer.size }]), () => [])
        if (result?.state !== "ok" || result.hash !== t.offer.hash || result.size !== t.offer.size) {
          removeQuietly(part)
          return false
        }
        yield* Effect.tryPromise({
          try: async () => {
            const handle = await FsP.open(part, "r")
            try {
              await handle.sync()
            } finally {
              await handle.close()
            }
          },
          catch: fileError(t)
        })
        return true
      })

    /** Opens (or creates) the temporary file and finds the blocks it already holds. */
    const resume = (t: Incoming) =>
      Effect.tryPromise({
        try: async () => {
          const { offer } = t
          const count = offer.blockHashes.length
          const file = await FsP.open(t.part!, Fs.constants.O_RDWR | Fs.constants.O_CREAT | Fs.constants.O_NOFOLLOW, 0o666)
          if (t.state === "closed") {
            await file.close()
            throw new Error("the transfer ended")
          }
          t.file = file
          t.partOwned = true
          const stat = await file.stat()
          if (!stat.isFile()) throw new Error("the temporary file's name is taken by something else")
          const needed = new Uint8Array(count).fill(1)
          if (stat.size > 0 && count > 0) {
            const buffer = new Uint8Array(Math.min(offer.blockSize, offer.size))
            for (let index = 0; index < count; index++) {
              const length = Protocol.blockLength(offer.size, offer.blockSize, index)
              if (index * offer.blockSize + length > stat.size) break
              const read = await Blocks.readFully(file, buffer, length, index * offer.blockSize)
              if (read === length && Blocks.hashBlock(buffer.subarray(0, length)) === offer.blockHashes[index]) {
                needed[index] = 0
                t.verified++
                t.bytesReused += length
              }
            }
          }
          if (stat.size !== offer.size) await file.truncate(offer.size)
          return needed
        },
        catch: fileError(t)
      })

    const rangesOf = (needed: Uint8Array): Array<Protocol.Range> => {
      const ranges: Array<Protocol.Range> = []
      let start = -1
      for (let i = 0; i <= needed.length; i++) {
        const want = i < needed.length && needed[i] === 1
        if (want && start < 0) start = i
        else if (!want && start >= 0) {
          ranges.push([start, i])
          start = -1
        }
      }
      return ranges
    }

    /** From an offer to its `Need` (and on to `finalize` when nothing is needed). */
    const accept = (session: Session, t: Incoming) =>
      Effect.gen(function* () {
        const { info, offer } = t
        // A cancel (or the session's end) may close the transfer at any await below.
        const closed = () => t.state === "closed"
        const destination = yield* policy.resolve(offer.location, offer.path, info)
        const checked = yield* Destination.check(destination.root, destination.destination, offer.path)
        if (closed()) return
        t.destination = checked
        const key = Path.join(checked.directory, checked.name)
        if (busy.has(key)) return yield* new TransferError({ reason: "Busy", path: offer.path })
        busy.add(key)
        t.busyKey = key
        t.part = Path.join(checked.directory, partName(offer.hash, checked.name))
        const local = policy.have === undefined ? null : yield* Effect.orElseSucceed(policy.have(offer.hash, info), () => null)
        if (closed()) return
        if (local !== null && (yield* copyLocal(t, local)) && !closed()) {
          t.localCopy = true
          t.bytesReused = offer.size
          t.verified = offer.blockHashes.length
          t.state = "receiving"
          yield* writeControl(session, { _tag: "Need", transferId: offer.transferId, ranges: [] })
          return yield* finalize(session, t)
        }
        if (closed()) return
        t.needed = yield* resume(t)
        if (closed()) return
        const ranges = rangesOf(t.needed)
        t.remaining = ranges.reduce((n, [start, end]) => n + end - start, 0)
        t.state = "receiving"
        session.lastActivity = Date.now()
        yield* writeControl(session, { _tag: "Need", transferId: offer.transferId, ranges })
        if (t.remaining === 0) yield* finalize(session, t)
      }).pipe(
        Effect.catchAll((error) => fail(session, t, error, true)),
        Effect.onInterrupt(() => fail(session, t, new TransferError({ reason: "PeerClosed", peerId: session.peerId, path: t.offer.path }), true, false))
      )

    const writeControl = (session: Session, message: Protocol.Message) =>
      Effect.ignore(Frames.write(session.control, Protocol.encodeFrame(message), session.peerId))

    // -- blocks --------------------------------------------------------------------------------

    const violation = (session: { readonly peerId: string }, reason: "Protocol" | "SizeMismatch" | "Malformed", detail: string) =>
      new TransferError({ reason, peerId: session.peerId, detail })

    const acknowledge = (session: Session, lane: Lane, frameBytes: number) =>
      Effect.suspend(() => {
        lane.unacked -= frameBytes
        return Effect.ignore(Frames.write(lane.stream, Protocol.encodeFrame({ _tag: "Ack", blocks: 1 }), session.peerId))
      })

    /** One block: checked, inflated, verified, written; then acknowledged. */
    const onBlock = (session: Session, lane: Lane, block: Protocol.Block, frameBytes: number) =>
      Effect.gen(function* () {
        lane.unacked += frameBytes
        if (lane.unacked > session.windowBytes + MAX_TRANSFER_FRAME_BYTES) {
          return yield* violation(session, "Protocol", "more block bytes in flight than the window")
        }
        const t = session.transfers.get(block.transferId)
        if (t === undefined || t.state !== "receiving") {
          if (t === undefined && block.transferId > session.highest) {
            return yield* violation(session, "Protocol", `a block of transfer ${block.transferId}, never offered`)
          }
          if (t !== undefined && t.state === "preparing") {
            return yield* violation(session, "Protocol", `a block of transfer ${block.transferId} before its need`)
          }
          // A late block of a transfer that ended (failed or cancelled): dropped.
          return yield* acknowledge(session, lane, frameBytes)
        }
        const { offer } = t
        const count = offer.blockHashes.length
        if (block.index >= count) {
          return yield* violation(session, "SizeMismatch", `block ${block.index} of ${offer.path}, which has ${count} blocks`)
        }
        if (t.needed[block.index] !== 1) {
          return yield* violation(session, "Protocol", `block ${block.index} of ${offer.path} was not asked for, or came twice`)
        }
        t.needed[block.index] = 0
        const length = Protocol.blockLength(offer.size, offer.blockSize, block.index)
        let data = block.data
        if (block.compression !== undefined) {
          if (!session.compression.has(block.compression)) {
            return yield* violation(session, "Protocol", `a ${block.compression} block, which was not agreed on`)
          }
          data = yield* Effect.tryPromise({
            try: () => Blocks.inflate(block.data, length),
            catch: () => violation(session, "Malformed", `block ${block.index} of ${offer.path} does not inflate to at most ${length} bytes`)
          })
        }
        if (data.byteLength !== length) {
          return yield* violation(session, "SizeMismatch", `block ${block.index} of ${offer.path} has ${data.byteLength} bytes, not ${length}`)
        }
        if (Blocks.hashBlock(data) !== offer.blockHashes[block.index]) {
          yield* fail(session, t, new TransferError({ reason: "HashMismatch", peerId: session.peerId, path: offer.path, detail: `block ${block.index}` }), true)
          return yield* acknowledge(session, lane, frameBytes)
        }
        const file = t.file
        if (file === null) return yield* acknowledge(session, lane, frameBytes)
        // The write runs beside the loop, which goes on with the next frame: the window bounds
        // how many are pending, and the block is acknowledged once it is on disk (in the cache).
        const bytes = data
        yield* runDetached(session, Effect.gen(function* () {
          const written = yield* Effect.either(Effect.tryPromise({
            try: () => Blocks.writeFully(file, bytes, block.index * offer.blockSize),
            catch: fileError(t)
          }))
          if (written._tag === "Left") {
            yield* fail(session, t, written.left, true)
            return yield* acknowledge(session, lane, frameBytes)
          }
          if (t.state !== "receiving") return yield* acknowledge(session, lane, frameBytes)
          t.verified++
          t.bytesReceived += length
          t.remaining--
          yield* acknowledge(session, lane, frameBytes)
          if (t.remaining === 0) yield* finalize(session, t)
        }))
      })

    const onCancel = (session: Session, cancel: Protocol.Cancel) =>
      Effect.gen(function* () {
        const t = session.transfers.get(cancel.transferId)
        if (t === undefined) {
          if (cancel.transferId > session.highest) return yield* violation(session, "Protocol", `a cancel of transfer ${cancel.transferId}, never offered`)
          return
        }
        if (t.state === "finalizing") return // too late: its Done is on the way
        const error = new TransferError({
          reason: cancel.reason,
          peerId: session.peerId,
          path: t.offer.path,
          ...(cancel.detail === undefined ? {} : { detail: cancel.detail })
        })
        // A changed source will not be offered with this hash again: nothing to resume.
        yield* fail(session, t, error, cancel.reason !== "SourceChanged")
      })

    // Offer handling and finalization run beside the frame loop, in the session's fiber set.
    const runners = new Map<string, FiberSet.FiberSet<unknown, unknown>>()
    const runDetached = (session: Session, effect: Effect.Effect<void>) =>
      Effect.suspend(() => {
        const set = runners.get(session.key)
        return set === undefined ? Effect.void : Effect.asVoid(FiberSet.run(set, effect))
      })

    const onOffer = (session: Session, offer: Protocol.Offer, frameBytes: number) =>
      Effect.gen(function* () {
        if (offer.transferId <= session.highest) {
          return yield* violation(session, "Protocol", `transfer ${offer.transferId} offered out of order`)
        }
        if (session.transfers.size >= session.offers) {
          return yield* violation(session, "Protocol", `more than ${session.offers} offers in flight`)
        }
        if (session.offerBytes + frameBytes > OFFER_BYTES_IN_FLIGHT + MAX_TRANSFER_FRAME_BYTES) {
          return yield* violation(session, "Protocol", "more offer bytes in flight than allowed")
        }
        session.highest = offer.transferId
        session.offerBytes += frameBytes
        const t: Incoming = {
          offer,
          info: {
            peerId: session.peerId,
            transferId: offer.transferId,
            location: offer.location,
            path: offer.path,
            size: offer.size,
            hash: offer.hash,
            mtimeNs: BigInt(offer.mtimeNs),
            mode: offer.mode
          },
          offerBytes: frameBytes,
          state: "preparing",
          destination: null,
          part: null,
          partOwned: false,
          busyKey: null,
          file: null,
          needed: new Uint8Array(0),
          remaining: 0,
          verified: 0,
          bytesReceived: 0,
          bytesReused: 0,
          localCopy: false
        }
        session.transfers.set(offer.transferId, t)
        yield* runDetached(session, accept(session, t))
      })

    // -- bundles ------------------------------------------------------------------------------

    const bundleFailure = (error: TransferError, localCopy = false): Protocol.BundleResult => ({
      ok: false,
      bytesReceived: 0,
      bytesReused: 0,
      localCopy,
      reason: doneReason(error.reason),
      detail: Protocol.clip(error.message)
    })

    /** Ends a bundle: frees its destinations; `discard` removes temporary files not committed. */
    const closeBundle = (session: Session, b: IncomingBundle, discard: boolean) => {
      if (b.state === "closed") return
      b.state = "closed"
      session.bundles.delete(b.bundle.bundleId)
      b.slots.forEach((slot, i) => {
        if (slot === null) return
        busy.delete(slot.busyKey)
        if (discard && b.results[i]?.ok !== true) removeQuietly(slot.part)
      })
    }

    const reportBundle = (b: IncomingBundle) =>
      policy.received === undefined
        ? Effect.void
        : Effect.forEach(b.bundle.files, (_, i) => {
          const slot = b.slots[i] ?? null
          const r = b.results[i]!
          const info = slot?.info ?? offerInfoOf(b, i, "")
          return Effect.ignore(policy.received!({
            offer: info,
            destination: slot?.destination.destination ?? null,
            ok: r.ok,
            bytesReceived: r.bytesReceived,
            bytesReused: r.bytesReused,
            localCopy: r.localCopy,
            ...(r.ok ? {} : { error: new TransferError({ reason: r.reason ?? "Refused", path: info.path, ...(r.detail === undefined ? {} : { detail: r.detail }) }) })
          } satisfies ReceiveResult))
        }, { discard: true })

    const offerInfoOf = (b: IncomingBundle, i: number, peerId: string): OfferInfo => {
      const f = b.bundle.files[i]!
      return { peerId, transferId: b.bundle.bundleId, location: f.location, path: f.path, size: f.size, hash: f.hash, mtimeNs: BigInt(f.mtimeNs), mode: f.mode }
    }

    /** Writes a small file whole into its temporary name, with its mode and time (no fsync: the bundle syncs once). */
    const writeSmall = (part: string, data: Uint8Array, info: OfferInfo) => {
      const fd = Fs.openSync(part, Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_TRUNC | Fs.constants.O_NOFOLLOW, 0o666)
      try {
        let at = 0
        while (at < data.byteLength) at += Fs.writeSync(fd, data, at, data.byteLength - at, at)
        if (info.mode !== null) Fs.fchmodSync(fd, info.mode)
        Fs.futimesSync(fd, Date.now() / 1000, seconds(info.mtimeNs))
      } finally {
        Fs.closeSync(fd)
      }
    }

    /** Places each file of a bundle, copies what this device has, and asks for the rest. */
    const acceptBundle = (session: Session, b: IncomingBundle) =>
      Effect.gen(function* () {
        const needed: Array<number> = []
        const local = policy.haveAll === undefined
          ? null
          : yield* Effect.orElseSucceed(policy.haveAll(b.bundle.files.map((_, i) => offerInfoOf(b, i, session.peerId))), () => new Map<string, string>())
        // Files of a bundle share few directories: each is checked once.
        const directories = new Map<string, Destination.CheckedDestination | TransferError>()
        for (let i = 0; i < b.bundle.files.length; i++) {
          if (b.state === "closed") return
          const info = offerInfoOf(b, i, session.peerId)
          const placed = yield* Effect.either(Effect.gen(function* () {
            const destination = yield* policy.resolve(info.location, info.path, info)
            const dir = Path.dirname(destination.destination)
            let checked = directories.get(dir)
            if (checked === undefined) {
              checked = yield* Effect.merge(Destination.check(destination.root, destination.destination, info.path))
              directories.set(dir, checked)
            }
            if (checked instanceof TransferError) return yield* checked
            const name = Path.basename(destination.destination)
            const key = Path.join(checked.directory, name)
            if (busy.has(key)) return yield* new TransferError({ reason: "Busy", path: info.path })
            busy.add(key)
            return {
              info,
              destination: { destination: destination.destination, directory: checked.directory, name },
              part: Path.join(checked.directory, partName(info.hash, name)),
              busyKey: key,
              localCopy: false
            } as BundleSlot
          }))
          if (placed._tag === "Left") {
            b.results[i] = bundleFailure(placed.left)
            continue
          }
          const slot = placed.right
          b.slots[i] = slot
          const from = local !== null
            ? local.get(info.hash) ?? null
            : policy.have === undefined ? null : yield* Effect.orElseSucceed(policy.have(info.hash, info), () => null)
          if (from !== null && copySmall(from, slot)) slot.localCopy = true
          else needed.push(i)
        }
        if (b.state === "closed") return
        b.needed = needed
        b.state = "awaiting"
        session.lastActivity = Date.now()
        yield* writeControl(session, { _tag: "BundleNeed", bundleId: b.bundle.bundleId, indexes: needed })
        if (needed.length === 0) yield* finishBundle(session, b, [])
      })

    /** Copies a local file with the content into the temporary name if it still has it. */
    const copySmall = (from: string, slot: BundleSlot): boolean => {
      try {
        const data = Fs.readFileSync(from)
        if (data.byteLength !== slot.info.size || Blocks.hashBlock(data) !== slot.info.hash) return false
        writeSmall(slot.part, data, slot.info)
        return true
      } catch {
        removeQuietly(slot.part)
        return false
      }
    }

    /**
     * Verifies and writes the received files, makes them durable with one file-system sync,
     * renames each into place (what it replaces kept first), syncs again for the renames, and
     * answers with every file's result. Not interrupted once begun: a bundle commits whole.
     */
    const finishBundle = (session: Session, b: IncomingBundle, data: ReadonlyArray<Uint8Array>) =>
      Effect.uninterruptible(Effect.gen(function* () {
        b.state = "writing"
        const ready: Array<number> = []
        b.slots.forEach((slot, i) => {
          if (slot?.localCopy === true) ready.push(i)
        })
        b.needed!.forEach((i, j) => {
          const slot = b.slots[i]!
          const bytes = data[j]!
          if (Blocks.hashBlock(bytes) !== slot.info.hash) {
            b.results[i] = bundleFailure(new TransferError({ reason: "HashMismatch", peerId: session.peerId, path: slot.info.path, detail: "the bytes do not have the offered hash" }))
            return
          }
          try {
            writeSmall(slot.part, bytes, slot.info)
            ready.push(i)
          } catch (cause) {
            removeQuietly(slot.part)
            b.results[i] = bundleFailure(ioError(slot.info.path, cause))
          }
        })
        if (ready.length > 0) {
          const first = b.slots[ready[0]!]!
          const parts = ready.map((i) => b.slots[i]!.part)
          const synced = yield* Effect.either(Effect.tryPromise({ try: () => syncFileSystem(first.destination.directory, parts), catch: (cause) => ioError(first.info.path, cause) }))
          const renamed: Array<string> = []
          for (const i of ready) {
            const slot = b.slots[i]!
            const committed = Either.isLeft(synced) ? synced : yield* Effect.either(Effect.zipRight(
              policy.keep === undefined ? Effect.void : policy.keep(slot.destination.destination, slot.info),
              Effect.try({ try: () => Fs.renameSync(slot.part, slot.destination.destination), catch: (cause) => ioError(slot.info.path, cause) })
            ))
            if (Either.isLeft(committed)) {
              b.results[i] = bundleFailure(committed.left, slot.localCopy)
              continue
            }
            renamed.push(slot.destination.directory)
            b.results[i] = {
              ok: true,
              bytesReceived: slot.localCopy ? 0 : slot.info.size,
              bytesReused: slot.localCopy ? slot.info.size : 0,
              localCopy: slot.localCopy
            }
          }
          if (renamed.length > 0) {
            const dirs = [...new Set(renamed)]
            yield* Effect.ignore(Effect.tryPromise(() => syncFileSystem(dirs[0]!, dirs)))
          }
        }
        closeBundle(session, b, true)
        yield* writeControl(session, {
          _tag: "BundleDone",
          bundleId: b.bundle.bundleId,
          results: b.results.map((r) => r ?? bundleFailure(new TransferError({ reason: "Io", path: "", detail: "not settled" })))
        })
        yield* reportBundle(b)
      }))

    const onBundle = (session: Session, bundle: Protocol.Bundle) =>
      Effect.gen(function* () {
        if (session.bundleLimit === 0) return yield* violation(session, "Protocol", "a bundle, which was not agreed on")
        if (bundle.bundleId <= session.highestBundle) return yield* violation(session, "Protocol", `bundle ${bundle.bundleId} offered out of order`)
        if (session.bundles.size >= session.bundleLimit) return yield* violation(session, "Protocol", `more than ${session.bundleLimit} bundles in flight`)
        session.highestBundle = bundle.bundleId
        const b: IncomingBundle = {
          bundle,
          results: bundle.files.map(() => null),
          slots: bundle.files.map(() => null),
          needed: null,
          state: "preparing"
        }
        session.bundles.set(bundle.bundleId, b)
        yield* runDetached(session, acceptBundle(session, b))
      })

    const onBundleData = (session: Session, message: Protocol.BundleData) =>
      Effect.gen(function* () {
        const b = session.bundles.get(message.bundleId)
        if (b === undefined) {
          if (message.bundleId > session.highestBundle) return yield* violation(session, "Protocol", `data of bundle ${message.bundleId}, never offered`)
          return // it ended already
        }
        if (b.state !== "awaiting") return yield* violation(session, "Protocol", `data of bundle ${message.bundleId} before its need, or twice`)
        const needed = b.needed!
        if (message.data.length !== needed.length) {
          return yield* violation(session, "SizeMismatch", `${message.data.length} files of data for the ${needed.length} asked for in bundle ${message.bundleId}`)
        }
        for (let j = 0; j < needed.length; j++) {
          const f = b.bundle.files[needed[j]!]!
          if (message.data[j]!.byteLength !== f.size) {
            return yield* violation(session, "SizeMismatch", `${f.path} has ${message.data[j]!.byteLength} bytes, not the ${f.size} offered`)
          }
        }
        b.state = "writing"
        yield* runDetached(session, finishBundle(session, b, message.data))
      })

    // -- streams ------------------------------------------------------------------------------

    const handshakeTimeout = <A>(effect: Effect.Effect<A, TransferError>, peerId: string) =>
      Effect.timeoutFail(effect, {
        duration: Duration.millis(TRANSFER_HANDSHAKE_TIMEOUT_MILLIS),
        onTimeout: () => new TransferError({ reason: "Timeout", peerId, detail: "no hello" })
      })

    const nextMessage = (reader: Frames.FrameReader, peerId: string) =>
      Effect.flatMap(reader.next, (frame) =>
        frame === null
          ? Effect.succeed(null)
          : Effect.map(Protocol.decodeEither(frame, peerId), (message) => ({ message, bytes: frame.byteLength + 4 })))

    /**
     * A stream's session ended in `error`: a peer at fault is told why (then the stream is
     * closed, not reset, so the refusal arrives); the error is logged.
     */
    const ended = (stream: Stream, peerId: string, error: TransferError) =>
      Effect.gen(function* () {
        if (isPeerFault(error)) yield* refuse(stream, peerId, error)
        // A closed stream is how sessions end; anything else is worth a warning.
        const log = error.reason === "PeerClosed" ? Effect.logDebug : Effect.logWarning
        yield* log(`a ${stream.protocol} session with ${peerId} ended`, error)
      })

    /** Tells the peer why it is refused. */
    const refuse = (stream: Stream, peerId: string, error: TransferError) =>
      Effect.gen(function* () {
        const reason = Protocol.RefusalReason.literals.find((r) => r === error.reason) ?? "Refused"
        yield* Effect.ignore(Frames.write(stream, Protocol.encodeFrame({ _tag: "Refused", reason, detail: Protocol.clip(error.message) }), peerId))
      })

    const controlSession = (stream: Stream, peer: PeerConnection) =>
      Effect.scoped(Effect.gen(function* () {
        const peerId = peer.peerId
        const start = Date.now()
        const reader = Frames.reader(stream, {
          maxFrameBytes: MAX_TRANSFER_FRAME_BYTES,
          maxBufferedBytes: OFFER_BYTES_IN_FLIGHT + windowBytes + 3 * MAX_TRANSFER_FRAME_BYTES,
          peerId,
          onActivity: () => {
            const session = current
            if (session !== null) session.lastActivity = Date.now()
          }
        })
        let current: Session | null = null
        yield* Effect.addFinalizer(() => Effect.sync(reader.release))

        const first = yield* handshakeTimeout(nextMessage(reader, peerId), peerId)
        if (first === null) return
        const hello = first.message
        if (hello._tag !== "Hello" || hello.session === undefined) {
          return yield* violation({ peerId }, "Protocol", "the session must start with a hello naming it")
        }
        if (hello.version !== TRANSFER_VERSION) {
          return yield* new TransferError({ reason: "UnsupportedVersion", peerId, detail: `version ${hello.version}; this device speaks ${TRANSFER_VERSION}` })
        }
        const key = `${peerId}/${hello.session}`
        if (sessions.has(key)) return yield* violation({ peerId }, "Protocol", "a session id already in use")
        yield* Frames.write(stream, Protocol.encodeFrame({
          _tag: "Hello",
          version: TRANSFER_VERSION,
          streams: myStreams,
          compression: myCompression,
          offers: myOffers,
          windowBytes,
          bundles: myBundles
        }), peerId)
        const session: Session = {
          key,
          peerId,
          control: stream,
          streams: Math.min(myStreams, hello.streams),
          compression: new Set(myCompression.filter((c) => hello.compression.includes(c))),
          offers: myOffers,
          windowBytes,
          transfers: new Map(),
          bundleLimit: (hello.bundles ?? 0) > 0 ? myBundles : 0,
          bundles: new Map(),
          highestBundle: 0,
          failed: yield* Deferred.make<never, TransferError>(),
          highest: 0,
          attached: 0,
          offerBytes: 0,
          lastActivity: start
        }
        current = session
        const fibers = yield* FiberSet.make<unknown, unknown>()
        runners.set(key, fibers)
        sessions.set(key, session)
        yield* Effect.addFinalizer((exit) =>
          Effect.gen(function* () {
            sessions.delete(key)
            const error = Exit.isFailure(exit)
              ? Option.getOrElse(
                Option.flatMap(Exit.causeOption(exit), (cause) => Option.fromNullable(failureOf(cause))),
                () => new TransferError({ reason: "PeerClosed", peerId })
              )
              : new TransferError({ reason: "PeerClosed", peerId, detail: "the session ended" })
            yield* Deferred.fail(session.failed, error)
            yield* FiberSet.clear(fibers)
            runners.delete(key)
            for (const t of [...session.transfers.values()]) yield* fail(session, t, error, true, false)
            for (const b of [...session.bundles.values()]) closeBundle(session, b, true)
          })
        )

        const lane: Lane = { stream, unacked: 0 }
        const loop = Effect.gen(function* () {
          for (;;) {
            const next = yield* nextMessage(reader, peerId)
            if (next === null) return
            const { bytes, message } = next
            switch (message._tag) {
              case "Offer":
                yield* onOffer(session, message, bytes)
                break
              case "Block":
                yield* onBlock(session, lane, message, bytes)
                break
              case "Cancel":
                yield* onCancel(session, message)
                break
              case "Bundle":
                yield* onBundle(session, message)
                break
              case "BundleData":
                yield* onBundleData(session, message)
                break
              case "Refused":
                return yield* new TransferError({ reason: "Refused", peerId, detail: `the peer gave the session up: ${message.reason}${message.detail === undefined ? "" : `, ${message.detail}`}` })
              default:
                return yield* violation(session, "Protocol", `a ${message._tag} on the session stream`)
            }
          }
        })
        const watchdog = Effect.gen(function* () {
          for (;;) {
            yield* Effect.sleep(Duration.millis(Math.max(50, idleMillis / 4)))
            const waiting = [...session.transfers.values()].some((t) => t.state === "receiving" && t.remaining > 0) ||
              [...session.bundles.values()].some((b) => b.state === "awaiting" && b.needed!.length > 0)
            if (waiting && Date.now() - session.lastActivity > idleMillis) {
              return yield* new TransferError({ reason: "Timeout", peerId, detail: `no block for ${idleMillis} ms` })
            }
          }
        })
        const outcome = yield* Effect.exit(Effect.raceFirst(
          Effect.raceFirst(loop, watchdog),
          Deferred.await(session.failed)
        ))
        if (Exit.isSuccess(outcome)) {
          // The sender closed its side: what is being finalized completes; what still waits for
          // blocks cannot any more.
          for (const t of [...session.transfers.values()]) {
            if (t.state !== "finalizing") yield* fail(session, t, new TransferError({ reason: "PeerClosed", peerId, path: t.offer.path, detail: "the sender closed the session" }), true)
          }
          yield* FiberSet.awaitEmpty(fibers)
          return
        }
        return yield* Effect.failCause(outcome.cause)
      })).pipe(Effect.catchAll((error) => ended(stream, peer.peerId, error)))

    const blockStream = (stream: Stream, peer: PeerConnection) =>
      Effect.scoped(Effect.gen(function* () {
        const peerId = peer.peerId
        let session: Session | undefined
        const reader = Frames.reader(stream, {
          maxFrameBytes: MAX_TRANSFER_FRAME_BYTES,
          maxBufferedBytes: windowBytes + 2 * MAX_TRANSFER_FRAME_BYTES,
          peerId,
          onActivity: () => {
            if (session !== undefined) session.lastActivity = Date.now()
          }
        })
        yield* Effect.addFinalizer(() => Effect.sync(reader.release))
        const first = yield* handshakeTimeout(nextMessage(reader, peerId), peerId)
        if (first === null) return
        if (first.message._tag !== "Attach") {
          return yield* violation({ peerId }, "Protocol", "a block stream must start by attaching to a session")
        }
        session = sessions.get(`${peerId}/${first.message.session}`)
        if (session === undefined) return yield* violation({ peerId }, "Protocol", "a block stream for an unknown session")
        const s = session
        s.attached++
        if (s.attached > s.streams) {
          const error = violation(s, "Protocol", `more than ${s.streams} block streams`)
          yield* Deferred.fail(s.failed, error)
          return yield* error
        }
        const lane: Lane = { stream, unacked: 0 }
        const loop = Effect.gen(function* () {
          for (;;) {
            const next = yield* nextMessage(reader, peerId)
            if (next === null) return
            if (next.message._tag === "Block") yield* onBlock(s, lane, next.message, next.bytes)
            else return yield* violation(s, "Protocol", `a ${next.message._tag} on a block stream`)
          }
        })
        const outcome = yield* Effect.exit(Effect.raceFirst(loop, Deferred.await(s.failed)))
        if (Exit.isFailure(outcome)) {
          // Fails the whole session; its session stream says why.
          const error = failureOf(outcome.cause)
          if (error !== null) yield* Deferred.fail(s.failed, error)
          return yield* Effect.failCause(outcome.cause)
        }
      })).pipe(Effect.catchAll((error) => ended(stream, peer.peerId, error)))

    yield* node.handle(TRANSFER_PROTOCOL, controlSession)
    yield* node.handle(TRANSFER_BLOCKS_PROTOCOL, blockStream)
  })

/** The `TransferError` a cause failed with, if any. */
const failureOf = (cause: Cause.Cause<unknown>): TransferError | null => {
  const failure = Option.getOrNull(Cause.failureOption(cause))
  return failure instanceof TransferError ? failure : null
}

/**
 * Seconds as a double, for `utimes`: the call truncates to microseconds and a double is ~0.24
 * µs coarse, so half a microsecond is added and the time set is the nearest microsecond.
 */
const seconds = (ns: bigint): number => Number(ns / 1_000_000_000n) + (Number(ns % 1_000_000_000n) + 500) / 1e9


