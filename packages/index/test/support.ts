/** Test support: real temporary directories and a real library database per test. */
import { Effect, Layer } from "effect"
import * as Blake3 from "blake3"
import { tempDir } from "@conduit/testkit"
import { IndexLive } from "../src/index.js"

export { tempDir, writeTree } from "@conduit/testkit"

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
