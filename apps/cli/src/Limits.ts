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

/** The units `--cache-max` and `--cache-min-free` take (powers of 1024; a bare number is bytes). */
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i

const UNIT: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** A size as `--cache-max` takes it (`500M`, `2G`, `1.5TiB`, `4096`): bytes, or undefined if it is none. */
export const parseSize = (text: string): number | undefined => {
  const m = SIZE.exec(text.trim())
  if (m === null) return undefined
  const bytes = Math.round(Number(m[1]) * UNIT[(m[2] ?? "b").charAt(0).toLowerCase()]!)
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** `--cache-min-free`: a size, or a share of the volume (`10%`, 0 to 100). */
export const parseFree = (text: string): { readonly bytes: number } | { readonly percent: number } | undefined => {
  const percent = /^([0-9]+(?:\.[0-9]+)?)\s*%$/.exec(text.trim())
  if (percent !== null) {
    const n = Number(percent[1])
    return n >= 0 && n <= 100 ? { percent: n } : undefined
  }
  const bytes = parseSize(text)
  return bytes === undefined ? undefined : { bytes }
}
