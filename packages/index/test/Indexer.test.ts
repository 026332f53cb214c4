import { describe, it } from "@effect/vitest"
import type { Entry, Ids } from "@conduit/domain"
import { SqlClient } from "@effect/sql"
import { RelPath } from "@conduit/domain"
import { Chunk, Effect, Option, Stream } from "effect"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Indexer, IndexStore, Locations } from "../src/index.js"
import { b3, writeTree, withIndex } from "./support.js"

const rel = (p: string) => p as RelPath.RelPath

/** Adds `root` as a location and returns helpers bound to it. */
const setup = (root: string, options?: Locations.AddLocationOptions) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const indexer = yield* Indexer.Indexer
    const store = yield* IndexStore.IndexStore
    const location = yield* locations.add(root, options)
    const scan = (o?: Indexer.ScanOptions) => indexer.scan(location.id, o)
    const live = Effect.map(
      Stream.runCollect(store.entriesUnder(location, RelPath.root)),
      (c) => new Map(Chunk.toReadonlyArray(c).map((e) => [e.path as string, e]))
    )
    const get = (p: string) => Effect.map(store.get(location, rel(p)), Option.getOrUndefined)
    return { location, scan, live, get, store, locations }
  })

describe("Indexer", () => {
  it.scoped("first scan records every entry with kind, size, mtime, inode, mode and a full BLAKE3", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "alpha", "empty.bin": "", "d/e/f.txt": "deep", "d/g.txt": "gee", "emptydir": null })
        const { scan, live } = yield* setup(root)
        const summary = yield* scan()
        assert.strictEqual(summary.added, 7)
        assert.strictEqual(summary.filesHashed, 4)
        assert.deepStrictEqual(summary.problems, [])
        const entries = yield* live
        assert.deepStrictEqual([...entries.keys()].sort(), ["a.txt", "d", "d/e", "d/e/f.txt", "d/g.txt", "empty.bin", "emptydir"])
        const a = entries.get("a.txt")!
        const st = Fs.lstatSync(Path.join(root, "a.txt"), { bigint: true })
        assert.strictEqual(a.kind, 0)
        assert.strictEqual(a.size, 5)
        assert.strictEqual(a.mtimeNs, st.mtimeNs)
        assert.strictEqual(a.inode, Number(st.ino))
        assert.strictEqual(a.mode, Number(st.mode & 0o7777n))
        assert.strictEqual(a.hash, b3("alpha"))
        assert.strictEqual(entries.get("empty.bin")!.hash, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")
        assert.strictEqual(entries.get("d")!.kind, 1)
        assert.strictEqual(entries.get("d")!.hash, null)
        assert.strictEqual(entries.get("emptydir")!.kind, 1)
        // Every row took its own sequence number.
        const seqs = [...entries.values()].map((e) => e.seq).sort((x, y) => x - y)
        assert.deepStrictEqual(seqs, [1, 2, 3, 4, 5, 6, 7])
        assert.deepStrictEqual(summary.sequences, { first: 1, last: 7 })
      })
    ))

  it.scoped("a rescan with no change hashes nothing and writes nothing", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "alpha", "d/b.txt": "bravo", "d/e/c.txt": "charlie" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        const before = yield* live
        const again = yield* scan()
        assert.strictEqual(again.filesHashed, 0)
        assert.strictEqual(again.bytesHashed, 0)
        assert.strictEqual(again.added + again.modified + again.moved + again.deleted, 0)
        assert.strictEqual(again.sequences, null)
        assert.deepStrictEqual(yield* live, before)
      })
    ))

  it.scoped("directories that read as they were skip the row comparison, yet any change below them is still found", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "d/a.txt": "alpha", "d/b.txt": "bravo", "d/e/c.txt": "charlie", "f/x.txt": "x" })
        Fs.utimesSync(Path.join(root, "d"), 1_700_000_000, 1_700_000_000)
        const { scan, get } = yield* setup(root)
        yield* scan()
        yield* scan() // every directory now matches its stored digest
        // Same size and mtime, another file (new inode): the content changed.
        const a = Path.join(root, "d/a.txt")
        const { mtime } = Fs.statSync(a)
        Fs.writeFileSync(Path.join(root, "d/new-a.txt"), "ALPHA")
        Fs.utimesSync(Path.join(root, "d/new-a.txt"), mtime, mtime)
        Fs.renameSync(Path.join(root, "d/new-a.txt"), a)
        Fs.utimesSync(Path.join(root, "d"), 1_700_000_000, 1_700_000_000) // and the directory's own time put back
        // Mode only, two levels down.
        Fs.chmodSync(Path.join(root, "d/e/c.txt"), 0o600)
        const changed = yield* scan()
        assert.strictEqual(changed.modified, 2)
        assert.strictEqual((yield* get("d/a.txt"))!.hash, b3("ALPHA"))
        assert.strictEqual((yield* get("d/e/c.txt"))!.mode, 0o600)
        const settled = yield* scan()
        assert.strictEqual(settled.added + settled.modified + settled.moved + settled.deleted, 0)
        // A directory that vanishes takes its digest along; re-created, it is read afresh.
        Fs.rmSync(Path.join(root, "f"), { recursive: true })
        assert.strictEqual((yield* scan()).deleted, 2)
        writeTree(root, { "f/x.txt": "x" })
        assert.strictEqual((yield* scan()).added, 2)
        assert.strictEqual((yield* get("f/x.txt"))!.tombstone, false)
      })
    ))

  it.scoped("detects modified, added and deleted files; deletions become tombstones with new sequence numbers", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "keep.txt": "keep", "mod.txt": "before", "del.txt": "delete me", "dir/x.txt": "x" })
        const { scan, live, get, store, location } = yield* setup(root)
        const first = yield* scan()
        const last = first.sequences!.last
        // Same size, different bytes and mtime: must be re-hashed.
        Fs.writeFileSync(Path.join(root, "mod.txt"), "after!")
        Fs.utimesSync(Path.join(root, "mod.txt"), new Date(), new Date(Date.now() + 5000))
        Fs.writeFileSync(Path.join(root, "new.txt"), "new")
        Fs.rmSync(Path.join(root, "del.txt"))
        Fs.rmSync(Path.join(root, "dir"), { recursive: true })
        const summary = yield* scan()
        assert.strictEqual(summary.modified, 1)
        const entries = yield* live
        assert.strictEqual(entries.get("mod.txt")!.hash, b3("after!"))
        assert.strictEqual(entries.get("new.txt")!.hash, b3("new"))
        assert.isFalse(entries.has("del.txt"))
        assert.isFalse(entries.has("dir"))
        assert.isFalse(entries.has("dir/x.txt"))
        const del = (yield* get("del.txt"))!
        assert.isTrue(del.tombstone)
        assert.isAbove(del.seq, last)
        assert.isTrue((yield* get("dir/x.txt"))!.tombstone)
        assert.strictEqual(entries.get("keep.txt")!.seq <= last, true)
        assert.strictEqual(summary.filesHashed, 2)
        assert.strictEqual(summary.deleted, 3)
        assert.strictEqual(summary.added, 1)
        // changesSince(last) returns exactly the changed rows, in sequence order.
        const changes = Chunk.toReadonlyArray(yield* Stream.runCollect(store.changesSince(location.deviceRowId, last, 2)))
        assert.deepStrictEqual(changes.map((c) => c.entry.path).sort(), ["del.txt", "dir", "dir/x.txt", "mod.txt", "new.txt"])
        const order = changes.map((c) => c.entry.seq)
        assert.deepStrictEqual(order, [...order].sort((x, y) => x - y))
        assert.strictEqual(new Set(order).size, order.length)
      })
    ))

  it.scoped("a rename is a move: same inode, no re-hash, moved_from recorded", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "old.txt": "renamed content", "folder/inner/a.txt": "aaa", "folder/b.txt": "bbb" })
        const { scan, live, get } = yield* setup(root)
        yield* scan()
        Fs.renameSync(Path.join(root, "old.txt"), Path.join(root, "new.txt"))
        Fs.renameSync(Path.join(root, "folder"), Path.join(root, "moved-folder"))
        const summary = yield* scan()
        assert.strictEqual(summary.filesHashed, 0)
        assert.strictEqual(summary.moved, 5) // new.txt, moved-folder, its inner dir and two files
        assert.strictEqual(summary.added, 0)
        assert.strictEqual(summary.deleted, 0)
        const entries = yield* live
        assert.strictEqual(entries.get("new.txt")!.movedFrom, "old.txt")
        assert.strictEqual(entries.get("new.txt")!.hash, b3("renamed content"))
        assert.strictEqual(entries.get("moved-folder/inner/a.txt")!.movedFrom, "folder/inner/a.txt")
        assert.strictEqual(entries.get("moved-folder/inner/a.txt")!.hash, b3("aaa"))
        assert.isTrue((yield* get("old.txt"))!.tombstone)
        assert.isTrue((yield* get("folder/b.txt"))!.tombstone)
      })
    ))

  it.scoped("the same content appearing where a file vanished is a move by hash", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a/report.pdf": "pdf bytes here" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        // Copy (new inode) then delete: what a cross-device move or an app's save-as does.
        Fs.mkdirSync(Path.join(root, "b"))
        Fs.copyFileSync(Path.join(root, "a/report.pdf"), Path.join(root, "b/report.pdf"))
        Fs.rmSync(Path.join(root, "a/report.pdf"))
        const summary = yield* scan()
        assert.strictEqual(summary.moved, 1)
        assert.strictEqual(summary.deleted, 0)
        const after = yield* live
        const moved = after.get("b/report.pdf")!
        assert.strictEqual(moved.movedFrom, "a/report.pdf")
        // Found a move after the row was written (directory b, then the hashed file): the move
        // takes a sequence number of its own, so a replica that already has the row hears of it.
        assert.isAtLeast(moved.seq, after.get("b")!.seq + 2)
      })
    ))

  it.scoped("a peer's location (a library-sync replica) cannot be scanned", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO devices (uuid, name, created_at) VALUES ('peer-device', 'peer', 0)`
        yield* sql`INSERT INTO locations (uuid, device_id, name, root, indexing_mode, created_at)
          SELECT '00000000-0000-4000-8000-000000000001', id, 'theirs', ${root}, 'Standard', 0 FROM devices WHERE uuid = 'peer-device'`
        const indexer = yield* Indexer.Indexer
        const error = yield* Effect.flip(indexer.scan("00000000-0000-4000-8000-000000000001" as Ids.LocationId))
        assert.include(error, { _tag: "LocationError", reason: "NotLocal" })
      })
    ))

  it.scoped("a recycled inode with another mtime is not mistaken for a move", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "one.txt": "first file" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        const st = Fs.statSync(Path.join(root, "one.txt"))
        // Rename keeps the inode, but a rewrite with another mtime must be hashed again.
        Fs.renameSync(Path.join(root, "one.txt"), Path.join(root, "two.txt"))
        Fs.writeFileSync(Path.join(root, "two.txt"), "other text")
        Fs.utimesSync(Path.join(root, "two.txt"), st.atime, new Date(st.mtimeMs + 10_000))
        const summary = yield* scan()
        assert.strictEqual(summary.filesHashed, 1)
        assert.strictEqual((yield* live).get("two.txt")!.hash, b3("other text"))
      })
    ))

  it.scoped("a type change (file to directory and back) replaces the row and its subtree", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "x": "i am a file", "y/z.txt": "zed" })
        const { scan, live, get } = yield* setup(root)
        yield* scan()
        Fs.rmSync(Path.join(root, "x"))
        writeTree(root, { "x/inside.txt": "now a dir" })
        Fs.rmSync(Path.join(root, "y"), { recursive: true })
        Fs.writeFileSync(Path.join(root, "y"), "now a file")
        yield* scan()
        const entries = yield* live
        assert.strictEqual(entries.get("x")!.kind, 1)
        assert.strictEqual(entries.get("x/inside.txt")!.hash, b3("now a dir"))
        assert.strictEqual(entries.get("y")!.kind, 0)
        assert.strictEqual(entries.get("y")!.hash, b3("now a file"))
        assert.isTrue((yield* get("y/z.txt"))!.tombstone)
        assert.strictEqual(yield* scan().pipe(Effect.map((s) => s.added + s.modified + s.deleted + s.moved)), 0)
      })
    ))

  it.scoped("a deleted then re-created path revives its tombstone with a new sequence number", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "phoenix.txt": "v1", "other.txt": "keeps the root non-empty" })
        const { scan, get } = yield* setup(root)
        yield* scan()
        Fs.rmSync(Path.join(root, "phoenix.txt"))
        yield* scan()
        const dead = (yield* get("phoenix.txt"))!
        assert.isTrue(dead.tombstone)
        Fs.writeFileSync(Path.join(root, "phoenix.txt"), "v2 is longer")
        yield* scan()
        const alive = (yield* get("phoenix.txt"))!
        assert.isFalse(alive.tombstone)
        assert.isAbove(alive.seq, dead.seq)
        assert.strictEqual(alive.hash, b3("v2 is longer"))
      })
    ))

  it.scoped("NFD names are indexed as NFC with the on-disk spelling kept, and hashed through it", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const nfd = "Cafe\u0301"
        const nfc = "Caf\u00e9"
        writeTree(root, { [`${nfd}/re\u0301sume\u0301.txt`]: "bonjour", "plain.txt": "p" })
        const { scan, live } = yield* setup(root)
        const summary = yield* scan()
        assert.deepStrictEqual(summary.problems, [])
        const entries = yield* live
        const file = entries.get(`${nfc}/r\u00e9sum\u00e9.txt`)!
        assert.isDefined(file)
        assert.strictEqual(file.diskPath, `${nfd}/re\u0301sume\u0301.txt`)
        assert.strictEqual(file.hash, b3("bonjour"))
        assert.strictEqual(entries.get(nfc)!.diskPath, nfd)
        assert.strictEqual(entries.get("plain.txt")!.diskPath, null)
        const again = yield* scan()
        assert.strictEqual(again.filesHashed + again.added + again.modified + again.deleted, 0)
        // A partial scan of the NFC path finds the NFD directory on disk.
        Fs.writeFileSync(Path.join(root, nfd, "more.txt"), "more")
        const partial = yield* scan({ paths: [rel(nfc)], recursive: false })
        assert.strictEqual(partial.added, 1)
        assert.strictEqual(partial.deleted, 0)
      })
    ))

  it.scoped("two names equal under NFC: one is indexed, the collision is reported", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "caf\u00e9.txt": "nfc", "cafe\u0301.txt": "nfd" })
        const { scan, live } = yield* setup(root)
        const summary = yield* scan()
        assert.strictEqual(summary.problems.length, 1)
        assert.strictEqual(summary.problems[0]!.reason, "name-collision")
        assert.strictEqual((yield* live).size, 1)
      })
    ))

  it.scoped("symlinks are recorded as symlinks and never followed, even out of the location", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        const outside = Fs.mkdtempSync(Path.join(Path.dirname(root), "outside-"))
        writeTree(outside, { "secret.txt": "outside bytes" })
        writeTree(root, { "real/file.txt": "real" })
        Fs.symlinkSync(outside, Path.join(root, "escape"))
        Fs.symlinkSync(Path.join(outside, "secret.txt"), Path.join(root, "escape-file"))
        Fs.symlinkSync("real/file.txt", Path.join(root, "inside-link"))
        Fs.symlinkSync("does/not/exist", Path.join(root, "dangling"))
        const { scan, live } = yield* setup(root)
        const summary = yield* scan()
        Fs.rmSync(outside, { recursive: true })
        assert.deepStrictEqual(summary.problems, [])
        const entries = yield* live
        assert.deepStrictEqual([...entries.keys()].sort(), ["dangling", "escape", "escape-file", "inside-link", "real", "real/file.txt"])
        const escape = entries.get("escape")!
        assert.strictEqual(escape.kind, 2)
        assert.strictEqual(escape.linkTarget, outside)
        assert.strictEqual(escape.hash, b3(outside))
        assert.strictEqual(entries.get("inside-link")!.linkTarget, "real/file.txt")
        assert.strictEqual(entries.get("dangling")!.kind, 2)
        assert.strictEqual(summary.filesHashed, 1)
      })
    ))

  it.scoped("partial, shallow scans only look at the given directories but still walk new ones", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a/x.txt": "x", "b/y.txt": "y" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        writeTree(root, { "a/new/deep/n.txt": "n", "b/unseen.txt": "u" })
        const summary = yield* scan({ paths: [rel("a")], recursive: false })
        const entries = yield* live
        assert.isTrue(entries.has("a/new/deep/n.txt"))
        assert.isFalse(entries.has("b/unseen.txt"))
        assert.strictEqual(summary.added, 3)
        // A requested directory that is gone is handled through its parent.
        Fs.rmSync(Path.join(root, "a"), { recursive: true })
        const gone = yield* scan({ paths: [rel("a/new")], recursive: false })
        assert.isFalse((yield* live).has("a/x.txt"))
        assert.strictEqual(gone.deleted, 5)
      })
    ))

  it.scoped("a shallow scan of a directory also refreshes the directory's own row (a time set after writing into it)", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a/x.txt": "x", "b/y.txt": "y" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        // As a sync does: write into a/, then give a/ back its time. Only a/ is rescanned.
        Fs.writeFileSync(Path.join(root, "a/new.txt"), "new")
        Fs.utimesSync(Path.join(root, "a"), 1_600_000_000, 1_600_000_000)
        Fs.utimesSync(Path.join(root, "b"), 1_600_000_000, 1_600_000_000)
        const summary = yield* scan({ paths: [rel("a")], recursive: false })
        const entries = yield* live
        assert.strictEqual(entries.get("a")!.mtimeNs, 1_600_000_000n * 1_000_000_000n)
        assert.notStrictEqual(entries.get("b")!.mtimeNs, 1_600_000_000n * 1_000_000_000n, "b/ was not asked for")
        assert.strictEqual(summary.added, 1)
        assert.strictEqual(summary.modified, 1)
        // Nothing changed since: nothing written.
        const again = yield* scan({ paths: [rel("a")], recursive: false })
        assert.strictEqual(again.added + again.modified + again.deleted, 0)
      })
    ))

  it.scoped("a file written to while the scan hashes it is flagged unstable, then hashed once it settles", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "calm.txt": "calm", "busy.log": Crypto.randomBytes(32 * 1024 * 1024) })
        const path = Path.join(root, "busy.log")
        const writer = spawn(process.execPath, ["-e", `
          const fs = require("fs"); const chunk = Buffer.alloc(4096, 7); const fd = fs.openSync(${JSON.stringify(path)}, "a");
          process.stdout.write("go\\n"); for (;;) fs.writeSync(fd, chunk)
        `], { stdio: ["ignore", "pipe", "inherit"] })
        yield* Effect.addFinalizer(() => Effect.sync(() => writer.kill("SIGKILL")))
        yield* Effect.async<void>((resume) => {
          writer.stdout!.once("data", () => resume(Effect.void))
        })
        const { scan, get } = yield* setup(root)
        const summary = yield* scan()
        assert.deepStrictEqual(summary.problems.map((p) => [p.path, p.reason]), [["busy.log", "unstable"]])
        const flagged = (yield* get("busy.log"))!
        assert.strictEqual(flagged.hashState, "unstable")
        assert.strictEqual(flagged.hash, null)
        assert.strictEqual((yield* get("calm.txt"))!.hash, b3("calm"))
        writer.kill("SIGKILL")
        yield* Effect.async<void>((resume) => {
          writer.once("exit", () => resume(Effect.void))
        })
        const again = yield* scan()
        assert.deepStrictEqual(again.problems, [])
        const settled = (yield* get("busy.log"))!
        assert.strictEqual(settled.hashState, "ok")
        assert.strictEqual(settled.hash, b3(Fs.readFileSync(path)))
      })
    ))

  it.scoped("a missing root fails with RootMissing and changes nothing", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "a", "b/c.txt": "c" })
        const { scan, live } = yield* setup(root)
        yield* scan()
        const before = yield* live
        Fs.rmSync(root, { recursive: true })
        const error = yield* Effect.flip(scan())
        assert.strictEqual(error._tag, "LocationError")
        assert.strictEqual((error as { reason: string }).reason, "RootMissing")
        Fs.mkdirSync(root)
        // Now present but empty: that looks like an unmounted disk, refuse unless told.
        const empty = yield* Effect.flip(scan())
        assert.strictEqual((empty as { reason: string }).reason, "RootEmpty")
        assert.deepStrictEqual(yield* live, before)
        const forced = yield* scan({ allowEmptyRoot: true })
        assert.strictEqual(forced.deleted, 3)
        assert.strictEqual((yield* live).size, 0)
      })
    ))

  it.scoped("a root on another volume than when it was added is refused as unmounted", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "a" })
        const { scan, location } = yield* setup(root)
        const { SqlClient } = yield* Effect.promise(() => import("@effect/sql"))
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE locations SET root_dev = '999999' WHERE id = ${location.rowId}`
        const error = yield* Effect.flip(scan())
        assert.strictEqual((error as { reason: string }).reason, "RootUnmounted")
      })
    ))
})

describe("Indexer and remote files (selective mode)", () => {
  it.scoped("an absent remote file is not a deletion: no tombstone, not counted, not a move source, nor is its emptied directory", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "keep.txt": "keep", "evict.txt": "evicted bytes", "d/deep.txt": "deep bytes" })
        const { scan, get, store, location } = yield* setup(root)
        yield* scan()
        assert.strictEqual(yield* store.markRemote(location, [rel("evict.txt"), rel("d/deep.txt")]), 2)
        const marked = (yield* get("evict.txt"))!
        // Eviction removes the bytes (and here the emptied directory); the file itself is renamed
        // away, so its inode shows up at another path: that is a new file, not a move.
        Fs.renameSync(Path.join(root, "evict.txt"), Path.join(root, "renamed.txt"))
        Fs.rmSync(Path.join(root, "d"), { recursive: true })
        const summary = yield* scan()
        assert.strictEqual(summary.deleted, 0)
        assert.strictEqual(summary.moved, 0)
        assert.strictEqual(summary.added, 1)
        const evict = (yield* get("evict.txt"))!
        assert.isFalse(evict.tombstone)
        assert.isTrue(evict.remote)
        assert.strictEqual(evict.hash, b3("evicted bytes"))
        assert.strictEqual(evict.seq, marked.seq)
        assert.strictEqual((yield* get("renamed.txt"))!.movedFrom, null)
        const deep = (yield* get("d/deep.txt"))!
        assert.isFalse(deep.tombstone)
        assert.isTrue(deep.remote)
        assert.isFalse((yield* get("d"))!.tombstone)
        // And the next scan has nothing to say about them.
        const again = yield* scan()
        assert.strictEqual(again.sequences, null)
        assert.strictEqual(again.deleted, 0)
      })
    ))

  it.scoped("the marked file still on disk stays remote; a file restored at its path is hashed and becomes local", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "alpha" })
        const { scan, get, store, location } = yield* setup(root)
        yield* scan()
        assert.strictEqual(yield* store.markRemote(location, [rel("a.txt")]), 1)
        // Another change in the directory makes the scan compare a.txt's row with the disk.
        writeTree(root, { "b.txt": "bravo" })
        const pending = yield* scan()
        assert.strictEqual(pending.added, 1)
        assert.strictEqual(pending.modified, 0)
        assert.isTrue((yield* get("a.txt"))!.remote)
        // Evicted, then restored: another file (its own time) at the path.
        Fs.rmSync(Path.join(root, "a.txt"))
        assert.strictEqual((yield* scan()).deleted, 0)
        const remote = (yield* get("a.txt"))!
        assert.isTrue(remote.remote)
        Fs.writeFileSync(Path.join(root, "a.txt"), "alpha")
        Fs.utimesSync(Path.join(root, "a.txt"), 1_600_000_000, 1_600_000_000)
        const restored = yield* scan()
        assert.strictEqual(restored.modified, 1)
        assert.strictEqual(restored.filesHashed, 1)
        const local = (yield* get("a.txt"))!
        assert.isFalse(local.remote)
        assert.isFalse(local.tombstone)
        assert.strictEqual(local.hash, b3("alpha"))
        assert.isAbove(local.seq, remote.seq)
        assert.strictEqual((yield* store.totals(location)).remote, 0)
      })
    ))

  it.scoped("a root holding only remote files may be empty on disk; a local file still trips RootEmpty", () =>
    withIndex(({ root }) =>
      Effect.gen(function* () {
        writeTree(root, { "a.txt": "a", "d/b.txt": "b" })
        const { scan, get, store, location } = yield* setup(root)
        yield* scan()
        assert.strictEqual(yield* store.markRemote(location, [rel("a.txt"), rel("d/b.txt")]), 2)
        Fs.rmSync(Path.join(root, "a.txt"))
        Fs.rmSync(Path.join(root, "d"), { recursive: true })
        assert.deepStrictEqual(Fs.readdirSync(root), [])
        const summary = yield* scan()
        assert.strictEqual(summary.deleted, 0)
        assert.isTrue((yield* get("a.txt"))!.remote)
        assert.isTrue((yield* get("d/b.txt"))!.remote)
        assert.isFalse((yield* get("d"))!.tombstone)
        // A local file that then vanishes with everything else looks like an unmounted disk.
        writeTree(root, { "c.txt": "c" })
        assert.strictEqual((yield* scan()).added, 1)
        Fs.rmSync(Path.join(root, "c.txt"))
        const error = yield* Effect.flip(scan())
        assert.strictEqual((error as { reason: string }).reason, "RootEmpty")
        assert.isFalse((yield* get("c.txt"))!.tombstone)
      })
    ))
})

// Keep the Entry type import used for editors.
export type _Entry = Entry.Entry
