import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Hasher, LibraryDatabase } from "@conduit/index"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { DeleteJob, FileCopyJob, JobRuntime, VersionStore } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-filejobs-")

const layerOn = (home: string) =>
  JobRuntime.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(Layer.fresh(LibraryDatabase.layer({ home })), Hasher.layerWith({ workers: 1 })))
  )

/** `count` source files and the `FileCopyJob` items that copy them to `dst`. */
const sources = (src: string, count: number): Array<FileCopyJob.Item> => {
  const items: Array<FileCopyJob.Item> = []
  for (let i = 0; i < count; i++) {
    const bytes = Buffer.from(`file number ${i}`)
    const from = Path.join(src, `f${i}.txt`)
    Fs.writeFileSync(from, bytes)
    items.push({ from, path: `dir/f${i}.txt` as RelPath.RelPath, hash: Hasher.hashBytes(bytes), size: bytes.length, mtimeNs: "1700000000123456000", mode: 0o644 })
  }
  return items
}

describe("FileCopyJob", () => {
  it.scopedLive("copies in verified batches, checkpointing after each; pause stops between batches and run resumes; failures are recorded", () =>
    Effect.gen(function* () {
      const base = yield* tempDir
      const src = Path.join(base, "src")
      const dst = Path.join(base, "dst")
      Fs.mkdirSync(src)
      Fs.mkdirSync(dst)
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const handler = yield* FileCopyJob.makeHandler()
        // Pause as soon as the first batch is in: the request is seen at the next checkpoint.
        let batches = 0
        yield* jobs.register<FileCopyJob.Payload, FileCopyJob.Checkpoint>({
          kind: handler.kind,
          run: (context) =>
            handler.run({
              ...context,
              checkpointAt: (checkpoint, progress) =>
                Effect.zipRight(
                  ++batches === 2 ? Effect.orDie(jobs.pause(context.id)) : Effect.void,
                  context.checkpointAt(checkpoint, progress)
                )
            })
        })
        const items = sources(src, 1100)
        // One source vanishes before the job runs: a recorded failure, not a failed job.
        Fs.rmSync(items[700]!.from)
        const id = yield* jobs.enqueue(FileCopyJob.kind, { root: dst, items } satisfies FileCopyJob.Payload)
        const paused = yield* jobs.run(id)
        assert.strictEqual(paused.status, "paused")
        assert.deepStrictEqual(paused.checkpoint, { next: 512, copied: 512, bytes: items.slice(0, 512).reduce((n, i) => n + i.size, 0), failed: [] })
        assert.strictEqual(Fs.readdirSync(Path.join(dst, "dir")).length, 512, "the first batch only, and no temporary file")
        const done = yield* jobs.run(id)
        assert.strictEqual(done.status, "completed")
        const checkpoint = done.checkpoint as FileCopyJob.Checkpoint
        assert.strictEqual(checkpoint.next, 1100)
        assert.strictEqual(checkpoint.copied, 1099)
        assert.deepStrictEqual(checkpoint.failed.map((f) => [f.path, f.reason]), [["dir/f700.txt", "SourceMissing"]])
        assert.deepStrictEqual(done.progress, { done: 1100, total: 1100, bytes: checkpoint.bytes, bytesTotal: items.reduce((n, i) => n + i.size, 0) })
        assert.strictEqual(Fs.readFileSync(Path.join(dst, "dir/f1099.txt"), "utf8"), "file number 1099")
        assert.strictEqual(Fs.statSync(Path.join(dst, "dir/f5.txt")).mtimeMs, 1700000000123.456)
        assert.strictEqual(Fs.readdirSync(Path.join(dst, "dir")).length, 1099)
      }).pipe(Effect.provide(layerOn(Path.join(base, "home"))))
    }), 60_000)

  it.scopedLive("copyBatches reads a same-content candidate instead of the source, and the source when the candidate changed", () =>
    Effect.gen(function* () {
      const base = yield* tempDir
      const [src, dst] = [Path.join(base, "src"), Path.join(base, "dst")]
      Fs.mkdirSync(src)
      Fs.mkdirSync(dst)
      const [a, b] = sources(src, 2)
      Fs.writeFileSync(Path.join(dst, "have-a.txt"), "file number 0")
      Fs.writeFileSync(Path.join(dst, "had-b.txt"), "no longer b's bytes")
      Fs.rmSync(a!.from) // only the candidate can give a's bytes
      const candidates = new Map([[a!.hash, Path.join(dst, "have-a.txt")], [b!.hash, Path.join(dst, "had-b.txt")]])
      const outcome = yield* FileCopyJob.copyBatches(
        (yield* Effect.promise(() => import("../src/FileRoute.js"))).local,
        dst,
        [a!, b!].map((item) => FileCopyJob.toRequest(dst, item)),
        { sameContent: (hash) => candidates.get(hash) }
      ).pipe(Effect.provide(Hasher.layerWith({ workers: 1 })))
      assert.deepStrictEqual(outcome.results.map((r) => r._tag), ["Right", "Right"])
      assert.strictEqual(Fs.readFileSync(Path.join(dst, "dir/f0.txt"), "utf8"), "file number 0")
      assert.strictEqual(Fs.readFileSync(Path.join(dst, "dir/f1.txt"), "utf8"), "file number 1")
    }), 60_000)
})

describe("DeleteJob", () => {
  it.scopedLive("removes deepest first, each kept as a version; a missing path is recorded, the rest goes on", () =>
    Effect.gen(function* () {
      const base = yield* tempDir
      const root = Path.join(base, "root")
      Testkit.writeTree(root, { "album/one.jpg": "1", "album/two.jpg": "2", "notes.txt": "n", "keep.txt": "k" })
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        yield* jobs.register(DeleteJob.makeHandler())
        const paths = ["album", "album/one.jpg", "notes.txt", "album/two.jpg"] as Array<RelPath.RelPath>
        assert.deepStrictEqual(DeleteJob.order(paths), ["album/two.jpg", "album/one.jpg", "notes.txt", "album"])
        const id = yield* jobs.enqueue(DeleteJob.kind, { root, paths } satisfies DeleteJob.Payload)
        const done = yield* jobs.run(id)
        assert.strictEqual(done.status, "completed")
        assert.deepStrictEqual(done.checkpoint, { next: 4, deleted: 4, failed: [] })
        assert.deepStrictEqual(Testkit.listTree(root), ["keep.txt"])
        for (const p of ["album/one.jpg", "album/two.jpg", "notes.txt"]) {
          const [version] = yield* VersionStore.list(root, p)
          assert.isDefined(version, p)
          assert.isTrue(Fs.existsSync(version!.file), p)
        }
        // Nothing there to remove is no failure (it is gone already); a path whose version cannot
        // be kept is a failure, and stays where it is.
        const blocked = Path.join(base, "blocked")
        Testkit.writeTree(blocked, { "x.txt": "x", ".conduit": "a file where the version store would go" })
        const id2 = yield* jobs.enqueue(DeleteJob.kind, { root: blocked, paths: ["x.txt", "gone.txt"] as Array<RelPath.RelPath> } satisfies DeleteJob.Payload)
        const ended = yield* jobs.run(id2)
        assert.strictEqual(ended.status, "completed")
        const checkpoint = ended.checkpoint as DeleteJob.Checkpoint
        assert.deepStrictEqual(checkpoint.failed.map((f) => [f.path, f.reason]), [["x.txt", "Io"]])
        assert.strictEqual(checkpoint.deleted, 1)
        assert.strictEqual(Fs.readFileSync(Path.join(blocked, "x.txt"), "utf8"), "x")
      }).pipe(Effect.provide(layerOn(Path.join(base, "home"))))
    }), 60_000)
})
