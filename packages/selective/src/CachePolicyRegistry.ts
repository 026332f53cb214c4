/**
 * The registry of cache policies: the built-ins are registered in it exactly as a user's own
 * policies are.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { CachePolicy } from "./CachePolicy.js"
import { CachePolicyError } from "./CachePolicyError.js"
import * as Policies from "./Policies.js"

/** The cache policies this process knows. */
export class CachePolicyRegistry extends Context.Tag("@conduit/selective/CachePolicyRegistry")<CachePolicyRegistry, {
  /** Adds a policy; fails if the name is taken. */
  readonly register: (policy: CachePolicy) => Effect.Effect<void, CachePolicyError>
  /** The policy with this name. */
  readonly get: (name: string) => Effect.Effect<CachePolicy, CachePolicyError>
  /** Every registered policy, built-ins first. */
  readonly list: Effect.Effect<ReadonlyArray<CachePolicy>>
}>() {}

/** A registry holding `policies` (the built-ins by default). */
export const make = (policies: ReadonlyArray<CachePolicy> = Policies.builtins): Effect.Effect<CachePolicyRegistry["Type"], CachePolicyError> =>
  Effect.gen(function* () {
    const byName = new Map<string, CachePolicy>()
    const register = (policy: CachePolicy) =>
      Effect.suspend(() => {
        if (byName.has(policy.name)) return Effect.fail(new CachePolicyError({ reason: "Duplicate", name: policy.name, known: [...byName.keys()] }))
        byName.set(policy.name, policy)
        return Effect.void
      })
    for (const policy of policies) yield* register(policy)
    const get = (name: string) =>
      Effect.suspend(() => {
        const policy = byName.get(name)
        return policy === undefined
          ? Effect.fail(new CachePolicyError({ reason: "Unknown", name, known: [...byName.keys()] }))
          : Effect.succeed(policy)
      })
    return CachePolicyRegistry.of({ register, get, list: Effect.sync(() => [...byName.values()]) })
  })

/** The registry with the built-in policies. */
export const layer: Layer.Layer<CachePolicyRegistry, CachePolicyError> = Layer.effect(CachePolicyRegistry, make())

/** The registry with the built-ins and the given user policies. */
export const layerWith = (policies: ReadonlyArray<CachePolicy>): Layer.Layer<CachePolicyRegistry, CachePolicyError> =>
  Layer.effect(CachePolicyRegistry, make([...Policies.builtins, ...policies]))
