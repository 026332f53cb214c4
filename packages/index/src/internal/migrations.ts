/**
 * The library database schema owned by @conduit/index. A shipped migration is never edited:
 * add a new one instead.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const migrations = {
  "0001_library": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // This device and, later, paired peers. `last_seq` is the device's change counter: every
    // index change on that device takes the next number, so peers can ask for "changes since N".
    yield* sql`CREATE TABLE devices (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      peer_id TEXT UNIQUE,
      is_self INTEGER NOT NULL DEFAULT 0,
      last_seq INTEGER NOT NULL DEFAULT 0,
      paired_at INTEGER,
      last_seen INTEGER,
      created_at INTEGER NOT NULL
    )`
    // An indexed root on some device. root_dev is the st_dev of the root when it was added:
    // if it changes, the volume was probably unmounted and the root must not be read as empty.
    yield* sql`CREATE TABLE locations (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      root TEXT NOT NULL,
      root_dev TEXT,
      indexing_mode TEXT NOT NULL,
      ignore_patterns TEXT NOT NULL DEFAULT '[]',
      created_at INTEGER NOT NULL,
      last_scan_at INTEGER,
      UNIQUE (device_id, root)
    )`
    // One row per indexed path. path is POSIX and NFC; disk_path is set only when the on-disk
    // spelling differs. mtime is split in seconds and nanoseconds because a nanosecond count
    // does not fit in a JavaScript number. hash is the full BLAKE3-256 of the bytes (of the
    // target text for a symlink), NULL for directories and for files not hashed yet
    // (hash_state says why).
    yield* sql`CREATE TABLE entries (
      id INTEGER PRIMARY KEY,
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      parent TEXT NOT NULL,
      disk_path TEXT,
      kind INTEGER NOT NULL,
      size INTEGER NOT NULL,
      mtime_s INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL,
      inode INTEGER,
      mode INTEGER,
      hash TEXT,
      hash_state TEXT NOT NULL,
      link_target TEXT,
      seq INTEGER NOT NULL,
      tombstone INTEGER NOT NULL DEFAULT 0,
      moved_from TEXT,
      UNIQUE (location_id, path)
    )`
    yield* sql`CREATE INDEX entries_by_parent ON entries (location_id, parent)`
    yield* sql`CREATE INDEX entries_by_hash ON entries (hash) WHERE hash IS NOT NULL`
    yield* sql`CREATE INDEX entries_by_seq ON entries (location_id, seq)`
    yield* sql`CREATE INDEX entries_by_inode ON entries (location_id, inode)`
  }),
  "0002_directory_digests": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // A digest of what a directory held (names, kinds, sizes, times, inodes, modes) when the
    // index last matched it exactly: a rescan that reads the same digest from the disk skips
    // reading and comparing that directory's rows.
    yield* sql`CREATE TABLE directory_digests (
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      digest TEXT NOT NULL,
      PRIMARY KEY (location_id, path)
    ) WITHOUT ROWID`
  }),
  "0003_entries_remote": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // remote = 1: the bytes of this file are not on its device's disk (selective mode evicted
    // them to a secondary after a verified copy existed there). The row keeps kind, size,
    // mtime and hash, so the file stays visible; a scan does not tombstone it for being
    // absent. Only live files (kind 0, tombstone 0) are ever remote. Existing rows are local.
    yield* sql`ALTER TABLE entries ADD COLUMN remote INTEGER NOT NULL DEFAULT 0`
  })
}
