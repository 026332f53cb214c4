/**
 * Crash safety and fidelity of `conduit sync`, with real child processes:
 *
 * - SIGKILL in the middle of a large copy and in the middle of a run of many small files: no
 *   partial file ever exists under a final name, and the next run cleans up and completes;
 * - a mirror sync of a tree with nested and empty directories, empty files, unicode names, a
 *   symlink, a ≥ 100 MiB file and rule-excluded paths leaves nothing for
 *   `rsync -anci --delete` to report (Debian `rsync`, installed by `.ci/run`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, assert, beforeEach, describe, it } from "vitest"

const cli = fileURLToPath(new URL("../dist/main.js", import.meta.url))
let base = ""
let home = ""

beforeEach(() => {
  base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-crash-"))
  home = Path.join(base, "home")
})
afterEach(() => Fs.rmSync(base, { recursive: true, force: true }))

const start = (...args: Array<string>): ChildProcess =>
  spawn(process.execPath, [cli, ...args], { env: { ...process.env, CONDUIT_HOME: home }, stdio: ["ignore", "pipe", "pipe"] })

const finish = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d) => (stdout += d))
    child.stderr!.on("data", (d) => (stderr += d))
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

const conduit = (...args: Array<string>) => finish(start(...args))

/** Every regular file under `root` (relative path → bytes), Conduit's own files excepted. */
const files = (root: string) => {
  const out = new Map<string, Buffer>()
  for (const rel of Fs.readdirSync(root, { recursive: true }).map(String)) {
    if (rel.startsWith(".conduit") || Path.basename(rel).startsWith(".conduit-tmp-")) continue
    const abs = Path.join(root, rel)
    if (Fs.lstatSync(abs).isFile()) out.set(rel, Fs.readFileSync(abs))
  }
  return out
}

const temps = (root: string) =>
  Fs.readdirSync(root, { recursive: true }).map(String).filter((rel) => Path.basename(rel).startsWith(".conduit-tmp-"))

/** Waits until `check` holds (polling every 2 ms), or fails. */
const until = async (check: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Asserts that every file the target has is byte-equal to the source's: nothing partial is visible. */
const noPartialFiles = (src: string, dst: string) => {
  const source = files(src)
  for (const [rel, bytes] of files(dst)) {
    assert.isTrue(source.has(rel), `unexpected ${rel}`)
    assert.isTrue(bytes.equals(source.get(rel)!), `${rel} is visible under its final name but differs from the source`)
  }
}

describe("crash safety", () => {
  it("SIGKILL during a large copy: no partial file under a final name; the next run cleans up and completes", async () => {
    const src = Path.join(base, "src")
    const dst = Path.join(base, "dst")
    Fs.mkdirSync(src)
    Fs.mkdirSync(dst)
    const big = Crypto.randomBytes(64 * 1024 * 1024)
    for (let i = 0; i < 6; i++) Fs.writeFileSync(Path.join(src, `part-${i}.bin`), big) // 384 MiB
    Fs.writeFileSync(Path.join(src, "small.txt"), "small")
    const child = start("sync", src, dst, "--mode", "mirror")
    const done = finish(child)
    // Kill as soon as a temporary file of a large copy exists.
    await until(() => temps(dst).length > 0, 60_000, "a copy in progress")
    child.kill("SIGKILL")
    const killed = await done
    assert.strictEqual(killed.signal, "SIGKILL")
    noPartialFiles(src, dst)

    const again = await conduit("sync", src, dst, "--mode", "mirror")
    assert.strictEqual(again.code, 0, again.stderr)
    assert.match(again.stdout, /verified/)
    assert.deepStrictEqual(temps(dst), [], "the killed run's temporary files were removed")
    const expected = files(src)
    const got = files(dst)
    assert.deepStrictEqual([...got.keys()].sort(), [...expected.keys()].sort())
    for (const [rel, bytes] of expected) assert.isTrue(got.get(rel)!.equals(bytes), rel)
    const history = JSON.parse((await conduit("sync", src, dst, "--mode", "mirror", "--json")).stdout)
    assert.isTrue(history.verified)
  }, 180_000)

  it("SIGKILL during a run of many small files: what is visible is complete; the next run completes", async () => {
    const src = Path.join(base, "src")
    const dst = Path.join(base, "dst")
    for (let d = 0; d < 40; d++) {
      Fs.mkdirSync(Path.join(src, `d${d}`), { recursive: true })
      for (let f = 0; f < 100; f++) Fs.writeFileSync(Path.join(src, `d${d}`, `f${f}.txt`), Crypto.randomBytes(1024 + ((d * 100 + f) % 4096)))
    }
    Fs.mkdirSync(dst)
    const child = start("sync", src, dst, "--mode", "mirror")
    const done = finish(child)
    await until(() => Fs.readdirSync(dst).length > 5, 60_000, "copies in progress")
    child.kill("SIGKILL")
    assert.strictEqual((await done).signal, "SIGKILL")
    noPartialFiles(src, dst)
    const copiedBefore = files(dst).size
    assert.isBelow(copiedBefore, 4000, "the kill happened before the end")

    const again = await conduit("sync", src, dst, "--mode", "mirror", "--json")
    assert.strictEqual(again.code, 0, again.stderr)
    const result = JSON.parse(again.stdout)
    assert.isTrue(result.verified)
    assert.strictEqual(files(dst).size, 4000)
    assert.deepStrictEqual(temps(dst), [])
    noPartialFiles(src, dst)
  }, 180_000)
})

describe("fidelity", () => {
  it("after a mirror sync, rsync -anci --delete reports no difference (rule-excluded paths aside)", async () => {
    const src = Path.join(base, "src")
    const dst = Path.join(base, "dst")
    const write = (rel: string, content: string | Buffer) => {
      Fs.mkdirSync(Path.dirname(Path.join(src, rel)), { recursive: true })
      Fs.writeFileSync(Path.join(src, rel), content)
    }
    write("a/b/c/deep.txt", "deep")
    write("docs/empty.txt", "")
    write("naïve café/ünïcode.txt", "unicode")
    write("big/large.bin", Crypto.randomBytes(100 * 1024 * 1024 + 7))
    write("node_modules/pkg/index.js", "excluded")
    write(".DS_Store", "excluded")
    Fs.mkdirSync(Path.join(src, "empty-dir"))
    Fs.symlinkSync("a/b/c/deep.txt", Path.join(src, "link"))
    Fs.chmodSync(Path.join(src, "docs/empty.txt"), 0o600)
    Fs.mkdirSync(dst)
    Fs.writeFileSync(Path.join(dst, "stale.txt"), "target only")
    Fs.mkdirSync(Path.join(dst, "node_modules"))
    Fs.writeFileSync(Path.join(dst, "node_modules", "kept.js"), "excluded on the target too")

    const r = await conduit("sync", src, dst, "--mode", "mirror", "--force")
    assert.strictEqual(r.code, 0, r.stderr)
    const excluded = ["--exclude", ".conduit", "--exclude", "node_modules", "--exclude", ".DS_Store"]
    const report = execFileSync("rsync", ["-anci", "--delete", ...excluded, `${src}/`, `${dst}/`], { encoding: "utf8" })
    assert.strictEqual(report, "", `rsync sees differences:\n${report}`)
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "node_modules", "kept.js"), "utf8"), "excluded on the target too")
    assert.isFalse(Fs.existsSync(Path.join(dst, "node_modules", "pkg")))
  }, 120_000)
})
