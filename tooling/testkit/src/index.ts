/**
 * Test support shared by the packages' tests: real temporary directories (removed when the
 * test's scope closes) and trees written from a plain object.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix = "conduit-test-") =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Writes files under `root`: `{ "a/b.txt": "text" }`; a `null` value makes a directory. */
export const writeTree = (root: string, files: Record<string, string | Uint8Array | null>): void => {
  for (const [rel, content] of Object.entries(files)) {
    const abs = Path.join(root, rel)
    if (content === null) {
      Fs.mkdirSync(abs, { recursive: true })
    } else {
      Fs.mkdirSync(Path.dirname(abs), { recursive: true })
      Fs.writeFileSync(abs, content)
    }
  }
}

/** Every path under `root` (relative, sorted), Conduit's own `.conduit` files excepted. */
export const listTree = (root: string): Array<string> =>
  Fs.readdirSync(root, { recursive: true })
    .map(String)
    .filter((p) => !p.startsWith(".conduit") && !Path.basename(p).startsWith(".conduit-tmp-"))
    .sort()
