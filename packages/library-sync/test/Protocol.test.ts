import { describe, it } from "@effect/vitest"
import { encode as msgpack } from "@msgpack/msgpack"
import { Chunk, Effect, Either, Fiber, Stream } from "effect"
import { assert } from "vitest"
import { constants, Framing, PeerChannel, Protocol } from "../src/index.js"
import { uuid, wireEntry, wireLocation } from "./support.js"

const location = uuid()
const device = uuid()

const reasonOf = (frame: Uint8Array) => {
  const result = Protocol.decodeEither(frame)
  assert.isTrue(Either.isLeft(result), "expected the frame to be refused")
  return Either.isLeft(result) ? result.left.reason : undefined
}

const batchWith = (over: Partial<Record<keyof Protocol.WireEntry, unknown>>) =>
  msgpack({ _tag: "Batch", entries: [wireEntry(location, "a/b.txt", 1, over)], upTo: 1 })

describe("Protocol", () => {
  it("round-trips every message", () => {
    const messages: Array<Protocol.Message> = [
      { _tag: "Hello", version: 1, device: device as Protocol.DeviceUuid, name: "laptop" },
      { _tag: "Want", fromSeq: 42 },
      { _tag: "Locations", head: 7, locations: [wireLocation(location, "/home/me/photos")] },
      {
        _tag: "Batch",
        upTo: 9,
        entries: [
          wireEntry(location, "a/b.txt", 8),
          wireEntry(location, "ln", 9, { kind: 2, linkTarget: "../x", hash: "b".repeat(64), tombstone: true, movedFrom: "old/ln" }),
          wireEntry(location, "evicted.bin", 10, { remote: true })
        ]
      },
      { _tag: "CaughtUp", seq: 9 },
      { _tag: "Refused", reason: "Malformed", detail: "because" },
      { _tag: "Refused", reason: "NotPaired" }
    ]
    for (const message of messages) {
      const decoded = Protocol.decodeEither(Protocol.encode(message))
      assert.deepStrictEqual(Either.getOrThrow(decoded), message)
    }
  })

  it("refuses garbage, unknown tags and wrong types as Malformed", () => {
    assert.strictEqual(reasonOf(new Uint8Array([0xc1, 0xff, 0x00, 0x13])), "Malformed")
    assert.strictEqual(reasonOf(new Uint8Array(0)), "Malformed")
    assert.strictEqual(reasonOf(Uint8Array.from({ length: 200 }, (_, i) => (i * 97 + 13) & 0xff)), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Gimme", all: true })), "Malformed")
    assert.strictEqual(reasonOf(msgpack([1, 2, 3])), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Want", fromSeq: "0" })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Want", fromSeq: -1 })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Want", fromSeq: 1.5 })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Want", fromSeq: 2 ** 53 + 2 })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Hello", version: 1, device: device.toUpperCase(), name: "x" })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Hello", version: 1, device, name: "" })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Hello", version: 1, device, name: "bad\u0007name" })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Hello", version: 1, device, name: "x".repeat(256) })), "Malformed")
    // Binary and extension types (a timestamp) are not part of the protocol.
    assert.strictEqual(reasonOf(msgpack({ _tag: "Hello", version: 1, device, name: new Uint8Array(4) })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "CaughtUp", seq: new Date() })), "Malformed")
    // Trailing bytes after a message.
    const trailing = new Uint8Array([...Protocol.encode({ _tag: "CaughtUp", seq: 1 }), 0x01])
    assert.strictEqual(reasonOf(trailing), "Malformed")
  })

  it("refuses entry paths that could leave a location", () => {
    for (const path of ["../etc/passwd", "a/../../b", "/etc/passwd", "./a", "a/./b", "a//b", "a/", "", "a\0b", "a\\b", "e\u0301", "x".repeat(4097)]) {
      assert.strictEqual(reasonOf(batchWith({ path })), "Malformed", `path ${JSON.stringify(path.slice(0, 20))}`)
    }
    assert.strictEqual(reasonOf(batchWith({ movedFrom: "../x" })), "Malformed")
    // NFC and ordinary names pass.
    assert.isTrue(Either.isRight(Protocol.decodeEither(batchWith({ path: "caf\u00e9/…/a b.txt" }))))
  })

  it("refuses out-of-bound and inconsistent entry fields", () => {
    const bad: Array<Partial<Record<keyof Protocol.WireEntry, unknown>>> = [
      { kind: 3 },
      { kind: "0" },
      { size: -1 },
      { size: 2 ** 53 },
      { size: "5" },
      { mtimeS: -10 },
      { mtimeNs: 1_000_000_000 },
      { mode: 0o10000 },
      { hash: "A".repeat(64) },
      { hash: "a".repeat(63) },
      { hashState: "great" },
      { seq: 0 },
      { tombstone: 1 },
      { location: "not-a-uuid" },
      { linkTarget: "x" },
      { kind: 1, hash: "a".repeat(64) },
      { kind: 2, linkTarget: "a\0b" },
      { remote: 1 },
      { remote: "yes" },
      { remote: true, kind: 1, hash: null },
      { remote: true, kind: 2, linkTarget: "x" },
      { remote: true, tombstone: true }
    ]
    for (const over of bad) assert.strictEqual(reasonOf(batchWith(over)), "Malformed", JSON.stringify(over))
    assert.strictEqual(reasonOf(msgpack({ _tag: "Batch", entries: [], upTo: 1 })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Locations", head: 1, locations: [{ ...wireLocation(location), root: "relative/root" }] })), "Malformed")
    assert.strictEqual(reasonOf(msgpack({ _tag: "Locations", head: 1, locations: [{ ...wireLocation(location), indexingMode: "Everything" }] })), "Malformed")
  })

  it("an entry without remote (an older peer) decodes as local; one with it keeps it", () => {
    const { remote: _, ...older } = wireEntry(location, "a/b.txt", 1)
    const decoded = Either.getOrThrow(Protocol.decodeEither(msgpack({ _tag: "Batch", entries: [older], upTo: 1 })))
    assert.strictEqual(decoded._tag === "Batch" ? decoded.entries[0]!.remote : undefined, false)
    const remote = Either.getOrThrow(Protocol.decodeEither(batchWith({ remote: true })))
    assert.strictEqual(remote._tag === "Batch" ? remote.entries[0]!.remote : undefined, true)
  })

  it("bounds counts: a batch above the entry limit and a frame above the size limit", () => {
    const many = Array.from({ length: constants.MAX_BATCH_ENTRIES + 1 }, (_, i) => wireEntry(location, `f${i}`, i + 1))
    assert.strictEqual(reasonOf(msgpack({ _tag: "Batch", entries: many, upTo: many.length })), "Malformed")
    const locations = Array.from({ length: constants.MAX_LOCATIONS + 1 }, () => wireLocation(uuid()))
    assert.strictEqual(reasonOf(msgpack({ _tag: "Locations", head: 1, locations })), "Malformed")
    assert.strictEqual(reasonOf(new Uint8Array(constants.MAX_FRAME_BYTES + 1)), "FrameTooLarge")
  })
})

describe("Framing", () => {
  const frames = (chunks: ReadonlyArray<Uint8Array>) =>
    Stream.runCollect(Framing.unframe((async function* () {
      for (const c of chunks) yield c
    })())).pipe(Effect.map(Chunk.toReadonlyArray), Effect.either)

  it.effect("cuts frames out of chunks of any size", () =>
    Effect.gen(function* () {
      const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(5_000).fill(9), new Uint8Array([4])]
      const bytes = new Uint8Array(payloads.reduce((n, p) => n + 4 + p.byteLength, 0))
      let at = 0
      for (const p of payloads) {
        bytes.set(Framing.frame(p), at)
        at += 4 + p.byteLength
      }
      // One byte at a time, then in uneven slices.
      for (const size of [1, 3, 4096, bytes.byteLength]) {
        const chunks: Array<Uint8Array> = []
        for (let i = 0; i < bytes.byteLength; i += size) chunks.push(bytes.subarray(i, i + size))
        const result = yield* frames(chunks)
        assert.isTrue(Either.isRight(result))
        assert.deepStrictEqual(Either.getOrThrow(result).map((f) => Array.from(f)), payloads.map((p) => Array.from(p)))
      }
    }))

  it.effect("refuses an oversized length prefix at once, without waiting for its bytes", () =>
    Effect.gen(function* () {
      let pulledAfterHeader = false
      const source = (async function* () {
        yield Framing.frame(new Uint8Array([7]))
        yield new Uint8Array([0xff, 0xff, 0xff, 0xf0])
        pulledAfterHeader = true
        // A peer that announced ~4 GiB and now trickles: never reached.
        await new Promise(() => {})
      })()
      const result = yield* Stream.runCollect(Framing.unframe(source)).pipe(Effect.either)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left.reason, "FrameTooLarge")
      assert.isFalse(pulledAfterHeader)
      // Exactly the limit is accepted as a length; one byte more is not.
      const deframer = new Framing.Deframer(constants.MAX_FRAME_BYTES)
      const header = new Uint8Array(4)
      new DataView(header.buffer).setUint32(0, constants.MAX_FRAME_BYTES + 1)
      assert.isTrue(Either.isLeft(deframer.push(header)))
      new DataView(header.buffer).setUint32(0, constants.MAX_FRAME_BYTES)
      assert.isTrue(Either.isRight(new Framing.Deframer(constants.MAX_FRAME_BYTES).push(header)))
    }))

  it.effect("a stream that ends inside a frame is Malformed", () =>
    Effect.gen(function* () {
      const whole = Framing.frame(new Uint8Array([1, 2, 3, 4]))
      const result = yield* frames([whole.subarray(0, 6)])
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left.reason, "Malformed")
    }))

  it.scoped("fromByteStream channels exchange frames both ways", () =>
    Effect.gen(function* () {
      const [a, b] = yield* PeerChannel.memoryPair()
      // A byte stream per direction, built on the memory pair's frames as raw chunks.
      const bytesOf = (channel: PeerChannel.PeerChannel): AsyncIterable<Uint8Array> => ({
        [Symbol.asyncIterator]: () => {
          const iterator = Stream.toAsyncIterable(channel.incoming)[Symbol.asyncIterator]()
          return iterator
        }
      })
      const left = PeerChannel.fromByteStream({ source: bytesOf(a), write: a.send, close: a.close })
      const right = PeerChannel.fromByteStream({ source: bytesOf(b), write: b.send, close: b.close })
      const received = yield* Effect.fork(Stream.runCollect(right.incoming))
      yield* left.send(Protocol.encode({ _tag: "Want", fromSeq: 3 }))
      yield* left.send(Protocol.encode({ _tag: "CaughtUp", seq: 4 }))
      const tooBig = yield* Effect.flip(left.send(new Uint8Array(constants.MAX_FRAME_BYTES + 1)))
      assert.strictEqual(tooBig.reason, "FrameTooLarge")
      yield* left.close
      const frames = Chunk.toReadonlyArray(yield* Fiber.join(received))
      assert.deepStrictEqual(frames.map((f) => Either.getOrThrow(Protocol.decodeEither(f))), [
        { _tag: "Want", fromSeq: 3 },
        { _tag: "CaughtUp", seq: 4 }
      ])
      const afterClose = yield* Effect.flip(left.send(new Uint8Array([1])))
      assert.strictEqual(afterClose.reason, "Channel")
    }))
})
