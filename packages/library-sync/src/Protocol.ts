/**
 * The library sync wire protocol, declared once for both sides: the messages as effect
 * Schemas and their MessagePack codec. Every field that arrives from a peer is validated and
 * bounded here, before the model sees it; a frame that does not decode is a
 * `ReplicationError` (`FrameTooLarge` or `Malformed`) and nothing of it is used.
 *
 * A conversation (the puller dials, the server answers):
 *
 * ```text
 * puller                                   server
 *   Hello { version, device, name }   →
 *                                     ←    Hello { version, device, name }
 *   Want { fromSeq }                  →    (the puller's watermark for the server's device)
 *                                     ←    Locations { head, locations }   the server's own locations
 *                                     ←    Batch { entries, upTo } …       changes with seq in (fromSeq, head]
 *                                     ←    CaughtUp { seq: head }
 *                                     ←    Locations / Batch … / CaughtUp  one round per new local change
 * ```
 *
 * Either side may send `Refused { reason, detail }` instead of its next message and close.
 *
 * The encoded form of every message equals its decoded form (no transformations, only
 * checks and brands, and one default: an entry's `remote`, absent from older peers, is false),
 * so a sender encodes its values as they are.
 *
 * @since 0.1.0
 */
import { Entry, Ids, Modes, RelPath } from "@conduit/domain"
import { Decoder, Encoder } from "@msgpack/msgpack"
import { Effect, Either, ParseResult, Schema } from "effect"
import {
  MAX_BATCH_ENTRIES,
  MAX_DETAIL_LENGTH,
  MAX_FRAME_BYTES,
  MAX_LOCATIONS,
  MAX_NAME_LENGTH,
  MAX_PATH_LENGTH,
  MAX_ROOT_LENGTH
} from "./constants.js"
import { ReplicationError } from "./ReplicationError.js"

// -- fields ------------------------------------------------------------------------------------

const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
// C0 and C1 control characters and DEL: never part of a name a person gave.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/**
 * A device's id on the wire: a lower-case UUID (what `LibraryDatabase` creates). Upper case is
 * refused rather than folded, so one device can never arrive under two spellings.
 */
export const DeviceUuid = Schema.String.pipe(
  Schema.pattern(LOWER_UUID, { message: () => "a lower-case UUID" }),
  Schema.compose(Ids.DeviceId)
)
export type DeviceUuid = typeof DeviceUuid.Type

/** A location's id on the wire: a lower-case UUID. */
export const LocationUuid = Schema.String.pipe(
  Schema.pattern(LOWER_UUID, { message: () => "a lower-case UUID" }),
  Schema.compose(Ids.LocationId)
)
export type LocationUuid = typeof LocationUuid.Type

/** A device's or a location's display name: 1 to 255 characters, no control characters. */
export const Name = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(MAX_NAME_LENGTH),
  Schema.filter((s) => !CONTROL.test(s) || "a name without control characters")
)

/**
 * A location's root as its own device sees it: absolute (POSIX `/…` or a Windows drive
 * `C:\…`), at most 4,096 characters, no NUL. Informational only: nothing on this device is
 * ever read or written at a peer's root.
 */
export const Root = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(MAX_ROOT_LENGTH),
  Schema.filter((s) => !s.includes("\0") || "a root without NUL"),
  Schema.filter((s) => /^(\/|[A-Za-z]:[\\/])/.test(s) || "an absolute root")
)

/**
 * A path inside a location: `RelPath` (POSIX separators, NFC, no leading `/`, no `.`, `..`
 * or empty segments, no NUL or backslash, at most 4,096 characters), and never the root
 * itself — the root has no entry.
 */
export const EntryPath = Schema.String.pipe(
  Schema.minLength(1, { message: () => "a non-empty path" }),
  Schema.maxLength(MAX_PATH_LENGTH),
  Schema.compose(RelPath.RelPath)
)

/** A symlink's target, verbatim (it is never followed): at most 4,096 characters, no NUL. */
export const LinkTarget = Schema.String.pipe(
  Schema.maxLength(MAX_ROOT_LENGTH),
  Schema.filter((s) => !s.includes("\0") || "a link target without NUL")
)

/** A change sequence number of the sending device; 0 means "none yet". */
export const Seq = Schema.NonNegativeInt
/** The change sequence number of one entry: every change takes one, starting at 1. */
export const EntrySeq = Schema.Int.pipe(Schema.positive())

// -- records -----------------------------------------------------------------------------------

/** One of the sending device's own locations. */
export const WireLocation = Schema.Struct({
  id: LocationUuid,
  name: Name,
  root: Root,
  indexingMode: Modes.IndexingMode
})
export type WireLocation = typeof WireLocation.Type

/**
 * One index row of the sending device, as of its change `seq`. Device-local columns (row
 * id, inode, on-disk spelling) are not sent; the receiver derives `parent` from `path`.
 *
 * `remote` (added within protocol version 1) says the file's bytes are not on the sender's
 * disk (selective mode evicted them). A peer that predates it sends no `remote`, which decodes
 * as false; a peer that predates it ignores the key (struct schemas drop unknown keys).
 */
export const WireEntry = Schema.Struct({
  location: LocationUuid,
  path: EntryPath,
  kind: Entry.EntryKind,
  size: Schema.NonNegativeInt,
  /** Modification time: whole seconds since the Unix epoch, and the nanoseconds within. */
  mtimeS: Schema.NonNegativeInt,
  mtimeNs: Schema.Int.pipe(Schema.between(0, 999_999_999)),
  /** Permission bits (`st_mode & 0o7777`), when known. */
  mode: Schema.NullOr(Schema.Int.pipe(Schema.between(0, 0o7777))),
  hash: Schema.NullOr(Ids.ContentHash),
  hashState: Entry.HashState,
  linkTarget: Schema.NullOr(LinkTarget),
  seq: EntrySeq,
  tombstone: Schema.Boolean,
  movedFrom: Schema.NullOr(EntryPath),
  /** The file's bytes are elsewhere (`Entry.remote`); absent (an older peer) means false. */
  remote: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).pipe(
  Schema.filter((e) => e.kind === 2 || e.linkTarget === null || "a link target only on a symlink"),
  Schema.filter((e) => e.kind !== 1 || e.hash === null || "no content hash on a directory"),
  Schema.filter((e) => !e.remote || (e.kind === 0 && !e.tombstone) || "remote only on a live file")
)
export type WireEntry = typeof WireEntry.Type

// -- messages ----------------------------------------------------------------------------------

/** Opens a conversation, both ways: who is speaking, in which protocol version. */
export const Hello = Schema.TaggedStruct("Hello", {
  version: Schema.Int.pipe(Schema.between(1, 65_535)),
  device: DeviceUuid,
  name: Name
})
export type Hello = typeof Hello.Type

/**
 * Puller → server: send me your changes above `fromSeq` (the puller's persisted watermark for
 * the server's device; 0 for everything), then keep me up to date.
 */
export const Want = Schema.TaggedStruct("Want", {
  fromSeq: Seq
})
export type Want = typeof Want.Type

/**
 * Server → puller, at the start of every round: the server's own locations (all of them: a
 * location missing here is not the server's) and its current change counter `head`, the
 * sequence number this round catches the puller up to.
 */
export const Locations = Schema.TaggedStruct("Locations", {
  head: Seq,
  locations: Schema.Array(WireLocation).pipe(Schema.maxItems(MAX_LOCATIONS))
})
export type Locations = typeof Locations.Type

/**
 * Server → puller: changed rows in strictly increasing `seq`. After it is applied, every change
 * of the server up to `upTo` is in the replica (`upTo` is at least the last entry's seq).
 */
export const Batch = Schema.TaggedStruct("Batch", {
  entries: Schema.Array(WireEntry).pipe(Schema.minItems(1), Schema.maxItems(MAX_BATCH_ENTRIES)),
  upTo: EntrySeq
})
export type Batch = typeof Batch.Type

/** Server → puller: the round is complete; the puller now has every change up to `seq`. */
export const CaughtUp = Schema.TaggedStruct("CaughtUp", {
  seq: Seq
})
export type CaughtUp = typeof CaughtUp.Type

/** Why a side refuses a session (mirrors `ReplicationError` reasons a peer can cause). */
export const RefusalReason = Schema.Literal(
  "FrameTooLarge",
  "Malformed",
  "UnsupportedVersion",
  "Protocol",
  "Sequence",
  "SelfPeer",
  "NotPaired",
  "UnannouncedLocation",
  "LocationConflict"
)
export type RefusalReason = typeof RefusalReason.Type

/** Either way: I will not go on, and why. Sent before the sender closes. */
export const Refused = Schema.TaggedStruct("Refused", {
  reason: RefusalReason,
  detail: Schema.optional(Schema.String.pipe(Schema.maxLength(MAX_DETAIL_LENGTH)))
})
export type Refused = typeof Refused.Type

/** Every message of the protocol. */
export const Message = Schema.Union(Hello, Want, Locations, Batch, CaughtUp, Refused)
export type Message = typeof Message.Type

// -- codec -------------------------------------------------------------------------------------

const encoder = new Encoder({ ignoreUndefined: true })

/**
 * MessagePack limits matching the schemas, so a hostile frame cannot make the decoder build a
 * huge string or array before the schema looks at it: strings up to 4,096 characters of up to
 * 4 UTF-8 bytes, arrays up to a batch, maps of a few dozen keys, no binary and no extensions.
 */
const decoder = new Decoder({
  maxStrLength: MAX_ROOT_LENGTH * 4,
  maxBinLength: 0,
  maxExtLength: 0,
  maxArrayLength: Math.max(MAX_BATCH_ENTRIES, MAX_LOCATIONS),
  maxMapLength: 32
})

const decodeMessage = Schema.decodeUnknownEither(Message, { errors: "first" })

const clip = (text: string) => (text.length <= MAX_DETAIL_LENGTH ? text : `${text.slice(0, MAX_DETAIL_LENGTH - 1)}…`)

/** Encodes a message as one frame's payload (the length prefix is the channel's business). */
export const encode = (message: Message): Uint8Array => encoder.encode(message)

/**
 * Decodes one frame's payload: refuses more than `MAX_FRAME_BYTES` before reading it, then
 * MessagePack within bounds, then the schema. `peer` names the sender in the error.
 */
export const decodeEither = (frame: Uint8Array, peer?: string): Either.Either<Message, ReplicationError> => {
  const who = peer === undefined ? {} : { peer }
  if (frame.byteLength > MAX_FRAME_BYTES) {
    return Either.left(new ReplicationError({ reason: "FrameTooLarge", ...who, detail: `${frame.byteLength} bytes` }))
  }
  let raw: unknown
  try {
    raw = decoder.decode(frame)
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : "undecodable"
    return Either.left(new ReplicationError({ reason: "Malformed", ...who, detail: clip(`not MessagePack: ${detail}`) }))
  }
  return Either.mapLeft(decodeMessage(raw), (error) =>
    new ReplicationError({ reason: "Malformed", ...who, detail: clip(ParseResult.TreeFormatter.formatErrorSync(error)) }))
}

/** `decodeEither` as an Effect. */
export const decode = (frame: Uint8Array, peer?: string): Effect.Effect<Message, ReplicationError> =>
  Effect.suspend(() => decodeEither(frame, peer))
