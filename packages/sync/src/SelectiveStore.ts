/**
 * What selective mode keeps in the library beside the index (tables of this package's
 * migration `0006_selective`): how often and how recently each file was opened (the access
 * statistics `@conduit/selective`'s policy scores), the pinned paths, and the fetches asked
 * for while a secondary could not serve them. And the replication-risk report: the files whose
 * only copy with verified bytes is on one device.
 *
 * @since 0.1.0
 */
import { Errors, type RelPath } from "@conduit/domain"
import { LibraryDatabase, type Locations } from "@conduit/index"
import { AccessStats, DecayedFrequency } from "@conduit/selective"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"

/** A file whose verified bytes are on one device at most (`conduit risk`). */
export interface RiskEntry {
  /** The device whose location has the file (this one or a paired one). */
  readonly device: { readonly id: string; readonly name: string; readonly self: boolean }
  readonly root: string
  readonly path: string
  readonly size: number
  readonly hash: string
  /**
   * `local`: the bytes are on that device's disk; `remote`: evicted there, with no verified
   * copy left anywhere the library knows of.
   */
  readonly state: "local" | "remote"
  /** Devices with verified bytes of this content: 1 (only there) or 0 (nowhere). */
  readonly copies: number
}

/** A pending fetch (`conduit get` while the secondary was offline). */
export interface FetchRequest {
  readonly path: RelPath.RelPath
  readonly requestedAt: Date
  readonly lastError: string | null
}

/** The selective-mode tables of the library. */
export class SelectiveStore extends Context.Tag("@conduit/sync/SelectiveStore")<SelectiveStore, {
  /** Records an open of a file (at `atMs`, default now) in its access statistics. */
  readonly recordAccess: (location: Locations.Location, path: RelPath.RelPath, atMs?: number) => Effect.Effect<AccessStats.AccessStats, Errors.LibraryError>
  /** Records opens of many files in one transaction; their new statistics, by path. */
  readonly recordAccesses: (
    location: Locations.Location,
    accesses: ReadonlyArray<{ readonly path: RelPath.RelPath; readonly atMs: number }>
  ) => Effect.Effect<ReadonlyMap<string, AccessStats.AccessStats>, Errors.LibraryError>
  /** The access statistics of a location's files, by path (files never opened are absent). */
  readonly accessOf: (location: Locations.Location) => Effect.Effect<ReadonlyMap<string, AccessStats.AccessStats>, Errors.LibraryError>
  /** The atimes the last cache step saw of a location's local files, by path. */
  readonly atimesOf: (location: Locations.Location) => Effect.Effect<ReadonlyMap<string, number>, Errors.LibraryError>
  /** Records the atimes a cache step saw (replacing the ones of those paths). */
  readonly saveAtimes: (location: Locations.Location, atimes: ReadonlyMap<string, number>) => Effect.Effect<void, Errors.LibraryError>
  /** Pins a path (a directory pins its subtree); false if it was pinned already. */
  readonly pin: (location: Locations.Location, path: RelPath.RelPath) => Effect.Effect<boolean, Errors.LibraryError>
  /** Unpins a path; false if it was not pinned (a file under a pinned directory stays pinned). */
  readonly unpin: (location: Locations.Location, path: RelPath.RelPath) => Effect.Effect<boolean, Errors.LibraryError>
  /** The pinned paths of a location. */
  readonly pins: (location: Locations.Location) => Effect.Effect<ReadonlyArray<RelPath.RelPath>, Errors.LibraryError>
  /** Remembers a fetch to do when the secondary is back, and why it could not be done now. */
  readonly requestFetch: (location: Locations.Location, path: RelPath.RelPath, error: string) => Effect.Effect<void, Errors.LibraryError>
  /** The pending fetches of a location. */
  readonly fetchRequests: (location: Locations.Location) => Effect.Effect<ReadonlyArray<FetchRequest>, Errors.LibraryError>
  /** Forgets pending fetches (done). */
  readonly clearFetches: (location: Locations.Location, paths: ReadonlyArray<RelPath.RelPath>) => Effect.Effect<void, Errors.LibraryError>
  /**
   * The replication-risk report: every file (of this device's locations and of the paired
   * devices' replicas) whose content has verified bytes on one device only, or on none (an
   * evicted file whose secondary copy is gone). Largest first.
   */
  readonly risk: Effect.Effect<ReadonlyArray<RiskEntry>, Errors.LibraryError>
}>() {}

/** Whether `path` is pinned: it, or a directory above it, is in `pins`. */
export const isPinned = (pins: ReadonlyArray<string>, path: string): boolean =>
  pins.some((p) => p === "" || p === path || path.startsWith(`${p}/`))

/** The half-life access statistics decay with (the default policy's). */
const HALF_LIFE_MS = DecayedFrequency.defaultHalfLifeMs

/** Builds the service on the library. */
export const make: Effect.Effect<SelectiveStore["Type"], never, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase.LibraryDatabase
  const lib = <A, R>(effect: Effect.Effect<A, unknown, R>): Effect.Effect<A, Errors.LibraryError, R> =>
    Effect.mapError(effect, (e) => (e instanceof Errors.LibraryError ? e : LibraryDatabase.toLibraryError(e, db.file)))

  interface AccessRow {
    readonly path: string
    readonly access_count: number
    readonly last_access_ms: number | null
    readonly heat: number
    readonly heat_at_ms: number
  }
  const toStats = (r: AccessRow): AccessStats.AccessStats => ({
    accessCount: r.access_count,
    lastAccessMs: r.last_access_ms,
    heat: r.heat,
    heatAtMs: r.heat_at_ms
  })

  const recordAccesses = Effect.fn("SelectiveStore.recordAccesses")(function* (
    location: Locations.Location,
    accesses: ReadonlyArray<{ readonly path: RelPath.RelPath; readonly atMs: number }>
  ) {
    const next = new Map<string, AccessStats.AccessStats>()
    if (accesses.length === 0) return next
    return yield* lib(sql.withTransaction(Effect.gen(function* () {
      const paths = [...new Set(accesses.map((a) => a.path as string))]
      for (let i = 0; i < paths.length; i += 500) {
        const rows = yield* sql<AccessRow>`SELECT * FROM selective_access WHERE location_id = ${location.rowId}
          AND path IN (SELECT value FROM json_each(${JSON.stringify(paths.slice(i, i + 500))}))`
        for (const r of rows) next.set(r.path, toStats(r))
      }
      for (const a of accesses) next.set(a.path, AccessStats.record(next.get(a.path) ?? AccessStats.empty, a.atMs, HALF_LIFE_MS))
      const values = [...next].map(([path, st]) => ({
        location_id: location.rowId,
        path,
        access_count: st.accessCount,
        last_access_ms: st.lastAccessMs,
        heat: st.heat,
        heat_at_ms: st.heatAtMs
      }))
      for (let i = 0; i < values.length; i += 300) {
        yield* sql`INSERT INTO selective_access ${sql.insert(values.slice(i, i + 300))}
          ON CONFLICT (location_id, path) DO UPDATE SET access_count = excluded.access_count, last_access_ms = excluded.last_access_ms,
            heat = excluded.heat, heat_at_ms = excluded.heat_at_ms`
      }
      return next
    })))
  })

  const recordAccess = (location: Locations.Location, path: RelPath.RelPath, atMs?: number) =>
    Effect.map(recordAccesses(location, [{ path, atMs: atMs ?? Date.now() }]), (stats) => stats.get(path)!)

  const accessOf = Effect.fn("SelectiveStore.accessOf")(function* (location: Locations.Location) {
    const rows = yield* lib(sql<AccessRow>`SELECT * FROM selective_access WHERE location_id = ${location.rowId}`)
    return new Map(rows.map((r) => [r.path, toStats(r)] as const))
  })

  const atimesOf = Effect.fn("SelectiveStore.atimesOf")(function* (location: Locations.Location) {
    const rows = yield* lib(sql<{ path: string; atime_ms: number }>`SELECT path, atime_ms FROM selective_atimes WHERE location_id = ${location.rowId}`)
    return new Map(rows.map((r) => [r.path, r.atime_ms] as const))
  })

  const saveAtimes = Effect.fn("SelectiveStore.saveAtimes")(function* (location: Locations.Location, atimes: ReadonlyMap<string, number>) {
    const rows = [...atimes].map(([path, atime]) => ({ location_id: location.rowId, path, atime_ms: atime }))
    yield* lib(sql.withTransaction(Effect.gen(function* () {
      for (let i = 0; i < rows.length; i += 300) {
        yield* sql`INSERT INTO selective_atimes ${sql.insert(rows.slice(i, i + 300))} ON CONFLICT (location_id, path) DO UPDATE SET atime_ms = excluded.atime_ms`
      }
    })))
  })

  const pin = Effect.fn("SelectiveStore.pin")(function* (location: Locations.Location, path: RelPath.RelPath) {
    const before = yield* lib(sql<{ n: number }>`SELECT count(*) AS n FROM selective_pins WHERE location_id = ${location.rowId} AND path = ${path}`)
    if (before[0]!.n > 0) return false
    yield* lib(sql`INSERT INTO selective_pins ${sql.insert({ location_id: location.rowId, path, pinned_at: Date.now() })}`)
    return true
  })

  const unpin = Effect.fn("SelectiveStore.unpin")(function* (location: Locations.Location, path: RelPath.RelPath) {
    const before = yield* lib(sql<{ n: number }>`SELECT count(*) AS n FROM selective_pins WHERE location_id = ${location.rowId} AND path = ${path}`)
    if (before[0]!.n === 0) return false
    yield* lib(sql`DELETE FROM selective_pins WHERE location_id = ${location.rowId} AND path = ${path}`)
    return true
  })

  const pins = Effect.fn("SelectiveStore.pins")(function* (location: Locations.Location) {
    const rows = yield* lib(sql<{ path: string }>`SELECT path FROM selective_pins WHERE location_id = ${location.rowId} ORDER BY path`)
    return rows.map((r) => r.path as RelPath.RelPath)
  })

  const requestFetch = Effect.fn("SelectiveStore.requestFetch")(function* (location: Locations.Location, path: RelPath.RelPath, error: string) {
    yield* lib(sql`INSERT INTO selective_fetches ${sql.insert({ location_id: location.rowId, path, requested_at: Date.now(), last_error: error })}
      ON CONFLICT (location_id, path) DO UPDATE SET last_error = excluded.last_error`)
  })

  const fetchRequests = Effect.fn("SelectiveStore.fetchRequests")(function* (location: Locations.Location) {
    const rows = yield* lib(sql<{ path: string; requested_at: number; last_error: string | null }>`
      SELECT path, requested_at, last_error FROM selective_fetches WHERE location_id = ${location.rowId} ORDER BY requested_at`)
    return rows.map((r): FetchRequest => ({ path: r.path as RelPath.RelPath, requestedAt: new Date(r.requested_at), lastError: r.last_error }))
  })

  const clearFetches = Effect.fn("SelectiveStore.clearFetches")(function* (location: Locations.Location, paths: ReadonlyArray<RelPath.RelPath>) {
    if (paths.length === 0) return
    yield* lib(sql`DELETE FROM selective_fetches WHERE location_id = ${location.rowId}
      AND path IN (SELECT value FROM json_each(${JSON.stringify(paths)}))`)
  })

  // Per content (BLAKE3), the devices whose index has its bytes (a live file row that is not
  // evicted). A content with at most one such device is at risk; every file row with it is listed.
  const risk = lib(Effect.gen(function* () {
    const rows = yield* sql<{
      device_uuid: string
      device_name: string
      is_self: number
      root: string
      path: string
      size: number
      hash: string
      remote: number
      copies: number
    }>`WITH held AS (
        SELECT e.hash, count(DISTINCT l.device_id) AS copies
        FROM entries e JOIN locations l ON l.id = e.location_id
        WHERE e.kind = 0 AND e.tombstone = 0 AND e.remote = 0 AND e.hash IS NOT NULL
        GROUP BY e.hash
      )
      SELECT d.uuid AS device_uuid, d.name AS device_name, d.is_self, l.root, e.path, e.size, e.hash, e.remote,
        coalesce(h.copies, 0) AS copies
      FROM entries e
      JOIN locations l ON l.id = e.location_id
      JOIN devices d ON d.id = l.device_id
      LEFT JOIN held h ON h.hash = e.hash
      WHERE e.kind = 0 AND e.tombstone = 0 AND e.hash IS NOT NULL AND coalesce(h.copies, 0) <= 1
      ORDER BY e.size DESC, l.root, e.path`
    return rows.map((r): RiskEntry => ({
      device: { id: r.device_uuid, name: r.device_name, self: r.is_self === 1 },
      root: r.root,
      path: r.path,
      size: r.size,
      hash: r.hash,
      state: r.remote === 1 ? "remote" : "local",
      copies: r.copies
    }))
  })).pipe(Effect.withSpan("SelectiveStore.risk"))

  return SelectiveStore.of({ recordAccess, recordAccesses, accessOf, atimesOf, saveAtimes, pin, unpin, pins, requestFetch, fetchRequests, clearFetches, risk })
})

/** The service on the library (the tables are created by `Conduits`' migrations). */
export const layer: Layer.Layer<SelectiveStore, never, SqlClient.SqlClient | LibraryDatabase.LibraryDatabase> = Layer.effect(SelectiveStore, make)
