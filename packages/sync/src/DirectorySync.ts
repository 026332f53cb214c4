/**
 * A one-shot sync of two directories on this device — what `conduit sync SRC DST` runs: the
 * conduit between them is created (or reused, switched to the requested mode) and run once
 * (see `Conduits` for the steps: index, diff, plan, guard, run, re-index, verify, baseline).
 *
 * @since 0.1.0
 */
import type { Errors } from "@conduit/domain"
import type { CachePolicyError } from "@conduit/selective"
import { type IndexLive, Locations } from "@conduit/index"
import type { ModeRegistry, Plan, Planner } from "@conduit/resolver"
import { Context, Effect, Layer } from "effect"
import * as Path from "node:path"
import * as Conduits from "./Conduits.js"
import type * as LocalPlanRunner from "./LocalPlanRunner.js"

/** Options of one sync. */
export interface DirectorySyncOptions {
  /** A mode name in the `ModeRegistry`: `mirror`, `bidirectional`, `archive`, or a user's. */
  readonly mode: string
  /** Plan only; change nothing on disk (the index is still brought up to date). */
  readonly dryRun?: boolean
  /** Run although a plan guard refuses (too many deletes, a root emptied). */
  readonly force?: boolean
  readonly maxDeleteRatio?: number
  /** File copies at once; default 4. */
  readonly parallel?: number
  readonly onProgress?: (done: number, total: number, bytes: number) => void
}

/** One side as the sync saw it. */
export interface SyncedEndpoint {
  /** The location's root. */
  readonly root: string
  /** The directory inside the location ("" for its root). */
  readonly dir: string
  /** Whether this sync added the directory as a new location. */
  readonly addedLocation: boolean
}

/** What a sync did. */
export interface DirectorySyncResult {
  /** The conduit the two directories have (created on first sync). */
  readonly conduit: string
  /** The generation this run recorded; null on a dry run. */
  readonly generation: number | null
  readonly source: SyncedEndpoint
  readonly target: SyncedEndpoint
  readonly mode: string
  readonly plan: Plan.Plan
  /** Null on a dry run. */
  readonly report: LocalPlanRunner.RunReport | null
  /** After the run, a fresh resolve from the index came out empty. */
  readonly verified: boolean
  /** How many operations that fresh resolve still planned (0 when verified). */
  readonly remaining: number
  /** On a dry run: the plan guard that would refuse this plan (a real run fails with it). */
  readonly refusal: Planner.PlanGuardError | null
  readonly durationMs: number
  /** The `FileSyncJob` that ran it and how it ended (null on a dry run). */
  readonly job: Conduits.RunResult["job"]
}

/** Syncs two directories of this device. */
export class DirectorySync extends Context.Tag("@conduit/sync/DirectorySync")<DirectorySync, {
  /** Syncs `source` to `target` (absolute or relative paths) with a mode; see the module comment. */
  readonly sync: (
    source: string,
    target: string,
    options: DirectorySyncOptions
  ) => Effect.Effect<DirectorySyncResult, Conduits.ConduitError>
}>() {}

/** Builds the service on `Conduits`. */
export const make: Effect.Effect<DirectorySync["Type"], never, Conduits.Conduits | Locations.Locations> = Effect.gen(function* () {
  const conduits = yield* Conduits.Conduits
  const locations = yield* Locations.Locations

  const isNewLocation = (input: string) =>
    locations.resolve(Path.resolve(input)).pipe(
      Effect.as(false),
      Effect.catchAll(() => Effect.succeed(true))
    )

  const sync = Effect.fn("DirectorySync.sync")(function* (sourceInput: string, targetInput: string, options: DirectorySyncOptions) {
    const sourceNew = yield* isNewLocation(sourceInput)
    const targetNew = yield* isNewLocation(targetInput)
    // A dry run of another mode plans with it but leaves the conduit's own mode alone.
    let conduit = yield* conduits.ensure(sourceInput, targetInput, options.mode, options.dryRun !== true)
    if (options.dryRun !== true && (options.maxDeleteRatio !== undefined || options.parallel !== undefined)) {
      conduit = yield* conduits.update(conduit.id, {
        ...(options.maxDeleteRatio === undefined ? {} : { maxDeleteRatio: options.maxDeleteRatio }),
        ...(options.parallel === undefined ? {} : { parallelTransfers: options.parallel })
      })
    }
    const result = yield* conduits.run(conduit.id, {
      mode: options.mode,
      ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
      ...(options.force === undefined ? {} : { force: options.force }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress })
    })
    const endpoint = (e: Conduits.ConduitEndpoint, added: boolean): SyncedEndpoint => ({ root: e.location.root, dir: e.dir, addedLocation: added })
    return {
      conduit: result.conduit.id,
      generation: result.generation?.generation ?? null,
      source: endpoint(result.conduit.source, sourceNew),
      target: endpoint(result.conduit.target, targetNew),
      mode: options.mode,
      plan: result.plan,
      report: result.report,
      verified: result.verified,
      remaining: result.remaining,
      refusal: result.refusal,
      durationMs: result.durationMs,
      job: result.job
    } satisfies DirectorySyncResult
  })

  return DirectorySync.of({ sync })
})

/** The service with the built-in modes, on the index services. */
export const layer: Layer.Layer<DirectorySync, Errors.LibraryError | ModeRegistry.ModeError | CachePolicyError.CachePolicyError, IndexLive.IndexServices> = Layer.effect(
  DirectorySync,
  make
).pipe(Layer.provide(Conduits.layer))
