/**
 * Turns a mode's per-path decisions into a plan: walks the path states in path order (parents
 * before children), keeps subtrees consistent, pairs copies and deletes of the same content
 * into moves, and counts. Then `guard` decides whether the plan may run.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import { Either, Schema } from "effect"
import { type Conflict, type Copy, type Delete, type Move, type Operation, other, type Plan, type Side, summarize } from "./Plan.js"
import type { PathState, SyncModeStrategy } from "./SyncModeStrategy.js"

/** A path state before the planner adds `follow`. */
export type Input = Omit<PathState, "follow">

/**
 * Plans a mode over path states given in path order (UTF-8 byte order, as SQLite sorts; any
 * order that puts a directory before its contents works).
 */
export const plan = (mode: SyncModeStrategy, states: Iterable<Input>): Plan => {
  const operations: Array<Operation> = []
  const conflicts: Array<Conflict> = []
  // Subtrees decided for one side as a whole: their contents follow that side.
  const followed: Array<{ readonly prefix: RelPath.RelPath; readonly side: Side }> = []
  for (const input of states) {
    while (followed.length > 0 && !RelPath.isWithin(input.path, followed[followed.length - 1]!.prefix)) followed.pop()
    const follow = followed.length > 0 ? followed[followed.length - 1]!.side : null
    const decision = mode.decide({ ...input, follow })
    for (const op of decision.operations) {
      operations.push(op)
      // A directory replaced by a file (or the reverse): its contents follow the writing side.
      if (op._tag === "Copy" && op.replaces !== null && (op.entry.kind === 1) !== (op.replaces.kind === 1)) {
        followed.push({ prefix: op.path, side: op.from })
      }
    }
    if (decision.conflict !== undefined) conflicts.push(decision.conflict)
  }
  const kept = keepDirectoriesOfKeptContent(operations)
  const paired = pairMoves(kept)
  return { mode: mode.name, operations: paired, conflicts, summary: summarize(paired, conflicts) }
}

/**
 * A directory deleted on one side while something inside it is copied from that side (an
 * edit kept against the delete) must not be deleted: it is recreated on the other side.
 */
const keepDirectoriesOfKeptContent = (operations: ReadonlyArray<Operation>): Array<Operation> => {
  const keptUnder: Record<Side, Set<string>> = { source: new Set(), target: new Set() }
  for (const op of operations) {
    if (op._tag !== "Copy") continue
    let dir = RelPath.parent(op.path)
    while (dir !== "" && !keptUnder[op.from].has(dir)) {
      keptUnder[op.from].add(dir)
      dir = RelPath.parent(dir)
    }
  }
  return operations.map((op): Operation =>
    op._tag === "Delete" && op.entry.kind === 1 && op.verifiedOn === null && keptUnder[op.side].has(op.path)
      ? { _tag: "Copy", from: op.side, to: other(op.side), path: op.path, entry: op.entry, replaces: null }
      : op
  )
}

/** A delete and a copy of the same file content on the same side become a rename there. */
const pairMoves = (operations: ReadonlyArray<Operation>): Array<Operation> => {
  // A directory replaced by a file goes to the versions whole, before any move could take a
  // file out of it: deletes inside it are not move sources.
  const replaced: Record<Side, Array<RelPath.RelPath>> = { source: [], target: [] }
  for (const op of operations) {
    if (op._tag === "Copy" && op.replaces?.kind === 1 && op.entry.kind !== 1) replaced[op.to].push(op.path)
  }
  const insideReplaced = (side: Side, path: RelPath.RelPath) => replaced[side].some((dir) => RelPath.isWithin(path, dir))
  const deletes = new Map<string, Array<Delete>>()
  for (const op of operations) {
    if (op._tag === "Delete" && op.verifiedOn === null && op.entry.kind === 0 && op.entry.hash !== null && !insideReplaced(op.side, op.path)) {
      const key = `${op.side}:${op.entry.hash}`
      const list = deletes.get(key)
      if (list === undefined) deletes.set(key, [op])
      else list.push(op)
    }
  }
  if (deletes.size === 0) return [...operations]
  const moved = new Set<Operation>()
  const moves = new Map<Copy, Move>()
  for (const op of operations) {
    if (op._tag !== "Copy" || op.replaces !== null || op.entry.kind !== 0 || op.entry.hash === null) continue
    const candidates = deletes.get(`${op.to}:${op.entry.hash}`)
    if (candidates === undefined || candidates.length === 0) continue
    // Prefer the same name (a move to another directory), else the first in path order.
    const name = RelPath.basename(op.path)
    const index = Math.max(0, candidates.findIndex((d) => RelPath.basename(d.path) === name))
    const [source] = candidates.splice(index, 1)
    moved.add(source!)
    moves.set(op, { _tag: "Move", side: op.to, from: source!.path, to: op.path, entry: op.entry })
  }
  const out: Array<Operation> = []
  for (const op of operations) {
    if (moved.has(op)) continue
    out.push(op._tag === "Copy" ? moves.get(op) ?? op : op)
  }
  return out
}

// -- guards -------------------------------------------------------------------------------------

/** What the caller knows of an endpoint before running a plan. */
export interface EndpointState {
  /** Live entries the index has under the endpoint. */
  readonly entries: number
  /** Whether the root directory exists (and is the volume it was). */
  readonly rootPresent: boolean
  /** Whether the root directory is empty on disk. */
  readonly rootEmpty: boolean
}

/** Guard settings. */
export interface GuardOptions {
  /** Largest share of a side's entries a plan may delete there; default 0.5. */
  readonly maxDeleteRatio?: number
  /** Run anyway. */
  readonly force?: boolean
}

/** A plan refused before anything ran. */
export class PlanGuardError extends Schema.TaggedError<PlanGuardError>()("PlanGuardError", {
  reason: Schema.Literal("RootMissing", "RootEmpty", "TooManyDeletes"),
  side: Schema.Literal("source", "target"),
  deletes: Schema.optional(Schema.Number),
  entries: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    switch (this.reason) {
      case "RootMissing":
        return `the ${this.side} root is missing or unmounted; nothing was done`
      case "RootEmpty":
        return `the ${this.side} root is empty although the index had files there (unmounted?); nothing was done — pass --force if they really were deleted`
      case "TooManyDeletes":
        return `the plan deletes ${this.deletes} of ${this.entries} entries on the ${this.side}, more than allowed; nothing was done — check the plan first ('conduit plan ID' or 'conduit sync --dry-run'), then pass --force if it is right`
    }
  }
}

/**
 * Refuses a plan that would act on a missing or emptied root, or delete more than the allowed
 * share of a side (archive's verified source deletes are its purpose and do not count).
 */
export const guard = (
  plan: Plan,
  endpoints: { readonly source: EndpointState; readonly target: EndpointState },
  options: GuardOptions = {}
): Either.Either<Plan, PlanGuardError> => {
  if (options.force === true) return Either.right(plan)
  const ratio = options.maxDeleteRatio ?? 0.5
  for (const side of ["source", "target"] as const) {
    const endpoint = endpoints[side]
    if (!endpoint.rootPresent) return Either.left(new PlanGuardError({ reason: "RootMissing", side }))
    if (endpoint.rootEmpty && endpoint.entries > 0) return Either.left(new PlanGuardError({ reason: "RootEmpty", side }))
    const deletes = plan.operations.filter((op) => op._tag === "Delete" && op.side === side && op.verifiedOn === null).length
    if (deletes > 0 && deletes > ratio * endpoint.entries) {
      return Either.left(new PlanGuardError({ reason: "TooManyDeletes", side, deletes, entries: endpoint.entries }))
    }
  }
  return Either.right(plan)
}

