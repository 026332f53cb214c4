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

// -- transfer ----------------------------------------------------------------------------------

/**
 * The file transfer protocol's id: a session (hello, offers, needs, blocks, acks, dones) on one
 * stream. The last part follows `TRANSFER_VERSION`.
 */
export const TRANSFER_PROTOCOL = "/conduit/transfer/1.0.0"

/**
 * The sibling protocol of extra block streams: each one attaches to a session opened on
 * `TRANSFER_PROTOCOL` and carries blocks only, so a large file moves over several streams at
 * once (a QUIC stream reads in 4 KiB native calls with one pending write; several streams get
 * much closer to the link).
 */
export const TRANSFER_BLOCKS_PROTOCOL = "/conduit/transfer-blocks/1.0.0"

/** The message version carried in the transfer `Hello`; a peer speaking another one is refused. */
export const TRANSFER_VERSION = 1

/** The length prefix of a transfer frame: a 32-bit big-endian byte count. */
export const TRANSFER_FRAME_HEADER_BYTES = 4

/**
 * The smallest block size a peer may offer: 64 KiB. Smaller blocks make the block list of a
 * large file long and every block frame mostly overhead.
 */
export const MIN_BLOCK_SIZE = 64 * 1024

/**
 * The largest block size: 16 MiB. A receiver holds a few blocks per stream in memory, and a
 * block is hashed on the event loop (about 4 ms at this size).
 */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024

/**
 * The block size a sender uses unless the file is so large that it needs bigger ones to stay
 * within `MAX_BLOCKS`: 1 MiB, large enough for large writes, small enough that a resumed
 * transfer re-sends little.
 */
export const DEFAULT_BLOCK_SIZE = 1024 * 1024

/**
 * The most blocks one file may have: 65,536 (an offer then lists at most ~4.3 MiB of block
 * hashes). With `MAX_BLOCK_SIZE` this bounds a file at 1 TiB.
 */
export const MAX_BLOCKS = 65_536

/** The largest file the protocol moves: `MAX_BLOCKS` blocks of `MAX_BLOCK_SIZE` (1 TiB). */
export const MAX_FILE_SIZE = MAX_BLOCKS * MAX_BLOCK_SIZE

/**
 * The largest transfer frame: one block of `MAX_BLOCK_SIZE` plus 64 KiB for its header. The
 * length prefix is checked against it before any byte of the frame is buffered.
 */
export const MAX_TRANSFER_FRAME_BYTES = MAX_BLOCK_SIZE + 64 * 1024

/** A path inside a location, in characters: the same bound as the index's paths. */
export const MAX_TRANSFER_PATH_LENGTH = 4096

/** A free-text `detail` in a transfer message: enough for one error message. */
export const MAX_TRANSFER_DETAIL_LENGTH = 1024

/**
 * The most extra block streams a session may use. More streams than cores (and than the
 * link needs) only add overhead; a peer asking for more is refused.
 */
export const MAX_PARALLEL_STREAMS = 16

/**
 * Extra block streams a side offers unless told otherwise. A QUIC stream is slow on its own
 * (4 KiB native reads, one pending write); on loopback, 4 raw streams moved ~1.6 times what
 * one did (`tooling/bench/transfer-bench.mjs`, 2 cores). Three keep both cores busy without
 * many blocks in flight.
 */
export const DEFAULT_PARALLEL_STREAMS = 3

/** The most offers a receiver lets one session have awaiting their `Done`. */
export const MAX_OFFERS_IN_FLIGHT = 1024

/**
 * Offers a session keeps in flight unless told otherwise: 64 small files are then in the
 * pipe at once, so a thousand small files take tens of round trips, not a thousand.
 */
export const DEFAULT_OFFERS_IN_FLIGHT = 64

/**
 * The most bytes of offers a sender has in flight (one is always allowed): offers of huge
 * files carry up to ~4.3 MiB of block hashes each, and the receiver holds them until done.
 */
export const OFFER_BYTES_IN_FLIGHT = 16 * 1024 * 1024

/** Bounds of the per-stream block window a receiver may announce. */
export const MIN_WINDOW_BYTES = 1024 * 1024
export const MAX_WINDOW_BYTES = 256 * 1024 * 1024

/**
 * Block bytes a sender may have on one stream before the receiver acknowledges them (at least
 * one block always): 8 MiB, several blocks in the pipe while the receiver hashes and writes.
 * libp2p cannot pause a QUIC stream's reads, so this window is what bounds a receiver's memory.
 */
export const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024

/**
 * How many bytes a transfer writer lets queue in a stream's send buffer before it waits for
 * the stream to drain. Queued bytes leave in one write once the pending one completes, which
 * makes QUIC's writes large.
 */
export const TRANSFER_WRITE_HIGH_WATER_BYTES = 4 * 1024 * 1024

/** How long a peer has to answer the transfer `Hello` (or attach a block stream). */
export const TRANSFER_HANDSHAKE_TIMEOUT_MILLIS = 10_000

/**
 * How long a side waits without a single frame while it expects blocks (receiver) or their
 * acknowledgement (sender) before the session fails with `Timeout`.
 */
export const DEFAULT_TRANSFER_IDLE_TIMEOUT_MILLIS = 60_000

/** A block is sent compressed only if that saves at least this fraction of its size. */
export const MIN_COMPRESSION_SAVING = 0.1

/** zlib's fastest level: compression here pays on slow links and must not slow fast ones. */
export const COMPRESSION_LEVEL = 1

/**
 * Files up to this size (one block of the smallest size) go in bundles when both sides speak
 * them: up to `MAX_BUNDLE_FILES` offered in one message, their bytes in one more, committed
 * with one file-system sync for the bundle instead of two fsyncs per file.
 */
export const MAX_BUNDLE_FILE_SIZE = MIN_BLOCK_SIZE

/** The most files one bundle names. */
export const MAX_BUNDLE_FILES = 256

/** The most file bytes one bundle carries (its data frame stays well under a frame's limit). */
export const MAX_BUNDLE_BYTES = 4 * 1024 * 1024

/** The most bundles a receiver lets one session have awaiting their `BundleDone`. */
export const MAX_BUNDLES_IN_FLIGHT = 16

/**
 * Bundles in flight unless told otherwise: while one bundle's files are written and synced on
 * the receiver, the next ones are read, offered and sent.
 */
export const DEFAULT_BUNDLES_IN_FLIGHT = 4
