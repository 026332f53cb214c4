/**
 * A token bucket of bytes per second. A transfer session charges every block frame it sends
 * to its limiter before the frame goes out; sessions given the same limiter share its rate, so
 * one limiter per device caps what all conduits send together, and one per conduit caps each.
 *
 * Charges are reservations: a take that finds the bucket short leaves it in debt and waits
 * until the debt would be paid, so takers are served in the order they asked and a block
 * larger than the burst still goes through (later takers wait for it). An interrupted taker's
 * reservation is not given back.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"

/** A rate shared by whoever holds it. */
export interface BandwidthLimiter {
  /** The rate, in bytes per second. */
  readonly bytesPerSecond: number
  /** The most bytes that go out at once after a quiet period. */
  readonly burstBytes: number
  /** Charges `bytes`, waiting as long as the rate requires before they may be sent. */
  readonly take: (bytes: number) => Effect.Effect<void>
}

/** Options of `make`. */
export interface BandwidthLimiterOptions {
  /**
   * The most bytes sent at once after a quiet period. Default: a tenth of a second's worth
   * (at least 16 KiB), so the rate holds over short spans too.
   */
  readonly burstBytes?: number
}

/**
 * A limiter of `bytesPerSecond` (a positive finite number; the bucket starts full). Give the
 * same limiter to every session that should share the rate.
 */
export const make = (bytesPerSecond: number, options: BandwidthLimiterOptions = {}): Effect.Effect<BandwidthLimiter> =>
  Effect.clockWith((clock) =>
    Effect.sync(() => {
      if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
        // A programming error: limits come from validated settings.
        throw new RangeError(`a bandwidth limit must be a positive number of bytes per second, not ${bytesPerSecond}`)
      }
      const burstBytes = Math.max(1, options.burstBytes ?? Math.max(16 * 1024, bytesPerSecond / 10))
      let tokens = burstBytes
      let last = clock.unsafeCurrentTimeMillis()
      const take = (bytes: number): Effect.Effect<void> =>
        Effect.clockWith((clock: Clock.Clock) =>
          Effect.suspend(() => {
            const now = clock.unsafeCurrentTimeMillis()
            tokens = Math.min(burstBytes, tokens + ((now - last) * bytesPerSecond) / 1000)
            last = now
            tokens -= Math.max(0, bytes)
            return tokens >= 0 ? Effect.void : Effect.sleep(Duration.millis((-tokens * 1000) / bytesPerSecond))
          })
        )
      return { bytesPerSecond, burstBytes, take }
    })
  )

/**
 * A limiter that charges every one of `limiters` (a conduit's rate and the device's total, say):
 * bytes go out once each has let them through. Its rate and burst are the smallest.
 */
export const all = (limiters: ReadonlyArray<BandwidthLimiter>): BandwidthLimiter => {
  if (limiters.length === 1) return limiters[0]!
  return {
    bytesPerSecond: Math.min(...limiters.map((l) => l.bytesPerSecond)),
    burstBytes: Math.min(...limiters.map((l) => l.burstBytes)),
    take: (bytes) => Effect.forEach(limiters, (l) => l.take(bytes), { discard: true })
  }
}
