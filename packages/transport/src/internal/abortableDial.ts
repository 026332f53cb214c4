/**
 * Makes a transport's `dial` honour its abort signal.
 *
 * `@chainsafe/libp2p-quic` 2.1.1 awaits its native dial without looking at the signal: a QUIC
 * address that never answers holds the dial until quinn's idle timeout (10 s or more), even
 * after libp2p's per-address timeout fired, so the TCP fallback comes too late. Wrapped, the
 * dial fails as soon as the signal aborts and libp2p moves on to the next address; should the
 * abandoned native dial still connect later, that connection is closed.
 */
import type { Connection, DialTransportOptions, Transport } from "@libp2p/interface"

const abandoned = (connection: Connection) => {
  connection.abort(new Error("the dial was abandoned (timed out or aborted)"))
}

export const abortableDial = <Components>(factory: (components: Components) => Transport) =>
(components: Components): Transport => {
  const transport = factory(components)
  const dial = (ma: Parameters<Transport["dial"]>[0], options: DialTransportOptions): Promise<Connection> => {
    const signal = options.signal
    if (signal.aborted) return Promise.reject(abortError(signal))
    const inner = transport.dial(ma, options)
    return new Promise<Connection>((resolve, reject) => {
      const onAbort = () => {
        reject(abortError(signal))
        inner.then(abandoned, () => undefined)
      }
      signal.addEventListener("abort", onAbort, { once: true })
      inner.then(
        (connection) => {
          signal.removeEventListener("abort", onAbort)
          resolve(connection)
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort)
          reject(error)
        }
      )
    })
  }
  return new Proxy(transport, {
    get(target, property) {
      if (property === "dial") return dial
      const value: unknown = Reflect.get(target, property, target)
      // Methods run on the real transport (it keeps state in private fields).
      return typeof value === "function" ? value.bind(target) : value
    }
  })
}

const abortError = (signal: AbortSignal): Error => {
  const reason: unknown = signal.reason
  if (reason instanceof Error) return reason
  const error = new Error("The operation was aborted")
  error.name = "AbortError"
  return error
}
