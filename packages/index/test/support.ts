/** Test support: real temporary directories and a real library database per test. */
import { Effect, Layer } from "effect"
import * as Blake3 from "blake3"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { IndexLive } from "../src/index.js"

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix = "conduit-test-") =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Writes files: `{ "a/b.txt": "text" }`; a `null` value makes a directory. */
export const writeTree = (root: string, files: Record<string, string | Uint8Array | null>) => {
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

/** BLAKE3 of bytes, independently of the code under test. */
export const b3 = (bytes: string | Uint8Array) => {
  const h = Blake3.createHash()
  h.update(typeof bytes === "string" ? Buffer.from(bytes) : bytes)
  return h.digest("hex") as unknown as string
}

/** The index services on a library in a fresh temporary home. */
export const indexLayer = (home: string) => IndexLive.layer({ home, workers: 2 })

/** Runs an effect with the index services on a fresh home and a fresh tree root. */
export const withIndex = <A, E, R>(f: (ctx: { home: string; root: string }) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const home = yield* tempDir("conduit-home-")
    const root = yield* tempDir("conduit-root-")
    return yield* f({ home, root }).pipe(Effect.provide(Layer.fresh(indexLayer(home))))
  })
