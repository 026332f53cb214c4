/**
 * The transfer wire protocol, declared once for both sides: the messages as effect Schemas and
 * their MessagePack codec. Every field that arrives from a peer is validated and bounded here
 * before the protocol code looks at it; a frame that does not decode is a `TransferError`
 * (`Malformed`) and nothing of it is used.
 *
 * The encoded form of every message equals its decoded form (checks only, no
 * transformations), so a sender encodes its values as they are. `Block` frames, which carry
 * file bytes, are encoded by hand (`blockFrame`) so the bytes are copied once; they decode
 * like any other message.
 */
import { RelPath } from "@conduit/domain"
import { Decoder, Encoder } from "@msgpack/msgpack"
import { Either, ParseResult, Schema } from "effect"
import {
  MAX_BLOCK_SIZE,
  MAX_BLOCKS,
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_FILE_SIZE,
  MAX_BUNDLE_FILES,
  MAX_BUNDLES_IN_FLIGHT,
  MAX_FILE_SIZE,
  MAX_OFFERS_IN_FLIGHT,
  MAX_PARALLEL_STREAMS,
  MAX_TRANSFER_DETAIL_LENGTH,
  MAX_TRANSFER_FRAME_BYTES,
  MAX_TRANSFER_PATH_LENGTH,
  MAX_WINDOW_BYTES,
  MIN_BLOCK_SIZE,
  MIN_WINDOW_BYTES,
  TRANSFER_FRAME_HEADER_BYTES
} from "../constants.js"
import { TransferError } from "../TransferError.js"

// -- fields ------------------------------------------------------------------------------------

/**
 * A transfer's number within its session, chosen by the sender: 1, 2, 3, … (strictly
 * increasing, so a late block of a finished transfer can be told from one never offered).
 */
export const TransferId = Schema.Int.pipe(Schema.between(1, 2 ** 31 - 1))

/** A block's index in its file. */
export const BlockIndex = Schema.Int.pipe(Schema.between(0, MAX_BLOCKS - 1))

/** A BLAKE3-256 digest: 64 lower-case hex digits. */
export const Hash = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "64 lower-case hex digits" }))

/** A session's id: 16 random bytes as 32 lower-case hex digits (block streams attach with it). */
export const SessionId = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{32}$/, { message: () => "32 lower-case hex digits" }))

/** A location's id: a lower-case UUID the receiver maps to one of its roots (or refuses). */
export const LocationUuid = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, { message: () => "a lower-case UUID" })
)

/**
 * A file's path inside its location: `RelPath` (POSIX separators, NFC, no leading `/`, no
 * `.`, `..` or empty segments, no NUL or backslash), not empty, at most 4,096 characters.
 */
export const TransferPath = Schema.String.pipe(
  Schema.minLength(1, { message: () => "a non-empty path" }),
  Schema.maxLength(MAX_TRANSFER_PATH_LENGTH),
  Schema.compose(RelPath.RelPath)
)

/** A size in bytes: a non-negative safe integer, at most `MAX_FILE_SIZE`. */
export const Size = Schema.Int.pipe(Schema.between(0, MAX_FILE_SIZE))

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0

/** A block size: a power of two from 64 KiB to 16 MiB. */
export const BlockSize = Schema.Int.pipe(
  Schema.between(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE),
  Schema.filter((n) => isPowerOfTwo(n) || "a power of two")
)

const MAX_INT64 = 2n ** 63n - 1n

/**
 * A modification time in nanoseconds since the Unix epoch, as decimal text (a double cannot
 * hold it exactly): no sign, no leading zero, at most 2^63 - 1.
 */
export const MtimeNs = Schema.String.pipe(
  Schema.pattern(/^(0|[1-9][0-9]{0,18})$/, { message: () => "a non-negative decimal integer" }),
  Schema.filter((s) => BigInt(s) <= MAX_INT64 || "at most 2^63 - 1")
)

/** Permission bits (`st_mode & 0o7777`), or null to leave them to the receiver. */
export const Mode = Schema.NullOr(Schema.Int.pipe(Schema.between(0, 0o7777)))

/** The compression algorithms a block may use. */
export const Compression = Schema.Literal("deflate-raw")
export type Compression = typeof Compression.Type

/** Free text for logs. */
export const Detail = Schema.String.pipe(Schema.maxLength(MAX_TRANSFER_DETAIL_LENGTH))

/** The number of blocks of a file of `size` bytes cut in blocks of `blockSize`. */
export const blockCount = (size: number, blockSize: number): number => Math.ceil(size / blockSize)

/** The length of block `index` of a file (the last one may be shorter). */
export const blockLength = (size: number, blockSize: number, index: number): number =>
  Math.min(blockSize, size - index * blockSize)

// -- messages ----------------------------------------------------------------------------------

/**
 * Opens a session, both ways. The sender speaks first and names the session (`session`);
 * each side says what it can do: how many extra block streams it accepts (`streams`), which
 * compressions it decodes, how many offers it holds at once (`offers`) and how many block
 * bytes may be unacknowledged on one stream (`windowBytes`). The sender uses the smaller
 * stream and offer counts, a compression both list, and the receiver's window.
 */
export const Hello = Schema.TaggedStruct("Hello", {
  version: Schema.Int.pipe(Schema.between(1, 65_535)),
  session: Schema.optional(SessionId),
  streams: Schema.Int.pipe(Schema.between(0, MAX_PARALLEL_STREAMS)),
  compression: Schema.Array(Compression).pipe(Schema.maxItems(4)),
  offers: Schema.Int.pipe(Schema.between(1, MAX_OFFERS_IN_FLIGHT)),
  windowBytes: Schema.Int.pipe(Schema.between(MIN_WINDOW_BYTES, MAX_WINDOW_BYTES)),
  // Bundles of small files this side takes in flight (absent or 0: it does not speak them).
  bundles: Schema.optional(Schema.Int.pipe(Schema.between(0, MAX_BUNDLES_IN_FLIGHT)))
})
export type Hello = typeof Hello.Type

/**
 * Sender → receiver: a file for `path` in `location`, of `size` bytes with BLAKE3 `hash`, cut
 * in blocks of `blockSize` whose BLAKE3s are `blockHashes` (exactly `ceil(size / blockSize)`).
 */
export const Offer = Schema.TaggedStruct("Offer", {
  transferId: TransferId,
  location: LocationUuid,
  path: TransferPath,
  size: Size,
  hash: Hash,
  blockSize: BlockSize,
  blockHashes: Schema.Array(Hash).pipe(Schema.maxItems(MAX_BLOCKS)),
  mtimeNs: MtimeNs,
  mode: Mode
}).pipe(
  Schema.filter((o) =>
    o.blockHashes.length === blockCount(o.size, o.blockSize) || "as many block hashes as blocks (ceil(size / blockSize))"
  )
)
export type Offer = typeof Offer.Type

/** A run of block indexes: `[start, end)`. */
export const Range = Schema.Tuple(BlockIndex, Schema.Int.pipe(Schema.between(1, MAX_BLOCKS)))
export type Range = typeof Range.Type

/**
 * Receiver → sender: the blocks of a transfer it still needs, as sorted, disjoint, non-empty
 * ranges; none when it has the content already (a resumed partial file or a local copy).
 * Exactly one per offer, unless the offer is answered with a failed `Done` at once.
 */
export const Need = Schema.TaggedStruct("Need", {
  transferId: TransferId,
  ranges: Schema.Array(Range).pipe(
    Schema.maxItems(MAX_BLOCKS),
    Schema.filter((ranges) => {
      let previous = 0
      for (const [start, end] of ranges) {
        if (start >= end || start < previous) return "sorted, disjoint, non-empty ranges"
        previous = end
      }
      return true
    })
  )
})
export type Need = typeof Need.Type

/**
 * Sender → receiver: block `index` of a transfer, raw or compressed with `compression` (to at
 * most the block's length once inflated).
 */
export const Block = Schema.TaggedStruct("Block", {
  transferId: TransferId,
  index: BlockIndex,
  compression: Schema.optional(Compression),
  data: Schema.Uint8ArrayFromSelf.pipe(Schema.filter((d) => d.byteLength <= MAX_BLOCK_SIZE || "at most MAX_BLOCK_SIZE bytes"))
})
export type Block = typeof Block.Type

/**
 * Receiver → sender, on the stream the blocks came on: the next `blocks` blocks sent on it
 * were verified and written (or discarded), so their bytes leave the window.
 */
export const Ack = Schema.TaggedStruct("Ack", {
  blocks: Schema.Int.pipe(Schema.between(1, MAX_BLOCKS))
})
export type Ack = typeof Ack.Type

/** Why a single transfer failed, as the receiver tells the sender. */
export const DoneReason = Schema.Literal(
  "PathRefused",
  "Refused",
  "Busy",
  "HashMismatch",
  "SizeMismatch",
  "SourceChanged",
  "Cancelled",
  "DiskFull",
  "Io"
)
export type DoneReason = typeof DoneReason.Type

/**
 * How one file ended. `ok`: it is verified and committed at its destination. `bytesReceived`:
 * bytes (inflated) taken from this peer; `bytesReused`: bytes that came from a resumed partial
 * file or a local copy instead.
 */
const outcomeFields = {
  ok: Schema.Boolean,
  bytesReceived: Size,
  bytesReused: Size,
  localCopy: Schema.Boolean,
  reason: Schema.optional(DoneReason),
  detail: Schema.optional(Detail)
}

/** Receiver → sender: the transfer ended (see `outcomeFields`). */
export const Done = Schema.TaggedStruct("Done", { transferId: TransferId, ...outcomeFields })
export type Done = typeof Done.Type

/**
 * Sender → receiver: give this transfer up (the file changed, or the caller stopped waiting).
 * The receiver answers with a failed `Done`; blocks still in flight are dropped.
 */
export const Cancel = Schema.TaggedStruct("Cancel", {
  transferId: TransferId,
  reason: Schema.Literal("SourceChanged", "Cancelled", "Io"),
  detail: Schema.optional(Detail)
})
export type Cancel = typeof Cancel.Type

/** Sender → receiver, first frame of a block stream: which session it carries blocks for. */
export const Attach = Schema.TaggedStruct("Attach", {
  session: SessionId
})
export type Attach = typeof Attach.Type

/** Why a side gives a whole session up. */
export const RefusalReason = Schema.Literal(
  "FrameTooLarge",
  "Malformed",
  "Protocol",
  "UnsupportedVersion",
  "HashMismatch",
  "SizeMismatch",
  "Timeout",
  "Refused"
)
export type RefusalReason = typeof RefusalReason.Type

/** Either way: I will not go on with this session, and why. Sent before the sender closes. */
export const Refused = Schema.TaggedStruct("Refused", {
  reason: RefusalReason,
  detail: Schema.optional(Detail)
})
export type Refused = typeof Refused.Type

/** A bundle's number within its session: 1, 2, 3, … (strictly increasing, like transfers). */
export const BundleId = Schema.Int.pipe(Schema.between(1, 2 ** 31 - 1))

/** One file of a bundle: a whole small file, its bytes hashed as one block. */
export const BundleFile = Schema.Struct({
  location: LocationUuid,
  path: TransferPath,
  size: Schema.Int.pipe(Schema.between(0, MAX_BUNDLE_FILE_SIZE)),
  hash: Hash,
  mtimeNs: MtimeNs,
  mode: Mode
})
export type BundleFile = typeof BundleFile.Type

/**
 * Sender → receiver, when both hellos announced `bundles`: up to `MAX_BUNDLE_FILES` small
 * files at once (at most `MAX_BUNDLE_BYTES` in all). Answered by one `BundleNeed`.
 */
export const Bundle = Schema.TaggedStruct("Bundle", {
  bundleId: BundleId,
  files: Schema.Array(BundleFile).pipe(
    Schema.minItems(1),
    Schema.maxItems(MAX_BUNDLE_FILES),
    Schema.filter((files) => files.reduce((n, f) => n + f.size, 0) <= MAX_BUNDLE_BYTES || `at most ${MAX_BUNDLE_BYTES} bytes in all`)
  )
})
export type Bundle = typeof Bundle.Type

/**
 * Receiver → sender: the files of a bundle whose bytes it needs, as sorted indexes into its
 * `files`; the others it settled already (copied locally, or failed) and reports in the
 * `BundleDone`.
 */
export const BundleNeed = Schema.TaggedStruct("BundleNeed", {
  bundleId: BundleId,
  indexes: Schema.Array(Schema.Int.pipe(Schema.between(0, MAX_BUNDLE_FILES - 1))).pipe(
    Schema.maxItems(MAX_BUNDLE_FILES),
    Schema.filter((indexes) => indexes.every((n, i) => i === 0 || n > indexes[i - 1]!) || "strictly increasing indexes")
  )
})
export type BundleNeed = typeof BundleNeed.Type

/** Sender → receiver: the bytes of the needed files of a bundle, in the order of its `BundleNeed`. */
export const BundleData = Schema.TaggedStruct("BundleData", {
  bundleId: BundleId,
  data: Schema.Array(
    Schema.Uint8ArrayFromSelf.pipe(Schema.filter((d) => d.byteLength <= MAX_BUNDLE_FILE_SIZE || "at most MAX_BUNDLE_FILE_SIZE bytes"))
  ).pipe(Schema.maxItems(MAX_BUNDLE_FILES))
})
export type BundleData = typeof BundleData.Type

/** How one file of a bundle ended (the fields of a `Done`). */
export const BundleResult = Schema.Struct(outcomeFields)
export type BundleResult = typeof BundleResult.Type

/** Receiver → sender: the bundle ended; one result per file, in order. */
export const BundleDone = Schema.TaggedStruct("BundleDone", {
  bundleId: BundleId,
  results: Schema.Array(BundleResult).pipe(Schema.maxItems(MAX_BUNDLE_FILES))
})
export type BundleDone = typeof BundleDone.Type

/** Every message of the protocol. */
export const Message = Schema.Union(Hello, Offer, Need, Block, Ack, Done, Cancel, Attach, Refused, Bundle, BundleNeed, BundleData, BundleDone)
export type Message = typeof Message.Type

// -- codec -------------------------------------------------------------------------------------

const encoder = new Encoder({ ignoreUndefined: true })

/**
 * MessagePack limits matching the schemas, so a hostile frame cannot make the decoder build a
 * huge string, array or map before the schema looks at it: strings up to a path of 4-byte
 * characters, binary up to one block, arrays up to the block count, small maps, no extensions.
 */
const decoder = new Decoder({
  maxStrLength: MAX_TRANSFER_PATH_LENGTH * 4,
  maxBinLength: MAX_BLOCK_SIZE,
  maxExtLength: 0,
  maxArrayLength: MAX_BLOCKS,
  maxMapLength: 16
})

const decodeMessage = Schema.decodeUnknownEither(Message, { errors: "first" })

/** Cuts a text to fit a `detail` field. */
export const clip = (text: string): string =>
  text.length <= MAX_TRANSFER_DETAIL_LENGTH ? text : `${text.slice(0, MAX_TRANSFER_DETAIL_LENGTH - 1)}…`

/** Prefixes a payload with its 4-byte big-endian length, in one buffer (one write on the stream). */
export const frame = (payload: Uint8Array): Uint8Array => {
  if (payload.byteLength > MAX_TRANSFER_FRAME_BYTES) throw new RangeError(`a frame of ${payload.byteLength} bytes is above the limit`)
  const out = new Uint8Array(TRANSFER_FRAME_HEADER_BYTES + payload.byteLength)
  new DataView(out.buffer).setUint32(0, payload.byteLength, false)
  out.set(payload, TRANSFER_FRAME_HEADER_BYTES)
  return out
}

/** Encodes a message as one whole frame (length prefix included). */
export const encodeFrame = (message: Message): Uint8Array => frame(encoder.encodeSharedRef(message))

// The key "data" as a MessagePack fixstr, and the bin 32 marker.
const DATA_KEY = Uint8Array.of(0xa4, 0x64, 0x61, 0x74, 0x61)
const BIN32 = 0xc6

/**
 * A `Block` frame whose data is written in place: returns the frame and the view its `length`
 * data bytes go to, so a sender reads the file straight into the frame (one copy). The frame
 * is a MessagePack map like every other message (the small fields, then `data` as bin 32).
 */
export const blockFrame = (
  transferId: number,
  index: number,
  length: number,
  compression?: Compression
): { readonly frame: Uint8Array; readonly data: Uint8Array } => {
  const head = encoder.encode(compression === undefined ? { _tag: "Block", transferId, index } : { _tag: "Block", transferId, index, compression })
  // `head` is a fixmap (0x80 | entries): one more entry follows.
  const payloadLength = head.byteLength + DATA_KEY.byteLength + 5 + length
  const out = new Uint8Array(TRANSFER_FRAME_HEADER_BYTES + payloadLength)
  const view = new DataView(out.buffer)
  view.setUint32(0, payloadLength, false)
  let at = TRANSFER_FRAME_HEADER_BYTES
  out.set(head, at)
  out[at] = head[0]! + 1
  at += head.byteLength
  out.set(DATA_KEY, at)
  at += DATA_KEY.byteLength
  out[at] = BIN32
  view.setUint32(at + 1, length, false)
  at += 5
  return { frame: out, data: out.subarray(at, at + length) }
}

/**
 * Decodes one frame's payload: MessagePack within bounds, then the schema. `peerId` names the
 * sender in the error.
 */
export const decodeEither = (payload: Uint8Array, peerId?: string): Either.Either<Message, TransferError> => {
  const who = peerId === undefined ? {} : { peerId }
  if (payload.byteLength > MAX_TRANSFER_FRAME_BYTES) {
    return Either.left(new TransferError({ reason: "FrameTooLarge", ...who, detail: `${payload.byteLength} bytes` }))
  }
  let raw: unknown
  try {
    raw = decoder.decode(payload)
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : "undecodable"
    return Either.left(new TransferError({ reason: "Malformed", ...who, detail: clip(`not MessagePack: ${detail}`) }))
  }
  return Either.mapLeft(decodeMessage(raw), (error) =>
    new TransferError({ reason: "Malformed", ...who, detail: clip(ParseResult.TreeFormatter.formatErrorSync(error)) }))
}
