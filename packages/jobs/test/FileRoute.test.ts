import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Effect, Either } from "effect"
import * as Fs from "node:fs"
import * as Testkit from "@conduit/testkit"
import * as Path from "node:path"
import { assert } from "vitest"
import { FileRoute } from "../src/index.js"

const rel = (p: string) => p as RelPath.RelPath
const tempDir = Testkit.tempDir("conduit-route-")
const { RouteOp } = FileRoute

describe("FileRoute.runAll", () => {
  it.scoped("without runMany: the single methods, in order, one result each; a failure is its own", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const mtimeNs = 1_700_000_000_000_000_000n
      const results = yield* FileRoute.runAll(FileRoute.local, root, [
        RouteOp.EnsureDirectory({ path: rel("a"), mtimeNs: null, mode: null }),
        RouteOp.EnsureDirectory({ path: rel("a/b"), mtimeNs: null, mode: 0o750 }),
        RouteOp.SetAttributes({ path: rel("missing"), mtimeNs, mode: null }),
        RouteOp.SetAttributes({ path: rel("a/b"), mtimeNs, mode: null }),
        RouteOp.DirectoryTime({ path: "a/b" }),
        RouteOp.Remove({ path: rel("a") }),
        RouteOp.DirectoryTime({ path: "a" })
      ], { concurrency: 1 })
      assert.deepStrictEqual(results.map(Either.isRight), [true, true, false, true, true, true, true])
      assert.strictEqual(Either.getOrThrow(results[4]!), mtimeNs)
      assert.strictEqual((Either.getOrThrow(results[5]!) as { path: string }).path, "a", "the removed directory is a version")
      assert.isNull(Either.getOrThrow(results[6]!))
      assert.isFalse(Fs.existsSync(Path.join(root, "a")))
    }))

  it.live("with runMany: the ops in chunks of BATCH_SIZE, the results as one list in the ops' order", () =>
    Effect.gen(function* () {
      const seen: Array<ReadonlyArray<string>> = []
      const route: FileRoute.FileRoute = {
        ...FileRoute.local,
        // The first chunk answers last.
        runMany: (_root, ops) =>
          Effect.sync(() => seen.push(ops.map((op) => (op._tag === "DirectoryTime" ? op.path : "")))).pipe(
            Effect.zipRight(Effect.sleep(seen.length === 1 ? 50 : 0)),
            Effect.as(ops.map((op) => Either.right(BigInt(op._tag === "DirectoryTime" ? op.path : -1))))
          )
      }
      const ops = Array.from({ length: 600 }, (_, i) => RouteOp.DirectoryTime({ path: String(i) }))
      const results = yield* FileRoute.runAll(route, "/nowhere", ops, { concurrency: 4 })
      assert.deepStrictEqual(seen.map((chunk) => chunk.length), [FileRoute.BATCH_SIZE, FileRoute.BATCH_SIZE, 600 - 2 * FileRoute.BATCH_SIZE])
      assert.deepStrictEqual(seen.flat(), ops.map((op) => op.path))
      assert.deepStrictEqual(results.map((r) => Either.getOrThrow(r)), ops.map((_, i) => BigInt(i)))
    }))
})
