import { describe, it } from "@effect/vitest"
import { RelPath } from "@conduit/domain"
import { Chunk, Effect, Option, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Indexer, IndexStore, LibraryDatabase, Locations } from "../src/index.js"
import { b3, withIndex, writeTree } from "./support.js"

const rel = (p: string) => p as RelPath.RelPath

describe("IndexStore residency (markRemote / markLocal)", () => {
  it.scoped("markRemote flags live hashed files with new sequence numbers that changesSince returns; markLocal undoes it", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "aaaa", "b.txt": "bb", "d/c.txt": "c", "gone.txt": "g" })
        const locations = yield* Locations.Locations
        const indexer = yield* Indexer.Indexer
        const store = yield* IndexStore.IndexStore
        const db = yield* LibraryDatabase.LibraryDatabase
        const location = yield* locations.add(root)
        yield* indexer.scan(location.id)
        Fs.rmSync(Path.join(root, "gone.txt"))
        yield* indexer.scan(location.id)
        const get = (p: string) => Effect.map(store.get(location, rel(p)), Option.getOrThrow)
        const changes = (since: number) =>
          Effect.map(Stream.runCollect(store.changesSince(db.self.rowId, since)), (c) => Chunk.toReadonlyArray(c).map((x) => x.entry))
        const last = yield* db.lastSequence

        // A directory, a tombstone, an unknown path and a duplicate change nothing.
        const marked = yield* store.markRemote(location, [rel("a.txt"), rel("d/c.txt"), rel("d"), rel("gone.txt"), rel("missing.txt"), rel("a.txt")])
        assert.strictEqual(marked, 2)
        assert.strictEqual(yield* db.lastSequence, last + 2)
        const changed = yield* changes(last)
        assert.deepStrictEqual(changed.map((e) => [e.path, e.remote, e.seq]), [["a.txt", true, last + 1], ["d/c.txt", true, last + 2]])
        const a = yield* get("a.txt")
        assert.isTrue(a.remote)
        assert.strictEqual(a.hash, b3("aaaa"))
        assert.strictEqual(a.size, 4)
        assert.isFalse((yield* get("b.txt")).remote)
        assert.isFalse((yield* get("d")).remote)
        assert.isTrue((yield* get("gone.txt")).tombstone)
        assert.isFalse((yield* get("gone.txt")).remote)

        // Already remote: nothing changes, no sequence number is used.
        assert.strictEqual(yield* store.markRemote(location, [rel("a.txt")]), 0)
        assert.strictEqual(yield* db.lastSequence, last + 2)

        // Totals: remote files are files, but their bytes are not on this disk.
        assert.deepStrictEqual(yield* store.totals(location), {
          files: 3,
          directories: 1,
          symlinks: 0,
          bytes: 2,
          remote: 2,
          remoteBytes: 5,
          tombstones: 1,
          unhashed: 0
        })
        // Nothing can be copied locally from a remote file.
        assert.deepStrictEqual(yield* store.byHash(a.hash!), [])

        assert.strictEqual(yield* store.markLocal(location, [rel("a.txt"), rel("b.txt")]), 1)
        assert.deepStrictEqual((yield* changes(last + 2)).map((e) => [e.path, e.remote, e.seq]), [["a.txt", false, last + 3]])
        assert.strictEqual((yield* store.totals(location)).remote, 1)
        assert.strictEqual((yield* store.byHash(a.hash!)).length, 1)
        assert.strictEqual(yield* store.markRemote(location, []), 0)
      })
    ))
})
