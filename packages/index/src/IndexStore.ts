/**
 * Read queries over the index, the ones the resolver, library sync and the CLI need. Large
 * results are streamed page by page (keyset pagination on indexed columns), so memory stays
 * flat however big the location is.
 *
 * @since 0.1.0
 */
import type { Entry, Errors, Ids, RelPath } from "@conduit/domain"
import { SqlClient } from "@effect/sql"
import { Chunk, Context, Effect, Layer, Option, Stream } from "effect"
import { type EntryRow, toEntry } from "./internal/entryRow.js"
import { orLibraryError } from "./internal/sqlError.js"
import { LibraryDatabase } from "./LibraryDatabase.js"
import type { Location } from "./Locations.js"

/** Options of `IndexStore.entriesUnder`. */
export interface EntriesUnderOptions {
  /** The whole subtree (default) or only the direct children. */
  readonly recursive?: boolean
  /** Include deletion tombstones (default false). */
  readonly tombstones?: boolean
  /** Rows per page (default 2,000). */
  readonly pageSize?: number
}

/** Totals of one location's live entries. */
export interface LocationTotals {
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  readonly bytes: number
  readonly tombstones: number
  /** Files without a digest (unreadable, changing, or not hashed yet). */
  readonly unhashed: number
}

/** A change of some device's index, for replication. */
export interface Change {
  readonly location: Ids.LocationId
  readonly entry: Entry.Entry
}

/** Queries over the index. */
export class IndexStore extends Context.Tag("@conduit/index/IndexStore")<IndexStore, {
  /** The entry at a path (tombstones included), if any. */
  readonly get: (location: Location, path: RelPath.RelPath) => Effect.Effect<Option.Option<Entry.Entry>, Errors.LibraryError>
  /** Entries under a directory (not the directory itself), in path order, streamed. */
  readonly entriesUnder: (location: Location, dir: RelPath.RelPath, options?: EntriesUnderOptions) => Stream.Stream<Entry.Entry, Errors.LibraryError>
  /** Live entries of this device whose content has this BLAKE3 digest, in any location. */
  readonly byHash: (hash: Ids.ContentHash) => Effect.Effect<ReadonlyArray<Change>, Errors.LibraryError>
  /**
   * Every change (tombstones included) to the locations of a device with a sequence number
   * above `since`, in sequence order, streamed. What a peer asks for to catch up.
   */
  readonly changesSince: (deviceRowId: number, since: number, pageSize?: number) => Stream.Stream<Change, Errors.LibraryError>
  /** Counts of a location's entries. */
  readonly totals: (location: Location) => Effect.Effect<LocationTotals, Errors.LibraryError>
}>() {}

/** Builds the service. */
export const make: Effect.Effect<IndexStore["Type"], never, SqlClient.SqlClient | LibraryDatabase> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase
  const lib = orLibraryError(db.file)

  const get = (location: Location, path: RelPath.RelPath) =>
    lib(sql<EntryRow>`SELECT * FROM entries WHERE location_id = ${location.rowId} AND path = ${path}`).pipe(
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => toEntry(row, location.id))),
      Effect.withSpan("IndexStore.get")
    )

  const entriesUnder = (location: Location, dir: RelPath.RelPath, options: EntriesUnderOptions = {}) => {
    const pageSize = options.pageSize ?? 2000
    const recursive = options.recursive ?? true
    const tombstones = options.tombstones ? sql`` : sql`AND tombstone = 0`
    // Paths under "d" are exactly those in ["d/", "d0"): '0' is the byte after '/'.
    const scope = !recursive
      ? sql`parent = ${dir}`
      : dir === ""
      ? sql`1 = 1`
      : sql`path >= ${dir + "/"} AND path < ${dir + "0"}`
    const page = (after: string | null) =>
      lib(sql<EntryRow>`SELECT * FROM entries
        WHERE location_id = ${location.rowId} AND ${scope} ${tombstones}
        ${after === null ? sql`` : sql`AND path > ${after}`}
        ORDER BY path LIMIT ${pageSize}`)
    return Stream.paginateChunkEffect(null as string | null, (after) =>
      page(after).pipe(Effect.map((rows) => [
        Chunk.fromIterable(rows.map((row) => toEntry(row, location.id))),
        rows.length < pageSize ? Option.none() : Option.some(rows[rows.length - 1]!.path)
      ] as const))
    )
  }

  const byHash = (hash: Ids.ContentHash) =>
    lib(sql<EntryRow & { location_uuid: string }>`SELECT e.*, l.uuid AS location_uuid FROM entries e
      JOIN locations l ON l.id = +e.location_id
      WHERE e.hash = ${hash} AND e.tombstone = 0 AND e.kind = 0 AND l.device_id = ${db.self.rowId}`).pipe(
      Effect.map((rows) => rows.map((row) => ({ location: row.location_uuid as Ids.LocationId, entry: toEntry(row, row.location_uuid as Ids.LocationId) }))),
      Effect.withSpan("IndexStore.byHash")
    )

  const changesSince = (deviceRowId: number, since: number, pageSize = 2000) =>
    Stream.paginateChunkEffect(since, (after) =>
      lib(sql<EntryRow & { location_uuid: string }>`SELECT e.*, l.uuid AS location_uuid FROM entries e
        JOIN locations l ON l.id = e.location_id
        WHERE l.device_id = ${deviceRowId} AND e.seq > ${after}
        ORDER BY e.seq LIMIT ${pageSize}`).pipe(
        Effect.map((rows) => [
          Chunk.fromIterable(rows.map((row) => ({ location: row.location_uuid as Ids.LocationId, entry: toEntry(row, row.location_uuid as Ids.LocationId) }))),
          rows.length < pageSize ? Option.none() : Option.some(rows[rows.length - 1]!.seq)
        ] as const)
      ))

  const totals = (location: Location) =>
    lib(sql<{ files: number; directories: number; symlinks: number; bytes: number | null; tombstones: number; unhashed: number }>`SELECT
        count(*) FILTER (WHERE tombstone = 0 AND kind = 0) AS files,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 1) AS directories,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 2) AS symlinks,
        sum(size) FILTER (WHERE tombstone = 0 AND kind = 0) AS bytes,
        count(*) FILTER (WHERE tombstone = 1) AS tombstones,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 0 AND hash IS NULL) AS unhashed
      FROM entries WHERE location_id = ${location.rowId}`).pipe(
      Effect.map((rows) => ({ ...rows[0]!, bytes: rows[0]!.bytes ?? 0 })),
      Effect.withSpan("IndexStore.totals")
    )

  return IndexStore.of({ get, entriesUnder, byHash, changesSince, totals })
})

/** The service, on `LibraryDatabase`. */
export const layer = Layer.effect(IndexStore, make)
