import { describe, it } from "@effect/vitest"
import { RelPath } from "@conduit/domain"
import { Chunk, Effect, Stream } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Indexer, IndexStore, Locations } from "../src/index.js"
import { writeTree, withIndex } from "./support.js"

const tree = {
  "keep.txt": "k",
  ".DS_Store": "x",
  "Thumbs.db": "x",
  "sub/desktop.ini": "x",
  "notes.tmp": "x",
  "~$report.docx": "x",
  "draft.txt~": "x",
  ".vim.swp": "x",
  "node_modules/pkg/index.js": "x",
  "deep/node_modules/pkg/index.js": "x",
  ".git/HEAD": "x",
  "__pycache__/m.pyc": "x",
  // .gitignore at the root
  ".gitignore": "*.log\nbuild/\n!important.log\n",
  "app.log": "x",
  "important.log": "kept by negation",
  "build/out.js": "x",
  // a nested .gitignore applies below its directory only, and can re-include
  "pkg/.gitignore": "secret.txt\n!*.log\n",
  "pkg/secret.txt": "x",
  "pkg/trace.log": "re-included below pkg",
  "secret.txt": "not ignored at the root",
  // .conduitignore, gitignore syntax
  ".conduitignore": "/private/\n*.raw\n",
  "private/diary.txt": "x",
  "photos/a.raw": "x",
  "photos/a.jpg": "j",
  "other/private/ok.txt": "anchored pattern does not match here",
  // extra patterns of the location
  "cache/blob": "x",
  // Conduit's own partial files, never indexed
  ".conduit-tmp-123-a.txt": "x",
  ".conduit/versions/keep.txt~20250101-000000-000": "x"
}

const expectedStandard = [
  ".conduitignore", ".gitignore", "deep", "important.log", "keep.txt", "other", "other/private", "other/private/ok.txt",
  "photos", "photos/a.jpg", "pkg", "pkg/.gitignore", "pkg/trace.log", "secret.txt", "sub"
]

const indexed = (root: string, options: Locations.AddLocationOptions) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const indexer = yield* Indexer.Indexer
    const store = yield* IndexStore.IndexStore
    const location = yield* locations.add(root, options)
    const summary = yield* indexer.scan(location.id)
    const entries = yield* Stream.runCollect(store.entriesUnder(location, RelPath.root))
    return { summary, paths: Chunk.toReadonlyArray(entries).map((e) => e.path as string).sort() }
  })

describe("IndexRules", () => {
  it.scoped("Standard mode excludes system, temp and dev files, .gitignore (nested, negated) and .conduitignore matches, and extra patterns", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, tree)
        const { paths, summary } = yield* indexed(root, { ignorePatterns: ["cache/"] })
        assert.deepStrictEqual(summary.problems, [])
        assert.deepStrictEqual(paths, expectedStandard)
      })
    ))

  it.scoped("SyncComplete indexes everything but the location's explicit patterns and Conduit's own partial files", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, tree)
        const { paths } = yield* indexed(root, { indexingMode: "SyncComplete", ignorePatterns: ["cache/"] })
        const all = new Set<string>()
        for (const file of Object.keys(tree)) {
          const parts = file.split("/")
          for (let i = 1; i <= parts.length; i++) all.add(parts.slice(0, i).join("/"))
        }
        all.delete(".conduit-tmp-123-a.txt")
        for (const p of [...all]) if (p === ".conduit" || p.startsWith(".conduit/")) all.delete(p)
        all.delete("cache")
        all.delete("cache/blob")
        assert.deepStrictEqual(paths, [...all].sort())
      })
    ))

  it.scoped("a rule added later removes matching entries from the index as deletions", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "a", "b.bak": "b" })
        const locations = yield* Locations.Locations
        const indexer = yield* Indexer.Indexer
        const store = yield* IndexStore.IndexStore
        const location = yield* locations.add(root)
        yield* indexer.scan(location.id)
        Fs.writeFileSync(Path.join(root, ".conduitignore"), "*.bak\n")
        const summary = yield* indexer.scan(location.id)
        assert.strictEqual(summary.deleted, 1)
        const paths = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, RelPath.root))).map((e) => e.path)
        assert.deepStrictEqual([...paths].sort(), [".conduitignore", "a.txt"])
      })
    ))

  it.scoped("a scan started below the root applies the ancestors' rule files", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { ".gitignore": "*.o\n", "src/main.c": "c" })
        const locations = yield* Locations.Locations
        const indexer = yield* Indexer.Indexer
        const store = yield* IndexStore.IndexStore
        const location = yield* locations.add(root)
        yield* indexer.scan(location.id)
        writeTree(root, { "src/main.o": "object", "src/util.c": "c2" })
        const summary = yield* indexer.scan(location.id, { paths: ["src" as RelPath.RelPath] })
        assert.strictEqual(summary.added, 1)
        const paths = Chunk.toReadonlyArray(yield* Stream.runCollect(store.entriesUnder(location, "src" as RelPath.RelPath))).map((e) => e.path)
        assert.deepStrictEqual([...paths].sort(), ["src/main.c", "src/util.c"])
      })
    ))
})
