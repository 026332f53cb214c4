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
  /** Live files, local and remote: every file the location shows. */
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  /** Size of the local files: the bytes on this device's disk (remote files not included). */
  readonly bytes: number
  /** Files whose bytes are not on this device's disk (`Entry.remote`); included in `files`. */
  readonly remote: number
  /** Size of the remote files (kept elsewhere); not included in `bytes`. */
  readonly remoteBytes: number
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
  /**
   * Live files of this device whose content has this BLAKE3 digest, in any location: where
   * these bytes can be read locally. Remote files (their bytes are elsewhere) are left out.
   */
  readonly byHash: (hash: Ids.ContentHash) => Effect.Effect<ReadonlyArray<Change>, Errors.LibraryError>
  /**
   * Every change (tombstones included) to the locations of a device with a sequence number
   * above `since`, in sequence order, streamed. What a peer asks for to catch up.
   */
  readonly changesSince: (deviceRowId: number, since: number, pageSize?: number) => Stream.Stream<Change, Errors.LibraryError>
  /** Counts of a location's entries. */
  readonly totals: (location: Location) => Effect.Effect<LocationTotals, Errors.LibraryError>
  /**
   * Marks files of one of this device's locations as remote (`Entry.remote`): their bytes are
   * about to leave (or have left) this disk because a verified copy exists elsewhere. Only live,
   * hashed files that are not remote yet change; each takes a new change sequence number (one
   * transaction) so library sync replicates it. Returns how many rows changed.
   *
   * Mark first, then remove the file: a scan in between leaves the row as it is (same size,
   * mtime and inode), and a scan after the removal does not read it as a deletion. A row whose
   * file is still on disk stays remote until `markLocal` (or a different file at its path).
   * Calling it with a peer's replica location is a defect.
   */
  readonly markRemote: (location: Location, paths: ReadonlyArray<RelPath.RelPath>) => Effect.Effect<number, Errors.LibraryError>
  /**
   * The reverse of `markRemote`: the files' bytes are on this disk again (say, restored and
   * verified). Only live remote files change, each with a new change sequence number. Returns
   * how many rows changed. A scan that finds a restored file (another inode, size or mtime)
   * does the same on its own.
   */
  readonly markLocal: (location: Location, paths: ReadonlyArray<RelPath.RelPath>) => Effect.Effect<number, Errors.LibraryError>
}>() {}

// Paths per `IN (json_each(…))` query, rows per UPDATE … FROM (VALUES …).
const PATHS_PER_QUERY = 500

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
      WHERE e.hash = ${hash} AND e.tombstone = 0 AND e.kind = 0 AND e.remote = 0 AND l.device_id = ${db.self.rowId}`).pipe(
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
    lib(sql<{
      files: number
      directories: number
      symlinks: number
      bytes: number | null
      remote: number
      remoteBytes: number | null
      tombstones: number
      unhashed: number
    }>`SELECT
        count(*) FILTER (WHERE tombstone = 0 AND kind = 0) AS files,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 1) AS directories,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 2) AS symlinks,
        sum(size) FILTER (WHERE tombstone = 0 AND kind = 0 AND remote = 0) AS bytes,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 0 AND remote = 1) AS remote,
        sum(size) FILTER (WHERE tombstone = 0 AND kind = 0 AND remote = 1) AS remoteBytes,
        count(*) FILTER (WHERE tombstone = 1) AS tombstones,
        count(*) FILTER (WHERE tombstone = 0 AND kind = 0 AND hash IS NULL) AS unhashed
      FROM entries WHERE location_id = ${location.rowId}`).pipe(
      Effect.map((rows) => ({ ...rows[0]!, bytes: rows[0]!.bytes ?? 0, remoteBytes: rows[0]!.remoteBytes ?? 0 })),
      Effect.withSpan("IndexStore.totals")
    )

  /** Sets `remote` on the live files at `paths` whose flag differs, each with a new seq. */
  const setRemote = (location: Location, paths: ReadonlyArray<RelPath.RelPath>, remote: 0 | 1) =>
    Effect.gen(function* () {
      // Sequence numbers are this device's: on a peer's replica they would corrupt replication.
      if (location.deviceRowId !== db.self.rowId) {
        return yield* Effect.dieMessage(`location ${location.id} is a peer's replica; only this device's files can change residency`)
      }
      const unique = [...new Set(paths)]
      if (unique.length === 0) return 0
      return yield* lib(sql.withTransaction(Effect.gen(function* () {
        const ids: Array<number> = []
        for (let i = 0; i < unique.length; i += PATHS_PER_QUERY) {
          const part = unique.slice(i, i + PATHS_PER_QUERY)
          const rows = yield* sql<{ id: number }>`SELECT id FROM entries
            WHERE location_id = ${location.rowId} AND kind = 0 AND tombstone = 0 AND remote = ${1 - remote}
              ${remote === 1 ? sql`AND hash IS NOT NULL` : sql``}
              AND path IN (SELECT value FROM json_each(${JSON.stringify(part)}))`
          for (const row of rows) ids.push(row.id)
        }
        if (ids.length === 0) return 0
        let seq = yield* db.reserveSequence(ids.length)
        for (let i = 0; i < ids.length; i += PATHS_PER_QUERY) {
          const values = sql.csv(ids.slice(i, i + PATHS_PER_QUERY).map((id) => sql`(${id}, ${seq++})`))
          // Not a move: moved_from describes the row's last change, which this is.
          yield* sql`UPDATE entries SET remote = ${remote}, seq = v.column2, moved_from = NULL
            FROM (VALUES ${values}) AS v WHERE entries.id = v.column1`
        }
        return ids.length
      })))
    })

  const markRemote = Effect.fn("IndexStore.markRemote")(function* (location: Location, paths: ReadonlyArray<RelPath.RelPath>) {
    return yield* setRemote(location, paths, 1)
  })

  const markLocal = Effect.fn("IndexStore.markLocal")(function* (location: Location, paths: ReadonlyArray<RelPath.RelPath>) {
    return yield* setRemote(location, paths, 0)
  })

  return IndexStore.of({ get, entriesUnder, byHash, changesSince, totals, markRemote, markLocal })
})

/** The service, on `LibraryDatabase`. */
export const layer = Layer.effect(IndexStore, make)
