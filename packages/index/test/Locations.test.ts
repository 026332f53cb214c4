import { describe, it } from "@effect/vitest"
import { RelPath } from "@conduit/domain"
import { Chunk, Effect, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Indexer, IndexStore, Locations } from "../src/index.js"
import { writeTree, withIndex } from "./support.js"

const reason = (e: unknown) => (e as { reason: string }).reason

describe("Locations", () => {
  it.scoped("add, list, get, resolve and remove", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const locations = yield* Locations.Locations
        writeTree(root, { "photos/2024/a.jpg": "jpg" })
        const location = yield* locations.add(root, { name: "Pictures" })
        assert.strictEqual(location.name, "Pictures")
        assert.strictEqual(location.root, Fs.realpathSync(root))
        assert.strictEqual(location.indexingMode, "Standard")
        assert.deepStrictEqual((yield* locations.list).map((l) => l.id), [location.id])
        assert.deepStrictEqual(yield* locations.get(location.id), location)
        const resolved = yield* locations.resolve(Path.join(root, "photos", "2024"))
        assert.strictEqual(resolved.location.id, location.id)
        assert.strictEqual(resolved.path, "photos/2024")
        assert.strictEqual((yield* locations.resolve(root)).path, "")
        // A path that does not exist yet still resolves (the part that exists is canonical).
        assert.strictEqual((yield* locations.resolve(Path.join(root, "later", "x"))).path, "later/x")
        yield* (yield* Indexer.Indexer).scan(location.id)
        yield* locations.remove(location.id)
        assert.deepStrictEqual(yield* locations.list, [])
        assert.strictEqual(reason(yield* Effect.flip(locations.get(location.id))), "NotFound")
        // The files are untouched.
        assert.strictEqual(Fs.readFileSync(Path.join(root, "photos/2024/a.jpg"), "utf8"), "jpg")
      })
    ))

  it.scoped("refuses missing roots, files, duplicates and nesting in both directions", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const locations = yield* Locations.Locations
        writeTree(root, { "inner/x.txt": "x", "file.txt": "f" })
        assert.strictEqual(reason(yield* Effect.flip(locations.add(Path.join(root, "nope")))), "RootMissing")
        assert.strictEqual(reason(yield* Effect.flip(locations.add(Path.join(root, "file.txt")))), "NotADirectory")
        yield* locations.add(Path.join(root, "inner"))
        assert.strictEqual(reason(yield* Effect.flip(locations.add(Path.join(root, "inner")))), "AlreadyExists")
        assert.strictEqual(reason(yield* Effect.flip(locations.add(root))), "Overlaps")
        // A symlink to the same directory is the same location.
        Fs.symlinkSync(Path.join(root, "inner"), Path.join(root, "alias"))
        assert.strictEqual(reason(yield* Effect.flip(locations.add(Path.join(root, "alias")))), "AlreadyExists")
        assert.strictEqual(reason(yield* Effect.flip(locations.resolve(Path.dirname(root)))), "OutsideLocations")
      })
    ))
})

describe("IndexStore", () => {
  it.scoped("streams entries page by page in path order, shallow or deep; finds content by hash", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const files: Record<string, string> = {}
        for (let i = 0; i < 40; i++) files[`d${i % 4}/f${String(i).padStart(2, "0")}.txt`] = `content ${i % 10}`
        writeTree(root, files)
        const locations = yield* Locations.Locations
        const store = yield* IndexStore.IndexStore
        const location = yield* locations.add(root)
        yield* (yield* Indexer.Indexer).scan(location.id)
        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, RelPath.root, { pageSize: 7 })))
        assert.strictEqual(all.length, 44)
        const paths = all.map((e) => e.path as string)
        assert.deepStrictEqual(paths, [...paths].sort())
        const shallow = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, RelPath.root, { recursive: false, pageSize: 3 })))
        assert.deepStrictEqual(shallow.map((e) => e.path), ["d0", "d1", "d2", "d3"])
        const under = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, "d1" as RelPath.RelPath, { pageSize: 4 })))
        assert.strictEqual(under.length, 10)
        assert.isTrue(under.every((e) => e.path.startsWith("d1/")))
        const sameContent = yield* store.byHash(all.find((e) => e.path === "d0/f00.txt")!.hash!)
        assert.deepStrictEqual(sameContent.map((c) => c.entry.path).sort(), ["d0/f00.txt", "d2/f10.txt", "d0/f20.txt", "d2/f30.txt"].sort())
        const totals = yield* store.totals(location)
        assert.deepStrictEqual(totals, { files: 40, directories: 4, symlinks: 0, bytes: 40 * 9, remote: 0, remoteBytes: 0, tombstones: 0, unhashed: 0 })
      })
    ))
})
