/**
 * The tables owned by @conduit/sync. A shipped migration is never edited: add a new one.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const migrations = {
  "0001_baselines": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Per pair of endpoints and relative path: the state both sides agreed on when the last
    // sync between them completed and verified. Two-way modes compare against it.
    yield* sql`CREATE TABLE sync_baselines (
      pair TEXT NOT NULL,
      path TEXT NOT NULL,
      kind INTEGER NOT NULL,
      size INTEGER NOT NULL,
      mtime_s INTEGER NOT NULL,
      mtime_ns INTEGER NOT NULL,
      mode INTEGER,
      hash TEXT,
      link_target TEXT,
      PRIMARY KEY (pair, path)
    ) WITHOUT ROWID`
  }),
  "0002_conduits": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // The seed's SyncConduit. An endpoint is a directory of a location (location + relative
    // dir) rather than an entry id: a location root has no entry row, and a path survives the
    // entry being re-created.
    yield* sql`CREATE TABLE sync_conduits (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      source_location_id INTEGER NOT NULL,
      source_dir TEXT NOT NULL,
      target_location_id INTEGER NOT NULL,
      target_dir TEXT NOT NULL,
      mode TEXT NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      schedule TEXT NOT NULL DEFAULT 'manual',
      use_index_rules INTEGER NOT NULL DEFAULT 1,
      index_mode_override TEXT,
      parallel_transfers INTEGER NOT NULL DEFAULT 4,
      bandwidth_limit_mbps INTEGER,
      conflict_strategy TEXT NOT NULL DEFAULT 'last-write-wins',
      max_delete_ratio REAL NOT NULL DEFAULT 0.5,
      last_sync_completed_at INTEGER,
      sync_generation INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      UNIQUE (source_location_id, source_dir, target_location_id, target_dir)
    )`
    // The seed's SyncGeneration, plus what the verification found.
    yield* sql`CREATE TABLE sync_generations (
      id INTEGER PRIMARY KEY,
      conduit_id INTEGER NOT NULL REFERENCES sync_conduits(id) ON DELETE CASCADE,
      generation INTEGER NOT NULL,
      started_at INTEGER NOT NULL,
      completed_at INTEGER,
      status TEXT NOT NULL,
      files_copied INTEGER NOT NULL DEFAULT 0,
      files_deleted INTEGER NOT NULL DEFAULT 0,
      files_moved INTEGER NOT NULL DEFAULT 0,
      conflicts_resolved INTEGER NOT NULL DEFAULT 0,
      bytes_transferred INTEGER NOT NULL DEFAULT 0,
      errors TEXT NOT NULL DEFAULT '[]',
      verification TEXT NOT NULL DEFAULT 'pending',
      remaining INTEGER NOT NULL DEFAULT 0,
      UNIQUE (conduit_id, generation)
    )`
    // Every conflict a mode decided: what collided, who won, where the loser's bytes went.
    yield* sql`CREATE TABLE sync_conflicts (
      id INTEGER PRIMARY KEY,
      conduit_id INTEGER NOT NULL REFERENCES sync_conduits(id) ON DELETE CASCADE,
      generation INTEGER NOT NULL,
      path TEXT NOT NULL,
      reason TEXT NOT NULL,
      winner TEXT NOT NULL,
      resolution TEXT NOT NULL,
      source_hash TEXT,
      target_hash TEXT,
      created_at INTEGER NOT NULL
    )`
    yield* sql`CREATE INDEX sync_conflicts_by_conduit ON sync_conflicts (conduit_id, generation)`
  }),
  "0003_generation_owner": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Which process runs a generation (a dead one's `running` row is `interrupted`), and the
    // token in its temporary file names (a dead run's leftovers are removed by it).
    yield* sql`ALTER TABLE sync_generations ADD COLUMN pid INTEGER`
    yield* sql`ALTER TABLE sync_generations ADD COLUMN token TEXT`
  }),
  "0004_marks": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // The change sequence numbers of both endpoints' locations when the last run verified both
    // sides equal: the next run compares only the paths changed after them.
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN source_mark INTEGER`
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN target_mark INTEGER`
  }),
  "0005_version_retention": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Days the versions a run keeps are kept before a later completed run prunes them (0: forever).
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN version_retention_days INTEGER NOT NULL DEFAULT 30`
  }),
  "0006_selective": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // A selective conduit's local budget (any of the three; none: no eviction) and its policy.
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN cache_max_bytes INTEGER`
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN cache_min_free_bytes INTEGER`
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN cache_min_free_percent REAL`
    yield* sql`ALTER TABLE sync_conduits ADD COLUMN cache_policy TEXT NOT NULL DEFAULT 'decayed-frequency'`
    // Opens of a file of this device (conduit open / get / the API, and atimes seen), as the
    // selective policy scores them: a count, the last one and a decayed-frequency heat.
    yield* sql`CREATE TABLE selective_access (
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      access_count INTEGER NOT NULL,
      last_access_ms INTEGER,
      heat REAL NOT NULL,
      heat_at_ms INTEGER NOT NULL,
      PRIMARY KEY (location_id, path)
    ) WITHOUT ROWID`
    // Pinned paths: a file, or a directory whose whole subtree stays local ('' is the root).
    yield* sql`CREATE TABLE selective_pins (
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      pinned_at INTEGER NOT NULL,
      PRIMARY KEY (location_id, path)
    ) WITHOUT ROWID`
    // Fetches asked for while the secondary could not serve them: the next run does them.
    yield* sql`CREATE TABLE selective_fetches (
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      requested_at INTEGER NOT NULL,
      last_error TEXT,
      PRIMARY KEY (location_id, path)
    ) WITHOUT ROWID`
  }),
  "0007_selective_atimes": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // Each local file's atime as the last cache step saw it, after the run's own reads (a copy
    // or a hash reads the file, and relatime moves the atime then): only a later atime is a use.
    yield* sql`CREATE TABLE selective_atimes (
      location_id INTEGER NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      atime_ms INTEGER NOT NULL,
      PRIMARY KEY (location_id, path)
    ) WITHOUT ROWID`
  })
}
