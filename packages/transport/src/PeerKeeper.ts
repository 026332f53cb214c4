/**
 * Keeps this device connected to its paired peers. A paired peer without an open connection is
 * dialled at the addresses it was paired with; while it stays unreachable the next attempt
 * waits longer each time (exponential backoff with jitter, capped), and a connection resets
 * the wait. Work between devices then finds the connection open instead of paying a dial, and a
 * peer that comes back (a restart, a network change) is reconnected without anyone asking.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Either, Layer, type Scope } from "effect"
import { Node } from "./Node.js"
import { Pairing } from "./Pairing.js"

/** Options of `make`. */
export interface PeerKeeperOptions {
  /** The wait after the first failed attempt (default 1 second); it doubles with each failure. */
  readonly initialBackoff?: Duration.DurationInput
  /** The longest wait between attempts (default 60 seconds). */
  readonly maxBackoff?: Duration.DurationInput
  /** How often the paired peers are looked over (default 1 second). */
  readonly interval?: Duration.DurationInput
}

/** Where the keeper is with one paired peer. */
export interface PeerState {
  readonly peerId: string
  readonly connected: boolean
  /** Failed attempts since the last connection. */
  readonly failures: number
  /** When the next attempt is due (epoch ms), if the peer is not connected. */
  readonly nextAttemptAt: number | null
  readonly lastError: string | null
}

/** Keeps connections to paired peers open. */
export class PeerKeeper extends Context.Tag("@conduit/transport/PeerKeeper")<PeerKeeper, {
  /** Looks after the paired peers until the scope closes (a fiber in that scope). */
  readonly run: Effect.Effect<void, never, Scope.Scope>
  /** Looks over the paired peers once now: dials those not connected whose wait is over. */
  readonly tick: Effect.Effect<void>
  /** Each paired (not revoked) peer's state. */
  readonly status: Effect.Effect<ReadonlyArray<PeerState>>
}>() {}

/** The wait after `failures` failed attempts: initial × 2^(failures - 1), capped, ±20 % jitter. */
export const backoffMillis = (failures: number, initialMillis: number, maxMillis: number, random: number = Math.random()): number => {
  const base = Math.min(maxMillis, initialMillis * 2 ** Math.max(0, failures - 1))
  return Math.round(base * (0.8 + 0.4 * random))
}

/** Builds the keeper on this device's node and pairing store. */
export const make = (options: PeerKeeperOptions = {}): Effect.Effect<PeerKeeper["Type"], never, Node | Pairing> =>
  Effect.gen(function* () {
    const node = yield* Node
    const pairing = yield* Pairing
    const initial = Duration.toMillis(Duration.decode(options.initialBackoff ?? "1 second"))
    const max = Duration.toMillis(Duration.decode(options.maxBackoff ?? "60 seconds"))
    const interval = Duration.decode(options.interval ?? "1 second")
    const states = new Map<string, { failures: number; nextAttemptAt: number; lastError: string | null; dialling: boolean }>()

    const tick = Effect.gen(function* () {
      const peers = yield* Effect.orElseSucceed(pairing.list, () => [])
      const paired = peers.filter((p) => !p.revoked)
      const open = new Set((yield* node.connections).map((c) => c.peerId))
      for (const id of [...states.keys()]) if (!paired.some((p) => p.peerId === id)) states.delete(id)
      const now = yield* Clock.currentTimeMillis
      const due = paired.filter((p) => {
        let state = states.get(p.peerId)
        if (state === undefined) states.set(p.peerId, (state = { failures: 0, nextAttemptAt: 0, lastError: null, dialling: false }))
        if (open.has(p.peerId)) {
          state.failures = 0
          state.nextAttemptAt = 0
          return false
        }
        return !state.dialling && state.nextAttemptAt <= now && p.addresses.length > 0
      })
      // Peers are dialled side by side: one unreachable peer's timeouts do not hold up the others.
      yield* Effect.forEach(due, (p) =>
        Effect.gen(function* () {
          const state = states.get(p.peerId)!
          state.dialling = true
          const result = yield* Effect.either(node.connect(p.peerId))
          state.dialling = false
          const at = yield* Clock.currentTimeMillis
          if (Either.isRight(result)) {
            state.failures = 0
            state.nextAttemptAt = 0
            state.lastError = null
            yield* Effect.logDebug(`connected to ${p.name} (${p.peerId})`)
          } else {
            state.failures++
            state.nextAttemptAt = at + backoffMillis(state.failures, initial, max)
            state.lastError = result.left.message
            yield* Effect.logDebug(`${p.name} (${p.peerId}) unreachable, attempt ${state.failures}: ${result.left.message}`)
          }
        }), { concurrency: "unbounded", discard: true })
    }).pipe(Effect.withSpan("PeerKeeper.tick"))

    const run = Effect.asVoid(Effect.forkScoped(Effect.forever(Effect.zipRight(tick, Effect.sleep(interval)))))

    const status = Effect.gen(function* () {
      const peers = yield* Effect.orElseSucceed(pairing.list, () => [])
      const open = new Set((yield* node.connections).map((c) => c.peerId))
      return peers.filter((p) => !p.revoked).map((p): PeerState => {
        const state = states.get(p.peerId)
        const connected = open.has(p.peerId)
        return {
          peerId: p.peerId,
          connected,
          failures: connected ? 0 : state?.failures ?? 0,
          nextAttemptAt: connected || state === undefined || state.failures === 0 ? null : state.nextAttemptAt,
          lastError: connected ? null : state?.lastError ?? null
        }
      })
    })

    return PeerKeeper.of({ run, tick, status })
  })

/** The keeper, looking after the paired peers for as long as the layer lives. */
export const layer = (options: PeerKeeperOptions = {}): Layer.Layer<PeerKeeper, never, Node | Pairing> =>
  Layer.scoped(PeerKeeper, Effect.tap(make(options), (keeper) => keeper.run))
