import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Hasher } from "@conduit/index"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { LocalFiles, VersionStore } from "../src/index.js"

const rel = (p: string) => p as RelPath.RelPath
const tempDir = Testkit.tempDir("conduit-files-")
const hasher = Hasher.layerWith({ workers: 1 })

/** A file with known bytes and its copy request to `root/path`. */
const sourceFile = (dir: string, bytes: Buffer, mtimeNs = 1_700_000_000_123_456_789n, mode = 0o640) => {
  const from = Path.join(dir, `src-${Crypto.randomBytes(3).toString("hex")}`)
  Fs.writeFileSync(from, bytes)
  return { from, hash: Hasher.hashBytes(bytes) as string, size: bytes.length, mtimeNs, mode }
}

const tempsIn = (dir: string) => Fs.readdirSync(dir, { recursive: true }).map(String).filter((n) => Path.basename(n).startsWith(".conduit-tmp-"))

/** A tmpfs of `size`, unmounted at the end; needs root (CI runs as root). */
const tmpfs = (options: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const dir = yield* tempDir
      const mount = Path.join(dir, "mnt")
      Fs.mkdirSync(mount)
      execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", mount])
      return mount
    }),
    (mount) => Effect.sync(() => execFileSync("umount", [mount]))
  )

describe("LocalFiles.copyVerified", () => {
  it.scoped("writes the bytes, mode and mtime, leaves no temporary file, keeps the file it replaces", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const root = Path.join(dir, "dst")
      const first = sourceFile(dir, Buffer.from("first version"))
      const result = yield* LocalFiles.copyVerified({ ...first, root, path: rel("docs/a.txt") })
      const written = Path.join(root, "docs/a.txt")
      assert.strictEqual(Fs.readFileSync(written, "utf8"), "first version")
      const st = Fs.statSync(written, { bigint: true })
      assert.strictEqual(Number(st.mode & 0o7777n), 0o640)
      const drift = st.mtimeNs - first.mtimeNs
      assert.isTrue(drift > -1000n && drift < 1000n, `mtime within 1 µs, drift ${drift} ns`)
      assert.isNull(result.kept)

      const second = sourceFile(dir, Buffer.from("second, longer version"))
      const replaced = yield* LocalFiles.copyVerified({ ...second, root, path: rel("docs/a.txt") })
      assert.strictEqual(Fs.readFileSync(written, "utf8"), "second, longer version")
      assert.strictEqual(Fs.readFileSync(replaced.kept!.file, "utf8"), "first version")
      const versions = yield* VersionStore.list(root, "docs/a.txt")
      assert.deepStrictEqual(versions.map((v) => v.file), [replaced.kept!.file])
      assert.deepStrictEqual(tempsIn(root), [])
    }).pipe(Effect.provide(hasher)))

  it.scoped("a source that changed since it was indexed is refused; the destination is untouched", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const root = Path.join(dir, "dst")
      Fs.mkdirSync(root)
      Fs.writeFileSync(Path.join(root, "a.txt"), "keep me")
      const planned = sourceFile(dir, Buffer.from("planned bytes"))
      Fs.writeFileSync(planned.from, "edited bytes!") // same size, other content
      const error = yield* Effect.flip(LocalFiles.copyVerified({ ...planned, root, path: rel("a.txt") }))
      assert.strictEqual(error.reason, "SourceChanged")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "a.txt"), "utf8"), "keep me")
      assert.deepStrictEqual(tempsIn(root), [])
      Fs.rmSync(planned.from)
      const missing = yield* Effect.flip(LocalFiles.copyVerified({ ...planned, root, path: rel("a.txt") }))
      assert.strictEqual(missing.reason, "SourceMissing")
    }).pipe(Effect.provide(hasher)))

  it.scoped("a 96 MiB file is copied and verified", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const big = sourceFile(dir, Crypto.randomBytes(96 * 1024 * 1024))
      const result = yield* LocalFiles.copyVerified({ ...big, root: Path.join(dir, "dst"), path: rel("big.bin") })
      assert.strictEqual(result.bytes, 96 * 1024 * 1024)
      assert.strictEqual(Hasher.hashBytes(Fs.readFileSync(Path.join(dir, "dst", "big.bin"))), big.hash)
    }).pipe(Effect.provide(hasher)), 60_000)

  it.scoped("a full disk fails with DiskFull and leaves neither a partial file nor a changed destination", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const root = yield* tmpfs("size=256k")
      Fs.writeFileSync(Path.join(root, "big.bin"), "old small content")
      const big = sourceFile(dir, Crypto.randomBytes(1024 * 1024))
      const error = yield* Effect.flip(LocalFiles.copyVerified({ ...big, root, path: rel("big.bin") }))
      assert.strictEqual(error.reason, "DiskFull")
      assert.include(error.message, "no space left")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "big.bin"), "utf8"), "old small content")
      assert.deepStrictEqual(tempsIn(root), [])
    }).pipe(Effect.provide(hasher)))

  it.scoped("a read-only destination fails with PermissionDenied and changes nothing", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const root = yield* tmpfs("size=1m")
      Fs.writeFileSync(Path.join(root, "a.txt"), "original")
      execFileSync("mount", ["-o", "remount,ro", root])
      const file = sourceFile(dir, Buffer.from("new"))
      const error = yield* Effect.flip(LocalFiles.copyVerified({ ...file, root, path: rel("a.txt") }))
      assert.strictEqual(error.reason, "PermissionDenied")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "a.txt"), "utf8"), "original")
    }).pipe(Effect.provide(hasher)))
})

describe("LocalFiles: directories, symlinks, removals, moves", () => {
  it.scoped("every replaced or removed thing ends up in the version store", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      Fs.mkdirSync(Path.join(root, "d/sub"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "d/sub/x.txt"), "x")
      Fs.writeFileSync(Path.join(root, "file-then-dir"), "was a file")
      Fs.writeFileSync(Path.join(root, "moved.txt"), "moving")
      Fs.writeFileSync(Path.join(root, "occupied.txt"), "was here first")

      yield* LocalFiles.remove(root, rel("d"))
      assert.isFalse(Fs.existsSync(Path.join(root, "d")))
      const [kept] = yield* VersionStore.list(root, "d")
      assert.strictEqual(Fs.readFileSync(Path.join(kept!.file, "sub/x.txt"), "utf8"), "x")

      yield* LocalFiles.ensureDirectory(root, rel("file-then-dir"), 1_600_000_000_000_000_000n, 0o750)
      assert.isTrue(Fs.statSync(Path.join(root, "file-then-dir")).isDirectory())
      assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(root, "file-then-dir"))[0]!.file, "utf8"), "was a file")

      yield* LocalFiles.writeSymlink(root, rel("link"), "../outside/never-followed", null)
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "link")), "../outside/never-followed")

      yield* LocalFiles.move(root, rel("moved.txt"), rel("occupied.txt"))
      assert.strictEqual(Fs.readFileSync(Path.join(root, "occupied.txt"), "utf8"), "moving")
      assert.strictEqual(Fs.readFileSync((yield* VersionStore.list(root, "occupied.txt"))[0]!.file, "utf8"), "was here first")

      yield* LocalFiles.setAttributes(root, rel("occupied.txt"), 1_500_000_000_000_000_000n, 0o600)
      const st = Fs.statSync(Path.join(root, "occupied.txt"))
      assert.strictEqual(st.mode & 0o777, 0o600)
      assert.strictEqual(Math.round(st.mtimeMs), 1_500_000_000_000)
      assert.strictEqual((yield* Effect.flip(LocalFiles.move(root, rel("nope"), rel("x")))).reason, "SourceMissing")
    }))
})

describe("VersionStore", () => {
  it.scoped("restore puts a version back and keeps what it replaces; prune removes old versions only", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      Fs.writeFileSync(Path.join(root, "doc.txt"), "v1")
      yield* LocalFiles.remove(root, rel("doc.txt"))
      Fs.writeFileSync(Path.join(root, "doc.txt"), "v2")
      const [v1] = yield* VersionStore.list(root, "doc.txt")
      yield* VersionStore.restore(root, "doc.txt", v1!)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "doc.txt"), "utf8"), "v1")
      const versions = yield* VersionStore.list(root, "doc.txt")
      assert.deepStrictEqual(versions.map((v) => Fs.readFileSync(v.file, "utf8")).sort(), ["v1", "v2"])
      // Nothing is older than an hour; everything is older than -1 ms.
      assert.strictEqual(yield* VersionStore.prune(root, 3_600_000), 0)
      assert.strictEqual(yield* VersionStore.prune(root, 3_600_000, Date.now() + 7_200_000), 2)
      assert.deepStrictEqual(yield* VersionStore.list(root, "doc.txt"), [])
      assert.strictEqual(Fs.readFileSync(Path.join(root, "doc.txt"), "utf8"), "v1")
    }))

  it.scoped("restore of a directory and of a symlink; a failed restore leaves no temporary file and the path as kept", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      Fs.mkdirSync(Path.join(root, "album/inner"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "album/inner/photo.jpg"), "pixels")
      Fs.symlinkSync("album/inner/photo.jpg", Path.join(root, "latest"))
      yield* LocalFiles.remove(root, rel("album"))
      yield* LocalFiles.remove(root, rel("latest"))
      const [album] = yield* VersionStore.list(root, "album")
      const [latest] = yield* VersionStore.list(root, "latest")
      yield* VersionStore.restore(root, "album", album!)
      yield* VersionStore.restore(root, "latest", latest!)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "album/inner/photo.jpg"), "utf8"), "pixels")
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "latest")), "album/inner/photo.jpg")
      assert.isTrue(Fs.existsSync(album!.file), "the version stays")
      // A version whose bytes cannot be read: the restore fails, typed, and leaves nothing behind.
      const broken = { ...album!, path: "gone", file: Path.join(root, ".conduit/versions/gone~20260101-000000-000") }
      const error = yield* Effect.flip(VersionStore.restore(root, "gone", broken))
      assert.strictEqual(error._tag, "FileOpError")
      assert.deepStrictEqual(Fs.readdirSync(root).filter((n) => n.startsWith(".conduit-tmp-")), [])
      assert.isFalse(Fs.existsSync(Path.join(root, "gone")))
    }))
})
