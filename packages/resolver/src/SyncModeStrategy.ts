/**
 * The public interface of a sync mode. A mode looks at one path at a time — its state on the
 * source, on the target, and in the baseline of the last completed generation — and decides
 * what to do. The built-in modes use nothing else; a user mode implements the same interface
 * and is registered the same way (see `ModeRegistry`).
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import type { Fingerprint } from "./Fingerprint.js"
import type { Conflict, Operation, Side } from "./Plan.js"

/** One path as both sides and the baseline have it (`null`: absent there). */
export interface PathState {
  readonly path: RelPath.RelPath
  readonly source: Fingerprint | null
  readonly target: Fingerprint | null
  readonly baseline: Fingerprint | null
  /**
   * Set when an ancestor was decided for one side as a whole (a type-change conflict, or a
   * directory replaced): the mode must make this path follow that side.
   */
  readonly follow: Side | null
}

/** What a mode decided for one path. */
export interface Decision {
  readonly operations: ReadonlyArray<Operation>
  readonly conflict?: Conflict
}

/** Nothing to do. */
export const nothing: Decision = { operations: [] }

/** A sync mode. */
export interface SyncModeStrategy {
  /** The name users select it by (`--mode NAME`). */
  readonly name: string
  /** One line for `--help` and the docs. */
  readonly description: string
  /** Whether the mode reads the baseline (two-way modes do; one-way modes need not). */
  readonly usesBaseline: boolean
  /**
   * Whether the mode may delete on a side; plan guards count those deletes against that
   * side's size. Informational: guards look at the plan itself.
   */
  readonly deletesOn: ReadonlyArray<Side>
  /**
   * Whether the mode acts on paths that are already equal on both sides (archive removes the
   * source copy); the diff then returns those too. Default false.
   */
  readonly actsOnEqualPaths?: boolean
  /** Decides one path. Pure: the same state gives the same decision. */
  readonly decide: (state: PathState) => Decision
}
