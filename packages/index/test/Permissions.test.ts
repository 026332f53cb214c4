/**
 * Unreadable files and directories. Root reads everything, so when the tests run as root (as
 * CI does) the scan runs in a child process as the unprivileged user 65534 ("nobody"), against
 * the built package.
 */
import { describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, beforeAll } from "vitest"

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url))
const asRoot = process.getuid?.() === 0

const script = `
import { Effect } from "effect"
import { Indexer, IndexLive, Locations } from ${JSON.stringify(dist)}
const [home, root, phase] = process.argv.slice(1)
const program = Effect.gen(function* () {
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const existing = (yield* locations.list).find((l) => l.root === root)
  const location = existing ?? (yield* locations.add(root))
  return yield* indexer.scan(location.id)
})
const summary = await Effect.runPromise(program.pipe(Effect.provide(IndexLive.layer({ home, workers: 1 })), Effect.scoped))
console.log(JSON.stringify(summary))
`

const scanAs = (home: string, root: string) => {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script, home, root], {
    cwd: Path.dirname(dist),
    encoding: "utf8",
    ...(asRoot ? { uid: 65534, gid: 65534 } : {})
  })
  assert.strictEqual(result.status, 0, result.stderr)
  return JSON.parse(result.stdout.trim().split("\n").pop()!) as {
    added: number
    deleted: number
    problems: Array<{ path: string; reason: string }>
  }
}

describe("permission denied", () => {
  beforeAll(() => {
    assert.isTrue(Fs.existsSync(dist), "build @conduit/index first (turbo's test task depends on build)")
  })

  it("an unreadable file is reported and indexed without a hash; an unreadable directory keeps its rows; the scan goes on", () => {
    const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-perm-"))
    try {
      Fs.chmodSync(base, 0o777)
      const home = Path.join(base, "home")
      const root = Path.join(base, "root")
      Fs.mkdirSync(home)
      Fs.chmodSync(home, 0o777)
      Fs.mkdirSync(Path.join(root, "locked"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "readable.txt"), "fine")
      Fs.writeFileSync(Path.join(root, "locked", "inside.txt"), "hidden later")
      Fs.writeFileSync(Path.join(root, "secret.txt"), "no access")
      Fs.chmodSync(Path.join(root, "secret.txt"), 0o000)
      for (const p of [root, Path.join(root, "locked")]) Fs.chmodSync(p, 0o777)
      Fs.chmodSync(Path.join(root, "readable.txt"), 0o644)
      Fs.chmodSync(Path.join(root, "locked", "inside.txt"), 0o644)

      const first = scanAs(home, root)
      assert.deepStrictEqual(first.problems.map((p) => [p.path, p.reason]), [["secret.txt", "unreadable"]])
      assert.strictEqual(first.added, 4)

      // Nothing changed: the file is tried (and reported) again — its directory is never taken
      // as settled while a child could not be indexed.
      const again = scanAs(home, root)
      assert.deepStrictEqual(again.problems.map((p) => [p.path, p.reason]), [["secret.txt", "unreadable"]])

      // Now the directory cannot be listed: its rows must stay, not become deletions.
      Fs.chmodSync(Path.join(root, "locked"), 0o000)
      const second = scanAs(home, root)
      Fs.chmodSync(Path.join(root, "locked"), 0o777)
      assert.deepStrictEqual(second.problems.map((p) => [p.path, p.reason]).sort(), [["locked", "unreadable-directory"], ["secret.txt", "unreadable"]])
      assert.strictEqual(second.deleted, 0)

      // Readable again: the file is hashed, nothing was lost.
      Fs.chmodSync(Path.join(root, "secret.txt"), 0o644)
      const third = scanAs(home, root)
      assert.deepStrictEqual(third.problems, [])
      assert.strictEqual(third.deleted, 0)
    } finally {
      Fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
