/**
 * A cache plan: which local files to drop (their bytes stay on the secondary, verified) and
 * which remote files to fetch, so that the local bytes end at or under the budget's limit.
 * Plain data, ready for `--json`.
 *
 * @since 0.1.0
 */

/** Drop the local bytes of `key`; a verified copy stays on the secondary. */
export interface Evict {
  readonly key: string
  readonly size: number
  /** The policy's score for it at planning time. */
  readonly score: number
  /** Why it, in one sentence ("Cold: score 0.0312, lowest of the 41 eligible local files left"). */
  readonly reason: string
}

/** Fetch `key` to this device. */
export interface Prefetch {
  readonly key: string
  readonly size: number
  readonly score: number
  /** `Pinned`: the user asked to keep it here. `Hot`: it outscores the coldest local file kept. */
  readonly reason: "Pinned" | "Hot"
}

/**
 * The plan could not reach the limit (or fetch every pinned file) without breaking a safety
 * rule; the rule won.
 *
 * - `PinnedOverBudget` — pinned local files alone exceed the limit; pins are never evicted.
 * - `UnverifiedOverBudget` — the remaining excess is files without a verified copy elsewhere,
 *   which are never evicted (they would be lost).
 * - `PinnedNotFetched` — pinned files that are not local and do not fit under the limit even
 *   after every eligible file is evicted.
 */
export interface Warning {
  readonly reason: "PinnedOverBudget" | "UnverifiedOverBudget" | "PinnedNotFetched"
  /** For the over-budget reasons: how far over the limit the plan still ends. For `PinnedNotFetched`: the bytes not fetched. */
  readonly bytes: number
  /** The files behind it: the local pinned (or unverified) files, or the pinned files not fetched. */
  readonly files: number
  /** Their total size. */
  readonly filesBytes: number
}

/** A cache plan. */
export interface CachePlan {
  /** The policy that ranked the files. */
  readonly policy: string
  /** The most local bytes the budget allows (see `CacheBudget.limitBytes`). */
  readonly limitBytes: number
  /** Local bytes before the plan. */
  readonly localBytesBefore: number
  /** Local bytes once the evictions and prefetches ran. */
  readonly localBytesAfter: number
  /** Evictions, coldest first. */
  readonly evict: ReadonlyArray<Evict>
  /** Fetches, pinned first, then hottest first. */
  readonly prefetch: ReadonlyArray<Prefetch>
  readonly warnings: ReadonlyArray<Warning>
}
