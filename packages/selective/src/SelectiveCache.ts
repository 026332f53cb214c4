/**
 * The selective cache as a service: picks the policy by name from the registry and runs the
 * planner. It plans only; the caller (the sync layer) reads the entries and the volume, runs
 * the evictions and fetches, and records accesses.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { CacheBudgetError } from "./CacheBudget.js"
import type { CacheEntryError } from "./CacheEntry.js"
import type { CachePlan } from "./CachePlan.js"
import * as CachePlanner from "./CachePlanner.js"
import type { CachePolicyError } from "./CachePolicyError.js"
import { CachePolicyRegistry } from "./CachePolicyRegistry.js"
import * as Policies from "./Policies.js"

/** What to plan: the planner's input and, optionally, the policy's name (default `decayed-frequency`). */
export interface PlanInput extends CachePlanner.Input {
  readonly policy?: string
}

/** Plans the selective cache of one location. */
export class SelectiveCache extends Context.Tag("@conduit/selective/SelectiveCache")<SelectiveCache, {
  /** Plans evictions and prefetches under the budget with the named policy (see `CachePlanner.plan`). */
  readonly plan: (input: PlanInput) => Effect.Effect<CachePlan, CachePolicyError | CacheBudgetError | CacheEntryError>
}>() {}

/** The service over the registry in context. */
export const make: Effect.Effect<SelectiveCache["Type"], never, CachePolicyRegistry> = Effect.gen(function* () {
  const registry = yield* CachePolicyRegistry
  const plan = Effect.fn("SelectiveCache.plan")(function* (input: PlanInput) {
    const policy = yield* registry.get(input.policy ?? Policies.defaultName)
    return yield* CachePlanner.plan(policy, input)
  })
  return SelectiveCache.of({ plan })
})

/** The service; needs a `CachePolicyRegistry` (e.g. `CachePolicyRegistry.layer`). */
export const layer: Layer.Layer<SelectiveCache, never, CachePolicyRegistry> = Layer.effect(SelectiveCache, make)
