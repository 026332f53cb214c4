/**
 * How many bytes of cached files this device may hold. A budget names up to three limits; the
 * tightest wins, and the volume's own free space is always one of them:
 *
 * - `maxBytes` — at most this many local bytes;
 * - `minFreeBytes` — leave at least this much free on the volume;
 * - `minFreePercent` — leave at least this share of the volume free.
 *
 * Free space counts the bytes evictions would release (and prefetches would take), so every
 * limit is expressed on the same quantity: the local bytes after the plan.
 *
 * @since 0.1.0
 */
import { Either, Schema } from "effect"

/** A byte count: finite and ≥ 0. */
const Bytes = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

/** A budget, as configured (every field optional). */
export const CacheBudget = Schema.Struct({
  maxBytes: Schema.optional(Bytes),
  minFreeBytes: Schema.optional(Bytes),
  minFreePercent: Schema.optional(Schema.Number.pipe(Schema.finite(), Schema.between(0, 100)))
})
/** A budget, as configured (every field optional). */
export type CacheBudget = typeof CacheBudget.Type

/** The volume the cache lives on, as measured by the caller (statfs) just before planning. */
export const Volume = Schema.Struct({
  totalBytes: Bytes,
  freeBytes: Bytes
})
/** The volume the cache lives on. */
export type Volume = typeof Volume.Type

/** A budget or volume that cannot be planned against. */
export class CacheBudgetError extends Schema.TaggedError<CacheBudgetError>()("CacheBudgetError", {
  reason: Schema.Literal("NotANumber", "Negative", "PercentOver100", "FreeExceedsTotal", "Malformed"),
  field: Schema.String,
  value: Schema.optional(Schema.Unknown)
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotANumber":
        return `cache budget: ${this.field} must be a finite number (got ${String(this.value)})`
      case "Negative":
        return `cache budget: ${this.field} must not be negative (got ${String(this.value)})`
      case "PercentOver100":
        return `cache budget: ${this.field} must be at most 100 (got ${String(this.value)})`
      case "FreeExceedsTotal":
        return `cache budget: the volume reports more free bytes than it holds (${this.field})`
      case "Malformed":
        return `cache budget: ${this.field} is malformed`
    }
  }
}

const fieldProblem = (field: string, value: unknown, percent: boolean): CacheBudgetError | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "number") return new CacheBudgetError({ reason: "Malformed", field, value })
  if (!Number.isFinite(value)) return new CacheBudgetError({ reason: "NotANumber", field, value })
  if (value < 0) return new CacheBudgetError({ reason: "Negative", field, value })
  if (percent && value > 100) return new CacheBudgetError({ reason: "PercentOver100", field, value })
  return undefined
}

/**
 * Checks a budget and a volume; the error names the first bad field and why (one reason each,
 * so the CLI can say it in one sentence). The Schemas above enforce the same rules when a
 * budget is decoded from configuration.
 */
export const validate = (budget: unknown, volume: unknown): Either.Either<{ readonly budget: CacheBudget; readonly volume: Volume }, CacheBudgetError> => {
  const b = (typeof budget === "object" && budget !== null ? budget : {}) as Record<string, unknown>
  const v = (typeof volume === "object" && volume !== null ? volume : {}) as Record<string, unknown>
  const problem =
    fieldProblem("maxBytes", b.maxBytes, false) ??
    fieldProblem("minFreeBytes", b.minFreeBytes, false) ??
    fieldProblem("minFreePercent", b.minFreePercent, true) ??
    fieldProblem("volume.totalBytes", v.totalBytes ?? null, false) ??
    fieldProblem("volume.freeBytes", v.freeBytes ?? null, false)
  if (problem !== undefined) return Either.left(problem)
  // The hand checks give the reason; the Schemas are the contract (and catch what they missed).
  const decodedBudget = Schema.decodeUnknownEither(CacheBudget)(budget)
  if (Either.isLeft(decodedBudget)) return Either.left(new CacheBudgetError({ reason: "Malformed", field: "budget", value: budget }))
  const decodedVolume = Schema.decodeUnknownEither(Volume)(volume)
  if (Either.isLeft(decodedVolume)) return Either.left(new CacheBudgetError({ reason: "Malformed", field: "volume", value: volume }))
  if (decodedVolume.right.freeBytes > decodedVolume.right.totalBytes) {
    return Either.left(new CacheBudgetError({ reason: "FreeExceedsTotal", field: "volume.freeBytes", value: decodedVolume.right.freeBytes }))
  }
  return Either.right({ budget: decodedBudget.right, volume: decodedVolume.right })
}

/**
 * The most local bytes allowed after a plan, given the local bytes now: the tightest of
 * `maxBytes`, "now + free − minFreeBytes", "now + free − minFreePercent of total" and the disk
 * itself ("now + free"). Never below 0. Expects a validated budget and volume.
 */
export const limitBytes = (budget: CacheBudget, volume: Volume, localBytes: number): number => {
  // Every byte evicted becomes free, every byte fetched stops being free.
  const ceiling = localBytes + volume.freeBytes
  let limit = ceiling
  if (budget.maxBytes !== undefined) limit = Math.min(limit, budget.maxBytes)
  if (budget.minFreeBytes !== undefined) limit = Math.min(limit, ceiling - budget.minFreeBytes)
  if (budget.minFreePercent !== undefined) limit = Math.min(limit, ceiling - Math.ceil((volume.totalBytes * budget.minFreePercent) / 100))
  return Math.max(0, limit)
}
