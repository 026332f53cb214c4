/**
 * Two daemons as real child processes on 127.0.0.1, each with its own library, on the two
 * benchmark workloads in small: many small files (2,000 of 1–16 KiB in nested directories) and
 * large files (2 × 48 MiB). A mirror conduit A→B and a bidirectional one, edits on both sides,
 * and after each run both trees are hashed and must be equal.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { deviceIn, killDaemons, startPaired } from "./support.js"

let root: string
const homes: Array<string> = []

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-workloads-e2e-")))
})

afterEach(async () => {
  await killDaemons(homes)
  Fs.rmSync(root, { recursive: true, force: true })
})

const device = (name: string) => {
  const d = deviceIn(root, name)
  homes.push(d.home)
  return d
}
type Device = ReturnType<typeof device>

/** Starts both daemons and pairs them both ways (A calls B "bee"). */
const pairedDaemons = async () => {
  const a = device("a")
  const b = device("b")
  // A's pushes go through a device-wide limit too (high enough not to slow the test).
  const started = await startPaired(a, b, ["--bandwidth-limit", "8000"])
  return { a, b, peerB: started.b.peerId }
}

/** The many-small workload in small: 2,000 files of 1–16 KiB, 100 directories up to 3 deep. */
const manySmall = (dir: string) => {
  for (let i = 0; i < 2000; i++) {
    const d = i % 100
    const rel = Path.join(`d${d % 10}`, `e${Math.floor(d / 10)}`, d % 3 === 0 ? "deep" : "", `f${i}.bin`)
    write(dir, rel, Crypto.randomBytes(1024 + Crypto.randomInt(15 * 1024)))
  }
}

/** The large workload in small: 2 × 48 MiB of random bytes. */
const large = (dir: string) => {
  for (const name of ["large-0.bin", "large-1.bin"]) {
    const fd = Fs.openSync(Path.join(dir, name), "w")
    for (let i = 0; i < 6; i++) Fs.writeSync(fd, Crypto.randomBytes(8 * 1024 * 1024))
    Fs.closeSync(fd)
  }
}

const write = (dir: string, rel: string, bytes: Uint8Array | string) => {
  Fs.mkdirSync(Path.dirname(Path.join(dir, rel)), { recursive: true })
  Fs.writeFileSync(Path.join(dir, rel), bytes)
}

/** Overwrites `length` bytes in the middle of a file (same size). */
const patch = (file: string, length: number) => {
  const fd = Fs.openSync(file, "r+")
  Fs.writeSync(fd, Crypto.randomBytes(length), 0, length, Math.floor(Fs.fstatSync(fd).size / 3))
  Fs.closeSync(fd)
}

/** Every file of a tree (version store and temporary files aside): path → SHA-256. */
const hashes = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const rel of (Fs.readdirSync(dir, { recursive: true }) as Array<string>).sort()) {
    if (rel.split(Path.sep).some((s) => s.startsWith(".conduit"))) continue
    const abs = Path.join(dir, rel)
    if (Fs.lstatSync(abs).isFile()) out[rel] = Crypto.createHash("sha256").update(Fs.readFileSync(abs)).digest("hex")
  }
  return out
}

const assertConverged = (x: string, y: string, files: number) => {
  const hx = hashes(x)
  assert.strictEqual(Object.keys(hx).length, files)
  assert.deepStrictEqual(hashes(y), hx)
}

/** The small files of a tree, sorted: the edits pick from them. */
const smallFiles = (dir: string) => Object.keys(hashes(dir)).filter((rel) => !rel.startsWith("large-"))

/** `conduit run ID --json` in A's daemon: verified, with nothing skipped. */
const run = async (a: Device, id: string) => {
  const ran = await a.json<{ verified: boolean; skipped: Array<unknown>; copied: number; conflicts: number }>(0, "run", id)
  assert.isTrue(ran.verified, JSON.stringify(ran))
  assert.lengthOf(ran.skipped, 0)
  return ran
}

/**
 * Both workloads in A's `name`, an empty `name` on B as a location of B, B's index pulled into
 * A, and a conduit of `mode` between them.
 */
const conduitOverWorkloads = async (name: string, mode: string) => {
  const { a, b, peerB } = await pairedDaemons()
  const here = Path.join(a.work, name)
  manySmall(here)
  large(here)
  const there = Path.join(b.work, name)
  Fs.mkdirSync(there)
  assert.strictEqual((await b.conduit("location", "add", there)).code, 0)
  assert.strictEqual((await a.conduit("peer", "pull", peerB)).code, 0)
  const made = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", here, `bee:${there}`, "--mode", mode)).conduit
  return { a, b, here, there, id: made.id }
}

describe("two daemons on the benchmark workloads", () => {
  it("mirror A→B: many small files and large files arrive whole; edits on A follow; an edit on B is replaced and kept", async () => {
    const { a, b, here: source, there: target, id } = await conduitOverWorkloads("mirror", "mirror")
    const made = { id }
    const first = await run(a, made.id)
    assert.strictEqual(first.copied, 2002 + 144, "2,002 files and their 144 directories")
    assertConverged(source, target, 2002)

    // On A: 20 rewritten, 20 new, 20 deleted, 10 renamed (1 % of each kind), 1 MiB inside a large file.
    const small = smallFiles(source)
    for (let i = 0; i < 20; i++) write(source, small[i * 97]!, Crypto.randomBytes(3000))
    for (let i = 0; i < 20; i++) write(source, Path.join("new", `n${i}.bin`), Crypto.randomBytes(5000))
    for (let i = 0; i < 20; i++) Fs.rmSync(Path.join(source, small[i * 97 + 1]!))
    for (let i = 0; i < 10; i++) Fs.renameSync(Path.join(source, small[i * 97 + 2]!), Path.join(source, Path.dirname(small[i * 97 + 2]!), `renamed-${i}.bin`))
    patch(Path.join(source, "large-0.bin"), 1024 * 1024)
    // On B: an edit in the mirror (indexed by B's own CLI), which the mirror replaces.
    write(target, "large-1.bin", "edited on B")
    assert.strictEqual((await b.conduit("index", target)).code, 0)
    await run(a, made.id)
    assertConverged(source, target, 2002)
    assert.isTrue(Fs.readdirSync(Path.join(target, ".conduit"), { recursive: true }).length > 0, "what the mirror replaced or deleted on B is kept there")
  }, 240_000)

  it("bidirectional: edits on both sides (small and large files, new, deleted) converge both ways", async () => {
    const { a, b, here, there, id } = await conduitOverWorkloads("two", "bidirectional")
    const made = { id }
    await run(a, made.id)
    assertConverged(here, there, 2002)

    // Different files on each side: A rewrites and adds, B rewrites, deletes and edits a large file.
    const small = smallFiles(here)
    for (let i = 0; i < 20; i++) write(here, small[i * 97]!, Crypto.randomBytes(4000))
    for (let i = 0; i < 10; i++) write(here, Path.join("from-a", `a${i}.bin`), Crypto.randomBytes(2000))
    for (let i = 0; i < 20; i++) write(there, small[i * 97 + 1]!, Crypto.randomBytes(6000))
    for (let i = 0; i < 10; i++) Fs.rmSync(Path.join(there, small[i * 97 + 2]!))
    patch(Path.join(there, "large-1.bin"), 2 * 1024 * 1024)
    assert.strictEqual((await b.conduit("index", there)).code, 0)
    const second = await run(a, made.id)
    assert.strictEqual(second.conflicts, 0)
    assertConverged(here, there, 2002)
    // Each side has the other's edits.
    assert.strictEqual(Fs.statSync(Path.join(there, small[0]!)).size, 4000)
    assert.strictEqual(Fs.statSync(Path.join(here, small[1]!)).size, 6000)
    assert.isFalse(Fs.existsSync(Path.join(here, small[2]!)))
  }, 240_000)
})
