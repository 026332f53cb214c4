/**
 * A sync plan: the operations that make two endpoints agree under a mode, and the conflicts
 * the mode decided. Paths are relative to the endpoints (POSIX, NFC).
 *
 * Every operation that overwrites or removes something names what it replaces, so the
 * executor keeps it as a previous version first; nothing a plan does loses bytes.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import type { Fingerprint } from "./Fingerprint.js"

/** One of the two endpoints of a conduit. */
export type Side = "source" | "target"

/** The other side. */
export const other = (side: Side): Side => (side === "source" ? "target" : "source")

/**
 * Write `entry` at `path` on side `to`, from side `from`: copy a file's bytes, create a
 * directory, or create a symlink. What is there now (`replaces`, a file or a whole directory)
 * is kept as a version first.
 */
export interface Copy {
  readonly _tag: "Copy"
  readonly from: Side
  readonly to: Side
  readonly path: RelPath.RelPath
  readonly entry: Fingerprint
  readonly replaces: Fingerprint | null
}

/**
 * Remove `path` on `side`, keeping it as a version. With `verifiedOn`, only after the bytes at
 * the same path on that side were re-read and their BLAKE3 equals `entry.hash` (archive).
 */
export interface Delete {
  readonly _tag: "Delete"
  readonly side: Side
  readonly path: RelPath.RelPath
  readonly entry: Fingerprint
  readonly verifiedOn: Side | null
}

/** Rename `from` to `to` on `side`: a copy and a delete of the same content, paired. */
export interface Move {
  readonly _tag: "Move"
  readonly side: Side
  readonly from: RelPath.RelPath
  readonly to: RelPath.RelPath
  readonly entry: Fingerprint
}

/** Set the modification time and permission bits of `path` on `side`; the content is equal. */
export interface SetAttributes {
  readonly _tag: "SetAttributes"
  readonly side: Side
  readonly path: RelPath.RelPath
  readonly mtimeNs: bigint
  readonly mode: number | null
}

/** A plan step. */
export type Operation = Copy | Delete | Move | SetAttributes

/** Why two sides collided. */
export type ConflictReason =
  /** Both sides changed the content since the baseline (or there is no baseline yet). */
  | "BothChanged"
  /** One side deleted what the other changed: the change is kept. */
  | "DeleteVsEdit"
  /** A file on one side, a directory or symlink on the other. */
  | "TypeChange"

/** A collision the mode decided; the loser's bytes are kept as a version by the executor. */
export interface Conflict {
  readonly path: RelPath.RelPath
  readonly reason: ConflictReason
  readonly winner: Side
  /** How it was decided: the later modification time, or the side that was edited. */
  readonly resolution: "LastWriteWins" | "EditKept" | "SourceWins"
  readonly source: Fingerprint | null
  readonly target: Fingerprint | null
}

/** Counts of a plan. */
export interface PlanSummary {
  readonly copies: number
  readonly deletes: number
  readonly moves: number
  readonly attributes: number
  readonly conflicts: number
  /** Bytes of file content the copies carry. */
  readonly bytes: number
}

/** What a mode decided for a pair of endpoints. */
export interface Plan {
  readonly mode: string
  readonly operations: ReadonlyArray<Operation>
  readonly conflicts: ReadonlyArray<Conflict>
  readonly summary: PlanSummary
}

/** Counts the operations of a plan. */
export const summarize = (operations: ReadonlyArray<Operation>, conflicts: ReadonlyArray<Conflict>): PlanSummary => {
  let copies = 0
  let deletes = 0
  let moves = 0
  let attributes = 0
  let bytes = 0
  for (const op of operations) {
    switch (op._tag) {
      case "Copy":
        copies++
        if (op.entry.kind === 0) bytes += op.entry.size
        break
      case "Delete":
        deletes++
        break
      case "Move":
        moves++
        break
      case "SetAttributes":
        attributes++
        break
    }
  }
  return { copies, deletes, moves, attributes, conflicts: conflicts.length, bytes }
}

/** Whether a plan does nothing. */
export const isEmpty = (plan: Plan): boolean => plan.operations.length === 0
