/**
 * The public interface of a cache policy: one pure score per file, higher = more worth keeping
 * on this device. A policy only ranks; what may be evicted, how much, and what is fetched is
 * the planner's (`CachePlanner`), so no policy can break its safety rules. The built-ins
 * (`Policies`) implement this interface and are registered the same way a user's policy is
 * (see `CachePolicyRegistry`).
 *
 * @since 0.1.0
 */
import type { CacheEntry } from "./CacheEntry.js"

/** A cache policy. */
export interface CachePolicy {
  /** The name users select it by. */
  readonly name: string
  /** One line for `--help` and the docs. */
  readonly description: string
  /**
   * How much `entry` is worth keeping at `nowMs`; higher = keep. Pure: the same entry and time
   * give the same score. NaN is read as −∞ (evicted first); ties are broken by key.
   */
  readonly score: (entry: CacheEntry, nowMs: number) => number
}
