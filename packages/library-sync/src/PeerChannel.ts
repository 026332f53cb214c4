/**
 * What library sync runs on: a duplex of frames with one peer. The protocol knows nothing of
 * the network; the sync layer adapts a libp2p stream with `fromByteStream` (the frames are
 * length-prefixed on the stream), and tests connect two libraries with `memoryPair`.
 *
 * @since 0.1.0
 */
import { Effect, Queue, Stream } from "effect"
import { MAX_FRAME_BYTES } from "./constants.js"
import { type ByteChunk, frame, unframe } from "./Framing.js"
import { ReplicationError } from "./ReplicationError.js"

/** A duplex of frames with one peer. */
export interface PeerChannel {
  /** Sends one frame; waits while the peer reads slower than this side writes. */
  readonly send: (frame: Uint8Array) => Effect.Effect<void, ReplicationError>
  /** The frames the peer sends, until it closes its side. Run it once. */
  readonly incoming: Stream.Stream<Uint8Array, ReplicationError>
  /**
   * Ends this side's sending once what was sent has left; the peer's `incoming` then ends.
   * Sending afterwards fails. Closing twice is harmless.
   */
  readonly close: Effect.Effect<void>
}

/** Options of `memoryPair`. */
export interface MemoryPairOptions {
  /** Frames in flight each way before `send` waits (default 16). */
  readonly capacity?: number
}

const END: unique symbol = Symbol("PeerChannel/END")

const closedError = new ReplicationError({ reason: "Channel", detail: "the channel is closed" })

/**
 * Two channels connected to each other in memory: what one sends, the other receives, with
 * backpressure (at most `capacity` frames in flight each way; `send` waits for the reader).
 * Closing never waits. For tests and for two libraries in one process.
 */
export const memoryPair = (options: MemoryPairOptions = {}): Effect.Effect<readonly [PeerChannel, PeerChannel]> =>
  Effect.gen(function* () {
    const capacity = Math.max(1, options.capacity ?? 16)
    const direction = Effect.all({
      queue: Queue.unbounded<Uint8Array | typeof END>(),
      permits: Effect.makeSemaphore(capacity)
    })
    const aToB = yield* direction
    const bToA = yield* direction
    type Direction = typeof aToB
    const side = (out: Direction, inbox: Direction): PeerChannel => {
      let closed = false
      return {
        send: (data) =>
          Effect.suspend(() =>
            closed ? Effect.fail(closedError) : Effect.zipRight(out.permits.take(1), Queue.offer(out.queue, data.slice()))
          ).pipe(Effect.asVoid),
        incoming: Stream.fromQueue(inbox.queue).pipe(
          Stream.takeWhile((item): item is Uint8Array => item !== END),
          Stream.tap(() => inbox.permits.release(1))
        ),
        close: Effect.suspend(() => {
          if (closed) return Effect.void
          closed = true
          return Queue.offer(out.queue, END).pipe(Effect.asVoid)
        })
      }
    }
    return [side(aToB, bToA), side(bToA, aToB)] as const
  })

/** A byte stream with one peer, as a transport gives it. */
export interface ByteStream {
  /** What the peer sends, in chunks of any size (a libp2p stream is such an iterable). */
  readonly source: AsyncIterable<ByteChunk>
  /** Writes bytes, waiting while the stream's send buffer is full. */
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, ReplicationError>
  /** Closes the writing side once the written bytes have left. */
  readonly close: Effect.Effect<void>
  /** The peer's device id, to name it in errors. */
  readonly peer?: string
}

/**
 * A channel over a byte stream: every frame sent is prefixed with its 4-byte big-endian
 * length, and the incoming bytes are cut into frames the same way, refusing a length above
 * `MAX_FRAME_BYTES` as soon as its prefix arrives.
 */
export const fromByteStream = (stream: ByteStream): PeerChannel => {
  let closed = false
  const peer = stream.peer === undefined ? {} : { peer: stream.peer }
  return {
    send: (data) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError)
        if (data.byteLength > MAX_FRAME_BYTES) {
          return Effect.fail(new ReplicationError({ reason: "FrameTooLarge", ...peer, detail: `refusing to send ${data.byteLength} bytes` }))
        }
        return stream.write(frame(data))
      }),
    incoming: unframe(stream.source, peer),
    close: Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      return stream.close
    })
  }
}
