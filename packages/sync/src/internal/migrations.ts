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
  })
}
