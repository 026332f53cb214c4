/**
 * The registry of sync modes: the built-ins are registered in it exactly as a user's own
 * modes are.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as Modes from "./Modes.js"
import type { SyncModeStrategy } from "./SyncModeStrategy.js"

/** A mode name that is not registered, or registered twice. */
export class ModeError extends Schema.TaggedError<ModeError>()("ModeError", {
  reason: Schema.Literal("Unknown", "Duplicate"),
  name: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return this.reason === "Unknown"
      ? `unknown sync mode '${this.name}' (known: ${this.known.join(", ")})`
      : `a sync mode named '${this.name}' is already registered`
  }
}

/** The sync modes this process knows. */
export class ModeRegistry extends Context.Tag("@conduit/resolver/ModeRegistry")<ModeRegistry, {
  /** Adds a mode; fails if the name is taken. */
  readonly register: (mode: SyncModeStrategy) => Effect.Effect<void, ModeError>
  /** The mode with this name. */
  readonly get: (name: string) => Effect.Effect<SyncModeStrategy, ModeError>
  /** Every registered mode, built-ins first. */
  readonly list: Effect.Effect<ReadonlyArray<SyncModeStrategy>>
}>() {}

/** A registry holding `modes` (the built-ins by default). */
export const make = (modes: ReadonlyArray<SyncModeStrategy> = Modes.builtins): Effect.Effect<ModeRegistry["Type"], ModeError> =>
  Effect.gen(function* () {
    const byName = new Map<string, SyncModeStrategy>()
    const register = (mode: SyncModeStrategy) =>
      Effect.suspend(() => {
        if (byName.has(mode.name)) return Effect.fail(new ModeError({ reason: "Duplicate", name: mode.name, known: [...byName.keys()] }))
        byName.set(mode.name, mode)
        return Effect.void
      })
    for (const mode of modes) yield* register(mode)
    const get = (name: string) =>
      Effect.suspend(() => {
        const mode = byName.get(name)
        return mode === undefined
          ? Effect.fail(new ModeError({ reason: "Unknown", name, known: [...byName.keys()] }))
          : Effect.succeed(mode)
      })
    return ModeRegistry.of({ register, get, list: Effect.sync(() => [...byName.values()]) })
  })

/** The registry with the built-in modes. */
export const layer: Layer.Layer<ModeRegistry, ModeError> = Layer.effect(ModeRegistry, make())

/** The registry with the built-ins and the given user modes. */
export const layerWith = (modes: ReadonlyArray<SyncModeStrategy>): Layer.Layer<ModeRegistry, ModeError> =>
  Layer.effect(ModeRegistry, make([...Modes.builtins, ...modes]))
