/**
 * An indexed path: what the index knows about one file, directory or symlink.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ContentHash, EntryId, LocationId, Sequence } from "./Ids.js"
import { RelPath } from "./RelPath.js"

/** File 0, directory 1, symlink 2 — the numbers are what the database and the wire store. */
export const EntryKind = Schema.Literal(0, 1, 2)
export type EntryKind = typeof EntryKind.Type

/** Names for the kinds, for display. */
export const kindName = (kind: EntryKind): "file" | "directory" | "symlink" =>
  kind === 0 ? "file" : kind === 1 ? "directory" : "symlink"

/**
 * Why a file has no hash: it could not be read, or it kept changing while it was hashed.
 * The next scan tries it again.
 */
export const HashState = Schema.Literal("ok", "pending", "unreadable", "unstable")
export type HashState = typeof HashState.Type

/** One row of the index. */
export class Entry extends Schema.Class<Entry>("Entry")({
  id: EntryId,
  location: LocationId,
  path: RelPath,
  /** The path as the file system spells it, when that differs from the NFC `path`. */
  diskPath: Schema.NullOr(Schema.String),
  kind: EntryKind,
  size: Schema.NonNegativeInt,
  /** Modification time, nanoseconds since the Unix epoch. */
  mtimeNs: Schema.BigIntFromSelf,
  inode: Schema.NullOr(Schema.Number),
  mode: Schema.NullOr(Schema.Number),
  hash: Schema.NullOr(ContentHash),
  hashState: HashState,
  /** A symlink's target, verbatim; never followed. */
  linkTarget: Schema.NullOr(Schema.String),
  /** The owning device's change sequence number of the last change to this row. */
  seq: Sequence,
  /** A deletion, kept so that peers learn of it. */
  tombstone: Schema.Boolean,
  /**
   * The bytes of this file are not on its device's disk: selective mode evicted them after a
   * verified copy was made elsewhere. The row keeps kind, size, mtime and hash, so the file
   * stays visible and counts as present (with that content) everywhere; the indexer does not
   * read its absence as a deletion. Only a live file (kind 0, not a tombstone) can be remote.
   */
  remote: Schema.Boolean,
  /** The path this entry had before its last change, when that change was a move. */
  movedFrom: Schema.NullOr(RelPath)
}) {}
