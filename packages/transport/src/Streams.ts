/**
 * Bytes on a libp2p stream as Effects: write with backpressure, close the writing side, read
 * a bounded message to its end. Protocols build their framing on these.
 *
 * @since 0.1.0
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface"
import { Effect } from "effect"
import { DEFAULT_MAX_READ_BYTES, STREAM_CLOSE_TIMEOUT_MILLIS } from "./constants.js"
import { drained } from "./internal/drain.js"
import { TransportError } from "./TransportError.js"

/** A stream of the libp2p node (re-exported so users need not depend on `@libp2p/interface`). */
export type { Stream } from "@libp2p/interface"

const streamError = (stream: Stream, cause: unknown): TransportError =>
  new TransportError({ reason: "Stream", protocol: stream.protocol, cause })

/**
 * Sends `data`, waiting while the stream's send buffer is full (the peer reads slower than
 * this side writes), so a fast writer never queues a whole file in memory.
 */
export const write = (stream: Stream, data: Uint8Array): Effect.Effect<void, TransportError> =>
  Effect.tryPromise({
    try: async (signal) => {
      if (!stream.send(data) && stream.writableNeedsDrain) await drained(stream, signal)
    },
    catch: (cause) => streamError(stream, cause)
  })

/**
 * Closes this side's writing end once everything sent has left; the peer's reads then end.
 * The stream stays readable until the peer closes its end. A peer that stops reading gets
 * the stream aborted after a while instead.
 */
export const closeWrite = (stream: Stream): Effect.Effect<void, TransportError> =>
  Effect.tryPromise({
    try: (signal) => stream.close({ signal: AbortSignal.any([signal, AbortSignal.timeout(STREAM_CLOSE_TIMEOUT_MILLIS)]) }),
    catch: (cause) => {
      stream.abort(cause instanceof Error ? cause : new Error(String(cause)))
      return streamError(stream, cause)
    }
  })

/** Options of `readAll`. */
export interface ReadOptions {
  /** The most bytes accepted; more aborts the stream with `TooLarge`. Default 1 MiB. */
  readonly maxBytes?: number
}

/**
 * Reads everything the peer sends until it closes its writing end, up to `maxBytes`. Fails
 * with `Stream` if the stream is reset or aborted before the end.
 *
 * The end is read from the stream's state as well as waited for: when a peer answers and
 * closes at once, its bytes and its end can arrive while the protocol is still being
 * negotiated. libp2p then emits 'end' (and, once this side closed too, 'close') before the
 * negotiation hands the bytes it read ahead back to the stream, so a reader waiting for those
 * events after taking the bytes would wait forever.
 */
export const readAll = (stream: Stream, options: ReadOptions = {}): Effect.Effect<Uint8Array, TransportError> =>
  Effect.async<Uint8Array, TransportError>((resume) => {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_READ_BYTES
    const chunks: Array<Uint8Array> = []
    let size = 0
    let settled = false
    const cleanup = () => {
      stream.removeEventListener("message", onMessage)
      stream.removeEventListener("end", onEnd)
      stream.removeEventListener("close", onClose)
    }
    const settle = (result: Effect.Effect<Uint8Array, TransportError>) => {
      if (settled) return
      settled = true
      cleanup()
      resume(result)
    }
    const collected = () => {
      const all = Buffer.concat(chunks, size)
      return Effect.succeed(new Uint8Array(all.buffer, all.byteOffset, all.byteLength))
    }
    /** Nothing more will be delivered: the peer closed its writing end (or this side its reading end) and nothing is buffered. */
    const finished = () =>
      stream.readBufferLength === 0 && (stream.readableEnded || stream.remoteWriteStatus === "closed" || stream.readStatus === "closed")
    const onMessage = (event: StreamMessageEvent) => {
      // A copy: the transport may reuse the buffer it handed over.
      const data = event.data instanceof Uint8Array ? event.data.slice() : event.data.subarray()
      size += data.byteLength
      if (size > maxBytes) {
        stream.abort(new Error(`more than ${maxBytes} bytes`))
        settle(Effect.fail(new TransportError({ reason: "TooLarge", protocol: stream.protocol })))
        return
      }
      chunks.push(data)
      // The last bytes of a peer that already ended: 'end' and 'close' may be past.
      if (finished()) settle(collected())
    }
    const onEnd = () => settle(collected())
    const onClose = (event: StreamCloseEvent) =>
      settle(event.error === undefined ? collected() : Effect.fail(streamError(stream, event.error)))
    if (stream.status === "aborted" || stream.status === "reset") {
      settle(Effect.fail(streamError(stream, new Error(`the stream was ${stream.status}`))))
      return
    }
    if (finished()) {
      settle(collected())
      return
    }
    stream.addEventListener("message", onMessage)
    stream.addEventListener("end", onEnd)
    stream.addEventListener("close", onClose)
    return Effect.sync(cleanup)
  })
