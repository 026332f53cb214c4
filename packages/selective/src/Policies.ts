/**
 * The built-in cache policies. `decayedFrequency` is the default; `lru` and `lfu` are the two
 * classic ends of its spectrum, kept for comparison and for users who want exactly them.
 *
 * @since 0.1.0
 */
import type { CachePolicy } from "./CachePolicy.js"
import * as DecayedFrequency from "./DecayedFrequency.js"

/** The default: decayed frequency with a seven-day half-life (see `DecayedFrequency`). */
export const decayedFrequency: CachePolicy = DecayedFrequency.make()

/** Least recently used goes first: the score is the last access time (never accessed: −∞). */
export const lru: CachePolicy = {
  name: "lru",
  description: "keep the most recently used files",
  score: (entry) => entry.stats.lastAccessMs ?? Number.NEGATIVE_INFINITY
}

/** Least frequently used goes first: the score is the access count, ever. */
export const lfu: CachePolicy = {
  name: "lfu",
  description: "keep the most often used files, counting every access ever",
  score: (entry) => entry.stats.accessCount
}

/** The built-ins, the default first. */
export const builtins: ReadonlyArray<CachePolicy> = [decayedFrequency, lru, lfu]

/** The name of the policy used when none is named. */
export const defaultName: string = decayedFrequency.name
