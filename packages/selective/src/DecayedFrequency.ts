/**
 * The default policy: keep the files with the highest decayed access frequency ("heat", see
 * `AccessStats`) — LRFU-style, one score that is recency and frequency together.
 *
 * @since 0.1.0
 */
import * as AccessStats from "./AccessStats.js"
import type { CachePolicy } from "./CachePolicy.js"
import { CachePolicyError } from "./CachePolicyError.js"

/**
 * Seven days. Human working sets drift on the scale of days to weeks: with a week, a file
 * opened every day this week (heat ≈ 5.3) outranks one opened twenty times a month ago
 * (≈ 1.0), while ten opens three weeks ago (≈ 1.25) still beat one open yesterday (≈ 0.9) —
 * frequency still counts, old frequency fades.
 */
export const defaultHalfLifeMs = 7 * 24 * 60 * 60 * 1000

/** The policy's name as registered by default. */
export const name = "decayed-frequency"

/** Options of `make`. */
export interface Options {
  /** How long until an access counts half (ms); finite and > 0. Default `defaultHalfLifeMs`. */
  readonly halfLifeMs?: number
  /** The name to register it under (default `"decayed-frequency"`); use another for a second instance. */
  readonly name?: string
}

/**
 * A decayed-frequency policy with the given half-life. The stats it reads must be recorded
 * with the same half-life (`AccessStats.record(stats, at, halfLifeMs)`).
 *
 * Throws a `CachePolicyError` ("InvalidOption") for a half-life that is not a finite number > 0:
 * it is a constant in code or configuration, checked once where the policy is built.
 */
export const make = (options: Options = {}): CachePolicy => {
  const halfLifeMs = options.halfLifeMs ?? defaultHalfLifeMs
  const policyName = options.name ?? name
  if (!Number.isFinite(halfLifeMs) || halfLifeMs <= 0) {
    throw new CachePolicyError({ reason: "InvalidOption", name: policyName, known: [], detail: `halfLifeMs must be a finite number > 0 (got ${halfLifeMs})` })
  }
  return {
    name: policyName,
    description: `keep the most-used files of late: accesses decay by half every ${formatDuration(halfLifeMs)} (LRFU)`,
    score: (entry, nowMs) => AccessStats.heatAt(entry.stats, nowMs, halfLifeMs)
  }
}

const formatDuration = (ms: number): string => {
  const units: ReadonlyArray<readonly [number, string]> = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "min"], [1000, "s"]]
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`
  return `${ms} ms`
}
