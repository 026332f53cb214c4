/**
 * Frames on a byte stream: each frame is a 4-byte big-endian length followed by that many
 * bytes. This is how the protocol's messages travel on anything that only moves bytes (a
 * libp2p stream); `PeerChannel.fromByteStream` builds a channel from it.
 *
 * The length prefix is checked against the limit as soon as its four bytes are in, so a peer
 * announcing a 4 GiB frame is refused before anything is buffered for it.
 *
 * @since 0.1.0
 */
import { Effect, Either, Option, Stream } from "effect"
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from "./constants.js"
import { ReplicationError } from "./ReplicationError.js"

/**
 * A chunk of a byte stream: bytes, or anything that gives its bytes with `subarray()` (such as
 * the `Uint8ArrayList` a libp2p stream yields).
 */
export type ByteChunk = Uint8Array | { readonly subarray: () => Uint8Array }

/** Options of `unframe`. */
export interface UnframeOptions {
  /** The largest frame accepted; default (and at most) `MAX_FRAME_BYTES`. */
  readonly maxFrameBytes?: number
  /** The peer's device id, to name it in errors. */
  readonly peer?: string
}

/** Prefixes a frame with its length, ready to write on a byte stream. */
export const frame = (payload: Uint8Array): Uint8Array => {
  if (payload.byteLength > MAX_FRAME_BYTES) throw new RangeError(`a frame of ${payload.byteLength} bytes is above the limit`)
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength)
  new DataView(out.buffer).setUint32(0, payload.byteLength, false)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/**
 * Cuts a byte stream into frames, incrementally. Holds at most one frame's bytes (plus what
 * arrived beyond it in the same chunk).
 */
export class Deframer {
  private chunks: Array<Uint8Array> = []
  /** Bytes consumed of `chunks[0]`. */
  private offset = 0
  private buffered = 0
  /** The length of the frame being read, once its header is in. */
  private expected: number | null = null

  constructor(private readonly maxFrameBytes: number, private readonly peer?: string) {}

  /** Adds bytes; returns the frames they complete, or why the stream is refused. */
  push(chunk: Uint8Array): Either.Either<Array<Uint8Array>, ReplicationError> {
    // A copy: whoever handed the chunk over may reuse its buffer.
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk.slice())
      this.buffered += chunk.byteLength
    }
    const frames: Array<Uint8Array> = []
    for (;;) {
      if (this.expected === null) {
        if (this.buffered < FRAME_HEADER_BYTES) break
        const header = this.take(FRAME_HEADER_BYTES)
        const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false)
        if (length > this.maxFrameBytes) {
          this.chunks = []
          this.buffered = 0
          return Either.left(new ReplicationError({
            reason: "FrameTooLarge",
            ...(this.peer === undefined ? {} : { peer: this.peer }),
            detail: `a length prefix of ${length} bytes (the limit is ${this.maxFrameBytes})`
          }))
        }
        this.expected = length
      }
      if (this.buffered < this.expected) break
      frames.push(this.take(this.expected))
      this.expected = null
    }
    return Either.right(frames)
  }

  /** Whether the stream stopped inside a frame (a truncated frame). */
  get partial(): boolean {
    return this.expected !== null || this.buffered > 0
  }

  private take(count: number): Uint8Array {
    const out = new Uint8Array(count)
    let filled = 0
    while (filled < count) {
      const head = this.chunks[0]!
      const n = Math.min(count - filled, head.byteLength - this.offset)
      out.set(head.subarray(this.offset, this.offset + n), filled)
      filled += n
      this.offset += n
      if (this.offset === head.byteLength) {
        this.chunks.shift()
        this.offset = 0
      }
    }
    this.buffered -= count
    return out
  }
}

const bytesOf = (chunk: ByteChunk): Uint8Array => (chunk instanceof Uint8Array ? chunk : chunk.subarray())

/**
 * The chunks of an async iterable. Unlike `Stream.fromAsyncIterable`, ending the stream early
 * asks the iterator to `return()` without waiting for it: an async generator blocked in a
 * read would otherwise hold the session open until its peer sends something.
 */
const chunksOf = <E>(source: AsyncIterable<ByteChunk>, onError: (cause: unknown) => E): Stream.Stream<ByteChunk, E> =>
  Stream.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => source[Symbol.asyncIterator]()),
        (iterator) => Effect.sync(() => void iterator.return?.().catch(() => undefined))
      ),
      (iterator) =>
        Stream.repeatEffectOption(
          Effect.tryPromise({ try: () => iterator.next(), catch: (cause) => Option.some(onError(cause)) }).pipe(
            Effect.flatMap((result) => (result.done === true ? Effect.fail(Option.none()) : Effect.succeed(result.value)))
          )
        )
    )
  )

/**
 * The frames of a byte stream (an async iterable of chunks, such as a libp2p stream). Fails
 * with `FrameTooLarge` on a length prefix above the limit, `Malformed` when the stream ends
 * inside a frame, and `Channel` when the source itself fails.
 */
export const unframe = (source: AsyncIterable<ByteChunk>, options: UnframeOptions = {}): Stream.Stream<Uint8Array, ReplicationError> =>
  Stream.suspend(() => {
    const peer = options.peer === undefined ? {} : { peer: options.peer }
    const deframer = new Deframer(Math.min(options.maxFrameBytes ?? MAX_FRAME_BYTES, MAX_FRAME_BYTES), options.peer)
    const frames = chunksOf(source, (cause) => new ReplicationError({ reason: "Channel", ...peer, cause })).pipe(
      Stream.mapEffect((chunk) => Effect.suspend(() => deframer.push(bytesOf(chunk)))),
      Stream.flattenIterables
    )
    const end = Stream.suspend(() =>
      deframer.partial
        ? Stream.fail(new ReplicationError({ reason: "Malformed", ...peer, detail: "the stream ended inside a frame" }))
        : Stream.empty)
    return Stream.concat(frames, end)
  })
