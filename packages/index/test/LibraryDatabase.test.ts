import { describe, it } from "@effect/vitest"
import { Migrator, SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Exit, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import type { RelPath } from "@conduit/domain"
import { IndexStore, LibraryDatabase, Locations } from "../src/index.js"
import { migrations } from "../src/internal/migrations.js"
import { tempDir, writeTree } from "./support.js"

const open = (home: string) => Layer.fresh(LibraryDatabase.layer({ home, deviceName: "test-device" }))

describe("LibraryDatabase", () => {
  it.scoped("creates the library with WAL, migrations and one row for this device, and keeps it across opens", () =>
    Effect.gen(function* () {
      const home = Path.join(yield* tempDir(), "nested", "home")
      const first = yield* Effect.gen(function* () {
        const db = yield* LibraryDatabase.LibraryDatabase
        const sql = yield* SqlClient.SqlClient
        const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
        assert.strictEqual(mode!.journal_mode, "wal")
        assert.strictEqual(db.self.name, "test-device")
        assert.strictEqual(yield* db.reserveSequence(3), 1)
        assert.strictEqual(yield* db.reserveSequence(1), 4)
        return db.self
      }).pipe(Effect.provide(open(home)))
      assert.isTrue(Fs.existsSync(Path.join(home, "library.db")))
      assert.strictEqual(Fs.statSync(home).mode & 0o777, 0o700)
      const second = yield* Effect.gen(function* () {
        const db = yield* LibraryDatabase.LibraryDatabase
        const sql = yield* SqlClient.SqlClient
        const devices = yield* sql<{ n: number }>`SELECT count(*) AS n FROM devices`
        assert.strictEqual(devices[0]!.n, 1)
        assert.strictEqual(yield* db.lastSequence, 4)
        return db.self
      }).pipe(Effect.provide(open(home)))
      assert.deepStrictEqual(second, first)
    }))

  it.scoped("a file that is not a SQLite database is refused as Corrupt and left byte for byte untouched", () =>
    Effect.gen(function* () {
      const home = yield* tempDir()
      const file = Path.join(home, "library.db")
      const garbage = Buffer.from("this is not a database, it is a shopping list\n".repeat(100))
      Fs.writeFileSync(file, garbage)
      const exit = yield* Effect.exit(Effect.provide(LibraryDatabase.LibraryDatabase, open(home)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "LibraryError")
        assert.strictEqual(error?.reason, "Corrupt")
        assert.include(error!.message, "corrupt")
      }
      assert.isTrue(Fs.readFileSync(file).equals(garbage))
      assert.deepStrictEqual(Fs.readdirSync(home), ["library.db"])
    }))

  it.scoped("a damaged database (valid header, garbage pages) fails with Corrupt, not a crash", () =>
    Effect.gen(function* () {
      const home = yield* tempDir()
      const root = yield* tempDir()
      writeTree(root, { "a.txt": "a" })
      yield* Effect.gen(function* () {
        const locations = yield* Locations.Locations
        yield* locations.add(root)
      }).pipe(Effect.provide(Locations.layer.pipe(Layer.provideMerge(open(home)))))
      const file = Path.join(home, "library.db")
      const bytes = Fs.readFileSync(file)
      // Keep the 100-byte header, smash the rest of page 1 (the schema) and page 2.
      const damaged = Buffer.concat([bytes.subarray(0, 100), Buffer.alloc(8000, 0xab), bytes.subarray(8100)])
      Fs.writeFileSync(file, damaged)
      const exit = yield* Effect.exit(Effect.provide(LibraryDatabase.LibraryDatabase, open(home)))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.strictEqual(exit.cause._tag, "Fail")
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?.reason, "Corrupt")
      }
      assert.isTrue(Fs.readFileSync(file).equals(damaged))
    }))

  it.scoped("0003 adds entries.remote to a library made before it: existing rows read as local", () =>
    Effect.gen(function* () {
      const home = yield* tempDir()
      // A library as the releases before 0003 left it, with one file row.
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* Migrator.make({})({
          loader: Migrator.fromRecord({ "0001_library": migrations["0001_library"], "0002_directory_digests": migrations["0002_directory_digests"] }),
          table: "conduit_index_migrations"
        })
        yield* sql`INSERT INTO devices (uuid, name, is_self, last_seq, created_at) VALUES ('6f0c3c0e-7a5e-4f55-9d6c-2f8f0d1b2a11', 'old', 1, 1, 0)`
        yield* sql`INSERT INTO locations (uuid, device_id, name, root, indexing_mode, created_at)
          VALUES ('0b5d8a2c-1c44-4a8e-b7f1-3c2e4d5f6a70', 1, 'old', '/nowhere', 'Standard', 0)`
        yield* sql`INSERT INTO entries (location_id, path, parent, kind, size, mtime_s, mtime_ns, hash, hash_state, seq)
          VALUES (1, 'a.txt', '', 0, 5, 1700000000, 0, ${"ab".repeat(32)}, 'ok', 1)`
        const columns = yield* sql<{ name: string }>`PRAGMA table_info(entries)`
        assert.notInclude(columns.map((c) => c.name), "remote")
      }).pipe(Effect.provide(Layer.fresh(SqliteClient.layer({ filename: Path.join(home, "library.db") }))))

      yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const columns = yield* sql<{ name: string; notnull: number; dflt_value: string | null }>`PRAGMA table_info(entries)`
        const remote = columns.find((c) => c.name === "remote")
        assert.deepStrictEqual(remote && { notnull: remote.notnull, dflt_value: remote.dflt_value }, { notnull: 1, dflt_value: "0" })
        const applied = yield* sql<{ name: string }>`SELECT name FROM conduit_index_migrations ORDER BY migration_id`
        assert.deepStrictEqual(applied.map((m) => m.name), ["library", "directory_digests", "entries_remote"])
        const locations = yield* Locations.Locations
        const store = yield* IndexStore.IndexStore
        const [location] = yield* locations.list
        const entry = Option.getOrThrow(yield* store.get(location!, "a.txt" as RelPath.RelPath))
        assert.isFalse(entry.remote)
        assert.strictEqual(entry.hash, "ab".repeat(32))
      }).pipe(Effect.provide(Layer.mergeAll(Locations.layer, IndexStore.layer).pipe(Layer.provideMerge(open(home)))))
    }))

  it.scoped("a home that cannot be created is a Storage error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      Fs.writeFileSync(Path.join(dir, "file"), "x")
      const exit = yield* Effect.exit(Effect.provide(LibraryDatabase.LibraryDatabase, open(Path.join(dir, "file", "home"))))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") assert.strictEqual(exit.cause.error.reason, "Storage")
    }))
})
