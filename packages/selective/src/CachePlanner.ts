/**
 * Plans the selective cache: which local files to evict and which remote files to prefetch so
 * the local bytes end at or under the budget's limit. Pure: the files, the budget, the volume's
 * numbers and `nowMs` are all inputs; nothing is read or written here.
 *
 * The safety rules live here, not in the policies, so no policy can break them:
 *
 * - a pinned file is never evicted;
 * - a file without a verified copy on the secondary is never evicted (it may be the only copy);
 * - a prefetch is never planned that would end over the limit.
 *
 * Within those rules the policy's score decides: the lowest-scored eligible files go first, and
 * only files that outscore the coldest file kept are fetched ahead of use. When the limit cannot
 * be reached the plan evicts every eligible file and says which rule held the rest (a warning).
 *
 * O(n log n) in the number of entries: one pass to score and sort into groups, one sort per
 * group, one pass over each.
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import * as CacheBudget from "./CacheBudget.js"
import { type CacheEntry, CacheEntryError } from "./CacheEntry.js"
import type { CachePlan, Evict, Prefetch, Warning } from "./CachePlan.js"
import type { CachePolicy } from "./CachePolicy.js"

/** What the planner plans from. */
export interface Input {
  /** Every file the cache knows, local or not (in any order; keys unique). */
  readonly entries: ReadonlyArray<CacheEntry>
  readonly budget: CacheBudget.CacheBudget
  readonly volume: CacheBudget.Volume
  /** The time the scores are taken at (ms, the epoch the access stats use). */
  readonly nowMs: number
}

/**
 * Plans with `policy`. Fails only on a bad budget or volume (`CacheBudgetError`) or a bad entry
 * (`CacheEntryError`: a size that is not a finite number ≥ 0, or a key listed twice).
 * Deterministic: equal scores are ordered by key.
 */
export const plan = (policy: CachePolicy, input: Input): Either.Either<CachePlan, CacheBudget.CacheBudgetError | CacheEntryError> => {
  const valid = CacheBudget.validate(input.budget, input.volume)
  if (Either.isLeft(valid)) return Either.left(valid.left)
  const { entries, nowMs } = input
  const n = entries.length
  const scores = new Float64Array(n)
  const seen = new Set<string>()
  // Local files by what may happen to them; remote files by why they might be fetched.
  const eligible: Array<number> = []
  const pinnedRemote: Array<number> = []
  const remote: Array<number> = []
  let localBytesBefore = 0
  let pinnedLocalBytes = 0
  let pinnedLocalFiles = 0
  let unverifiedLocalBytes = 0
  let unverifiedLocalFiles = 0
  for (let i = 0; i < n; i++) {
    const entry = entries[i]!
    if (!Number.isFinite(entry.size) || entry.size < 0) return Either.left(new CacheEntryError({ reason: "InvalidSize", key: entry.key, size: entry.size }))
    if (seen.has(entry.key)) return Either.left(new CacheEntryError({ reason: "DuplicateKey", key: entry.key }))
    seen.add(entry.key)
    const score = policy.score(entry, nowMs)
    scores[i] = Number.isNaN(score) ? Number.NEGATIVE_INFINITY : score
    if (entry.local) {
      localBytesBefore += entry.size
      if (entry.pinned) {
        pinnedLocalBytes += entry.size
        pinnedLocalFiles++
      } else if (!entry.verifiedCopy) {
        unverifiedLocalBytes += entry.size
        unverifiedLocalFiles++
      } else if (entry.size > 0) {
        // An empty file frees nothing: evicting it would only cost a fetch later.
        eligible.push(i)
      }
    } else if (entry.pinned) {
      pinnedRemote.push(i)
    } else {
      remote.push(i)
    }
  }
  const ascending = (a: number, b: number) => scores[a]! - scores[b]! || (entries[a]!.key < entries[b]!.key ? -1 : 1)
  const descending = (a: number, b: number) => scores[b]! - scores[a]! || (entries[a]!.key < entries[b]!.key ? -1 : 1)

  const limitBytes = CacheBudget.limitBytes(valid.right.budget, valid.right.volume, localBytesBefore)
  const warnings: Array<Warning> = []

  // Pinned remote files first: as many as fit once every eligible file is gone, hottest first.
  // They may displace cached files (that is what pinning asks for), never pins or sole copies.
  const heldBytes = pinnedLocalBytes + unverifiedLocalBytes
  const prefetch: Array<Prefetch> = []
  let pinnedFetchBytes = 0
  let pinnedSkippedFiles = 0
  let pinnedSkippedBytes = 0
  pinnedRemote.sort(descending)
  for (const i of pinnedRemote) {
    const { key, size } = entries[i]!
    if (heldBytes + pinnedFetchBytes + size <= limitBytes) {
      prefetch.push({ key, size, score: scores[i]!, reason: "Pinned" })
      pinnedFetchBytes += size
    } else {
      pinnedSkippedFiles++
      pinnedSkippedBytes += size
    }
  }

  // Evict the coldest eligible files until the kept ones and the pinned fetches fit.
  const target = limitBytes - pinnedFetchBytes
  eligible.sort(ascending)
  const evict: Array<Evict> = []
  let local = localBytesBefore
  let kept = 0
  while (local > target && kept < eligible.length) {
    const i = eligible[kept]!
    const { key, size } = entries[i]!
    const why = local > limitBytes ? "Cold" : `Room for ${prefetch.length} pinned file${prefetch.length === 1 ? "" : "s"}`
    evict.push({ key, size, score: scores[i]!, reason: `${why}: score ${formatScore(scores[i]!)}, lowest of the ${eligible.length - kept} eligible local files left` })
    local -= size
    kept++
  }
  if (local > limitBytes) {
    // Only held bytes are left (pinned fetches were sized to fit, so there are none): a rule won.
    warnings.push(
      pinnedLocalBytes > limitBytes
        ? { reason: "PinnedOverBudget", bytes: local - limitBytes, files: pinnedLocalFiles, filesBytes: pinnedLocalBytes }
        : { reason: "UnverifiedOverBudget", bytes: local - limitBytes, files: unverifiedLocalFiles, filesBytes: unverifiedLocalBytes }
    )
  }
  if (pinnedSkippedFiles > 0) {
    warnings.push({ reason: "PinnedNotFetched", bytes: pinnedSkippedBytes, files: pinnedSkippedFiles, filesBytes: pinnedSkippedBytes })
  }
  local += pinnedFetchBytes

  // Hot remote files: those that outscore the coldest eligible file kept, hottest first, while
  // they fit under the limit. Without a kept eligible file there is nothing to compare with, and
  // the planner does not fill an empty cache on speculation.
  if (kept < eligible.length) {
    const threshold = scores[eligible[kept]!]!
    const hot = remote.filter((i) => scores[i]! > threshold).sort(descending)
    let headroom = limitBytes - local
    for (const i of hot) {
      const { key, size } = entries[i]!
      if (size > headroom) continue
      prefetch.push({ key, size, score: scores[i]!, reason: "Hot" })
      headroom -= size
      local += size
    }
  }

  return Either.right({ policy: policy.name, limitBytes, localBytesBefore, localBytesAfter: local, evict, prefetch, warnings })
}

/** Four significant digits, or the whole number for large scores (timestamps from `lru`). */
const formatScore = (score: number): string =>
  !Number.isFinite(score) ? String(score) : Math.abs(score) >= 1e6 ? String(Math.round(score)) : String(Number(score.toPrecision(4)))
