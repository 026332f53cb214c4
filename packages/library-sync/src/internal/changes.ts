/**
 * The serving side's reads: this device's own locations, and its changed rows in sequence
 * order, cut into batches.
 *
 * Rows are paged per location on the `(location_id, seq)` index and merged by seq, so each
 * page is an index range scan of `batchRows` rows. (One query over all of the device's
 * locations ordered by seq would sort every row above the cursor again for every page.) At
 * most one page per location is in memory.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import { Effect, Schema } from "effect"
import { BATCH_BYTE_BUDGET } from "../constants.js"
import * as Protocol from "../Protocol.js"

/** One of this device's locations: its row id and what the peer is told. */
export interface OwnLocation {
  readonly rowId: number
  readonly wire: Protocol.WireLocation
}

interface LocationRow {
  readonly id: number
  readonly uuid: string
  readonly name: string
  readonly root: string
  readonly indexing_mode: string
}

interface ChangeRow {
  readonly path: string
  readonly kind: number
  readonly size: number
  readonly mtime_s: number
  readonly mtime_ns: number
  readonly mode: number | null
  readonly hash: string | null
  readonly hash_state: string
  readonly link_target: string | null
  readonly seq: number
  readonly tombstone: number
  readonly moved_from: string | null
  readonly remote: number
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** A display name as the wire accepts it: control characters replaced, at most 255 characters. */
export const wireName = (name: string, fallback: string): string => {
  const cleaned = Array.from(name.replace(CONTROL, "\uFFFD")).slice(0, 255).join("")
  return cleaned.length === 0 ? fallback : cleaned
}

/** This device's locations, oldest first. */
export const ownLocations = (sql: SqlClient.SqlClient, deviceRowId: number): Effect.Effect<Array<OwnLocation>, SqlError.SqlError> =>
  Effect.map(
    sql<LocationRow>`SELECT id, uuid, name, root, indexing_mode FROM locations WHERE device_id = ${deviceRowId} ORDER BY id`,
    (rows) =>
      rows.map((row) => ({
        rowId: row.id,
        wire: {
          id: row.uuid as Protocol.LocationUuid,
          name: wireName(row.name, "location"),
          root: row.root,
          indexingMode: row.indexing_mode as Protocol.WireLocation["indexingMode"]
        }
      }))
  )

const isWireEntry = Schema.is(Protocol.WireEntry)

/**
 * A row as sent. A modification time before 1970 is sent as the epoch (the wire carries
 * non-negative times). Returns null for a row the wire would refuse, which is then skipped
 * (and logged) rather than stopping replication for everyone.
 */
const toWire = (row: ChangeRow, location: Protocol.LocationUuid): Protocol.WireEntry | null => {
  const beforeEpoch = row.mtime_s < 0 || row.mtime_ns < 0
  const entry = {
    location,
    path: row.path,
    kind: row.kind,
    size: row.size,
    mtimeS: beforeEpoch ? 0 : row.mtime_s,
    mtimeNs: beforeEpoch ? 0 : row.mtime_ns,
    mode: row.mode,
    hash: row.hash,
    hashState: row.hash_state,
    linkTarget: row.link_target,
    seq: row.seq,
    tombstone: row.tombstone !== 0,
    movedFrom: row.moved_from,
    remote: row.remote !== 0
  }
  return isWireEntry(entry) ? entry : null
}

/** A rough upper bound of an entry's encoded size, to close a batch before it gets large. */
const estimate = (row: ChangeRow): number =>
  256 + 3 * (row.path.length + (row.link_target?.length ?? 0) + (row.moved_from?.length ?? 0))

/**
 * What `batches` yields: a batch (null when every row read was skipped), the rows skipped as
 * unsendable while building it, and whether the range is exhausted.
 */
export interface NextBatch {
  readonly batch: Protocol.Batch | null
  readonly done: boolean
  readonly skipped: ReadonlyArray<{ readonly location: string; readonly path: string; readonly seq: number }>
}

interface Cursor {
  readonly location: OwnLocation
  after: number
  rows: ReadonlyArray<ChangeRow>
  index: number
  exhausted: boolean
}

/**
 * The changes of `locations` with a seq in `(after, head]`, in seq order, as batches of at
 * most `batchRows` rows (fewer when the rows are large). Call `next` until it says `done`.
 * The last batch's `upTo` is `head`; the others' is their last row's seq.
 */
export const batches = (
  sql: SqlClient.SqlClient,
  locations: ReadonlyArray<OwnLocation>,
  after: number,
  head: number,
  batchRows: number
): { readonly next: Effect.Effect<NextBatch, SqlError.SqlError> } => {
  const cursors: Array<Cursor> = locations.map((location) => ({ location, after, rows: [], index: 0, exhausted: after >= head }))
  let done = after >= head

  const refill = (cursor: Cursor) =>
    Effect.map(
      sql<ChangeRow>`SELECT path, kind, size, mtime_s, mtime_ns, mode, hash, hash_state, link_target, seq, tombstone, moved_from, remote
        FROM entries WHERE location_id = ${cursor.location.rowId} AND seq > ${cursor.after} AND seq <= ${head}
        ORDER BY seq LIMIT ${batchRows}`,
      (rows) => {
        cursor.rows = rows
        cursor.index = 0
        cursor.exhausted = rows.length < batchRows
        if (rows.length > 0) cursor.after = rows[rows.length - 1]!.seq
      }
    )

  const next = Effect.gen(function* () {
    if (done) return { batch: null, done, skipped: [] }
    const entries: Array<Protocol.WireEntry> = []
    const skipped: Array<{ location: string; path: string; seq: number }> = []
    let bytes = 0
    let last = after
    while (entries.length < batchRows && bytes < BATCH_BYTE_BUDGET) {
      let best: Cursor | undefined
      for (const cursor of cursors) {
        if (cursor.index === cursor.rows.length && !cursor.exhausted) yield* refill(cursor)
        if (cursor.index < cursor.rows.length && (best === undefined || cursor.rows[cursor.index]!.seq < best.rows[best.index]!.seq)) {
          best = cursor
        }
      }
      if (best === undefined) {
        done = true
        break
      }
      const row = best.rows[best.index++]!
      last = row.seq
      const entry = toWire(row, best.location.wire.id)
      if (entry === null) {
        skipped.push({ location: best.location.wire.id, path: row.path, seq: row.seq })
        continue
      }
      entries.push(entry)
      bytes += estimate(row)
    }
    if (!done && cursors.every((c) => c.exhausted && c.index === c.rows.length)) done = true
    after = last
    if (entries.length === 0) return { batch: null, done, skipped }
    const batch: Protocol.Batch = { _tag: "Batch", entries, upTo: done ? head : last }
    return { batch, done, skipped }
  })

  return { next }
}
