/**
 * Length-prefixed frames on a libp2p stream, as Effects: a reader that cuts the incoming bytes
 * into frames (the 4-byte prefix checked against the limit before anything is buffered for
 * the frame, at most `maxBufferedBytes` held for a reader that is behind), and a writer that
 * sends whole frames and waits for the stream to drain only past a high-water mark.
 *
 * libp2p cannot pause a QUIC stream's reads, so a reader never relies on it: the protocol's
 * windows keep an honest peer within `maxBufferedBytes`, and a peer that sends beyond it is
 * refused.
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface"
import { Effect } from "effect"
import { TRANSFER_FRAME_HEADER_BYTES, TRANSFER_WRITE_HIGH_WATER_BYTES } from "../constants.js"
import { TransferError } from "../TransferError.js"
import { drained } from "./drain.js"

/** Cuts bytes into frames, copying each byte once into its frame's buffer. */
export class FrameDecoder {
  private readonly header = new Uint8Array(TRANSFER_FRAME_HEADER_BYTES)
  private headerFilled = 0
  private current: Uint8Array | null = null
  private filled = 0

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Adds bytes; calls `onFrame` for each frame they complete. Returns the length of a frame
   * above the limit (nothing of it was buffered), or `null`.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): number | null {
    let at = 0
    while (at < chunk.byteLength) {
      if (this.current === null) {
        const n = Math.min(TRANSFER_FRAME_HEADER_BYTES - this.headerFilled, chunk.byteLength - at)
        this.header.set(chunk.subarray(at, at + n), this.headerFilled)
        this.headerFilled += n
        at += n
        if (this.headerFilled < TRANSFER_FRAME_HEADER_BYTES) break
        const length = new DataView(this.header.buffer).getUint32(0, false)
        if (length > this.maxFrameBytes) return length
        this.headerFilled = 0
        this.current = new Uint8Array(length)
        this.filled = 0
      }
      const n = Math.min(this.current.byteLength - this.filled, chunk.byteLength - at)
      this.current.set(chunk.subarray(at, at + n), this.filled)
      this.filled += n
      at += n
      if (this.filled === this.current.byteLength) {
        const done = this.current
        this.current = null
        onFrame(done)
      }
    }
    return null
  }

  /** Bytes held for the frame being read. */
  get pending(): number {
    return this.current === null ? this.headerFilled : this.filled
  }

  /** Whether the stream stopped inside a frame. */
  get partial(): boolean {
    return this.current !== null || this.headerFilled > 0
  }
}

/** Options of `reader`. */
export interface ReaderOptions {
  readonly maxFrameBytes: number
  /** The most bytes held (complete frames not yet taken, plus the one being read). */
  readonly maxBufferedBytes: number
  /** The peer, to name it in errors. */
  readonly peerId?: string
  /** Called on every frame that arrives (the session's idle watchdog). */
  readonly onActivity?: () => void
}

/** Frames arriving on a stream. */
export interface FrameReader {
  /** The next frame, or `null` once the peer closed its writing end cleanly. */
  readonly next: Effect.Effect<Uint8Array | null, TransferError>
  /** Stops listening (the stream is left as it is). */
  readonly release: () => void
}

const chunksOf = (data: StreamMessageEvent["data"]): Iterable<Uint8Array> => (data instanceof Uint8Array ? [data] : data)

/** Reads the frames of `stream`; call `release` when done (the session's scope does). */
export const reader = (stream: Stream, options: ReaderOptions): FrameReader => {
  const who = options.peerId === undefined ? {} : { peerId: options.peerId }
  const decoder = new FrameDecoder(options.maxFrameBytes)
  const frames: Array<Uint8Array> = []
  let framesBytes = 0
  let ended = false
  let failure: TransferError | null = null
  let waiter: (() => void) | null = null

  const wake = () => {
    const w = waiter
    waiter = null
    w?.()
  }
  const fail = (error: TransferError) => {
    if (failure !== null) return
    failure = error
    release()
    stream.abort(new Error(error.message))
    wake()
  }
  const onFrame = (frame: Uint8Array) => {
    frames.push(frame)
    framesBytes += frame.byteLength
    options.onActivity?.()
  }
  const onMessage = (event: StreamMessageEvent) => {
    if (failure !== null) return
    for (const chunk of chunksOf(event.data)) {
      const tooLarge = decoder.push(chunk, onFrame)
      if (tooLarge !== null) {
        return fail(new TransferError({ reason: "FrameTooLarge", ...who, detail: `a length prefix of ${tooLarge} bytes (the limit is ${options.maxFrameBytes})` }))
      }
    }
    if (framesBytes + decoder.pending > options.maxBufferedBytes) {
      return fail(new TransferError({ reason: "Protocol", ...who, detail: `more than ${options.maxBufferedBytes} bytes sent ahead of the window` }))
    }
    wake()
  }
  const onEnd = () => {
    ended = true
    wake()
  }
  const onClose = (event: StreamCloseEvent) => {
    if (event.error !== undefined && failure === null) {
      failure = new TransferError({ reason: "PeerClosed", ...who, detail: event.error.message, cause: event.error })
    }
    ended = true
    wake()
  }
  const release = () => {
    stream.removeEventListener("message", onMessage)
    stream.removeEventListener("end", onEnd)
    stream.removeEventListener("close", onClose)
  }

  if (stream.status === "aborted" || stream.status === "reset") {
    failure = new TransferError({ reason: "PeerClosed", ...who, detail: `the stream was ${stream.status}` })
  } else {
    if (stream.readableEnded && stream.readBufferLength === 0) ended = true
    stream.addEventListener("message", onMessage)
    stream.addEventListener("end", onEnd)
    stream.addEventListener("close", onClose)
  }

  /** The next result if there is one now (a frame, the failure, or the end). */
  const take = (): Effect.Effect<Uint8Array | null, TransferError> | null => {
    const frame = frames.shift()
    if (frame !== undefined) {
      framesBytes -= frame.byteLength
      return Effect.succeed(frame)
    }
    if (failure !== null) return Effect.fail(failure)
    if (ended) {
      return decoder.partial
        ? Effect.fail(new TransferError({ reason: "PeerClosed", ...who, detail: "the stream ended inside a frame" }))
        : Effect.succeed(null)
    }
    return null
  }

  const next: Effect.Effect<Uint8Array | null, TransferError> = Effect.suspend(() =>
    take() ??
      Effect.async<Uint8Array | null, TransferError>((resume) => {
        const check = () => {
          const result = take()
          if (result === null) waiter = check
          else resume(result)
        }
        waiter = check
        return Effect.sync(() => {
          if (waiter === check) waiter = null
        })
      })
  )

  return { next, release }
}

/**
 * Sends one whole frame (frames never interleave: `send` queues all of it at once), then
 * waits while more than the high-water mark is queued. Waits on the `drain` event itself:
 * `Stream.onDrain` of libp2p 3 resolves at once after the first drain.
 */
export const write = (
  stream: Stream,
  frame: Uint8Array,
  peerId?: string,
  highWater: number = TRANSFER_WRITE_HIGH_WATER_BYTES
): Effect.Effect<void, TransferError> =>
  Effect.tryPromise({
    try: async (signal) => {
      stream.send(frame)
      while (stream.writableNeedsDrain && stream.writeBufferLength > highWater) await drained(stream, signal)
    },
    catch: (cause) =>
      new TransferError({
        reason: "PeerClosed",
        ...(peerId === undefined ? {} : { peerId }),
        detail: cause instanceof Error ? cause.message : "the stream refused a write",
        cause
      })
  })
