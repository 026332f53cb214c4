/**
 * The library database: one SQLite file per device, `library.db` under the Conduit home
 * directory (`$CONDUIT_HOME`, default `~/.conduit`; the app decides, this package is told).
 *
 * Opening it checks that an existing file really is a SQLite database before anything writes
 * to it, turns WAL on, runs this package's migrations and makes sure the row for this device
 * exists. The layer also provides `SqlClient`, so the packages above run their own
 * migrations and queries on the same connection.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { migrations } from "./internal/migrations.js"
import { orLibraryError, toLibraryError } from "./internal/sqlError.js"

/**
 * Classifies a driver error (SqlError or anything thrown) as a LibraryError: `Corrupt`,
 * `Busy` or `Storage`. For packages that run their own queries on the library.
 */
export { toLibraryError }

/** Where the library lives and what this device is called when it is first created. */
export interface LibraryOptions {
  /** The Conduit home directory; created (0700) if missing. */
  readonly home: string
  /** This device's name on first creation; defaults to the host name. */
  readonly deviceName?: string
}

/** This device as the library records it. */
export interface SelfDevice {
  /** Row id in `devices`, what other tables reference. */
  readonly rowId: number
  readonly id: Ids.DeviceId
  readonly name: string
}

/** The opened library database. */
export class LibraryDatabase extends Context.Tag("@conduit/index/LibraryDatabase")<LibraryDatabase, {
  /** The Conduit home directory. */
  readonly home: string
  /** The database file. */
  readonly file: string
  /** This device. */
  readonly self: SelfDevice
  /**
   * Reserves `count` consecutive change sequence numbers of this device and returns the first.
   * Call inside the transaction that writes the changes, so a rollback gives them back.
   */
  readonly reserveSequence: (count: number) => Effect.Effect<number, Errors.LibraryError>
  /** This device's last used change sequence number. */
  readonly lastSequence: Effect.Effect<number, Errors.LibraryError>
}>() {}

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1")

/**
 * Refuses a file that exists but is not a SQLite database, before the driver could write WAL
 * files or a journal beside it.
 */
const checkHeader = (file: string): Effect.Effect<void, Errors.LibraryError> =>
  Effect.try({
    try: () => {
      let fd: number
      try {
        fd = Fs.openSync(file, "r")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return
        throw e
      }
      try {
        const { size } = Fs.fstatSync(fd)
        if (size === 0) return
        const header = Buffer.alloc(16)
        const read = Fs.readSync(fd, header, 0, 16, 0)
        if (read < 16 || !header.equals(SQLITE_HEADER)) throw new CorruptHeader()
      } finally {
        Fs.closeSync(fd)
      }
    },
    catch: (cause) =>
      cause instanceof CorruptHeader
        ? new Errors.LibraryError({ reason: "Corrupt", path: file })
        : new Errors.LibraryError({ reason: "Storage", path: file, cause })
  })

class CorruptHeader extends Error {}

const ensureHome = (home: string) =>
  Effect.try({
    try: () => Fs.mkdirSync(home, { recursive: true, mode: 0o700 }),
    catch: (cause) => new Errors.LibraryError({ reason: "Storage", path: home, cause })
  })

/**
 * Opens (creating if needed) the library at `options.home` and provides both
 * `LibraryDatabase` and the `SqlClient` connected to it.
 */
export const layer = (
  options: LibraryOptions
): Layer.Layer<LibraryDatabase | SqlClient.SqlClient, Errors.LibraryError> => {
  const file = Path.join(options.home, "library.db")
  const client = Layer.unwrapEffect(
    Effect.gen(function* () {
      yield* ensureHome(options.home)
      yield* checkHeader(file)
      return SqliteClient.layer({ filename: file })
    })
  ).pipe(
    // The driver throws (a defect, not a failure) when the file cannot be opened at all.
    Layer.catchAllCause((cause) => {
      const error = Cause.squash(cause)
      return Layer.fail(error instanceof Errors.LibraryError ? error : toLibraryError(error, file))
    })
  )

  const database = Layer.effect(
    LibraryDatabase,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      // busy_timeout: the daemon and a CLI may share the file; wait rather than fail at once.
      // synchronous=NORMAL is durable across application crashes in WAL mode.
      yield* sql`PRAGMA busy_timeout = 5000`
      yield* sql`PRAGMA synchronous = NORMAL`
      yield* sql`PRAGMA foreign_keys = ON`
      // Index maintenance of large scans stays in memory (8 MiB at most).
      yield* sql`PRAGMA cache_size = -8192`
      // Reading the schema is the first real page access: a damaged file fails here.
      yield* sql`SELECT count(*) FROM sqlite_master`
      yield* Migrator.make({})({
        loader: Migrator.fromRecord(migrations),
        table: "conduit_index_migrations"
      }).pipe(
        Effect.catchTag("MigrationError", (cause) =>
          Effect.fail(new Errors.LibraryError({ reason: "Migration", path: file, cause })))
      )
      let rows = yield* sql<{ id: number; uuid: string; name: string }>`SELECT id, uuid, name FROM devices WHERE is_self = 1`
      if (rows.length === 0) {
        const name = options.deviceName ?? Os.hostname()
        yield* sql`INSERT INTO devices ${
          sql.insert({ uuid: crypto.randomUUID(), name, is_self: 1, last_seq: 0, created_at: Date.now() })
        }`
        rows = yield* sql<{ id: number; uuid: string; name: string }>`SELECT id, uuid, name FROM devices WHERE is_self = 1`
      }
      const row = rows[0]!
      const self: SelfDevice = { rowId: row.id, id: row.uuid as Ids.DeviceId, name: row.name }

      const reserveSequence = (count: number) =>
        sql<{ last_seq: number }>`UPDATE devices SET last_seq = last_seq + ${count} WHERE id = ${self.rowId} RETURNING last_seq`
          .pipe(
            Effect.map((r) => r[0]!.last_seq - count + 1),
            Effect.mapError((e) => toLibraryError(e, file))
          )
      const lastSequence = sql<{ last_seq: number }>`SELECT last_seq FROM devices WHERE id = ${self.rowId}`.pipe(
        Effect.map((r) => r[0]!.last_seq),
        Effect.mapError((e) => toLibraryError(e, file))
      )
      return LibraryDatabase.of({ home: options.home, file, self, reserveSequence, lastSequence })
    }).pipe(orLibraryError(file))
  )
  return Layer.provideMerge(database, client)
}
