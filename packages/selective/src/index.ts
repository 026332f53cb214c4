/**
 * @conduit/selective — the selective-sync cache: per-file access statistics, pluggable
 * keep/evict policies (decayed frequency by default, LRFU-style) and a pure planner that keeps
 * local bytes under a budget without ever evicting a pinned file or a file with no verified
 * copy elsewhere. No I/O: the caller supplies the entries, the volume's numbers and the time.
 *
 * @since 0.1.0
 */
export * as AccessStats from "./AccessStats.js"
export * as CacheBudget from "./CacheBudget.js"
export * as CacheEntry from "./CacheEntry.js"
export * as CachePlan from "./CachePlan.js"
export * as CachePlanner from "./CachePlanner.js"
export * as CachePolicy from "./CachePolicy.js"
export * as CachePolicyError from "./CachePolicyError.js"
export * as CachePolicyRegistry from "./CachePolicyRegistry.js"
export * as DecayedFrequency from "./DecayedFrequency.js"
export * as Policies from "./Policies.js"
export * as SelectiveCache from "./SelectiveCache.js"
