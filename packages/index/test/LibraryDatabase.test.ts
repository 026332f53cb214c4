import { describe, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { LibraryDatabase, Locations } from "../src/index.js"
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

  it.scoped("a home that cannot be created is a Storage error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      Fs.writeFileSync(Path.join(dir, "file"), "x")
      const exit = yield* Effect.exit(Effect.provide(LibraryDatabase.LibraryDatabase, open(Path.join(dir, "file", "home"))))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") assert.strictEqual(exit.cause.error.reason, "Storage")
    }))
})
