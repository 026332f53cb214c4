/**
 * Waiting for a libp2p stream to drain. `Stream.onDrain` of libp2p 3.3 keeps the promise of
 * its first drain and returns it, already resolved, ever after; a writer that relies on it
 * stops waiting after the first drain and queues everything it writes. This waits on the
 * `drain` event itself.
 */
import type { Stream, StreamCloseEvent } from "@libp2p/interface"

/** Resolves on the stream's next `drain`; rejects if it closes first or `signal` aborts. */
export const drained = (stream: Stream, signal: AbortSignal): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (stream.status !== "open") return reject(new Error(`the stream is ${stream.status}`))
    if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"))
    const cleanup = () => {
      stream.removeEventListener("drain", onDrain)
      stream.removeEventListener("close", onClose)
      signal.removeEventListener("abort", onAbort)
    }
    const onDrain = () => {
      cleanup()
      resolve()
    }
    const onClose = (event: StreamCloseEvent) => {
      cleanup()
      reject(event.error ?? new Error("the stream closed"))
    }
    const onAbort = () => {
      cleanup()
      reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"))
    }
    stream.addEventListener("drain", onDrain)
    stream.addEventListener("close", onClose)
    signal.addEventListener("abort", onAbort)
  })

