/**
 * Where two endpoints differ, read from the index with SQL — never from the disk. This is
 * the query that resolution is: the planner only ever sees the paths that differ.
 *
 * - `full` compares every live entry under both endpoints: each side is scanned once along the
 *   `(location_id, path)` index and looked up on the other side by the same index.
 * - `since` compares only the paths changed on either side after the change sequence numbers
 *   a completed generation recorded (`marks`): a re-sync with nothing changed costs two index
 *   range probes, whatever the size of the tree.
 *
 * Results come in path order (SQLite's byte order: a directory before its contents), page by
 * page, so the initial sync of a large tree is a stream, not one array.
 *
 * @since 0.1.0
 */
import type { Entry, Errors } from "@conduit/domain"
import type { RelPath } from "@conduit/domain"
import { LibraryDatabase, type Locations } from "@conduit/index"
import { SqlClient } from "@effect/sql"
import { Chunk, Context, Effect, Layer, Option, Stream } from "effect"
import * as Fingerprint from "./Fingerprint.js"
import type { Input } from "./Planner.js"

/** A directory of a location: one side of a conduit. */
export interface Endpoint {
  readonly location: Locations.Location
  /** The directory inside the location; "" for its root. */
  readonly dir: RelPath.RelPath
}

/** The change sequence numbers of both endpoints' locations at some moment. */
export interface Marks {
  readonly source: number
  readonly target: number
}

/** Loads the baseline of the given paths (the conduit's; the caller owns where it lives). */
export type BaselineLoader = (
  paths: ReadonlyArray<RelPath.RelPath>
) => Effect.Effect<ReadonlyMap<string, Fingerprint.Fingerprint>, Errors.LibraryError>

/** Options of a diff. */
export interface DiffOptions {
  readonly baseline?: BaselineLoader
  /** Rows per page (default 5,000). */
  readonly pageSize?: number
  /** Also return source paths that are equal on both sides (modes that act on them: archive). */
  readonly includeEqual?: boolean
}

/** Reads the differences of two endpoints from the index. */
export class IndexDiff extends Context.Tag("@conduit/resolver/IndexDiff")<IndexDiff, {
  /** Every path where the endpoints differ, in path order. */
  readonly full: (source: Endpoint, target: Endpoint, options?: DiffOptions) => Stream.Stream<Input, Errors.LibraryError>
  /** The paths changed on either side after `marks` that now differ, in path order. */
  readonly since: (source: Endpoint, target: Endpoint, marks: Marks, options?: DiffOptions) => Stream.Stream<Input, Errors.LibraryError>
  /** The current marks of two endpoints: record them when a generation completes. */
  readonly marks: (source: Endpoint, target: Endpoint) => Effect.Effect<Marks, Errors.LibraryError>
}>() {}

// `remote` is read, never compared: a remote file (its bytes evicted by selective mode) is
// present with its hash, so equal content on the other side is no difference.
const COLUMNS = ["kind", "size", "mtime_s", "mtime_ns", "mode", "hash", "link_target", "remote"] as const

const fingerprint = (row: ReadonlyArray<unknown>, offset: number): Fingerprint.Fingerprint | null =>
  row[offset] === null
    ? null
    : {
      kind: row[offset] as Entry.EntryKind,
      size: row[offset + 1] as number,
      mtimeNs: BigInt(row[offset + 2] as number) * 1_000_000_000n + BigInt(row[offset + 3] as number),
      mode: row[offset + 4] as number | null,
      hash: row[offset + 5] as string | null,
      linkTarget: row[offset + 6] as string | null,
      // Only when set: an absent `remote` means false, as everywhere a Fingerprint is built.
      ...(row[offset + 7] === 1 ? { remote: true } : {})
    }

/** Builds the service. */
export const make: Effect.Effect<IndexDiff["Type"], never, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  // `sqlite_autoindex_entries_1` is the UNIQUE (location_id, path) index of @conduit/index's
  // first migration: scanning along it yields rows in path order, so no sort is needed.
  // SQL pieces per endpoint. A root endpoint uses `path` as is; a subdirectory strips its
  // prefix and restricts to the range ["dir/", "dir0"), which the unique index serves.
  const relOf = (e: Endpoint, alias: string) =>
    e.dir === "" ? sql.literal(`${alias}.path`) : sql`substr(${sql.literal(alias)}.path, ${e.dir.length + 2})`
  const absOf = (e: Endpoint, rel: ReturnType<typeof relOf>) => (e.dir === "" ? rel : sql`(${e.dir + "/"} || ${rel})`)
  const rangeOf = (e: Endpoint, alias: string) =>
    e.dir === "" ? sql`1 = 1` : sql`${sql.literal(alias)}.path >= ${e.dir + "/"} AND ${sql.literal(alias)}.path < ${e.dir + "0"}`
  const cols = (alias: string) => sql.literal(COLUMNS.map((c) => `${alias}.${c}`).join(", "))
  const nulls = sql.literal(COLUMNS.map(() => "NULL").join(", "))
  // Equal unless content, size, type, permissions or target differ, or the mtimes are 2 µs or
  // more apart (Fingerprint.mtimeToleranceNs: what setting a time from Node can miss by).
  const differs = sql.literal(
    ["kind", "size", "mode", "hash", "link_target"].map((c) => `t.${c} IS s.${c}`).join(" AND ") +
      ` AND abs((t.mtime_s - s.mtime_s) * 1000000000 + (t.mtime_ns - s.mtime_ns)) < ${Fingerprint.mtimeToleranceNs}`
  )

  const withBaseline = (rows: ReadonlyArray<ReadonlyArray<unknown>>, options: DiffOptions) =>
    Effect.gen(function* () {
      const paths = rows.map((r) => r[0] as RelPath.RelPath)
      const baseline = options.baseline === undefined ? new Map<string, Fingerprint.Fingerprint>() : yield* options.baseline(paths)
      return rows.map((r): Input => ({
        path: r[0] as RelPath.RelPath,
        source: fingerprint(r, 1),
        target: fingerprint(r, 1 + COLUMNS.length),
        baseline: baseline.get(r[0] as string) ?? null
      }))
    })

  const paged = (
    page: (after: string | null, limit: number) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, unknown>,
    options: DiffOptions
  ): Stream.Stream<Input, Errors.LibraryError> => {
    const pageSize = options.pageSize ?? 5000
    return Stream.paginateChunkEffect(null as string | null, (after) =>
      page(after, pageSize).pipe(
        Effect.mapError((cause) => LibraryDatabase.toLibraryError(cause, db.file)),
        Effect.flatMap((rows) => withBaseline(rows, options)),
        Effect.map((inputs) => [
          Chunk.fromIterable(inputs),
          inputs.length < pageSize ? Option.none() : Option.some(inputs[inputs.length - 1]!.path as string)
        ] as const)
      ))
  }

  const full = (source: Endpoint, target: Endpoint, options: DiffOptions = {}) => {
    const sRel = relOf(source, "s")
    const tRel = relOf(target, "t")
    return paged((after, limit) =>
      sql`SELECT * FROM (
          SELECT ${sRel} AS rel, ${cols("s")}, ${cols("t")}
          FROM entries s INDEXED BY sqlite_autoindex_entries_1
          LEFT JOIN entries t ON t.location_id = ${target.location.rowId} AND t.path = ${absOf(target, sRel)} AND t.tombstone = 0
          WHERE s.location_id = ${source.location.rowId} AND s.tombstone = 0 AND ${rangeOf(source, "s")}
            ${after === null ? sql`` : sql`AND s.path > ${absOf(source, sql`${after}`)}`}
            ${options.includeEqual === true ? sql`` : sql`AND NOT (${differs})`}
          UNION ALL
          SELECT ${tRel} AS rel, ${nulls}, ${cols("t")}
          FROM entries t INDEXED BY sqlite_autoindex_entries_1
          WHERE t.location_id = ${target.location.rowId} AND t.tombstone = 0 AND ${rangeOf(target, "t")}
            ${after === null ? sql`` : sql`AND t.path > ${absOf(target, sql`${after}`)}`}
            AND NOT EXISTS (SELECT 1 FROM entries s WHERE s.location_id = ${source.location.rowId}
              AND s.path = ${absOf(source, tRel)} AND s.tombstone = 0)
        ) ORDER BY rel LIMIT ${limit}`.values, options)
  }

  const since = (source: Endpoint, target: Endpoint, marks: Marks, options: DiffOptions = {}) => {
    const cRel = sql.literal("c.rel")
    return paged((after, limit) =>
      sql`WITH c(rel) AS (
          SELECT ${relOf(source, "e")} FROM entries e
            WHERE e.location_id = ${source.location.rowId} AND e.seq > ${marks.source} AND ${rangeOf(source, "e")}
          UNION
          SELECT ${relOf(target, "e")} FROM entries e
            WHERE e.location_id = ${target.location.rowId} AND e.seq > ${marks.target} AND ${rangeOf(target, "e")}
        )
        SELECT c.rel, ${cols("s")}, ${cols("t")} FROM c
        LEFT JOIN entries s ON s.location_id = ${source.location.rowId} AND s.path = ${absOf(source, cRel)} AND s.tombstone = 0
        LEFT JOIN entries t ON t.location_id = ${target.location.rowId} AND t.path = ${absOf(target, cRel)} AND t.tombstone = 0
        WHERE ${options.includeEqual === true ? sql`1 = 1` : sql`NOT (${differs})`} ${after === null ? sql`` : sql`AND c.rel > ${after}`}
        ORDER BY c.rel LIMIT ${limit}`.values, options)
  }

  const marks = (source: Endpoint, target: Endpoint) =>
    sql<{ location_id: number; last: number | null }>`SELECT location_id, max(seq) AS last FROM entries
      WHERE location_id IN (${source.location.rowId}, ${target.location.rowId}) GROUP BY location_id`.pipe(
      Effect.map((rows) => {
        const last = (id: number) => rows.find((r) => r.location_id === id)?.last ?? 0
        return { source: last(source.location.rowId), target: last(target.location.rowId) }
      }),
      Effect.mapError((cause) => LibraryDatabase.toLibraryError(cause, db.file))
    )

  return IndexDiff.of({ full, since, marks })
})

/** The service, on the library database. */
export const layer = Layer.effect(IndexDiff, make)
