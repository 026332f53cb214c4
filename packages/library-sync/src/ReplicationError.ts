/**
 * Why a replication session stopped: what the peer sent could not be accepted, the peer is not
 * one this device replicates with, or the channel failed. Whatever the reason, nothing of the
 * offending message was written.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The reasons of a `ReplicationError`, which a caller can match on. */
export const Reason = Schema.Literal(
  /** A frame's length prefix (or an in-memory frame) is larger than `MAX_FRAME_BYTES`. */
  "FrameTooLarge",
  /** A frame is not a well-formed message: bad MessagePack, unknown tag, a field of the wrong type, out of bounds or invalid. */
  "Malformed",
  /** The peer speaks another protocol version. */
  "UnsupportedVersion",
  /** A valid message at the wrong point of the conversation (a `Batch` before `Locations`, a second `Hello`...). */
  "Protocol",
  /** A sequence number that goes backwards or beyond what the message itself announces. */
  "Sequence",
  /** The device on the other end is this device. */
  "SelfPeer",
  /** The device on the other end is not the one this session was opened for. */
  "NotPaired",
  /** An entry of a location the peer did not announce as its own. */
  "UnannouncedLocation",
  /** The peer announced a location id that this library holds for another device. */
  "LocationConflict",
  /** The peer refused the session and said why (see `detail`). */
  "Refused",
  /** The channel ended before the conversation could start. */
  "Closed",
  /** The peer did not complete the handshake in time. */
  "Timeout",
  /** The channel failed (reset, write refused). */
  "Channel"
)
export type Reason = typeof Reason.Type

/** A replication session that could not go on. */
export class ReplicationError extends Schema.TaggedError<ReplicationError>()("ReplicationError", {
  reason: Reason,
  /** The peer's device id, when known. */
  peer: Schema.optional(Schema.String),
  /** What exactly was wrong, for logs; never parsed. */
  detail: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const peer = this.peer === undefined ? "the peer" : `peer ${this.peer}`
    const detail = this.detail === undefined ? "" : `: ${this.detail}`
    switch (this.reason) {
      case "FrameTooLarge":
        return `${peer} sent a frame larger than the limit${detail}; nothing was applied`
      case "Malformed":
        return `${peer} sent a malformed message${detail}; nothing was applied`
      case "UnsupportedVersion":
        return `${peer} speaks another library sync protocol version${detail}`
      case "Protocol":
        return `${peer} sent a message out of turn${detail}; nothing was applied`
      case "Sequence":
        return `${peer} sent change numbers out of order${detail}; nothing was applied`
      case "SelfPeer":
        return "the device on the other end is this device; a library is not replicated to itself"
      case "NotPaired":
        return `${peer} is not the device this session was opened for${detail}`
      case "UnannouncedLocation":
        return `${peer} sent entries of a location it did not announce as its own${detail}; nothing was applied`
      case "LocationConflict":
        return `${peer} announced a location this library holds for another device${detail}; nothing was applied`
      case "Refused":
        return `${peer} refused library sync${detail}`
      case "Closed":
        return `the channel to ${peer} closed before library sync started`
      case "Timeout":
        return `${peer} did not complete the library sync handshake in time`
      case "Channel":
        return `the channel to ${peer} failed${detail}`
    }
  }
}
