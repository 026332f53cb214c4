/**
 * The tables owned by @conduit/library-sync in the library database, migrated under their own
 * table (`conduit_library_sync_migrations`). A shipped migration is never edited: add a new
 * one instead.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export const migrations = {
  "0001_peer_watermarks": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    // How far this device has replicated each peer's change sequence (DESIGN.md's
    // `peer_watermarks`). Every peer change with seq <= watermark is in `entries`, under the
    // peer's replica locations; the row is updated in the transaction that applies a batch,
    // so a restart resumes exactly there.
    // announced: the highest change number the peer told us it has (its head).
    // caught_up: the last `CaughtUp` applied (NULL: never); the replica is complete when it
    //   and the watermark are at or beyond `announced`.
    // locations: JSON array of the location ids the peer announced last as its own.
    yield* sql`CREATE TABLE peer_watermarks (
      device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
      watermark INTEGER NOT NULL DEFAULT 0,
      announced INTEGER NOT NULL DEFAULT 0,
      caught_up INTEGER,
      locations TEXT NOT NULL DEFAULT '[]',
      updated_at INTEGER NOT NULL
    )`
  })
}
