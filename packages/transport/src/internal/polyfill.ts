/**
 * `Promise.withResolvers` for Node 20, which lacks it and which libp2p 3 calls at run time
 * (streams, multistream-select, yamux, noise). Without it a TCP connection ends in
 * `ECONNRESET` and a QUIC one in `UnexpectedEOFError` during protocol negotiation.
 *
 * A function rather than a side-effect import: the package declares `sideEffects: []`, so a
 * bare import could be dropped by a bundler. `Node.make` calls it before it loads libp2p.
 */
interface Resolvers<T> {
  readonly promise: Promise<T>
  readonly resolve: (value: T | PromiseLike<T>) => void
  readonly reject: (reason?: unknown) => void
}

export const installPromiseWithResolvers = (): void => {
  const ctor = Promise as unknown as { withResolvers?: unknown }
  if (typeof ctor.withResolvers === "function") return
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>["resolve"]
      let reject!: Resolvers<T>["reject"]
      const promise = new this<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
