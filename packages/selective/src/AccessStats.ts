/**
 * Per-file access statistics, plain data the caller keeps (in the index, next to the file's
 * entry) and updates on every open or read.
 *
 * `heat` is a decayed access frequency in the manner of LRFU (Lee et al., "On the existence of a
 * spectrum of policies that subsumes the LRU and LFU policies", 1999): every access adds 1, and
 * everything decays by half every `halfLifeMs`. At time `t` the heat is
 *
 *     heat(t) = Σ over accesses i of 2^(-(t - tᵢ) / halfLifeMs)
 *
 * so one number carries recency and frequency together: a short half-life makes it behave like
 * LRU (the last access dominates), a long one like LFU (every access counts almost fully).
 * Only the sum at one reference time (`heatAtMs`) is stored: decaying it later is one
 * multiplication, so recording is O(1) and needs no access history.
 *
 * Pure: no clock is read here; every time is an argument (milliseconds, any epoch, as long as
 * the caller uses one epoch throughout).
 *
 * @since 0.1.0
 */

/** Access statistics of one file. */
export interface AccessStats {
  /** Accesses recorded, ever. */
  readonly accessCount: number
  /** Time of the latest access (`null`: never accessed). */
  readonly lastAccessMs: number | null
  /** The decayed access frequency as of `heatAtMs` (see the module doc). */
  readonly heat: number
  /** The time `heat` is valued at. */
  readonly heatAtMs: number
}

/** A file never accessed: heat 0. */
export const empty: AccessStats = { accessCount: 0, lastAccessMs: null, heat: 0, heatAtMs: 0 }

/** `2^(-elapsed / halfLife)`: the weight left after `elapsed` ms. */
const decay = (elapsedMs: number, halfLifeMs: number): number => Math.pow(2, -elapsedMs / halfLifeMs)

/**
 * Records one access at `atMs`: counts it, moves the last access, and adds 1 to the heat decayed
 * to `atMs`. The sum does not depend on the order accesses are recorded in; an access older than
 * `heatAtMs` (reported late, or a clock that stepped back) is added with the weight it has at
 * `heatAtMs`, so the stored heat is only ever decayed forward (moving it back would multiply it
 * by 2^(elapsed/halfLife), which overflows to ∞ after ~1,024 half-lives).
 */
export const record = (stats: AccessStats, atMs: number, halfLifeMs: number): AccessStats => {
  const lastAccessMs = stats.lastAccessMs === null ? atMs : Math.max(stats.lastAccessMs, atMs)
  if (stats.accessCount === 0 || atMs >= stats.heatAtMs) {
    const heat = stats.accessCount === 0 ? 1 : stats.heat * decay(atMs - stats.heatAtMs, halfLifeMs) + 1
    return { accessCount: stats.accessCount + 1, lastAccessMs, heat, heatAtMs: atMs }
  }
  return { accessCount: stats.accessCount + 1, lastAccessMs, heat: stats.heat + decay(stats.heatAtMs - atMs, halfLifeMs), heatAtMs: stats.heatAtMs }
}

/**
 * The heat at `nowMs`. A `nowMs` before `heatAtMs` (clock skew between devices) reads as
 * `heatAtMs`: heat never grows by looking back. Underflows to 0 only after ~1,074 half-lives
 * without an access.
 */
export const heatAt = (stats: AccessStats, nowMs: number, halfLifeMs: number): number =>
  stats.heat === 0 ? 0 : stats.heat * decay(Math.max(0, nowMs - stats.heatAtMs), halfLifeMs)
