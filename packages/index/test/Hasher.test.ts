import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Blake3 from "blake3"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { Hasher } from "../src/index.js"
import { blake3Vectors, vectorInput } from "./fixtures/blake3Vectors.js"
import { tempDir } from "./support.js"

const hasherLayer = Hasher.layerWith({ workers: 2 })

describe("Hasher", () => {
  it("the backend is the native addon", () => {
    // blake3 resolves to @c4312/blake3-native when its build succeeded; the wasm fallback gives
    // wrong digests over 1 MiB per update (see STACK.md), so it must not be what we run on.
    assert.strictEqual(Blake3.createHash().constructor.name, "NodeHash")
  })

  it("hashBytes matches every official BLAKE3 test vector", () => {
    for (const [length, expected] of blake3Vectors) {
      assert.strictEqual(Hasher.hashBytes(vectorInput(length)), expected, `input length ${length}`)
    }
  })

  it.scoped("the worker pool matches the official vectors on files", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      const jobs = blake3Vectors.map(([length]) => {
        const path = Path.join(dir, `v${length}`)
        Fs.writeFileSync(path, vectorInput(length))
        return { path, size: length }
      })
      const hasher = yield* Hasher.Hasher
      const results = yield* hasher.hashFiles(jobs)
      results.forEach((result, i) => {
        assert.strictEqual(result.state, "ok")
        if (result.state === "ok") {
          assert.strictEqual(result.hash, blake3Vectors[i]![1])
          assert.strictEqual(result.size, blake3Vectors[i]![0])
        }
      })
    }).pipe(Effect.provide(hasherLayer)))

  it.scoped("a file of many MiB is hashed in ≤ 1 MiB updates to the one-shot digest", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      const bytes = Crypto.randomBytes(9 * 1024 * 1024 + 12345)
      const path = Path.join(dir, "big.bin")
      Fs.writeFileSync(path, bytes)
      const hasher = yield* Hasher.Hasher
      const [result] = yield* hasher.hashFiles([{ path, size: bytes.length }])
      assert.strictEqual(result!.state, "ok")
      assert.strictEqual(result!.state === "ok" ? result!.hash : "", (Blake3.hash(bytes) as Buffer).toString("hex"))
      assert.strictEqual(Hasher.hashBytes(bytes), (Blake3.hash(bytes) as Buffer).toString("hex"))
    }).pipe(Effect.provide(hasherLayer)))

  it.scoped("a missing file is reported as vanished, not as an error of the batch", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      Fs.writeFileSync(Path.join(dir, "here"), "x")
      const hasher = yield* Hasher.Hasher
      const results = yield* hasher.hashFiles([{ path: Path.join(dir, "gone"), size: 1 }, { path: Path.join(dir, "here"), size: 1 }])
      assert.strictEqual(results[0]!.state, "vanished")
      assert.strictEqual(results[1]!.state, "ok")
    }).pipe(Effect.provide(hasherLayer)))

  it.scoped("a file that keeps changing while it is read is reported unstable, never with a digest", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir()
      const path = Path.join(dir, "growing.bin")
      Fs.writeFileSync(path, Crypto.randomBytes(48 * 1024 * 1024))
      // Another process appends without pause while we hash.
      const writer = spawn(process.execPath, ["-e", `
        const fs = require("fs"); const chunk = Buffer.alloc(4096, 1); const fd = fs.openSync(${JSON.stringify(path)}, "a");
        process.stdout.write("go\\n");
        for (;;) fs.writeSync(fd, chunk)
      `], { stdio: ["ignore", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => writer.kill("SIGKILL")))
      yield* Effect.async<void>((resume) => {
        writer.stdout!.once("data", () => resume(Effect.void))
      })
      const hasher = yield* Hasher.Hasher
      const [result] = yield* hasher.hashFiles([{ path, size: 48 * 1024 * 1024 }])
      assert.strictEqual(result!.state, "unstable")
      writer.kill("SIGKILL")
      yield* Effect.async<void>((resume) => {
        writer.once("exit", () => resume(Effect.void))
      })
      const [settled] = yield* hasher.hashFiles([{ path, size: 0 }])
      assert.strictEqual(settled!.state, "ok")
      assert.strictEqual(settled!.state === "ok" && settled!.hash, Hasher.hashBytes(Fs.readFileSync(path)))
    }).pipe(Effect.provide(Hasher.layerWith({ workers: 1, attempts: 3 }))))
})
