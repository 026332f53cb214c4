/**
 * Why a file transfer, or a whole transfer session, did not complete. Whatever the reason,
 * nothing was renamed into place and nothing was written outside the destination's directory;
 * a partial file is kept (under its `.conduit-tmp-part-*` name) only when it holds verified
 * blocks a later offer of the same content can reuse.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The reasons of a `TransferError`, which a caller can match on. */
export const Reason = Schema.Literal(
  /** A frame's length prefix is above `MAX_TRANSFER_FRAME_BYTES`. */
  "FrameTooLarge",
  /** A frame is not a well-formed message: bad MessagePack, unknown tag, a field out of bounds. */
  "Malformed",
  /** A valid message at the wrong point (a block never asked for, more in flight than the window...). */
  "Protocol",
  /** The peer speaks another version of the transfer protocol. */
  "UnsupportedVersion",
  /** The offered path is not a safe relative path, or its destination would leave the location. */
  "PathRefused",
  /** The receiver's policy refused the file (an unregistered location, for example), or the peer refused the session. */
  "Refused",
  /** The destination is already being written by another transfer. */
  "Busy",
  /** A block, or the whole file, does not have the BLAKE3 the offer announced. */
  "HashMismatch",
  /** More blocks or bytes than the offer announced, or a block of the wrong length. */
  "SizeMismatch",
  /** The sender's file changed while it was being sent (or differs from the hash it was asked to send). */
  "SourceChanged",
  /** The sender gave the transfer up before it completed. */
  "Cancelled",
  /** The peer closed or reset the stream, or the session was closed, before the transfer completed. */
  "PeerClosed",
  /** The peer sent nothing for too long while it was expected to. */
  "Timeout",
  /** The receiver's disk is full. */
  "DiskFull",
  /** A local file could not be read or written. */
  "Io"
)
export type Reason = typeof Reason.Type

/** A transfer (or a transfer session) that did not complete. */
export class TransferError extends Schema.TaggedError<TransferError>()("TransferError", {
  reason: Reason,
  /** The peer, when known. */
  peerId: Schema.optional(Schema.String),
  /** The file's path inside its location (or a local path for `Io`), when one is concerned. */
  path: Schema.optional(Schema.String),
  /** What exactly was wrong, for logs; never parsed. */
  detail: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const file = this.path === undefined ? "" : ` (${this.path})`
    const peer = this.peerId === undefined ? "the peer" : `peer ${this.peerId}`
    const detail = this.detail === undefined
      ? this.cause instanceof Error ? `: ${this.cause.message}` : ""
      : `: ${this.detail}`
    switch (this.reason) {
      case "FrameTooLarge":
        return `${peer} sent a transfer frame above the size limit${detail}`
      case "Malformed":
        return `${peer} sent a malformed transfer message${detail}`
      case "Protocol":
        return `${peer} broke the transfer protocol${detail}`
      case "UnsupportedVersion":
        return `${peer} speaks another version of the transfer protocol${detail}`
      case "PathRefused":
        return `the path was refused${file}${detail}`
      case "Refused":
        return `the transfer was refused${file}${detail}`
      case "Busy":
        return `the destination is being written by another transfer${file}`
      case "HashMismatch":
        return `the received bytes do not have the announced BLAKE3${file}${detail}`
      case "SizeMismatch":
        return `the received bytes do not have the announced size${file}${detail}`
      case "SourceChanged":
        return `the file changed while it was being sent${file}${detail}`
      case "Cancelled":
        return `the sender gave the transfer up${file}${detail}`
      case "PeerClosed":
        return `the transfer stream with ${peer} closed before the transfer completed${file}${detail}`
      case "Timeout":
        return `${peer} sent nothing for too long${file}${detail}`
      case "DiskFull":
        return `the disk is full${file}`
      case "Io":
        return `a file could not be read or written${file}${detail}`
    }
  }
}
