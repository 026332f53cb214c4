/**
 * Library sync's names and limits in one place, each with the reason for its value. Both
 * sides of the protocol use these; a peer that exceeds one is refused, never accommodated.
 *
 * @since 0.1.0
 */

/**
 * The libp2p protocol id the sync layer will register this protocol under. The last part
 * follows `PROTOCOL_VERSION`: a peer that does not speak it is not offered it at all.
 */
export const PROTOCOL_ID = "/conduit/library-sync/1.0.0"

/**
 * The message protocol version carried in `Hello`. Bumped when a message changes in a way
 * an older peer would misread; both sides refuse a version they do not speak.
 */
export const PROTOCOL_VERSION = 1

/** The migrations table of this package's tables in the library database. */
export const MIGRATIONS_TABLE = "conduit_library_sync_migrations"

/**
 * The largest frame (one encoded message) accepted: 4 MiB. A batch is cut well below it
 * (`BATCH_BYTE_BUDGET`), so only a broken or hostile peer reaches it. The length prefix is
 * checked against it before a single byte of the frame is buffered.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024

/** The length prefix of a frame: a 32-bit big-endian byte count. */
export const FRAME_HEADER_BYTES = 4

/**
 * Rows per backfill batch (and per SQL page) unless the caller says otherwise: large enough
 * that a million rows are 500 round trips of the apply transaction, small enough that a
 * batch of ordinary paths stays far below the frame limit.
 */
export const DEFAULT_BATCH_ROWS = 2000

/**
 * The most entries one `Batch` may carry. A sender never sends more than `DEFAULT_BATCH_ROWS`
 * unless configured to; the receiver refuses more than this whatever the frame size.
 */
export const MAX_BATCH_ENTRIES = 5000

/**
 * The estimated encoded size at which a sender closes a batch early: 1 MiB. Rows with very
 * long paths (4,096 characters, three times over: path, link target, moved-from) would
 * otherwise push a 2,000-row batch past `MAX_FRAME_BYTES`.
 */
export const BATCH_BYTE_BUDGET = 1024 * 1024

/**
 * The most locations one device may announce. People have a handful; a thousand is a
 * misconfiguration or a hostile peer.
 */
export const MAX_LOCATIONS = 1024

/** A device's or a location's display name: long enough for any host or folder name. */
export const MAX_NAME_LENGTH = 255

/** A location's absolute root on its device, or a symlink target: PATH_MAX on Linux. */
export const MAX_ROOT_LENGTH = 4096

/** A relative path inside a location, in characters: PATH_MAX on Linux (RelPath's own bound). */
export const MAX_PATH_LENGTH = 4096

/** The free-text detail of a `Refused` message: enough for one sentence. */
export const MAX_DETAIL_LENGTH = 512

/**
 * How often `serve` looks for new local changes once the peer is caught up, unless told
 * otherwise. One primary-key lookup of `devices.last_seq`: cheap enough to do four times a
 * second, and a change reaches the peer within a quarter of a second plus its transfer.
 * Polling the database (rather than a signal from the indexer) also sees changes written by
 * another process on the same library, such as a CLI scan.
 */
export const DEFAULT_POLL_INTERVAL_MILLIS = 250

/** Rows per `INSERT` statement when a batch is applied (16 columns: far below SQLite's limit). */
export const ROWS_PER_INSERT = 500

/**
 * How long each side waits for the other's `Hello` (and the server for `Want`) before giving
 * up with `Timeout`: a peer that opens a stream and says nothing must not hold a session (and
 * its fibers) forever. After the handshake a live session may stay quiet indefinitely; a dead
 * connection is the transport's to detect.
 */
export const HANDSHAKE_TIMEOUT_MILLIS = 30_000
