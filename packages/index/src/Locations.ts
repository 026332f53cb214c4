/**
 * Locations: the indexed roots of this device (and, once library sync replicates them, of its
 * peers). A location is an absolute directory; locations never nest.
 *
 * @since 0.1.0
 */
import { Errors, RelPath } from "@conduit/domain"
import type { Ids, Modes } from "@conduit/domain"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Either, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { orLibraryError } from "./internal/sqlError.js"
import { LibraryDatabase } from "./LibraryDatabase.js"

/** A location as stored. */
export interface Location {
  readonly id: Ids.LocationId
  /** Row id in `locations`, what `entries` reference. */
  readonly rowId: number
  readonly deviceRowId: number
  readonly name: string
  /** Absolute, canonical (symlinks in the root path resolved) root directory. */
  readonly root: string
  /** st_dev of the root when it was added; a different value now means another volume. */
  readonly rootDev: string | null
  readonly indexingMode: Modes.IndexingMode
  /** Extra gitignore-syntax patterns of this location. */
  readonly ignorePatterns: ReadonlyArray<string>
  readonly createdAt: Date
  readonly lastScanAt: Date | null
}

/** Options of `Locations.add`. */
export interface AddLocationOptions {
  readonly name?: string
  readonly indexingMode?: Modes.IndexingMode
  readonly ignorePatterns?: ReadonlyArray<string>
}

/** Manages this device's locations. */
export class Locations extends Context.Tag("@conduit/index/Locations")<Locations, {
  /**
   * Adds a directory as a location. Fails with `NotADirectory`, `RootMissing`,
   * `AlreadyExists`, or `Overlaps` when it would nest with another location.
   */
  readonly add: (root: string, options?: AddLocationOptions) => Effect.Effect<Location, Errors.LocationError | Errors.LibraryError>
  /** This device's locations, by root. */
  readonly list: Effect.Effect<ReadonlyArray<Location>, Errors.LibraryError>
  /** A location by id, or `NotFound`. */
  readonly get: (id: Ids.LocationId) => Effect.Effect<Location, Errors.LocationError | Errors.LibraryError>
  /**
   * Finds the location of this device that contains an absolute path (symlinks in the path
   * resolved as far as it exists) and the path relative to it; `PathError` `OutsideLocations`
   * if none does.
   */
  readonly resolve: (absolutePath: string) => Effect.Effect<{ readonly location: Location; readonly path: RelPath.RelPath }, Errors.PathError | Errors.LibraryError>
  /** Removes a location and its index entries. The files themselves are not touched. */
  readonly remove: (id: Ids.LocationId) => Effect.Effect<void, Errors.LocationError | Errors.LibraryError>
  /**
   * Checks that the root is present, a directory, and on the volume it was added on. A root
   * that fails this must never be read as "every file was deleted".
   */
  readonly checkRoot: (location: Location) => Effect.Effect<void, Errors.LocationError>
  /** Records the time of the last completed scan. */
  readonly markScanned: (location: Location) => Effect.Effect<void, Errors.LibraryError>
}>() {}

interface LocationRow {
  readonly id: number
  readonly uuid: string
  readonly device_id: number
  readonly name: string
  readonly root: string
  readonly root_dev: string | null
  readonly indexing_mode: string
  readonly ignore_patterns: string
  readonly created_at: number
  readonly last_scan_at: number | null
}

const fromRow = (row: LocationRow): Location => ({
  id: row.uuid as Ids.LocationId,
  rowId: row.id,
  deviceRowId: row.device_id,
  name: row.name,
  root: row.root,
  rootDev: row.root_dev,
  indexingMode: row.indexing_mode as Modes.IndexingMode,
  ignorePatterns: JSON.parse(row.ignore_patterns) as Array<string>,
  createdAt: new Date(row.created_at),
  lastScanAt: row.last_scan_at === null ? null : new Date(row.last_scan_at)
})

const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(Path.sep) ? root : root + Path.sep)

/** Resolves symlinks of the longest existing prefix of an absolute path. */
const canonical = (absolutePath: string): string => {
  const missing: Array<string> = []
  let current = Path.resolve(absolutePath)
  for (;;) {
    try {
      return Path.join(Fs.realpathSync.native(current), ...missing.reverse())
    } catch {
      const parent = Path.dirname(current)
      if (parent === current) return Path.resolve(absolutePath)
      missing.push(Path.basename(current))
      current = parent
    }
  }
}

/** Builds the service on the library database. */
export const make: Effect.Effect<Locations["Type"], never, SqlClient.SqlClient | LibraryDatabase> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase
  const lib = orLibraryError(db.file)

  const list = sql<LocationRow>`SELECT * FROM locations WHERE device_id = ${db.self.rowId} ORDER BY root`.pipe(
    Effect.map((rows) => rows.map(fromRow)),
    lib,
    Effect.withSpan("Locations.list")
  )

  const get = Effect.fn("Locations.get")(function* (id: Ids.LocationId) {
    const rows = yield* lib(sql<LocationRow>`SELECT * FROM locations WHERE uuid = ${id}`)
    if (rows.length === 0) return yield* new Errors.LocationError({ reason: "NotFound", path: id })
    return fromRow(rows[0]!)
  })

  const add = Effect.fn("Locations.add")(function* (rootInput: string, options: AddLocationOptions = {}) {
    const resolved = Path.resolve(rootInput)
    let stat: Fs.BigIntStats
    let root: string
    try {
      root = Fs.realpathSync.native(resolved)
      stat = Fs.statSync(root, { bigint: true })
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return yield* new Errors.LocationError({ reason: code === "EACCES" ? "PermissionDenied" : "RootMissing", path: resolved })
    }
    if (!stat.isDirectory()) return yield* new Errors.LocationError({ reason: "NotADirectory", path: resolved })
    for (const existing of yield* list) {
      if (existing.root === root) return yield* new Errors.LocationError({ reason: "AlreadyExists", path: root })
      if (within(root, existing.root) || within(existing.root, root)) {
        return yield* new Errors.LocationError({ reason: "Overlaps", path: root })
      }
    }
    const uuid = crypto.randomUUID()
    yield* lib(sql`INSERT INTO locations ${
      sql.insert({
        uuid,
        device_id: db.self.rowId,
        name: options.name ?? Path.basename(root),
        root,
        root_dev: stat.dev.toString(),
        indexing_mode: options.indexingMode ?? "Standard",
        ignore_patterns: JSON.stringify(options.ignorePatterns ?? []),
        created_at: Date.now()
      })
    }`)
    return yield* get(uuid as Ids.LocationId)
  })

  const resolve = Effect.fn("Locations.resolve")(function* (absolutePath: string) {
    const target = canonical(absolutePath)
    for (const location of yield* list) {
      if (within(target, location.root)) {
        const relative = Path.relative(location.root, target).split(Path.sep).join("/")
        const parsed = RelPath.parse(relative)
        if (Either.isLeft(parsed)) return yield* parsed.left
        return { location, path: parsed.right }
      }
    }
    return yield* new Errors.PathError({ reason: "OutsideLocations", path: absolutePath })
  })

  const remove = Effect.fn("Locations.remove")(function* (id: Ids.LocationId) {
    const location = yield* get(id)
    yield* lib(sql.withTransaction(Effect.gen(function* () {
      yield* sql`DELETE FROM entries WHERE location_id = ${location.rowId}`
      yield* sql`DELETE FROM locations WHERE id = ${location.rowId}`
    })))
  })

  const checkRoot = (location: Location) =>
    Effect.suspend(() => {
      let stat: Fs.BigIntStats
      try {
        stat = Fs.statSync(location.root, { bigint: true })
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        return Effect.fail(new Errors.LocationError({ reason: code === "EACCES" ? "PermissionDenied" : "RootMissing", path: location.root }))
      }
      if (!stat.isDirectory()) return Effect.fail(new Errors.LocationError({ reason: "NotADirectory", path: location.root }))
      if (location.rootDev !== null && stat.dev.toString() !== location.rootDev) {
        return Effect.fail(new Errors.LocationError({ reason: "RootUnmounted", path: location.root }))
      }
      return Effect.void
    }).pipe(Effect.withSpan("Locations.checkRoot"))

  const markScanned = (location: Location) =>
    lib(sql`UPDATE locations SET last_scan_at = ${Date.now()} WHERE id = ${location.rowId}`).pipe(Effect.asVoid)

  return Locations.of({ add, list, get, resolve, remove, checkRoot, markScanned })
})

/** The service, on `LibraryDatabase`. */
export const layer = Layer.effect(Locations, make)
