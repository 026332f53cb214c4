/**
 * Why the node could not start, reach a peer, or move bytes on a stream.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A node, dial or stream operation that did not happen. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  reason: Schema.Literal(
    /** The node could not start (no transport could listen on an address, for example). */
    "Start",
    /** A protocol could not be served (a handler is already registered for it, for example). */
    "Handle",
    /** An address that is not a multiaddr, or lacks the `/p2p/` part naming the peer. */
    "InvalidAddress",
    /** The peer is not paired with this device (or was revoked): this side refused it. */
    "NotPaired",
    /** No address of the peer answered, or the peer refused the connection. */
    "Dial",
    /** The peer does not speak the protocol. */
    "UnsupportedProtocol",
    /** A stream failed: reset by the peer, closed early, or a local write was refused. */
    "Stream",
    /** A peer sent more than the limit allows. */
    "TooLarge"
  ),
  peerId: Schema.optional(Schema.String),
  address: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const peer = this.peerId === undefined ? "the peer" : `peer ${this.peerId}`
    const cause = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    switch (this.reason) {
      case "Start":
        return `the network node could not start${cause}`
      case "Handle":
        return `${this.protocol ?? "the protocol"} could not be served${cause}`
      case "InvalidAddress":
        return `'${this.address ?? ""}' is not a usable peer address (a multiaddr ending in /p2p/<peer id>)${cause}`
      case "NotPaired":
        return `${peer} is not paired with this device (pair it first)`
      case "Dial":
        return `${peer} could not be reached${this.address === undefined ? "" : ` at ${this.address}`}${cause}`
      case "UnsupportedProtocol":
        return `${peer} does not support ${this.protocol ?? "the protocol"}`
      case "Stream":
        return `${this.protocol === undefined ? "a stream" : `a ${this.protocol} stream`} with ${peer} failed${cause}`
      case "TooLarge":
        return `${peer} sent more than the limit on a ${this.protocol ?? "protocol"} stream; it was closed`
    }
  }
}
