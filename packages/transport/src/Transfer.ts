/**
 * File transfer between paired devices: `/conduit/transfer/1.0.0`, push-based. The sender
 * offers files; the receiver, through a policy its caller gives, decides where each one goes,
 * asks only for the blocks it lacks, verifies every block and the whole file (BLAKE3), and
 * commits it. Transport never decides on its own where a file is written.
 *
 * A session (one stream, opened by the sender):
 *
 * ```text
 * sender                                        receiver
 *   Hello { version, session, streams,     →
 *           compression, offers, window }  ←    Hello { version, streams, compression, offers, window }
 *   (up to N block streams: Attach { session })
 *   Offer { transferId, location, path, size, hash, blockSize, blockHashes, mtimeNs, mode }  → …
 *                                          ←    Need { transferId, ranges }   (none: resumed or local copy)
 *   Block { transferId, index, data } …    →    (on the session stream or the block streams)
 *                                          ←    Ack { blocks }                (on the stream the blocks came on)
 *                                          ←    Done { transferId, ok, bytesReceived, bytesReused, reason? }
 *   Cancel { transferId, reason }          →    (the sender gives one transfer up)
 * ```
 *
 * Either side may send `Refused { reason, detail }` and close. Offers are pipelined (up to
 * the offer window in flight, no round trip per file); blocks flow within a per-stream window
 * of bytes the receiver acknowledges, which is what bounds the receiver's memory (libp2p
 * cannot pause a QUIC stream's reads).
 *
 * Guarantees on the receiving side:
 *
 * - every field from the peer is bounded and validated before use (paths are relative POSIX
 *   in NFC without `.` or `..`; sizes, counts and frames have limits checked before anything
 *   is allocated); a peer breaking the protocol gets its session refused with a typed
 *   `TransferError`;
 * - the destination comes from the policy and must lie inside the root the policy names; every
 *   directory on the way is checked after symlinks are resolved; bytes are only ever written
 *   to a temporary file in the destination's directory (`.conduit-tmp-part-<hash>-<name>`);
 * - a block is written only once its BLAKE3 matches the offer; compressed blocks are inflated
 *   to at most the block size; the whole file's BLAKE3 is checked, then it is fsynced and
 *   handed to the policy's `commit` (default: rename, fsync the directory);
 * - a failed transfer is never committed; its temporary file is kept only when it holds
 *   verified blocks, and a later offer of the same content to the same destination re-hashes
 *   them and asks only for the rest (resume).
 *
 * @since 0.1.0
 */
import { Hasher } from "@conduit/index"
import type { Errors } from "@conduit/domain"
import { Context, type Duration, Effect, type Either, Layer, type Scope } from "effect"
import type { BandwidthLimiter } from "./BandwidthLimiter.js"
import * as Receiver from "./internal/receiver.js"
import * as Sender from "./internal/sender.js"
import { Node } from "./Node.js"
import type { TransferError } from "./TransferError.js"
import type { TransportError } from "./TransportError.js"

// -- sending -----------------------------------------------------------------------------------

/** A file to send. */
export interface OutgoingFile {
  /** Where the bytes are read: an absolute path on this device. */
  readonly source: string
  /** The destination location: a lower-case UUID the receiver maps to one of its roots. */
  readonly location: string
  /** The path inside that location (relative POSIX, NFC, no `.` or `..`). */
  readonly path: string
  /**
   * The BLAKE3 the caller expects (from its index). When given, a file whose bytes differ is
   * not sent (`SourceChanged`).
   */
  readonly hash?: string
  /** The modification time to give the copy, in ns since the epoch; default: the source's. */
  readonly mtimeNs?: bigint
  /** The permission bits to give the copy (`null`: the receiver's default); default: the source's. */
  readonly mode?: number | null
}

/** How far one file's blocks have gone out. */
export interface SendProgress {
  readonly path: string
  readonly size: number
  /** Block bytes sent so far (as they went on the wire, compressed or not). */
  readonly bytesSent: number
}

/** Options of one `send`. */
export interface SendOptions {
  /** Called after each block sent. */
  readonly onProgress?: (progress: SendProgress) => Effect.Effect<void>
}

/** What sending one file did. */
export interface SendResult {
  readonly transferId: number
  readonly location: string
  readonly path: string
  readonly size: number
  readonly hash: string
  /** Block bytes this side put on the wire (compressed size where a block was compressed). */
  readonly bytesSent: number
  /** Block bytes the receiver took from this side (inflated), as it reported them. */
  readonly bytesReceived: number
  /** Bytes the receiver did not need from this side: verified blocks of a partial file, or a local copy. */
  readonly bytesReused: number
  /** The receiver had the content already and copied it locally. */
  readonly localCopy: boolean
}

/** Options of a sending session. */
export interface SessionOptions {
  /**
   * Extra block streams wanted (0: everything on the session stream). The session uses as
   * many as both sides accept; default `DEFAULT_PARALLEL_STREAMS`.
   */
  readonly streams?: number
  /** Offers in flight at once (default `DEFAULT_OFFERS_IN_FLIGHT`; the receiver may ask for fewer). */
  readonly offers?: number
  /**
   * Compress blocks (deflate, fastest level) when the receiver accepts it; a block goes
   * compressed only if that saves at least 10 %, and a file whose blocks do not compress is
   * tried again only every few blocks. Default: on when `limiter` is given (the link is
   * meant to be slow), off otherwise (on a fast link compression costs more than it saves).
   */
  readonly compress?: boolean
  /** The bandwidth every block frame of this session is charged to; share one to share the rate. */
  readonly limiter?: BandwidthLimiter
  /** The block size (a power of two, 64 KiB to 16 MiB); default 1 MiB, more for huge files. */
  readonly blockSize?: number
  /** How long blocks may wait for their acknowledgement with nothing arriving (default 60 s). */
  readonly idleTimeout?: Duration.DurationInput
  /**
   * Bundles of small files in flight (default `DEFAULT_BUNDLES_IN_FLIGHT`; 0: every file is
   * offered on its own). Used only if the receiver speaks bundles.
   */
  readonly bundles?: number
}

/** An open sending session with one peer. */
export interface SenderSession {
  readonly peerId: string
  /** Extra block streams in use (0: blocks go on the session stream). */
  readonly streams: number
  /** The block compression in use, if any. */
  readonly compression: "deflate-raw" | null
  /**
   * Sends one file: hashes it (blocks and whole), offers it, sends the blocks the receiver
   * needs, and waits for its verdict. Call it concurrently for many files: offers are
   * pipelined up to the window. Interrupting it cancels that transfer only.
   */
  readonly send: (file: OutgoingFile, options?: SendOptions) => Effect.Effect<SendResult, TransferError>
  /** Bundles in flight with this receiver (0: it does not speak them, or they are off). */
  readonly bundles: number
  /**
   * Sends many files; each file's outcome in order. Files of at most `MAX_BUNDLE_FILE_SIZE`
   * bytes go in bundles when `bundles` > 0 (read whole, hashed, offered a few hundred at a
   * time, committed on the receiver with one file-system sync per bundle); the others each
   * with `send`, `concurrency` at a time.
   */
  readonly sendMany: (
    files: ReadonlyArray<OutgoingFile>,
    concurrency: number
  ) => Effect.Effect<ReadonlyArray<Either.Either<SendResult, TransferError>>>
}

/** Sends files to paired peers. */
export class TransferSender extends Context.Tag("@conduit/transport/TransferSender")<TransferSender, {
  /**
   * Opens a session with a paired peer (connecting first if needed); it closes with the
   * scope. Fails with `Refused` or `UnsupportedVersion` if the peer will not have it.
   */
  readonly open: (peerId: string, options?: SessionOptions) => Effect.Effect<SenderSession, TransferError, Scope.Scope>
  /**
   * Sends files in one session, pipelined; each file's outcome in order. Fails only if the
   * session cannot be opened.
   */
  readonly sendAll: (
    peerId: string,
    files: ReadonlyArray<OutgoingFile>,
    options?: SessionOptions
  ) => Effect.Effect<ReadonlyArray<Either.Either<SendResult, TransferError>>, TransferError>
}>() {}

// -- receiving ---------------------------------------------------------------------------------

/** An offered file, as the receiver's policy sees it (already validated). */
export interface OfferInfo {
  readonly peerId: string
  readonly transferId: number
  readonly location: string
  /** A validated relative path (see `RelPath`). */
  readonly path: string
  readonly size: number
  readonly hash: string
  readonly mtimeNs: bigint
  readonly mode: number | null
}

/** Where an offered file goes. */
export interface Destination {
  /** The location's root on this device (absolute). */
  readonly root: string
  /** The file's absolute path, inside `root`. */
  readonly destination: string
}

/**
 * What the receiver's caller decides. Transport never picks a destination by itself: a file
 * whose location the policy does not know is refused.
 */
export interface ReceiverPolicy {
  /**
   * Maps an offered location and path to a destination, or refuses (`Refused`, `PathRefused`).
   * The destination is checked to be inside the root after symlinks are resolved.
   */
  readonly resolve: (location: string, path: string, offer: OfferInfo) => Effect.Effect<Destination, TransferError>
  /**
   * A local file with this content, if there is one: it is copied (and verified) instead of
   * being received. Default: none.
   */
  readonly have?: (hash: string, offer: OfferInfo) => Effect.Effect<string | null>
  /**
   * `have` for the files of a bundle at once (one lookup instead of one per file): the local
   * files with each offer's content, by hash. Default: `have` per file.
   */
  readonly haveAll?: (offers: ReadonlyArray<OfferInfo>) => Effect.Effect<ReadonlyMap<string, string>>
  /**
   * Called just before a verified, durable temporary file is renamed over `destination`: keeps
   * what is there (the sync layer keeps it as a version). Default: nothing is kept. A failure
   * leaves the destination as it was (and a large file's temporary file, complete, for a later
   * offer to reuse).
   */
  readonly keep?: (destination: string, offer: OfferInfo) => Effect.Effect<void, TransferError>
  /** Told the outcome of every offer, committed or not. */
  readonly received?: (result: ReceiveResult) => Effect.Effect<void>
}

/** What came of one offer. */
export interface ReceiveResult {
  readonly offer: OfferInfo
  /** Where it went (or would have), once the policy named it. */
  readonly destination: string | null
  readonly ok: boolean
  /** Block bytes taken from the peer (inflated). */
  readonly bytesReceived: number
  /** Bytes reused from a partial file or copied locally. */
  readonly bytesReused: number
  readonly localCopy: boolean
  readonly error?: TransferError
}

/** Options of `serve`. */
export interface ReceiverOptions {
  /** Extra block streams a session may attach (default `DEFAULT_PARALLEL_STREAMS`, 0 for none). */
  readonly streams?: number
  /** Accept compressed blocks (default true). */
  readonly compression?: boolean
  /** Offers one session may have in flight (default `DEFAULT_OFFERS_IN_FLIGHT`). */
  readonly offers?: number
  /** Unacknowledged block bytes per stream (default `DEFAULT_WINDOW_BYTES`). */
  readonly windowBytes?: number
  /** Bundles of small files a session may have in flight (default `DEFAULT_BUNDLES_IN_FLIGHT`, 0 for none). */
  readonly bundles?: number
  /** How long a session may send nothing while blocks are expected (default 60 s). */
  readonly idleTimeout?: Duration.DurationInput
}

/** Receives files from paired peers. */
export class TransferReceiver extends Context.Tag("@conduit/transport/TransferReceiver")<TransferReceiver, {
  /**
   * Serves the transfer protocols with `policy` until the scope closes. Sessions only ever
   * come from paired peers (the node refuses others).
   */
  readonly serve: (policy: ReceiverPolicy, options?: ReceiverOptions) => Effect.Effect<void, TransportError, Scope.Scope>
}>() {}

// -- construction ------------------------------------------------------------------------------

/** The sender on this device's node; hashes with `Hasher`. */
export const makeSender: Effect.Effect<TransferSender["Type"], never, Node | Hasher.Hasher> = Effect.gen(function* () {
  const node = yield* Node
  const hasher = yield* Hasher.Hasher
  const open = Effect.fn("TransferSender.open")(function* (peerId: string, options?: SessionOptions) {
    return yield* Sender.open({ node, hasher }, peerId, options ?? {})
  })
  const sendAll = Effect.fn("TransferSender.sendAll")(function* (
    peerId: string,
    files: ReadonlyArray<OutgoingFile>,
    options?: SessionOptions
  ) {
    return yield* Effect.scoped(Effect.gen(function* () {
      const session = yield* open(peerId, options)
      return yield* session.sendMany(files, Sender.concurrencyFor(options ?? {}))
    }))
  })
  return TransferSender.of({ open, sendAll })
})

/** The receiver on this device's node; verifies with `Hasher`. */
export const makeReceiver: Effect.Effect<TransferReceiver["Type"], never, Node | Hasher.Hasher> = Effect.gen(function* () {
  const node = yield* Node
  const hasher = yield* Hasher.Hasher
  const serve = Effect.fn("TransferReceiver.serve")(function* (policy: ReceiverPolicy, options?: ReceiverOptions) {
    return yield* Receiver.serve({ node, hasher }, policy, options ?? {})
  })
  return TransferReceiver.of({ serve })
})

/** Both services; checks first that the BLAKE3 backend gives the right digests. */
export const make = Effect.gen(function* () {
  yield* Hasher.checkBackend
  return { sender: yield* makeSender, receiver: yield* makeReceiver }
})

/**
 * Provides `TransferSender` and `TransferReceiver` on the node, hashing with `Hasher`; fails
 * with `HashError` if the BLAKE3 backend gives wrong digests.
 */
export const layer: Layer.Layer<TransferSender | TransferReceiver, Errors.HashError, Node | Hasher.Hasher> = Layer.effectContext(
  Effect.map(make, ({ receiver, sender }) => Context.make(TransferSender, sender).pipe(Context.add(TransferReceiver, receiver)))
)
