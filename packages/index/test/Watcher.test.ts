import { describe, it } from "@effect/vitest"
import { RelPath } from "@conduit/domain"
import { Chunk, Effect, Option, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Indexer, IndexStore, Locations, Watcher } from "../src/index.js"
import { b3, writeTree, withIndex } from "./support.js"

/** Polls until `check` holds, or fails after `ms`. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, ms = 10_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not reached in time")
      yield* Effect.sleep("50 millis")
    }
  })

describe("Watcher", () => {
  it.scopedLive("keeps the index current: create, modify, rename, delete; a burst is a handful of scans", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "a", "node_modules/x/y.js": "y" })
        const locations = yield* Locations.Locations
        const store = yield* IndexStore.IndexStore
        const location = yield* locations.add(root)
        yield* (yield* Indexer.Indexer).scan(location.id)
        let scans = 0
        const errors: Array<unknown> = []
        yield* (yield* Watcher.Watcher).watch(location.id, {
          debounce: "100 millis",
          onScan: () => void scans++,
          onError: (e) => void errors.push(e)
        })
        const hashOf = (p: string) =>
          Effect.map(store.get(location, p as RelPath.RelPath), (o) => Option.getOrUndefined(o)?.tombstone === false ? Option.getOrUndefined(o)!.hash : undefined)

        writeTree(root, { "b/new.txt": "new file" })
        yield* eventually(Effect.map(hashOf("b/new.txt"), (h) => h === b3("new file")))
        Fs.writeFileSync(Path.join(root, "a.txt"), "changed a")
        yield* eventually(Effect.map(hashOf("a.txt"), (h) => h === b3("changed a")))
        Fs.renameSync(Path.join(root, "b/new.txt"), Path.join(root, "renamed.txt"))
        yield* eventually(Effect.map(store.get(location, "renamed.txt" as RelPath.RelPath), (o) => Option.isSome(o) && o.value.movedFrom === "b/new.txt"))
        Fs.rmSync(Path.join(root, "a.txt"))
        yield* eventually(Effect.map(hashOf("a.txt"), (h) => h === undefined))

        // A burst of 2,000 files in 20 directories.
        const before = scans
        for (let d = 0; d < 20; d++) {
          const files: Record<string, string> = {}
          for (let i = 0; i < 100; i++) files[`burst/d${d}/f${i}.txt`] = `${d}-${i}`
          writeTree(root, files)
        }
        yield* eventually(Effect.map(store.totals(location), (t) => t.files >= 2001))
        yield* Effect.sleep("300 millis")
        const burstScans = scans - before
        assert.isAtMost(burstScans, 5, `a burst of 2,000 writes took ${burstScans} scans`)
        const all = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, "burst" as RelPath.RelPath)))
        assert.strictEqual(all.filter((e) => e.kind === 0).length, 2000)
        assert.isTrue(all.every((e) => e.kind !== 0 || e.hash !== null))
        // Rule-excluded paths stay out even when they change.
        writeTree(root, { "node_modules/x/z.js": "z" })
        yield* Effect.sleep("400 millis")
        assert.isTrue(Option.isNone(yield* store.get(location, "node_modules/x/z.js" as RelPath.RelPath)))
        assert.deepStrictEqual(errors, [])
      })
    ), 30_000)
})
