/**
 * The transport's names and limits in one place, each with the reason for its value.
 *
 * @since 0.1.0
 */

/**
 * The device identity's file name, in the Conduit home directory next to `library.db`. It
 * holds the libp2p private key (protobuf-encoded, as `@libp2p/crypto` writes it).
 */
export const IDENTITY_FILE = "identity.key"

/**
 * The identity file's permissions: read and write for the owner only. Anyone who can read
 * the key can impersonate this device to every paired peer, so a wider mode is refused.
 */
export const IDENTITY_FILE_MODE = 0o600

/**
 * The largest identity file read. An Ed25519 key is 68 bytes protobuf-encoded; the bound
 * keeps a wrong file (a database, a log) from being read whole.
 */
export const MAX_IDENTITY_FILE_BYTES = 4096

/** The migrations table of this package's tables in the library database. */
export const MIGRATIONS_TABLE = "conduit_transport_migrations"

/** A peer's display name: long enough for any host name, short enough to print in a table. */
export const MAX_PEER_NAME_LENGTH = 128

/**
 * Addresses stored for one peer. A device has a handful (QUIC and TCP, IPv4 and IPv6, a few
 * interfaces); more is a misconfiguration or a hostile pairing request.
 */
export const MAX_PEER_ADDRESSES = 32

/** One multiaddr's text. Real ones are under 200 characters (a /p2p/ suffix is ~60). */
export const MAX_ADDRESS_LENGTH = 512

/** Where a node listens unless told otherwise: loopback only, QUIC first, TCP as fallback. */
export const DEFAULT_LISTEN: ReadonlyArray<string> = ["/ip4/127.0.0.1/udp/0/quic-v1", "/ip4/127.0.0.1/tcp/0"]

/**
 * How long one dial attempt (one address) may take before the next address is tried: a
 * loopback or LAN handshake takes milliseconds, an address silent for 10 s is not usable.
 */
export const DEFAULT_DIAL_TIMEOUT_MILLIS = 10_000

/**
 * How long closing a stream may wait for its queued bytes to leave before the stream is
 * aborted instead; a peer that stopped reading must not hold a scope open forever.
 */
export const STREAM_CLOSE_TIMEOUT_MILLIS = 5_000

/**
 * The largest message `Streams.readAll` accepts unless the caller says otherwise. Protocols
 * that move file bytes frame them in blocks and never read a whole stream into memory.
 */
export const DEFAULT_MAX_READ_BYTES = 1024 * 1024
