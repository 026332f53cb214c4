/**
 * What the resolver compares: the state of one path on one side of a conduit (or in the
 * baseline), taken from an index row.
 *
 * @since 0.1.0
 */
import type { Entry } from "@conduit/domain"

/** The comparable state of a path. */
export interface Fingerprint {
  readonly kind: Entry.EntryKind
  /** BLAKE3 of the bytes (of the target text for a symlink); null for a directory. */
  readonly hash: string | null
  readonly size: number
  /** Modification time in nanoseconds since the epoch. */
  readonly mtimeNs: bigint
  /** Permission bits, when known. */
  readonly mode: number | null
  /** A symlink's target. */
  readonly linkTarget: string | null
  /**
   * The file's bytes are not on its side's disk: selective mode evicted them to its secondary
   * (the index row stays, with the hash). Absent: false.
   */
  readonly remote?: boolean
}

/** Same kind and content: equal bytes for files, equal target for symlinks; any two directories. */
export const sameContent = (a: Fingerprint | null, b: Fingerprint | null): boolean => {
  if (a === null || b === null) return a === b
  if (a.kind !== b.kind) return false
  if (a.kind === 1) return true
  if (a.kind === 2) return a.linkTarget === b.linkTarget
  return a.hash !== null && a.hash === b.hash && a.size === b.size
}

/**
 * Modification times closer than this are equal: Node sets times as a double of seconds that
 * the file system call truncates to microseconds, which lands up to ~1.2 µs below the
 * nanosecond asked for.
 */
export const mtimeToleranceNs = 2000n

/** Whether two modification times are equal within `mtimeToleranceNs`. */
export const sameMtime = (a: bigint, b: bigint): boolean => (a > b ? a - b : b - a) < mtimeToleranceNs

/** Same modification time and permission bits (a missing mode matches any). */
export const sameAttributes = (a: Fingerprint, b: Fingerprint): boolean =>
  sameMtime(a.mtimeNs, b.mtimeNs) && (a.mode === null || b.mode === null || a.mode === b.mode)

/** Content and attributes both equal: nothing to do between these two. */
export const same = (a: Fingerprint | null, b: Fingerprint | null): boolean =>
  sameContent(a, b) && (a === null || sameAttributes(a, b!))
