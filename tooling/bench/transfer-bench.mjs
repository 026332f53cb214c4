#!/usr/bin/env node
// Transfer benchmark: raw libp2p stream throughput and `Transfer` throughput between two
// paired nodes in this process, over loopback, for QUIC and for TCP (Noise + Yamux).
// Plain Node (>= 20) ESM against the built packages (pnpm turbo run build --filter
// @conduit/transport). Both nodes share one process (and its event loop), so the numbers are
// a lower bound of two machines' and mostly show the relative cost of the protocol.
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

const here = Path.dirname(fileURLToPath(import.meta.url))
const repo = Path.resolve(here, "..", "..")

const USAGE = `usage: node tooling/bench/transfer-bench.mjs [options]

Sends SIZE MiB between two paired in-process libp2p nodes over 127.0.0.1 and prints MiB/s:
raw stream (one stream; and 4 streams at once), then Transfer (one stream; and the default
extra block streams), for each transport.

options:
  --size MIB           bytes per measurement, in MiB (default 256)
  --transports LIST    quic,tcp (default both)
  --streams N          extra block streams of the parallel Transfer run (default 3)
  --root DIR           scratch directory (default a new one under \${TMPDIR:-/tmp}, removed after)
  -h, --help           this text`

let opts
try {
  opts = parseArgs({
    options: {
      size: { type: "string", default: "256" },
      transports: { type: "string", default: "quic,tcp" },
      streams: { type: "string", default: "3" },
      root: { type: "string" },
      help: { type: "boolean", short: "h", default: false }
    }
  }).values
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`)
  process.exit(2)
}
if (opts.help) {
  console.log(USAGE)
  process.exit(0)
}

const MiB = 1024 * 1024
const size = Math.round(Number(opts.size) * MiB)
const transports = opts.transports.split(",").map((t) => t.trim()).filter(Boolean)
const parallel = Number(opts.streams)
if (!(size > 0) || transports.some((t) => t !== "quic" && t !== "tcp") || !(parallel >= 0)) {
  console.error(USAGE)
  process.exit(2)
}

const dist = (pkg) => Path.join(repo, "packages", pkg, "dist", "index.js")
for (const pkg of ["transport", "index"]) {
  if (!Fs.existsSync(dist(pkg))) {
    console.error(`${dist(pkg)} is missing: run 'pnpm turbo run build --filter @conduit/transport' first`)
    process.exit(2)
  }
}
// The same `effect` the built packages load (one instance: their tags must match ours).
const { Context, Effect, Layer } = await import(pathToFileURL(Path.join(repo, "packages/transport/node_modules/effect/dist/esm/index.js")).href)
const { constants, Node, Pairing, Streams, Transfer, TransportLive } = await import(pathToFileURL(dist("transport")).href)
const { Hasher, LibraryDatabase } = await import(pathToFileURL(dist("index")).href)

const root = opts.root ?? Fs.mkdtempSync(Path.join(process.env.TMPDIR || Os.tmpdir(), "conduit-transfer-bench-"))
Fs.mkdirSync(root, { recursive: true })
const LOCATION = "0a1b2c3d-0000-4000-8000-00000000000a"
const SINK = "/conduit/bench/sink/1.0.0"

const rate = (bytes, millis) => (bytes / MiB / (millis / 1000)).toFixed(1)

/** Writes SIZE random bytes to a file (once). */
const sourceFile = Path.join(root, "source.bin")
{
  const fd = Fs.openSync(sourceFile, "w")
  const chunk = Crypto.randomBytes(4 * MiB)
  for (let at = 0; at < size; at += chunk.byteLength) Fs.writeSync(fd, chunk, 0, Math.min(chunk.byteLength, size - at))
  Fs.closeSync(fd)
}

/** Counts what arrives on a stream until the peer closes its side, then answers one byte. */
const sink = (stream) =>
  Effect.gen(function* () {
    yield* Effect.async((resume) => {
      const done = () => resume(Effect.void)
      stream.addEventListener("message", () => undefined)
      stream.addEventListener("end", done)
      stream.addEventListener("close", done)
      if (stream.readableEnded) done()
    })
    yield* Streams.write(stream, Uint8Array.of(1))
  })

/** Sends `bytes` on one new stream in 1 MiB writes; returns when the sink confirmed. */
const pump = (node, peerId, bytes) =>
  Effect.scoped(Effect.gen(function* () {
    const stream = yield* node.openStream(peerId, SINK)
    const chunk = Crypto.randomBytes(MiB)
    for (let sent = 0; sent < bytes; sent += MiB) yield* Streams.write(stream, chunk.subarray(0, Math.min(MiB, bytes - sent)))
    yield* Streams.closeWrite(stream)
    yield* Streams.readAll(stream, { maxBytes: 16 })
  }))

const device = (home, kind) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      TransportLive.layer({ transports: [kind] }).pipe(Layer.provideMerge(Layer.fresh(LibraryDatabase.layer({ home }))))
    )
    return { node: Context.get(context, Node.Node), pairing: Context.get(context, Pairing.Pairing) }
  })

const timed = (effect) =>
  Effect.gen(function* () {
    const started = performance.now()
    const value = yield* effect
    return { value, millis: performance.now() - started }
  })

const run = (kind) =>
  Effect.scoped(Effect.gen(function* () {
    const homeA = Path.join(root, `${kind}-a`)
    const homeB = Path.join(root, `${kind}-b`)
    const target = Path.join(root, `${kind}-target`)
    for (const dir of [homeA, homeB, target]) Fs.mkdirSync(dir, { recursive: true })
    const a = yield* device(homeA, kind)
    const b = yield* device(homeB, kind)
    yield* a.pairing.pair(b.node.peerId, yield* b.node.addresses, "b")
    yield* b.pairing.pair(a.node.peerId, yield* a.node.addresses, "a")
    yield* b.node.handle(SINK, sink)
    yield* pump(a.node, b.node.peerId, MiB) // connect and warm up

    const rows = []
    const one = yield* timed(pump(a.node, b.node.peerId, size))
    rows.push(["raw stream, 1 stream", rate(size, one.millis)])
    const four = yield* timed(Effect.all(Array.from({ length: 4 }, () => pump(a.node, b.node.peerId, size / 4)), { concurrency: "unbounded" }))
    rows.push(["raw stream, 4 streams", rate(size, four.millis)])

    const hasher = yield* Layer.build(Hasher.layer)
    const provide = (node, effect) => Effect.provide(effect, Context.add(hasher, Node.Node, node))
    const sender = yield* provide(a.node, Transfer.makeSender)
    const receiver = yield* provide(b.node, Transfer.makeReceiver)
    yield* receiver.serve({
      resolve: (_location, path) => Effect.succeed({ root: target, destination: Path.join(target, path) })
    }, { streams: constants.MAX_PARALLEL_STREAMS })
    for (const streams of [0, parallel]) {
      const name = `transfer-${streams}.bin`
      const result = yield* timed(sender.sendAll(b.node.peerId, [{ source: sourceFile, location: LOCATION, path: name }], { streams, compress: false }))
      const [outcome] = result.value
      if (outcome._tag === "Left") throw new Error(`the transfer failed: ${outcome.left.message}`)
      if (Fs.statSync(Path.join(target, name)).size !== size) throw new Error("the received file has the wrong size")
      rows.push([`Transfer, ${streams === 0 ? "session stream only" : `${streams} block streams`} (hash + send + verify + fsync)`, rate(size, result.millis)])
      Fs.rmSync(Path.join(target, name))
    }
    return rows
  }))

try {
  console.log(`transfer bench: ${size / MiB} MiB over 127.0.0.1, node ${process.version}, ${Os.availableParallelism()} cores`)
  for (const kind of transports) {
    const rows = await Effect.runPromise(run(kind))
    for (const [what, mibs] of rows) console.log(`  ${kind.padEnd(4)}  ${what.padEnd(62)} ${mibs.padStart(7)} MiB/s`)
  }
} finally {
  if (opts.root === undefined) Fs.rmSync(root, { recursive: true, force: true })
}
