import { describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { assert } from "vitest"
import * as Frames from "../src/internal/frames.js"
import * as Protocol from "../src/internal/transferProtocol.js"
import { constants, type Transfer } from "../src/index.js"
import { bytes } from "./support.js"
import { allFiles, awaitResults, blake3, expectMessage, LOCATION, offerOf, pair, policyFor, rawSession, refusal, writeFile } from "./transferSupport.js"

const BLOCK = 64 * 1024

describe("Transfer against a hostile or broken peer", () => {
  it.scopedLive("a path with '..', an absolute path, a non-NFC path are refused as Malformed; nothing is written", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      for (const path of ["../escape.bin", "/etc/escape.bin", "a/../../escape.bin", "a\u0000b", "cafe\u0301.bin", "a//b", "", "x".repeat(5000)]) {
        const raw = yield* rawSession(a, b)
        yield* raw.send(offerOf(1, path, bytes(100)))
        const refused = yield* refusal(raw)
        assert.deepInclude(refused, { _tag: "Refused", reason: "Malformed" }, JSON.stringify(path))
      }
      assert.deepStrictEqual(allFiles(root), [])
      assert.deepStrictEqual(Fs.readdirSync(source), [])
      assert.deepStrictEqual(results, [])
    }))

  it.scopedLive("other malformed offers: wrong block count, bad hash, negative or unsafe sizes, odd block size", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const data = bytes(3 * BLOCK)
      const cases: Array<Record<string, unknown>> = [
        { blockHashes: [blake3(data)] },
        { hash: "A".repeat(64) },
        { size: -1 },
        { size: 2 ** 53 + 2 },
        { blockSize: 100_000 },
        { blockSize: 1024 },
        { mtimeNs: "-5" },
        { mtimeNs: "99999999999999999999" },
        { mode: 0o10000 },
        { location: "0A1B2C3D-0000-4000-8000-00000000000A" },
        { transferId: 0 }
      ]
      for (const over of cases) {
        const raw = yield* rawSession(a, b)
        yield* raw.send(offerOf(1, "f.bin", data, BLOCK, over))
        assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "Malformed" }, JSON.stringify(over))
      }
      assert.deepStrictEqual(allFiles(root), [])
    }))

  it.scopedLive("a frame above the limit is refused on its length prefix; the receiver keeps serving", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const raw = yield* rawSession(a, b)
      // A 4 GiB frame announced; only its prefix and a few bytes are ever sent.
      yield* raw.sendBytes(Uint8Array.of(0xff, 0xff, 0xff, 0xf0, 1, 2, 3))
      // Reset (a QUIC reset reads as an end here): no refusal, no answer.
      const end = yield* Effect.either(raw.next)
      assert.isTrue(end._tag === "Left" ? end.left.reason === "PeerClosed" : end.right === null)
      // The next session is served as usual.
      const again = yield* rawSession(a, b)
      const data = bytes(1000)
      yield* again.send(offerOf(1, "ok.bin", data))
      yield* expectMessage(again, "Need")
      yield* again.send({ _tag: "Block", transferId: 1, index: 0, data })
      const done = yield* expectMessage(again, "Done")
      assert.isTrue(done.ok)
      assert.deepStrictEqual(allFiles(root), ["ok.bin"])
    }))

  it.scopedLive("a block whose hash does not match fails that file (HashMismatch); nothing is committed", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const raw = yield* rawSession(a, b)
      const data = bytes(2 * BLOCK)
      yield* raw.send(offerOf(1, "bad.bin", data, BLOCK))
      const need = yield* expectMessage(raw, "Need")
      assert.deepStrictEqual(need.ranges, [[0, 2]])
      const wrong = data.slice(0, BLOCK)
      wrong[10] = wrong[10]! ^ 1
      yield* raw.send({ _tag: "Block", transferId: 1, index: 0, data: wrong })
      const done = yield* expectMessage(raw, "Done")
      assert.deepInclude(done, { ok: false, reason: "HashMismatch" })
      // A late block of the failed transfer is dropped, and the session goes on.
      yield* raw.send({ _tag: "Block", transferId: 1, index: 1, data: data.slice(BLOCK) })
      yield* raw.send(offerOf(2, "good.bin", data.subarray(0, 5000)))
      yield* expectMessage(raw, "Need")
      yield* raw.send({ _tag: "Block", transferId: 2, index: 0, data: data.subarray(0, 5000) })
      assert.isTrue((yield* expectMessage(raw, "Done")).ok)
      yield* awaitResults(results, 2)
      assert.strictEqual(results[0]!.error?.reason, "HashMismatch")
      // No verified block: no partial file kept.
      assert.deepStrictEqual(allFiles(root), ["good.bin"])
    }))

  it.scopedLive("a whole-file hash that the blocks do not make is refused, and the partial file is not kept", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const raw = yield* rawSession(a, b)
      const data = bytes(2 * BLOCK)
      yield* raw.send(offerOf(1, "f.bin", data, BLOCK, { hash: "c".repeat(64) }))
      yield* expectMessage(raw, "Need")
      yield* raw.send({ _tag: "Block", transferId: 1, index: 0, data: data.slice(0, BLOCK) })
      yield* raw.send({ _tag: "Block", transferId: 1, index: 1, data: data.slice(BLOCK) })
      assert.deepInclude(yield* expectMessage(raw, "Done"), { ok: false, reason: "HashMismatch" })
      assert.deepStrictEqual(allFiles(root), [])
    }))

  it.scopedLive("more blocks or bytes than the offer announced: the session is refused with SizeMismatch", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const data = bytes(BLOCK + 100)
      // A block beyond the last one.
      const raw = yield* rawSession(a, b)
      yield* raw.send(offerOf(1, "f.bin", data, BLOCK))
      yield* expectMessage(raw, "Need")
      yield* raw.send({ _tag: "Block", transferId: 1, index: 2, data: data.slice(0, 100) })
      assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "SizeMismatch" })
      // A last block longer than the file's end.
      const raw2 = yield* rawSession(a, b)
      yield* raw2.send(offerOf(1, "g.bin", data, BLOCK))
      yield* expectMessage(raw2, "Need")
      yield* raw2.send({ _tag: "Block", transferId: 1, index: 1, data: bytes(BLOCK) })
      assert.deepInclude(yield* refusal(raw2), { _tag: "Refused", reason: "SizeMismatch" })
      // A block sent twice, and a block of a transfer never offered.
      const raw3 = yield* rawSession(a, b)
      yield* raw3.send(offerOf(1, "h.bin", data, BLOCK))
      yield* expectMessage(raw3, "Need")
      yield* raw3.send({ _tag: "Block", transferId: 1, index: 0, data: data.slice(0, BLOCK) })
      // Its acknowledgement: the block is verified and written, so the partial file has it.
      assert.strictEqual((yield* raw3.next)?._tag, "Ack")
      yield* raw3.send({ _tag: "Block", transferId: 1, index: 0, data: data.slice(0, BLOCK) })
      assert.deepInclude(yield* refusal(raw3), { _tag: "Refused", reason: "Protocol" })
      const raw4 = yield* rawSession(a, b)
      yield* raw4.send({ _tag: "Block", transferId: 9, index: 0, data: data.slice(0, 10) })
      assert.deepInclude(yield* refusal(raw4), { _tag: "Refused", reason: "Protocol" })
      yield* awaitResults(results, 3)
      assert.deepStrictEqual(results.map((r) => r.ok), [false, false, false])
      // Nothing committed; only the one with a verified block keeps its partial file.
      const files = allFiles(root)
      assert.strictEqual(files.length, 1)
      assert.match(files[0]!, /^\.conduit-tmp-part-[0-9a-f]{16}-h\.bin$/)
    }))

  it.scopedLive("a compressed block that inflates beyond its block size (a zip bomb) is refused", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const raw = yield* rawSession(a, b)
      const data = new Uint8Array(BLOCK)
      yield* raw.send(offerOf(1, "z.bin", data, BLOCK))
      yield* expectMessage(raw, "Need")
      const bomb = Zlib.deflateRawSync(new Uint8Array(64 * 1024 * 1024))
      yield* raw.send({ _tag: "Block", transferId: 1, index: 0, compression: "deflate-raw", data: bomb })
      assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "Malformed" })
      assert.deepStrictEqual(allFiles(root), [])
    }))

  it.scopedLive("a sender that stops mid-file times out (Timeout); one that closes fails the file (PeerClosed); verified blocks stay for a resume", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results), { idleTimeout: "600 millis" })
      const data = bytes(3 * BLOCK, 3)
      const silent = yield* rawSession(a, b)
      yield* silent.send(offerOf(1, "silent.bin", data, BLOCK))
      yield* expectMessage(silent, "Need")
      yield* silent.send({ _tag: "Block", transferId: 1, index: 0, data: data.slice(0, BLOCK) })
      const started = Date.now()
      assert.deepInclude(yield* refusal(silent), { _tag: "Refused", reason: "Timeout" })
      assert.isAbove(Date.now() - started, 400)

      const closing = yield* rawSession(a, b)
      yield* closing.send(offerOf(1, "closing.bin", data, BLOCK))
      yield* expectMessage(closing, "Need")
      yield* closing.send({ _tag: "Block", transferId: 1, index: 0, data: data.slice(0, BLOCK) })
      assert.strictEqual((yield* closing.next)?._tag, "Ack")
      yield* closing.close
      yield* awaitResults(results, 2)
      assert.deepStrictEqual(results.map((r) => [r.ok, r.error?.reason]), [[false, "Timeout"], [false, "PeerClosed"]])
      const files = allFiles(root)
      assert.deepStrictEqual(files.map((f) => f.replace(/[0-9a-f]{16}/, "H")), [".conduit-tmp-part-H-closing.bin", ".conduit-tmp-part-H-silent.bin"])
      for (const f of files) assert.strictEqual(Fs.statSync(Path.join(root, f)).size, data.byteLength)
    }))

  it.scopedLive("more offers than the window, or a version this side does not speak, are refused", () =>
    Effect.gen(function* () {
      const { a, b, root } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []), { offers: 2 })
      const raw = yield* rawSession(a, b)
      for (let id = 1; id <= 3; id++) yield* raw.send(offerOf(id, `f${id}.bin`, bytes(BLOCK * 2, id), BLOCK))
      assert.deepInclude(yield* refusal(raw), { _tag: "Refused", reason: "Protocol" })
      const other = yield* rawSession(a, b, { version: 2 })
      assert.deepInclude(other.answer, { _tag: "Refused", reason: "UnsupportedVersion" })
    }))

  it.scopedLive("a receiver that breaks the protocol fails the sender's session with a typed error", () =>
    Effect.gen(function* () {
      const { a, b, source } = yield* pair()
      const file = writeFile(source, "f.bin", bytes(3 * BLOCK))
      // A fake receiver: answers the hello, then asks for blocks the file does not have.
      yield* b.node.handle(constants.TRANSFER_PROTOCOL, (stream) =>
        Effect.gen(function* () {
          const reader = Frames.reader(stream, { maxFrameBytes: constants.MAX_TRANSFER_FRAME_BYTES, maxBufferedBytes: 1 << 24 })
          yield* reader.next
          yield* Frames.write(stream, Protocol.encodeFrame({ _tag: "Hello", version: 1, streams: 0, compression: [], offers: 4, windowBytes: 1 << 20 }))
          yield* reader.next
          yield* Frames.write(stream, Protocol.encodeFrame({ _tag: "Need", transferId: 1, ranges: [[0, 50]] }))
          yield* Effect.ignore(reader.next)
        }))
      const [outcome] = yield* a.sender.sendAll(b.node.peerId, [{ source: file, location: LOCATION, path: "f.bin" }], { streams: 0 })
      assert.isTrue(Either.isLeft(outcome!) && outcome.left.reason === "Protocol", JSON.stringify(outcome))
    }))
})
