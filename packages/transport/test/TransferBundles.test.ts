/**
 * Bundles of small files: offered a few hundred at a time, their bytes in one frame, written
 * and committed with one file-system sync per bundle; and the same wire spoken by a hostile
 * sender (paths, sizes, hashes, limits), each refused with nothing written.
 */
import { describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { constants, type Transfer } from "../src/index.js"
import { bytes } from "./support.js"
import { allFiles, awaitResults, blake3, expectMessage, LOCATION, pair, policyFor, rawSession, refusal, sameBytes, writeFile } from "./transferSupport.js"

const fileOf = (path: string, data: Uint8Array, over: Record<string, unknown> = {}) => ({
  location: LOCATION,
  path,
  size: data.byteLength,
  hash: blake3(data),
  mtimeNs: "1700000000123456789",
  mode: 0o640,
  ...over
})

describe("Transfer bundles", () => {
  it.scopedLive("small files go in bundles (mode, mtime, replaced files kept first), large ones on their own, in one sendAll", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      const kept: Array<string> = []
      yield* b.receiver.serve(policyFor(root, results, {
        keep: (destination) => Effect.sync(() => void (Fs.existsSync(destination) && kept.push(Path.relative(root, destination))))
      }))
      // 700 small files (3 bundles by count), one at the bound, two just above it, an empty one.
      const files = Array.from({ length: 700 }, (_, i) => {
        const rel = `d${i % 13}/s${i}.bin`
        return { rel, path: writeFile(source, rel, bytes(1 + (i * 97) % 16_000, i)) }
      })
      for (const [rel, size] of [["edge.bin", constants.MAX_BUNDLE_FILE_SIZE], ["over.bin", constants.MAX_BUNDLE_FILE_SIZE + 1], ["big.bin", 3 * 1024 * 1024], ["empty.bin", 0]] as const) {
        files.push({ rel, path: writeFile(source, rel, bytes(size, size)) })
      }
      // One destination exists already: it is handed to `keep` before it is replaced.
      writeFile(root, "d0/s0.bin", "old")
      const mtimeNs = 1_650_000_000_123_456_000n
      const outcomes = yield* a.sender.sendAll(
        b.node.peerId,
        files.map((f) => ({ source: f.path, location: LOCATION, path: f.rel, mtimeNs, mode: 0o600 }))
      )
      assert.strictEqual(outcomes.length, files.length)
      for (const [i, outcome] of outcomes.entries()) {
        assert.isTrue(Either.isRight(outcome), Either.isLeft(outcome) ? outcome.left.message : "")
        const written = Path.join(root, files[i]!.rel)
        assert.isTrue(sameBytes(files[i]!.path, written), files[i]!.rel)
        const stat = Fs.statSync(written, { bigint: true })
        assert.strictEqual(Number(stat.mode & 0o7777n), 0o600)
        const off = stat.mtimeNs - mtimeNs
        assert.isTrue(off <= 2000n && off >= -2000n, `${off} ns off`)
        if (Either.isRight(outcome)) assert.strictEqual(outcome.right.bytesReceived, Fs.statSync(files[i]!.path).size)
      }
      assert.deepStrictEqual(kept, ["d0/s0.bin"])
      assert.strictEqual(allFiles(root).length, files.length, "no temporary file is left")
      yield* awaitResults(results, files.length)
      assert.isTrue(results.every((r) => r.ok))
      // The bundled ones share a transfer number per bundle; the large ones have their own.
      const numbers = new Set(outcomes.map((o) => (Either.isRight(o) ? o.right.transferId : -1)))
      assert.isBelow(numbers.size, 20)
    }), 60_000)

  it.scopedLive("content the receiver has is copied locally; a file that changed from the expected hash is not sent", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const content = bytes(5000, 3)
      const local = writeFile(root, "elsewhere/copy.bin", content)
      const results: Array<Transfer.ReceiveResult> = []
      // Bundles ask for a whole bundle's content at once (`haveAll`; `have` is the per-file fallback).
      const asked: Array<number> = []
      yield* b.receiver.serve(policyFor(root, results, {
        have: () => Effect.die("a bundle asks haveAll"),
        haveAll: (offers) => Effect.sync(() => {
          asked.push(offers.length)
          return new Map([[blake3(content), local]])
        })
      }))
      const same = writeFile(source, "same.bin", content)
      const other = writeFile(source, "other.bin", bytes(4000, 4))
      const outcomes = yield* a.sender.sendAll(b.node.peerId, [
        { source: same, location: LOCATION, path: "same.bin" },
        { source: other, location: LOCATION, path: "other.bin", hash: "0".repeat(64) },
        { source: Path.join(source, "missing.bin"), location: LOCATION, path: "missing.bin" }
      ])
      const [copied, changed, missing] = outcomes
      assert.isTrue(Either.isRight(copied!) && copied.right.localCopy && copied.right.bytesReceived === 0 && copied.right.bytesSent === 0)
      assert.isTrue(Either.isLeft(changed!) && changed.left.reason === "SourceChanged")
      assert.isTrue(Either.isLeft(missing!) && missing.left.reason === "Io")
      assert.isTrue(sameBytes(same, Path.join(root, "same.bin")))
      assert.deepStrictEqual(allFiles(root), ["elsewhere/copy.bin", "same.bin"])
      assert.deepStrictEqual(asked, [1], "one lookup for the bundle (the changed and the missing file were not offered)")
    }))

  it.scopedLive("a source that became a symlink is not read through (small or large): Io, nothing sent", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const outside = writeFile(source, "outside/secret.bin", bytes(1000, 7))
      const outsideLarge = writeFile(source, "outside/secret-large.bin", bytes(constants.MAX_BUNDLE_FILE_SIZE * 3, 8))
      Fs.symlinkSync(outside, Path.join(source, "small.bin"))
      Fs.symlinkSync(outsideLarge, Path.join(source, "large.bin"))
      const outcomes = yield* a.sender.sendAll(b.node.peerId, [
        { source: Path.join(source, "small.bin"), location: LOCATION, path: "small.bin" },
        { source: Path.join(source, "large.bin"), location: LOCATION, path: "large.bin" }
      ])
      for (const outcome of outcomes) assert.isTrue(Either.isLeft(outcome) && outcome.left.reason === "Io", JSON.stringify(outcome))
      assert.deepStrictEqual(allFiles(root), [])
    }))

  it.scopedLive("a hostile bundle: '..' or absolute paths, too many files or bytes, no agreement → Malformed/Protocol; nothing written", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const data = bytes(100)
      const malformed: Array<Array<unknown>> = [
        [fileOf("../escape.bin", data)],
        [fileOf("/etc/escape.bin", data)],
        [fileOf("a/../../escape.bin", data)],
        [fileOf("big.bin", bytes(10), { size: constants.MAX_BUNDLE_FILE_SIZE + 1 })],
        Array.from({ length: constants.MAX_BUNDLE_FILES + 1 }, (_, i) => fileOf(`f${i}`, data)),
        Array.from({ length: 65 }, (_, i) => fileOf(`f${i}`, bytes(10), { size: constants.MAX_BUNDLE_FILE_SIZE })),
        []
      ]
      for (const files of malformed) {
        const raw = yield* rawSession(a, b, { bundles: 4 } as never)
        yield* raw.send({ _tag: "Bundle", bundleId: 1, files })
        assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "Malformed" })
      }
      // A sender that did not announce bundles may not send one.
      const plain = yield* rawSession(a, b)
      yield* plain.send({ _tag: "Bundle", bundleId: 1, files: [fileOf("ok.bin", data)] })
      assert.deepInclude(yield* refusal(plain), { _tag: "Refused", reason: "Protocol" })
      // More bundles in flight than the receiver said.
      const greedy = yield* rawSession(a, b, { bundles: 16 } as never)
      const limit = (greedy.answer as { bundles?: number }).bundles!
      assert.strictEqual(limit, constants.DEFAULT_BUNDLES_IN_FLIGHT)
      for (let id = 1; id <= limit + 1; id++) yield* greedy.send({ _tag: "Bundle", bundleId: id, files: [fileOf(`g${id}.bin`, data)] })
      assert.deepInclude(yield* refusal(greedy), { _tag: "Refused", reason: "Protocol" })
      assert.deepStrictEqual(allFiles(root).filter((f) => !f.startsWith(".conduit-tmp")), [])
    }))

  it.scopedLive("bundle data: a file larger than announced is refused (SizeMismatch); a wrong hash fails that file only", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const one = bytes(1000, 1)
      const two = bytes(2000, 2)

      const larger = yield* rawSession(a, b, { bundles: 4 } as never)
      yield* larger.send({ _tag: "Bundle", bundleId: 1, files: [fileOf("one.bin", one), fileOf("two.bin", two)] })
      const need = yield* expectMessage(larger, "BundleNeed")
      assert.deepStrictEqual(need.indexes, [0, 1])
      yield* larger.send({ _tag: "BundleData", bundleId: 1, data: [one, Buffer.concat([two, Buffer.from("more")])] })
      assert.deepInclude(yield* refusal(larger), { _tag: "Refused", reason: "SizeMismatch" })
      assert.deepStrictEqual(allFiles(root), [])

      const wrong = yield* rawSession(a, b, { bundles: 4 } as never)
      yield* wrong.send({ _tag: "Bundle", bundleId: 1, files: [fileOf("one.bin", one), fileOf("two.bin", two)] })
      yield* expectMessage(wrong, "BundleNeed")
      const forged = Buffer.from(two)
      forged[7] = forged[7]! ^ 0xff
      yield* wrong.send({ _tag: "BundleData", bundleId: 1, data: [one, forged] })
      const done = yield* expectMessage(wrong, "BundleDone")
      assert.isTrue(done.results[0]!.ok)
      assert.deepInclude(done.results[1]!, { ok: false, reason: "HashMismatch" })
      assert.deepStrictEqual(allFiles(root), ["one.bin"])
      // Data of a bundle never offered breaks the protocol.
      yield* wrong.send({ _tag: "BundleData", bundleId: 9, data: [one] })
      assert.deepInclude(yield* refusal(wrong), { _tag: "Refused", reason: "Protocol" })
    }))

  it.scopedLive("a sender that stops after the bundle's need: the session times out, nothing is committed, the destinations are free again", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []), { idleTimeout: "400 millis" })
      const one = bytes(1000, 1)
      const raw = yield* rawSession(a, b, { bundles: 4 } as never)
      yield* raw.send({ _tag: "Bundle", bundleId: 1, files: [fileOf("one.bin", one)] })
      yield* expectMessage(raw, "BundleNeed")
      assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "Timeout" })
      assert.deepStrictEqual(allFiles(root), [])
      // The same destination is taken again in a new session.
      const again = yield* rawSession(a, b, { bundles: 4 } as never)
      yield* again.send({ _tag: "Bundle", bundleId: 1, files: [fileOf("one.bin", one)] })
      yield* expectMessage(again, "BundleNeed")
      yield* again.send({ _tag: "BundleData", bundleId: 1, data: [one] })
      const done = yield* expectMessage(again, "BundleDone")
      assert.isTrue(done.results[0]!.ok, JSON.stringify(done))
      assert.deepStrictEqual(allFiles(root), ["one.bin"])
    }))
})
