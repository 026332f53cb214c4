/**
 * The peer keeper against real nodes on 127.0.0.1: it connects to a paired peer by itself,
 * backs off while the peer is gone, and reconnects once the peer is back on its address.
 */
import { describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Net from "node:net"
import { assert } from "vitest"
import { Node, Pairing, PeerKeeper } from "../src/index.js"
import { device, pairBoth, tempDir, transportOn } from "./support.js"

const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  }))

/** Polls `check` until it holds (or fails the test after `millis`). */
const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, millis = 10_000) =>
  Effect.gen(function* () {
    const until = Date.now() + millis
    while (!(yield* check)) {
      if (Date.now() > until) return assert.fail(`not within ${millis} ms: ${what}`)
      yield* Effect.sleep("25 millis")
    }
  })

describe("PeerKeeper", () => {
  it("backs off exponentially, capped, with ±20 % jitter", () => {
    assert.strictEqual(PeerKeeper.backoffMillis(1, 1000, 60_000, 0.5), 1000)
    assert.strictEqual(PeerKeeper.backoffMillis(2, 1000, 60_000, 0.5), 2000)
    assert.strictEqual(PeerKeeper.backoffMillis(4, 1000, 60_000, 0.5), 8000)
    assert.strictEqual(PeerKeeper.backoffMillis(30, 1000, 60_000, 0.5), 60_000)
    assert.strictEqual(PeerKeeper.backoffMillis(1, 1000, 60_000, 0), 800)
    assert.strictEqual(PeerKeeper.backoffMillis(1, 1000, 60_000, 1), 1200)
  })

  it.scopedLive("connects to a paired peer by itself, backs off while it is gone, reconnects when it is back", () =>
    Effect.gen(function* () {
      const port = yield* freePort
      const options: Node.NodeOptions = { listen: [`/ip4/127.0.0.1/tcp/${port}`], transports: ["tcp"], dialTimeout: "500 millis" }
      const a = yield* device({ transports: ["tcp"] })
      const homeB = yield* tempDir
      const startB = Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(transportOn(homeB, options), scope)
        return { scope, node: Context.get(context, Node.Node), pairing: Context.get(context, Pairing.Pairing) }
      })
      const b1 = yield* startB
      yield* pairBoth(a, { home: homeB, node: b1.node, pairing: b1.pairing, identity: undefined as never })

      const keeper = yield* Effect.provide(
        PeerKeeper.make({ initialBackoff: "100 millis", maxBackoff: "400 millis", interval: "50 millis" }),
        Context.make(Node.Node, a.node).pipe(Context.add(Pairing.Pairing, a.pairing))
      )
      const stateOfB = Effect.map(keeper.status, (all) => all.find((s) => s.peerId === b1.node.peerId)!)
      yield* keeper.run
      yield* eventually("A connects to B unasked", Effect.map(stateOfB, (s) => s.connected))

      // B goes away: A's attempts fail, each wait longer than the one before (up to the cap).
      yield* Scope.close(b1.scope, Exit.void)
      yield* eventually("A sees B gone and fails at least three times", Effect.map(stateOfB, (s) => !s.connected && s.failures >= 3))
      const gone = yield* stateOfB
      assert.isNotNull(gone.lastError)
      assert.isNotNull(gone.nextAttemptAt)

      // B is back on the same address: A reconnects without being asked.
      const b2 = yield* startB
      yield* eventually("A reconnects to B", Effect.map(stateOfB, (s) => s.connected && s.failures === 0))
      assert.isTrue((yield* a.node.connections).some((c) => c.peerId === b2.node.peerId))
      yield* Scope.close(b2.scope, Exit.void)
    }), 60_000)
})
