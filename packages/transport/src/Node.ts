/**
 * The libp2p node: this device on the wire, as a scoped resource (started when acquired,
 * stopped when its scope closes). QUIC (TLS 1.3) comes first; TCP with Noise and Yamux is the
 * fallback. The node's key is the `DeviceIdentity`.
 *
 * Only paired devices are served. A connection gater asks `Pairing` once the remote's
 * identity is proven (after the QUIC or Noise handshake) and before any protocol is
 * negotiated on the connection, in both directions; an unpaired or revoked peer is refused
 * there, and outbound dials to one are refused before they start. Revoking a peer through
 * `Pairing` hangs up its open connections.
 *
 * Not yet here: reconnecting with backoff, address discovery (addresses come from pairing)
 * and NAT traversal.
 *
 * @since 0.1.0
 */
import type { Connection, ConnectionGater, Libp2p, PeerId, Stream } from "@libp2p/interface"
import { peerIdFromString } from "@libp2p/peer-id"
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr"
import { Context, Duration, Effect, Exit, FiberSet, Layer, Queue, Runtime, type Scope } from "effect"
import { DEFAULT_DIAL_TIMEOUT_MILLIS, DEFAULT_LISTEN } from "./constants.js"
import { DeviceIdentity } from "./DeviceIdentity.js"
import { abortableDial } from "./internal/abortableDial.js"
import { installPromiseWithResolvers } from "./internal/polyfill.js"
import { Pairing } from "./Pairing.js"
import * as Streams from "./Streams.js"
import { TransportError } from "./TransportError.js"

/** A transport the node can use. */
export type TransportKind = "quic" | "tcp"

/** How the node runs. */
export interface NodeOptions {
  /**
   * Multiaddrs to listen on. Default: loopback only (`/ip4/127.0.0.1/udp/0/quic-v1` and
   * `/ip4/127.0.0.1/tcp/0`); an app that should be reachable from other machines passes
   * `/ip4/0.0.0.0/…` (or a specific interface) and fixed ports.
   */
  readonly listen?: ReadonlyArray<string>
  /**
   * The transports to enable, in order of preference. Default `["quic", "tcp"]`. Listen
   * addresses of a transport not enabled are skipped.
   */
  readonly transports?: ReadonlyArray<TransportKind>
  /** How long one dial attempt (one address) may take. Default 10 seconds. */
  readonly dialTimeout?: Duration.DurationInput
}

/** An open connection to a paired peer. */
export interface PeerConnection {
  readonly peerId: string
  /** The peer's address on this connection (with `/p2p/<peer id>`). */
  readonly remoteAddress: string
  readonly transport: TransportKind
}

/**
 * Serves one incoming stream of a protocol. The stream is closed when the handler succeeds
 * and aborted (reset) when it fails or is interrupted.
 */
export type StreamHandler<R = never> = (stream: Stream, peer: PeerConnection) => Effect.Effect<void, unknown, R>

/** This device's libp2p node. */
export class Node extends Context.Tag("@conduit/transport/Node")<Node, {
  /** This device's PeerId. */
  readonly peerId: string
  /** Where the node listens, each address ending in `/p2p/<this peer id>`; QUIC first. */
  readonly addresses: Effect.Effect<ReadonlyArray<string>>
  /**
   * Connects to a paired peer at one address (a multiaddr ending in `/p2p/<peer id>`), or
   * returns the connection already open to it.
   */
  readonly dial: (address: string) => Effect.Effect<PeerConnection, TransportError>
  /**
   * Returns the open connection to a paired peer (QUIC preferred), or dials the addresses it
   * was paired with: QUIC ones first, then TCP, each within the dial timeout.
   */
  readonly connect: (peerId: string) => Effect.Effect<PeerConnection, TransportError>
  /**
   * Opens a stream of `protocol` to a paired peer, connecting first if needed. The stream's
   * writing end is closed when the scope closes (aborted if the scope failed).
   */
  readonly openStream: (peerId: string, protocol: string) => Effect.Effect<Stream, TransportError, Scope.Scope>
  /**
   * Serves `protocol` until the scope closes; each incoming stream runs `handler` in its own
   * fiber, which is interrupted when the scope closes. Streams only ever come from paired peers.
   */
  readonly handle: <R>(protocol: string, handler: StreamHandler<R>) => Effect.Effect<void, TransportError, Scope.Scope | R>
  /** The open connections. */
  readonly connections: Effect.Effect<ReadonlyArray<PeerConnection>>
  /** Closes every connection to a peer. */
  readonly hangUp: (peerId: string) => Effect.Effect<void>
}>() {}

const transportOf = (address: Multiaddr | string): TransportKind =>
  address.toString().includes("/quic-v1") ? "quic" : "tcp"

const describe = (connection: Connection): PeerConnection => ({
  peerId: connection.remotePeer.toString(),
  remoteAddress: connection.remoteAddr.toString(),
  transport: transportOf(connection.remoteAddr)
})

/** Maps a libp2p failure to our reasons; `fallback` is the reason of anything unrecognised. */
const classify = (
  cause: unknown,
  fallback: "Dial" | "Stream",
  context: { readonly peerId?: string; readonly address?: string; readonly protocol?: string }
): TransportError => {
  const name = (cause as { name?: unknown } | undefined)?.name
  const reason = name === "DialDeniedError" || name === "ConnectionInterceptedError"
    ? "NotPaired"
    : name === "UnsupportedProtocolError"
    ? "UnsupportedProtocol"
    : fallback
  return new TransportError({ reason, ...context, cause })
}

/** The listen addresses the enabled transports can use. */
const listenFor = (listen: ReadonlyArray<string>, transports: ReadonlyArray<TransportKind>): Array<string> =>
  listen.filter((address) => transports.includes(transportOf(address)))

/**
 * Starts a node with this device's identity; it stops when the scope closes. Loads libp2p
 * only after installing the Node 20 `Promise.withResolvers` polyfill.
 */
export const make = (
  options: NodeOptions = {}
): Effect.Effect<Node["Type"], TransportError, Scope.Scope | DeviceIdentity | Pairing> =>
  Effect.gen(function* () {
    const identity = yield* DeviceIdentity
    const pairing = yield* Pairing
    const runtime = yield* Effect.runtime<never>()
    const transports = options.transports ?? ["quic", "tcp"]
    const dialTimeout = Duration.decode(options.dialTimeout ?? Duration.millis(DEFAULT_DIAL_TIMEOUT_MILLIS))

    // Fails closed: a database error refuses the peer.
    const allowed = (peer: PeerId): Promise<boolean> =>
      Runtime.runPromise(runtime)(pairing.isPaired(peer.toString())).catch(() => false)
    const refused = async (peer: PeerId) => !(await allowed(peer))
    const connectionGater: ConnectionGater = {
      denyDialPeer: refused,
      denyInboundEncryptedConnection: refused,
      denyOutboundEncryptedConnection: refused
    }

    const libp2p = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async (): Promise<Libp2p> => {
          installPromiseWithResolvers()
          const [{ createLibp2p }, { quic }, { tcp }, { noise }, { yamux }] = await Promise.all([
            import("libp2p"),
            import("@chainsafe/libp2p-quic"),
            import("@libp2p/tcp"),
            import("@chainsafe/libp2p-noise"),
            import("@libp2p/yamux")
          ])
          return await createLibp2p({
            privateKey: identity.privateKey,
            addresses: { listen: listenFor(options.listen ?? DEFAULT_LISTEN, transports) },
            // QUIC's dial is wrapped to honour the per-address timeout (see abortableDial).
            transports: transports.map((kind) => (kind === "quic" ? abortableDial(quic()) : tcp())),
            connectionEncrypters: [noise()],
            streamMuxers: [yamux()],
            connectionGater,
            connectionManager: {
              // QUIC before TCP, otherwise the caller's order (libp2p's own sorter puts TCP first).
              addressSorter: (a, b) => (transportOf(a.multiaddr) === transportOf(b.multiaddr) ? 0 : transportOf(a.multiaddr) === "quic" ? -1 : 1),
              addressDialTimeout: Duration.toMillis(dialTimeout)
            }
          })
        },
        catch: (cause) => new TransportError({ reason: "Start", cause })
      }),
      (node) => Effect.ignore(Effect.tryPromise(async () => node.stop()))
    )

    const hangUp = (peerId: string) =>
      Effect.ignore(Effect.tryPromise(() => libp2p.hangUp(peerIdFromString(peerId)))).pipe(
        Effect.withSpan("Node.hangUp", { attributes: { peerId } })
      )

    // Revocations through Pairing close the peer's open connections.
    const revocations = yield* pairing.revocations
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(revocations), hangUp)))

    const addresses = Effect.sync(() => {
      const all = libp2p.getMultiaddrs().map((a) => a.toString())
      return [...all.filter((a) => transportOf(a) === "quic"), ...all.filter((a) => transportOf(a) !== "quic")]
    })

    /** Parses an address and returns it with the peer it names. */
    const parseAddress = (address: string) =>
      Effect.try({
        try: () => {
          const parsed = multiaddr(address)
          const named = parsed.getComponents().findLast((c) => c.name === "p2p")?.value
          if (named === undefined) throw new Error("the address does not end in /p2p/<peer id>")
          return { parsed, peerId: peerIdFromString(named) }
        },
        catch: (cause) => new TransportError({ reason: "InvalidAddress", address, cause })
      })

    // A database error reads as not paired: refusing is the safe side.
    const requirePaired = (peerId: string) =>
      Effect.flatMap(
        Effect.orElseSucceed(pairing.isPaired(peerId), () => false),
        (paired) => (paired ? Effect.void : Effect.fail(new TransportError({ reason: "NotPaired", peerId })))
      )

    /** Dials the addresses in order (one libp2p dial) until one connects; each has the dial timeout. */
    const dialTargets = (targets: ReadonlyArray<Multiaddr>, peerId: string) => {
      const address = targets.length === 1 ? targets[0]!.toString() : undefined
      const context = address === undefined ? { peerId } : { peerId, address }
      return Effect.tryPromise({
        try: (signal) => libp2p.dial([...targets], { signal }),
        catch: (cause) => classify(cause, "Dial", context)
      }).pipe(
        Effect.timeoutFail({
          // libp2p's per-address timeout comes first; this bounds the whole dial.
          duration: Duration.sum(Duration.times(dialTimeout, targets.length), Duration.seconds(1)),
          onTimeout: () => new TransportError({ reason: "Dial", ...context, cause: new Error("no address answered in time") })
        })
      )
    }

    const dialConnection = (address: string) =>
      Effect.gen(function* () {
        const { parsed, peerId } = yield* parseAddress(address)
        yield* requirePaired(peerId.toString())
        return yield* dialTargets([parsed], peerId.toString())
      })

    const dial = (address: string) =>
      Effect.map(dialConnection(address), describe).pipe(Effect.withSpan("Node.dial", { attributes: { address } }))

    const openConnection = (peerId: PeerId): Connection | undefined => {
      const open = libp2p.getConnections(peerId).filter((c) => c.status === "open")
      return open.find((c) => transportOf(c.remoteAddr) === "quic") ?? open[0]
    }

    const connection = (peerIdText: string): Effect.Effect<Connection, TransportError> =>
      Effect.gen(function* () {
        const peerId = yield* Effect.try({
          try: () => peerIdFromString(peerIdText),
          catch: (cause) => new TransportError({ reason: "InvalidAddress", address: peerIdText, cause })
        })
        const id = peerId.toString()
        yield* requirePaired(id)
        const existing = openConnection(peerId)
        if (existing !== undefined) return existing
        const peer = yield* Effect.orElseFail(pairing.get(id), () => new TransportError({ reason: "NotPaired", peerId: id }))
        // Pairing keeps QUIC addresses first and the node's address sorter keeps that order:
        // libp2p tries them one after the other, each within the dial timeout. (One dial of
        // all addresses, not one per address: libp2p joins a new dial to a pending one for
        // the same peer, so a timed-out first attempt would take the next one down with it.)
        const candidates = peer.addresses
          .filter((a) => transports.includes(transportOf(a)))
          .map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${id}`))
        if (candidates.length === 0) {
          return yield* new TransportError({ reason: "Dial", peerId: id, cause: new Error("no known address for an enabled transport") })
        }
        return yield* dialTargets(candidates.map((a) => multiaddr(a)), id)
      })

    const connect = (peerId: string) =>
      Effect.map(connection(peerId), describe).pipe(Effect.withSpan("Node.connect", { attributes: { peerId } }))

    const openStream = (peerId: string, protocol: string) =>
      Effect.gen(function* () {
        const conn = yield* connection(peerId)
        return yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: (signal) => conn.newStream(protocol, { signal }),
            catch: (cause) => classify(cause, "Stream", { peerId, protocol })
          }),
          (stream, exit) =>
            Exit.isSuccess(exit)
              ? Effect.ignore(Streams.closeWrite(stream))
              : Effect.sync(() => stream.abort(new Error("the stream's scope failed or was interrupted")))
        )
      }).pipe(Effect.withSpan("Node.openStream", { attributes: { peerId, protocol } }))

    const handle = <R>(protocol: string, handler: StreamHandler<R>) =>
      Effect.gen(function* () {
        const run = yield* FiberSet.makeRuntime<R>()
        const serve = (stream: Stream, conn: Connection) =>
          Effect.gen(function* () {
            const peer = describe(conn)
            // The gater already refused unpaired peers; this also catches a revocation that
            // raced with the stream's arrival.
            const paired = yield* Effect.orElseSucceed(pairing.isPaired(peer.peerId), () => false)
            if (!paired) return yield* Effect.sync(() => stream.abort(new Error("not paired")))
            yield* handler(stream, peer).pipe(
              Effect.onExit((exit) =>
                Exit.isSuccess(exit)
                  ? Effect.ignore(Streams.closeWrite(stream))
                  : Effect.sync(() => stream.abort(new Error(`the ${protocol} handler failed`)))
              ),
              Effect.catchAllCause((cause) => Effect.logWarning(`the ${protocol} handler failed`, cause))
            )
          }).pipe(Effect.withSpan("Node.serve", { attributes: { protocol } }))
        yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => libp2p.handle(protocol, (stream, conn) => void run(serve(stream, conn))),
            catch: (cause) => new TransportError({ reason: "Handle", protocol, cause })
          }),
          () => Effect.ignore(Effect.tryPromise(() => libp2p.unhandle(protocol)))
        )
      })

    const connections = Effect.sync(() => libp2p.getConnections().filter((c) => c.status === "open").map(describe))

    return Node.of({ peerId: identity.peerId, addresses, dial, connect, openStream, handle, connections, hangUp })
  })

/** Provides a started `Node`; it stops when the layer is released. */
export const layer = (options: NodeOptions = {}): Layer.Layer<Node, TransportError, DeviceIdentity | Pairing> =>
  Layer.scoped(Node, make(options))
