import { describe, it } from "@effect/vitest"
import { encode as msgpack } from "@msgpack/msgpack"
import { Either } from "effect"
import { assert } from "vitest"
import { chooseBlockSize } from "../src/internal/blocks.js"
import { FrameDecoder } from "../src/internal/frames.js"
import * as Protocol from "../src/internal/transferProtocol.js"
import { constants } from "../src/index.js"
import { bytes } from "./support.js"
import { LOCATION, offerOf } from "./transferSupport.js"

const payloadOf = (frame: Uint8Array) => frame.subarray(4)

const reasonOf = (message: unknown) => {
  const result = Protocol.decodeEither(msgpack(message))
  return Either.isLeft(result) ? result.left.reason : "ok"
}

describe("Transfer protocol", () => {
  it("round-trips every message", () => {
    const messages: Array<Protocol.Message> = [
      { _tag: "Hello", version: 1, session: "ab".repeat(16), streams: 3, compression: ["deflate-raw"], offers: 64, windowBytes: 8 * 1024 * 1024 },
      { _tag: "Hello", version: 1, streams: 0, compression: [], offers: 1, windowBytes: 1024 * 1024 },
      offerOf(7, "dir/é/file.bin", bytes(200_000), 65_536) as unknown as Protocol.Offer,
      { _tag: "Need", transferId: 7, ranges: [[0, 2], [3, 4]] },
      { _tag: "Need", transferId: 7, ranges: [] },
      { _tag: "Ack", blocks: 3 },
      { _tag: "Done", transferId: 7, ok: true, bytesReceived: 10, bytesReused: 5, localCopy: false },
      { _tag: "Done", transferId: 8, ok: false, bytesReceived: 0, bytesReused: 0, localCopy: false, reason: "HashMismatch", detail: "block 3" },
      { _tag: "Cancel", transferId: 9, reason: "SourceChanged" },
      { _tag: "Attach", session: "0f".repeat(16) },
      { _tag: "Refused", reason: "Protocol", detail: "why" }
    ]
    for (const message of messages) {
      assert.deepStrictEqual(Either.getOrThrow(Protocol.decodeEither(payloadOf(Protocol.encodeFrame(message)))), message)
    }
  })

  it("encodes a block frame in place, and it decodes like any message", () => {
    const data = bytes(70_000)
    for (const compression of [undefined, "deflate-raw" as const]) {
      const built = Protocol.blockFrame(3, 5, data.byteLength, compression)
      built.data.set(data)
      assert.strictEqual(new DataView(built.frame.buffer).getUint32(0), built.frame.byteLength - 4)
      const decoded = Either.getOrThrow(Protocol.decodeEither(payloadOf(built.frame)))
      assert.deepStrictEqual(decoded, { _tag: "Block", transferId: 3, index: 5, data, ...(compression === undefined ? {} : { compression }) })
    }
  })

  it("refuses out-of-bounds fields as Malformed", () => {
    const hash = "a".repeat(64)
    assert.strictEqual(reasonOf({ _tag: "Need", transferId: 1, ranges: [[2, 1]] }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Need", transferId: 1, ranges: [[0, 2], [1, 3]] }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Need", transferId: 1, ranges: [[0, constants.MAX_BLOCKS + 1]] }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Ack", blocks: 0 }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Hello", version: 1, streams: 17, compression: [], offers: 1, windowBytes: 1024 * 1024 }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Hello", version: 1, streams: 1, compression: ["zstd"], offers: 1, windowBytes: 1024 * 1024 }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Hello", version: 1, streams: 1, compression: [], offers: 1, windowBytes: 1 }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Attach", session: "AB".repeat(16) }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Block", transferId: 1, index: 0, data: "text" }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Block", transferId: 1, index: -1, data: new Uint8Array(1) }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Done", transferId: 1, ok: true, bytesReceived: 1.5, bytesReused: 0, localCopy: false }), "Malformed")
    assert.strictEqual(reasonOf({ _tag: "Done", transferId: 1, ok: false, bytesReceived: 0, bytesReused: 0, localCopy: false, reason: "Whatever" }), "Malformed")
    const offer = { _tag: "Offer", transferId: 1, location: LOCATION, path: "a", size: 0, hash, blockSize: 65_536, blockHashes: [], mtimeNs: "0", mode: null }
    assert.strictEqual(reasonOf(offer), "ok")
    assert.strictEqual(reasonOf({ ...offer, size: constants.MAX_FILE_SIZE + 1, blockSize: constants.MAX_BLOCK_SIZE }), "Malformed")
    assert.strictEqual(reasonOf({ ...offer, path: "a/.." }), "Malformed")
    assert.strictEqual(reasonOf({ ...offer, path: "a\\b" }), "Malformed")
    assert.strictEqual(reasonOf({ ...offer, mtimeNs: "007" }), "Malformed")
    assert.strictEqual(reasonOf({ ...offer, mtimeNs: "9223372036854775808" }), "Malformed")
    assert.strictEqual(reasonOf({ ...offer, mtimeNs: "9223372036854775807" }), "ok")
    assert.strictEqual(reasonOf({ ...offer, extra: new Date() }), "Malformed")
    // MessagePack itself is bounded: a string longer than any path is refused by the decoder.
    assert.strictEqual(reasonOf({ ...offer, path: "x".repeat(constants.MAX_TRANSFER_PATH_LENGTH * 4 + 1) }), "Malformed")
    assert.strictEqual(Either.getLeft(Protocol.decodeEither(Uint8Array.of(0xc1))).pipe((e) => e._tag === "Some" && e.value.reason), "Malformed")
  })

  it("cuts frames across chunk boundaries and refuses a length above the limit before buffering", () => {
    const frames = [Protocol.encodeFrame({ _tag: "Ack", blocks: 1 }), Protocol.encodeFrame({ _tag: "Ack", blocks: 2 })]
    const all = new Uint8Array([...frames[0]!, ...frames[1]!])
    for (let cut = 0; cut <= all.byteLength; cut++) {
      const decoder = new FrameDecoder(1024)
      const out: Array<Uint8Array> = []
      assert.isNull(decoder.push(all.subarray(0, cut), (f) => out.push(f)))
      assert.isNull(decoder.push(all.subarray(cut), (f) => out.push(f)))
      assert.deepStrictEqual(out.map((f) => Either.getOrThrow(Protocol.decodeEither(f))), [{ _tag: "Ack", blocks: 1 }, { _tag: "Ack", blocks: 2 }])
      assert.isFalse(decoder.partial)
    }
    const decoder = new FrameDecoder(1024)
    assert.strictEqual(decoder.push(Uint8Array.of(0, 0, 4, 1, 9), () => assert.fail()), 1025)
    const partial = new FrameDecoder(1024)
    partial.push(Uint8Array.of(0, 0, 0, 9, 1), () => assert.fail())
    assert.isTrue(partial.partial)
  })

  it("picks 1 MiB blocks, and bigger ones so that no file has more than MAX_BLOCKS", () => {
    const MiB = 1024 * 1024
    assert.strictEqual(chooseBlockSize(0), MiB)
    assert.strictEqual(chooseBlockSize(100 * MiB), MiB)
    assert.strictEqual(chooseBlockSize(64 * 1024 * MiB), MiB)
    assert.strictEqual(chooseBlockSize(64 * 1024 * MiB + 1), 2 * MiB)
    assert.strictEqual(chooseBlockSize(constants.MAX_FILE_SIZE), constants.MAX_BLOCK_SIZE)
    assert.strictEqual(chooseBlockSize(10, 1000), constants.MIN_BLOCK_SIZE)
    assert.strictEqual(chooseBlockSize(10, 100 * MiB), constants.MAX_BLOCK_SIZE)
  })
})
