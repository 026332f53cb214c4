/**
 * The built-in sync modes, written against the public `SyncModeStrategy` interface only.
 *
 * - `mirror`: the target becomes an exact copy of the source (content, modification times,
 *   permissions); target-only paths are deleted; target edits are overwritten. Everything
 *   replaced or deleted on the target is kept as a version by the executor.
 * - `bidirectional`: a three-way comparison with the baseline of the last completed
 *   generation. A change on one side propagates; a delete propagates only if the other side
 *   did not change that path (else the change is kept: `DeleteVsEdit`); both changed → the
 *   later modification time wins (ties: the source), the loser is kept as a version and the
 *   conflict recorded; equal content on both sides is never a conflict, first sync included;
 *   a file against a directory is a `TypeChange` conflict, never a silent delete.
 * - `archive`: copies to the target, then removes the source copy — only after the target's
 *   bytes were re-read and their BLAKE3 matched (the executor checks `verifiedOn`). It never
 *   deletes on the target; directories stay on the source.
 *
 * @since 0.1.0
 */
import { type Fingerprint, same, sameAttributes, sameContent } from "./Fingerprint.js"
import { type Conflict, type Operation, other, type Side } from "./Plan.js"
import { type Decision, nothing, type PathState, type SyncModeStrategy } from "./SyncModeStrategy.js"

const at = (state: PathState, side: Side): Fingerprint | null => (side === "source" ? state.source : state.target)

/** Makes `to` look like `from` for this path (content and attributes). */
export const follow = (state: PathState, from: Side): ReadonlyArray<Operation> => {
  const to = other(from)
  const wanted = at(state, from)
  const present = at(state, to)
  if (same(wanted, present)) return []
  // An evicted file has no bytes on its side to copy from; it is no deletion either.
  if (wanted?.remote === true) return []
  if (wanted === null) return [{ _tag: "Delete", side: to, path: state.path, entry: present!, verifiedOn: null }]
  if (sameContent(wanted, present)) {
    return [{ _tag: "SetAttributes", side: to, path: state.path, mtimeNs: wanted.mtimeNs, mode: wanted.mode }]
  }
  return [{ _tag: "Copy", from, to, path: state.path, entry: wanted, replaces: present }]
}

/** The target becomes an exact copy of the source. */
export const mirror: SyncModeStrategy = {
  name: "mirror",
  description: "one way: the target becomes an exact copy of the source; target-only files are deleted (kept as versions)",
  usesBaseline: false,
  deletesOn: ["target"],
  decide: (state) => ({ operations: follow(state, "source") })
}

/** Copy to the target, then remove the verified source copy. */
export const archive: SyncModeStrategy = {
  name: "archive",
  description: "one way: copy to the target, then remove the source file once the target's bytes are verified",
  usesBaseline: false,
  deletesOn: ["source"],
  actsOnEqualPaths: true,
  decide: (state) => {
    const { source } = state
    if (source === null) return nothing
    const operations: Array<Operation> = [...follow(state, "source")]
    if (source.kind !== 1) {
      operations.push({ _tag: "Delete", side: "source", path: state.path, entry: source, verifiedOn: "target" })
    }
    return { operations }
  }
}

const conflict = (state: PathState, reason: Conflict["reason"], winner: Side, resolution: Conflict["resolution"]): Conflict => ({
  path: state.path,
  reason,
  winner,
  resolution,
  source: state.source,
  target: state.target
})

const later = (state: PathState): Side => (state.target!.mtimeNs > state.source!.mtimeNs ? "target" : "source")

/** Both ways, three-way against the baseline, last write wins. */
export const bidirectional: SyncModeStrategy = {
  name: "bidirectional",
  description: "two ways: changes propagate both ways; when both sides changed a file the later write wins and the other is kept as a version",
  usesBaseline: true,
  deletesOn: ["source", "target"],
  decide: (state): Decision => {
    const { source: s, target: t, baseline: b } = state
    if (state.follow !== null) return { operations: follow(state, state.follow) }
    if (same(s, t)) return nothing
    if (sameContent(s, t)) {
      // Only the attributes differ: the side that still has the baseline's did not change them.
      if (b !== null && sameContent(b, s) && sameAttributes(b, s!)) return { operations: follow(state, "target") }
      if (b !== null && sameContent(b, t) && sameAttributes(b, t!)) return { operations: follow(state, "source") }
      return { operations: follow(state, later(state)) }
    }
    const sourceChanged = !sameContent(s, b)
    const targetChanged = !sameContent(t, b)
    if (sourceChanged !== targetChanged) {
      const winner: Side = sourceChanged ? "source" : "target"
      const typeChange = s !== null && t !== null && s.kind !== t.kind
      return typeChange
        ? { operations: follow(state, winner), conflict: conflict(state, "TypeChange", winner, "EditKept") }
        : { operations: follow(state, winner) }
    }
    // Both changed, differently.
    if (s === null) return { operations: follow(state, "target"), conflict: conflict(state, "DeleteVsEdit", "target", "EditKept") }
    if (t === null) return { operations: follow(state, "source"), conflict: conflict(state, "DeleteVsEdit", "source", "EditKept") }
    const winner = later(state)
    return {
      operations: follow(state, winner),
      conflict: conflict(state, s.kind !== t.kind ? "TypeChange" : "BothChanged", winner, "LastWriteWins")
    }
  }
}

/**
 * The source is the primary (this device's hot set), the target its secondary: the secondary
 * follows the primary as a mirror does, so every file has a verified copy there, and the
 * primary's cache policy may then evict local copies (done by the run, not planned here). An
 * evicted file's row stays on the primary (`remote`), and is neither copied nor a deletion; if
 * the secondary's copy differs or is gone, nothing here can restore it (the risk report says so).
 */
export const selective: SyncModeStrategy = {
  name: "selective",
  description: "one way to a secondary (as mirror), then the source keeps only its hot set local: cold files are evicted once the secondary's copy is verified, and come back on demand",
  usesBaseline: false,
  deletesOn: ["target"],
  decide: (state) => {
    if (state.source?.remote === true) return nothing
    return { operations: follow(state, "source") }
  }
}

/** The built-in modes, in the order `conduit --help` lists them. */
export const builtins: ReadonlyArray<SyncModeStrategy> = [mirror, bidirectional, archive, selective]
