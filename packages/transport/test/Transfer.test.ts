import { describe, it } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { BandwidthLimiter, type Transfer } from "../src/index.js"
import { bytes } from "./support.js"
import { allFiles, awaitResults, LOCATION, OTHER_LOCATION, pair, policyFor, sameBytes, writeFile } from "./transferSupport.js"

describe("Transfer", () => {
  it.scopedLive("sends a file on one stream: verified, with its mode and mtime, committed by rename", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results), { streams: 0 })
      const file = writeFile(source, "big.bin", bytes(5 * 1024 * 1024 + 123))
      Fs.chmodSync(file, 0o640)
      const mtimeNs = 1_700_000_000_123_456_789n
      const outcome = yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* a.sender.open(b.node.peerId)
        assert.strictEqual(session.streams, 0)
        return yield* session.send({ source: file, location: LOCATION, path: "dir/sub/big.bin", mtimeNs })
      }))
      assert.strictEqual(outcome.size, 5 * 1024 * 1024 + 123)
      assert.strictEqual(outcome.bytesReceived, outcome.size)
      assert.strictEqual(outcome.bytesReused, 0)
      assert.isFalse(outcome.localCopy)
      const written = Path.join(root, "dir/sub/big.bin")
      assert.isTrue(sameBytes(file, written))
      const stat = Fs.statSync(written, { bigint: true })
      assert.strictEqual(Number(stat.mode & 0o7777n), 0o640)
      // utimes sets the nearest microsecond.
      const off = stat.mtimeNs - mtimeNs
      assert.isTrue(off <= 2000n && off >= -2000n, `${off} ns off`)
      assert.deepStrictEqual(allFiles(root), ["dir/sub/big.bin"])
      yield* awaitResults(results, 1)
      assert.isTrue(results[0]!.ok)
      assert.strictEqual(results[0]!.destination, written)
    }))

  it.scopedLive("pipelines many small files (and an empty one) in one session", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const files = Array.from({ length: 300 }, (_, i) => {
        const rel = `small/${i % 7}/f${i}.txt`
        return { rel, path: writeFile(source, rel, bytes(i * 37, i + 1)) }
      })
      const outcomes = yield* a.sender.sendAll(
        b.node.peerId,
        files.map((f) => ({ source: f.path, location: LOCATION, path: f.rel })),
        { offers: 32, bundles: 0 }
      )
      assert.strictEqual(outcomes.length, 300)
      for (const [i, outcome] of outcomes.entries()) {
        assert.isTrue(Either.isRight(outcome), Either.isLeft(outcome) ? outcome.left.message : "")
        assert.isTrue(sameBytes(files[i]!.path, Path.join(root, files[i]!.rel)))
      }
      assert.strictEqual(allFiles(root).length, 300)
      yield* awaitResults(results, 300)
      assert.isTrue(results.every((r) => r.ok))
    }))

  it.scopedLive("copies locally (verified) what the receiver already has, and falls back when the copy is wrong", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const content = bytes(3 * 1024 * 1024, 5)
      const local = writeFile(root, "elsewhere/copy.bin", content)
      const liar = writeFile(root, "elsewhere/liar.bin", bytes(1000, 9))
      const results: Array<Transfer.ReceiveResult> = []
      const asked: Array<string> = []
      yield* b.receiver.serve(policyFor(root, results, {
        have: (hash, offer) => Effect.sync(() => {
          asked.push(hash)
          return offer.path === "lied.bin" ? liar : local
        })
      }))
      const file = writeFile(source, "x.bin", content)
      const [copied, lied] = yield* a.sender.sendAll(b.node.peerId, [
        { source: file, location: LOCATION, path: "copied.bin" },
        { source: file, location: LOCATION, path: "lied.bin" }
      ])
      const ok = Either.getOrThrow(copied!)
      assert.isTrue(ok.localCopy)
      assert.strictEqual(ok.bytesReceived, 0)
      assert.strictEqual(ok.bytesReused, content.byteLength)
      assert.strictEqual(ok.bytesSent, 0)
      assert.isTrue(sameBytes(file, Path.join(root, "copied.bin")))
      // The "local copy" had other bytes: it was refused and the blocks came from the peer.
      const fallback = Either.getOrThrow(lied!)
      assert.isFalse(fallback.localCopy)
      assert.strictEqual(fallback.bytesReceived, content.byteLength)
      assert.isTrue(sameBytes(file, Path.join(root, "lied.bin")))
      assert.strictEqual(asked.length, 2)
      assert.deepStrictEqual(allFiles(root), ["copied.bin", "elsewhere/copy.bin", "elsewhere/liar.bin", "lied.bin"])
    }))

  it.scopedLive("the policy decides: an unknown location is refused, a symlink out of the root is refused, nothing is written", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const outside = Path.join(source, "outside")
      Fs.mkdirSync(outside)
      Fs.symlinkSync(outside, Path.join(root, "escape"))
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const file = writeFile(source, "f.bin", bytes(70_000))
      const outcomes = yield* a.sender.sendAll(b.node.peerId, [
        { source: file, location: OTHER_LOCATION, path: "f.bin" },
        { source: file, location: LOCATION, path: "escape/f.bin" },
        { source: file, location: LOCATION, path: "escape/deeper/f.bin" },
        { source: file, location: LOCATION, path: "fine.bin" }
      ])
      const reasons = outcomes.map((o) => (Either.isLeft(o) ? o.left.reason : "ok"))
      assert.deepStrictEqual(reasons, ["Refused", "PathRefused", "PathRefused", "ok"])
      assert.deepStrictEqual(Fs.readdirSync(outside), [])
      assert.deepStrictEqual(allFiles(root), ["fine.bin"])
      // The sender refuses bad paths and locations itself, before any offer.
      const local = yield* a.sender.sendAll(b.node.peerId, [
        { source: file, location: LOCATION, path: "../up.bin" },
        { source: file, location: LOCATION, path: "/abs.bin" },
        { source: file, location: "not-a-uuid", path: "x.bin" },
        { source: file, location: LOCATION, path: "a/./b" }
      ])
      assert.deepStrictEqual(local.map((o) => (Either.isLeft(o) ? o.left.reason : "ok")), ["PathRefused", "PathRefused", "PathRefused", "PathRefused"])
    }))

  it.scopedLive("a file that changed from the hash the caller expects is not sent", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const file = writeFile(source, "f.bin", bytes(1000))
      const [outcome] = yield* a.sender.sendAll(b.node.peerId, [{ source: file, location: LOCATION, path: "f.bin", hash: "0".repeat(64) }])
      assert.isTrue(Either.isLeft(outcome!) && outcome.left.reason === "SourceChanged")
      assert.deepStrictEqual(allFiles(root), [])
    }))

  it.scopedLive("resumes a 64 MiB file cut midway: the verified blocks of the partial file are not sent again", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const size = 64 * 1024 * 1024
      const file = writeFile(source, "big.bin", bytes(size, 11))
      const MiB = 1024 * 1024
      let cut = false
      // The first attempt: the connection is closed once 48 MiB went out.
      const first = yield* Effect.flip(Effect.scoped(Effect.gen(function* () {
        const session = yield* a.sender.open(b.node.peerId, { streams: 0 })
        return yield* session.send({ source: file, location: LOCATION, path: "big.bin" }, {
          onProgress: ({ bytesSent }) =>
            bytesSent >= 48 * MiB && !cut ? Effect.zipRight(Effect.sync(() => (cut = true)), a.node.hangUp(b.node.peerId)) : Effect.void
        })
      })))
      assert.strictEqual(first.reason, "PeerClosed")
      yield* awaitResults(results, 1)
      assert.strictEqual(results[0]!.error?.reason, "PeerClosed")
      const kept = allFiles(root)
      assert.strictEqual(kept.length, 1)
      assert.match(kept[0]!, /^\.conduit-tmp-part-[0-9a-f]{16}-big\.bin$/)
      assert.isFalse(Fs.existsSync(Path.join(root, "big.bin")))
      // The second attempt re-hashes the partial file and asks for the rest only.
      const [again] = yield* a.sender.sendAll(b.node.peerId, [{ source: file, location: LOCATION, path: "big.bin" }], { streams: 0 })
      const outcome = Either.getOrThrow(again!)
      assert.isAtLeast(outcome.bytesReused, 32 * MiB)
      assert.isBelow(outcome.bytesSent, size / 2)
      assert.strictEqual(outcome.bytesReused + outcome.bytesReceived, size)
      assert.strictEqual(outcome.bytesSent, outcome.bytesReceived)
      assert.isTrue(sameBytes(file, Path.join(root, "big.bin")))
      assert.deepStrictEqual(allFiles(root), ["big.bin"])
    }), 60_000)

  it.scopedLive("sends the blocks of a large file over the extra streams both sides agreed on", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []), { streams: 2 })
      const file = writeFile(source, "big.bin", bytes(24 * 1024 * 1024 + 5, 2))
      const small = writeFile(source, "small.txt", "hello")
      const outcomes = yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* a.sender.open(b.node.peerId, { streams: 4 })
        assert.strictEqual(session.streams, 2)
        return yield* Effect.all([
          session.send({ source: file, location: LOCATION, path: "big.bin" }),
          session.send({ source: small, location: LOCATION, path: "small.txt" })
        ], { concurrency: "unbounded" })
      }))
      assert.strictEqual(outcomes[0].bytesReceived, 24 * 1024 * 1024 + 5)
      assert.isTrue(sameBytes(file, Path.join(root, "big.bin")))
      assert.isTrue(sameBytes(small, Path.join(root, "small.txt")))
      // A receiver that takes no extra stream gets everything on the session stream.
      const { a: c, b: d, root: root2 } = yield* pair()
      yield* d.receiver.serve(policyFor(root2, []), { streams: 0 })
      const sequential = yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* c.sender.open(d.node.peerId, { streams: 4 })
        assert.strictEqual(session.streams, 0)
        return yield* session.send({ source: file, location: LOCATION, path: "big.bin" })
      }))
      assert.strictEqual(sequential.bytesReceived, 24 * 1024 * 1024 + 5)
      assert.isTrue(sameBytes(file, Path.join(root2, "big.bin")))
    }), 60_000)

  it.scopedLive("compresses blocks when agreed and worth it; incompressible blocks go raw", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      yield* b.receiver.serve(policyFor(root, []))
      const text = "All work and no play makes Jack a dull boy. ".repeat(100_000)
      const textFile = writeFile(source, "text.txt", text)
      const noise = writeFile(source, "noise.bin", bytes(3 * 1024 * 1024, 4))
      const [compressed, raw] = yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* a.sender.open(b.node.peerId, { compress: true })
        assert.strictEqual(session.compression, "deflate-raw")
        return yield* Effect.all([
          session.send({ source: textFile, location: LOCATION, path: "text.txt" }),
          session.send({ source: noise, location: LOCATION, path: "noise.bin" })
        ])
      }))
      assert.strictEqual(compressed.bytesReceived, text.length)
      assert.isBelow(compressed.bytesSent, text.length / 20)
      assert.strictEqual(raw.bytesSent, 3 * 1024 * 1024)
      assert.isTrue(sameBytes(textFile, Path.join(root, "text.txt")))
      assert.isTrue(sameBytes(noise, Path.join(root, "noise.bin")))
      // A receiver that does not take compressed blocks never gets one.
      const { a: c, b: d, root: root2 } = yield* pair()
      yield* d.receiver.serve(policyFor(root2, []), { compression: false })
      const plain = yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* c.sender.open(d.node.peerId, { compress: true })
        assert.isNull(session.compression)
        return yield* session.send({ source: textFile, location: LOCATION, path: "text.txt" })
      }))
      assert.strictEqual(plain.bytesSent, text.length)
    }), 60_000)

  it.scopedLive("interrupting one send cancels that transfer only: the session goes on", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair()
      const results: Array<Transfer.ReceiveResult> = []
      yield* b.receiver.serve(policyFor(root, results))
      const big = writeFile(source, "big.bin", bytes(16 * 1024 * 1024, 8))
      const small = writeFile(source, "small.bin", bytes(1000, 9))
      const limiter = yield* BandwidthLimiter.make(8 * 1024 * 1024)
      yield* Effect.scoped(Effect.gen(function* () {
        const session = yield* a.sender.open(b.node.peerId, { limiter, compress: false })
        const fiber = yield* Effect.fork(session.send({ source: big, location: LOCATION, path: "big.bin" }))
        // Interrupted once blocks were written (the partial file is sized up front, sparse: its
        // allocated blocks are what arrived).
        const written = () => {
          const part = Fs.readdirSync(root).find((n) => n.startsWith(".conduit-tmp-part-"))
          return part === undefined ? 0 : Fs.statSync(Path.join(root, part)).blocks * 512
        }
        for (let i = 0; i < 400 && written() < 2 * 1024 * 1024; i++) yield* Effect.sleep("25 millis")
        assert.isAtLeast(written(), 2 * 1024 * 1024)
        yield* Fiber.interrupt(fiber)
        const ok = yield* session.send({ source: small, location: LOCATION, path: "small.bin" })
        assert.strictEqual(ok.bytesReceived, 1000)
      }))
      yield* awaitResults(results, 2)
      const cancelled = results.find((r) => r.offer.path === "big.bin")!
      assert.isFalse(cancelled.ok)
      assert.strictEqual(cancelled.error?.reason, "Cancelled")
      assert.isTrue(sameBytes(small, Path.join(root, "small.bin")))
      assert.isFalse(Fs.existsSync(Path.join(root, "big.bin")))
      // Its verified blocks stay for a later offer.
      assert.deepStrictEqual(allFiles(root).map((f) => f.replace(/[0-9a-f]{16}/, "H")), [".conduit-tmp-part-H-big.bin", "small.bin"])
    }), 30_000)

  it.scopedLive("works the same over TCP (Noise + Yamux): one stream and extra streams", () =>
    Effect.gen(function* () {
      const { a, b, root, source } = yield* pair({ transports: ["tcp"] })
      yield* b.receiver.serve(policyFor(root, []))
      const file = writeFile(source, "big.bin", bytes(20 * 1024 * 1024 + 7, 12))
      const outcomes = yield* Effect.forEach([0, 3], (streams) =>
        Effect.map(
          a.sender.sendAll(b.node.peerId, [{ source: file, location: LOCATION, path: `big-${streams}.bin` }], { streams }),
          ([outcome]) => Either.getOrThrow(outcome!)
        ))
      assert.deepStrictEqual((yield* a.node.connections).map((c) => c.transport), ["tcp"])
      for (const [i, streams] of [0, 3].entries()) {
        assert.strictEqual(outcomes[i]!.bytesReceived, 20 * 1024 * 1024 + 7)
        assert.isTrue(sameBytes(file, Path.join(root, `big-${streams}.bin`)))
      }
    }), 60_000)
})
