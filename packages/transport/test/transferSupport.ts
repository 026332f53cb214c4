/**
 * Transfer test support: two paired devices with the transfer services, a receiver policy
 * that maps location ids to temporary roots, and a raw peer that speaks the wire by hand.
 */
import { Hasher } from "@conduit/index"
import { encode as msgpack } from "@msgpack/msgpack"
import { Context, Effect, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import * as Frames from "../src/internal/frames.js"
import * as Protocol from "../src/internal/transferProtocol.js"
import { constants, Node, type Transfer, TransferError } from "../src/index.js"
import { makeReceiver, makeSender } from "../src/Transfer.js"
import { type Device, device, pairBoth, tempDir } from "./support.js"

export const LOCATION = "0a1b2c3d-0000-4000-8000-00000000000a"
export const OTHER_LOCATION = "0a1b2c3d-0000-4000-8000-00000000000b"

/** A device with the transfer services. */
export interface TransferDevice extends Device {
  readonly sender: Transfer.TransferSender["Type"]
  readonly receiver: Transfer.TransferReceiver["Type"]
}

/** The hasher the tests share (two workers), built in the test's scope. */
export const hasherContext = Layer.build(Hasher.layerWith({ workers: 2 }))

/** The transfer services on a device's node. */
export const withTransfer = (d: Device, hasher: Context.Context<Hasher.Hasher>) =>
  Effect.gen(function* () {
    const context = Context.add(hasher, Node.Node, d.node)
    const sender = yield* Effect.provide(makeSender, context)
    const receiver = yield* Effect.provide(makeReceiver, context)
    return { ...d, sender, receiver } satisfies TransferDevice
  })

/** Two paired devices with the transfer services, and a receiving root for `b`. */
export const pair = (options: Node.NodeOptions = {}) =>
  Effect.gen(function* () {
    const hasher = yield* hasherContext
    const a = yield* withTransfer(yield* device(options), hasher)
    const b = yield* withTransfer(yield* device(options), hasher)
    yield* pairBoth(a, b)
    const source = yield* tempDir
    const root = yield* tempDir
    return { a, b, source, root }
  })

/** A policy that sends `LOCATION` to `root`, refuses everything else, and records outcomes. */
export const policyFor = (
  root: string,
  results: Array<Transfer.ReceiveResult>,
  extra: Partial<Transfer.ReceiverPolicy> = {}
): Transfer.ReceiverPolicy => ({
  resolve: (location, path) =>
    location === LOCATION
      ? Effect.succeed({ root, destination: Path.join(root, path) })
      : Effect.fail(new TransferError.TransferError({ reason: "Refused", path, detail: "not a location of this device" })),
  received: (result) => Effect.sync(() => void results.push(result)),
  ...extra
})

/** Waits until `results` has `count` entries (the receiver reports after its Done). */
export const awaitResults = (results: ReadonlyArray<unknown>, count: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500 && results.length < count; i++) yield* Effect.sleep("10 millis")
    assert.isAtLeast(results.length, count)
  })

/** Writes a file of `bytes` under `dir`, returns its path. */
export const writeFile = (dir: string, rel: string, bytes: Uint8Array | string) => {
  const path = Path.join(dir, rel)
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  Fs.writeFileSync(path, bytes)
  return path
}

/** Whether two files have the same bytes. */
export const sameBytes = (a: string, b: string) => Fs.readFileSync(a).equals(Fs.readFileSync(b))

/** Every file under `dir` (relative, sorted), temporary ones included. */
export const allFiles = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true }).map(String).filter((p) => Fs.lstatSync(Path.join(dir, p)).isFile()).sort()

/** BLAKE3 of bytes, as the protocol writes it. */
export const blake3 = (bytes: Uint8Array) => Hasher.hashBytes(bytes) as string

// -- a raw peer ---------------------------------------------------------------------------------

/** A session opened by hand: frames in and out, as a hostile or broken sender would. */
export interface RawSession {
  readonly send: (message: unknown) => Effect.Effect<void, TransferError.TransferError>
  readonly sendBytes: (bytes: Uint8Array) => Effect.Effect<void, TransferError.TransferError>
  readonly next: Effect.Effect<Protocol.Message | null, TransferError.TransferError>
  readonly close: Effect.Effect<void>
  /** The receiver's answer to the hello. */
  readonly answer: Protocol.Message | null
}

/** Opens a session from `a` to `b` by hand and exchanges hellos. */
export const rawSession = (a: TransferDevice, b: TransferDevice, hello: Partial<Protocol.Hello> = {}) =>
  Effect.gen(function* () {
    const stream = yield* Effect.orDie(a.node.openStream(b.node.peerId, constants.TRANSFER_PROTOCOL))
    const reader = Frames.reader(stream, { maxFrameBytes: constants.MAX_TRANSFER_FRAME_BYTES, maxBufferedBytes: 64 * 1024 * 1024 })
    const sendBytes = (bytes: Uint8Array) => Frames.write(stream, bytes)
    const send = (message: unknown) => sendBytes(Protocol.frame(msgpack(message)))
    const next = Effect.flatMap(reader.next, (frame) => (frame === null ? Effect.succeed(null) : Protocol.decodeEither(frame)))
    yield* send({
      _tag: "Hello",
      version: 1,
      session: Crypto.randomBytes(16).toString("hex"),
      streams: 0,
      compression: ["deflate-raw"],
      offers: 8,
      windowBytes: constants.DEFAULT_WINDOW_BYTES,
      ...hello
    })
    const answer = yield* next
    return { send, sendBytes, next, close: Effect.ignore(Effect.tryPromise(() => stream.close())), answer } satisfies RawSession
  })

/** An offer of `bytes` (cut in `blockSize` blocks) for `path`. */
export const offerOf = (transferId: number, path: string, bytes: Uint8Array, blockSize = constants.MIN_BLOCK_SIZE, over: Record<string, unknown> = {}) => {
  const blockHashes: Array<string> = []
  for (let at = 0; at < bytes.byteLength; at += blockSize) blockHashes.push(blake3(bytes.subarray(at, at + blockSize)))
  return {
    _tag: "Offer",
    transferId,
    location: LOCATION,
    path,
    size: bytes.byteLength,
    hash: blake3(bytes),
    blockSize,
    blockHashes,
    mtimeNs: "1700000000000000000",
    mode: 0o644,
    ...over
  }
}

/** Reads messages until one with `tag` (skipping acks). */
export const expectMessage = <T extends Protocol.Message["_tag"]>(raw: RawSession, tag: T) =>
  Effect.gen(function* () {
    for (;;) {
      const message = yield* raw.next
      if (message === null) return assert.fail(`the stream ended before a ${tag}`)
      if (message._tag === "Ack") continue
      assert.strictEqual<string>(message._tag, tag, JSON.stringify(message))
      return message as Extract<Protocol.Message, { _tag: T }>
    }
  })

/** The session ends: the raw peer reads until the stream closes, returning the refusal if one came. */
export const refusal = (raw: { readonly next: Effect.Effect<{ readonly _tag: string } | null, unknown> }) =>
  Effect.gen(function* () {
    let refused: { readonly _tag: string; readonly reason?: string } | null = null
    for (;;) {
      const message = yield* Effect.orElseSucceed(raw.next, () => null)
      if (message === null) return refused
      if (message._tag === "Refused") refused = message
    }
  })
