/**
 * One file as the selective cache sees it: how big it is, whether its bytes are on this device,
 * whether the user pinned it, whether it may be dropped here, and how it was used.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { AccessStats } from "./AccessStats.js"

/** A file the cache plans for. */
export interface CacheEntry {
  /** A stable, unique id (the relative path, or the index's entry id). Ties are broken by it. */
  readonly key: string
  /** Its size in bytes. */
  readonly size: number
  /** Its bytes are on this device now. */
  readonly local: boolean
  /** The user asked to keep it on this device: never evicted, fetched first. */
  readonly pinned: boolean
  /**
   * A hash-verified copy exists on the secondary: the caller proved it from the index (same
   * BLAKE3, verified after the file's last write here). Without it the file is the only copy
   * and is never evicted.
   */
  readonly verifiedCopy: boolean
  /** How it was used. */
  readonly stats: AccessStats
}

/** An entry the planner cannot reason about. */
export class CacheEntryError extends Schema.TaggedError<CacheEntryError>()("CacheEntryError", {
  reason: Schema.Literal("InvalidSize", "DuplicateKey"),
  key: Schema.String,
  size: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return this.reason === "InvalidSize"
      ? `cache entry '${this.key}' has an invalid size (${this.size}): sizes are finite byte counts ≥ 0`
      : `cache entry '${this.key}' is listed twice`
  }
}
