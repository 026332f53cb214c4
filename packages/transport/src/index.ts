/**
 * @conduit/transport — this device on the wire: a persistent libp2p identity, the paired
 * devices, a libp2p node (QUIC first, TCP + Noise + Yamux as fallback) that serves only
 * paired peers, and the file transfer protocol between them.
 *
 * @since 0.1.0
 */
export * as BandwidthLimiter from "./BandwidthLimiter.js"
export * as constants from "./constants.js"
export * as DeviceIdentity from "./DeviceIdentity.js"
export * as Node from "./Node.js"
export * as Pairing from "./Pairing.js"
export * as PeerKeeper from "./PeerKeeper.js"
export * as Streams from "./Streams.js"
export * as Transfer from "./Transfer.js"
export * as TransferError from "./TransferError.js"
export * as TransportError from "./TransportError.js"
export * as TransportLive from "./TransportLive.js"
