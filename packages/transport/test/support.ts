/**
 * Test devices: each one a real home directory with its own library database, identity and a
 * started libp2p node on 127.0.0.1, stopped and removed when the test's scope closes.
 */
import { LibraryDatabase } from "@conduit/index"
import * as Testkit from "@conduit/testkit"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Context, Effect, Layer } from "effect"
import * as Dgram from "node:dgram"
import { DeviceIdentity, Node, Pairing, Streams, TransportLive } from "../src/index.js"

export const tempDir = Testkit.tempDir("conduit-transport-")

/** The transport on a fresh library database in `home`. */
export const transportOn = (home: string, options: Node.NodeOptions = {}) =>
  TransportLive.layer(options).pipe(Layer.provideMerge(Layer.fresh(LibraryDatabase.layer({ home }))))

export interface Device {
  readonly home: string
  readonly node: Node.Node["Type"]
  readonly pairing: Pairing.Pairing["Type"]
  readonly identity: DeviceIdentity.DeviceIdentity["Type"]
}

/** A device with a started node, in a new temporary home (or `home`). */
export const device = (options: Node.NodeOptions = {}, home?: string) =>
  Effect.gen(function* () {
    const dir = home ?? (yield* tempDir)
    const context = yield* Layer.build(transportOn(dir, options))
    return {
      home: dir,
      node: Context.get(context, Node.Node),
      pairing: Context.get(context, Pairing.Pairing),
      identity: Context.get(context, DeviceIdentity.DeviceIdentity)
    } satisfies Device
  })

/** `a` pairs with `b` at `b`'s listen addresses. */
export const pairWith = (a: Device, b: Device, name = "peer") =>
  Effect.flatMap(b.node.addresses, (addresses) => a.pairing.pair(b.node.peerId, addresses, name))

/** Both devices pair with each other. */
export const pairBoth = (a: Device, b: Device) => Effect.zipRight(pairWith(a, b, "b"), pairWith(b, a, "a"))

/** A PeerId of a device that exists nowhere. */
export const randomPeerId = Effect.promise(async () => peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString())

export const ECHO = "/conduit/test/echo/1.0.0"

/** Serves ECHO: reads the whole request and sends it back; records who asked. */
export const echo = (served: Array<string>): Node.StreamHandler => (stream, peer) =>
  Effect.gen(function* () {
    served.push(peer.peerId)
    const request = yield* Streams.readAll(stream, { maxBytes: 8 * 1024 * 1024 })
    yield* Streams.write(stream, request)
  })

/** Opens ECHO to `peerId`, sends `bytes`, and returns what came back. */
export const roundTrip = (node: Node.Node["Type"], peerId: string, bytes: Uint8Array) =>
  Effect.scoped(
    Effect.gen(function* () {
      const stream = yield* node.openStream(peerId, ECHO)
      yield* Streams.write(stream, bytes)
      yield* Streams.closeWrite(stream)
      return yield* Streams.readAll(stream, { maxBytes: 8 * 1024 * 1024 })
    })
  )

/** A UDP port nothing listens on (bound, then released). */
export const deadUdpPort = Effect.async<number>((resume) => {
  const socket = Dgram.createSocket("udp4")
  socket.bind(0, "127.0.0.1", () => {
    const { port } = socket.address()
    socket.close(() => resume(Effect.succeed(port)))
  })
})

/** Deterministic pseudo-random bytes. */
export const bytes = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
