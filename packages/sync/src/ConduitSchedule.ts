/**
 * A conduit's schedule, parsed: `manual` (only when asked), `instant` (when either endpoint
 * changes), or `interval:<n><unit>` with a whole n ≥ 1 and a unit of `s`, `m`, `h` or `d`.
 *
 * @since 0.1.0
 */
import { Data, Either } from "effect"

/** What a schedule string means. */
export type ConduitSchedule = Data.TaggedEnum<{
  Manual: {}
  Instant: {}
  Interval: { readonly millis: number }
}>

export const ConduitSchedule = Data.taggedEnum<ConduitSchedule>()

const UNIT_MILLIS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

const INTERVAL = /^interval:([1-9][0-9]{0,8})([smhd])$/

/** The forms a schedule may take, in words (for error messages). */
export const FORMS = "manual, instant, or interval:<n>s|m|h|d with a whole n of at least 1, e.g. interval:30m"

/** Parses a schedule; the text back when it is none of `FORMS`. */
export const parse = (text: string): Either.Either<ConduitSchedule, string> => {
  if (text === "manual") return Either.right(ConduitSchedule.Manual())
  if (text === "instant") return Either.right(ConduitSchedule.Instant())
  const interval = INTERVAL.exec(text)
  if (interval === null) return Either.left(text)
  return Either.right(ConduitSchedule.Interval({ millis: Number(interval[1]) * UNIT_MILLIS[interval[2]!]! }))
}
