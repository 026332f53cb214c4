/**
 * The ranges of a conduit's settings on the command line (`--parallel`, `--max-delete-ratio`,
 * `--schedule`), each with its reason. `Conduits` stores settings as they come, so the CLI
 * checks them before a value out of range reaches the library and every later run.
 *
 * @since 0.1.0
 */

/**
 * The most file copies a run may have going at once. The copies of one run share one disk (or
 * two); beyond a few dozen they only compete for it and for file descriptors.
 */
export const MAX_PARALLEL = 64

/** Whether `n` is a number of parallel copies: a whole number from 1 to `MAX_PARALLEL`. */
export const isParallel = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= MAX_PARALLEL

/**
 * Whether `r` is a delete ratio: the plan guard refuses a run that deletes more than this share
 * of a side's entries. 0 would refuse every delete (a mode that never deletes is the way to
 * that); above 1 would guard nothing.
 */
export const isMaxDeleteRatio = (r: number): boolean => Number.isFinite(r) && r > 0 && r <= 1

/** The highest `--bandwidth-limit`, in megabits per second (100 Gbit/s: any real link). */
export const MAX_BANDWIDTH_MBPS = 100_000

/** Whether `n` is a bandwidth limit in megabits per second: above 0, at most `MAX_BANDWIDTH_MBPS`. */
export const isBandwidthLimit = (n: number): boolean => Number.isFinite(n) && n > 0 && n <= MAX_BANDWIDTH_MBPS

/** The longest `--keep-versions` (about 100 years); 0 means forever. */
export const MAX_RETENTION_DAYS = 36_500

/** Whether `n` is a retention in days: a whole number from 0 (forever) to `MAX_RETENTION_DAYS`. */
export const isRetentionDays = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_RETENTION_DAYS

/** The schedules `--schedule` accepts, in words (the forms `Conduits.ConduitSettings` documents). */
export const SCHEDULE_FORMS = "manual, instant, or interval:<n>s|m|h|d with a whole n of at least 1, e.g. interval:30m"

const INTERVAL = /^interval:([1-9][0-9]*)[smhd]$/

/** Whether `s` is one of `SCHEDULE_FORMS`. */
export const isSchedule = (s: string): boolean => {
  if (s === "manual" || s === "instant") return true
  const interval = INTERVAL.exec(s)
  return interval !== null && Number.isSafeInteger(Number(interval[1]))
}
