/**
 * The library the CLI works on: where it lives (`$CONDUIT_HOME`, default `~/.conduit`; the
 * app is the only place that reads the environment) and the layers that open it.
 *
 * @since 0.1.0
 */
import type { Errors } from "@conduit/domain"
import type { JobRuntime } from "@conduit/jobs"
import { IndexLive } from "@conduit/index"
import type { ModeRegistry } from "@conduit/resolver"
import type { CachePolicyError } from "@conduit/selective"
import { Conduits, type SelectiveStore } from "@conduit/sync"
import { Config, Effect, Layer, Option } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"

/** The Conduit home directory: `$CONDUIT_HOME` (relative to the working directory), else `~/.conduit`. */
export const home: Effect.Effect<string> = Config.option(Config.string("CONDUIT_HOME")).pipe(
  Effect.map(Option.filter((value) => value !== "")),
  Effect.map(Option.match({
    onNone: () => Path.join(Os.homedir(), ".conduit"),
    onSome: (value) => Path.resolve(value)
  })),
  // An unset or empty variable is the only case Config can report here, and it is handled above.
  Effect.orDie
)

/**
 * Every index service, for the commands that scan or watch (hashing workers start only when
 * a scan has something to hash).
 */
export const indexLayer: Layer.Layer<IndexLive.IndexServices, Errors.LibraryError | Errors.HashError> = Layer.unwrapEffect(
  Effect.map(home, (home) => IndexLive.layer({ home }))
)

/**
 * Only the database, locations and queries: for the commands that read the index or edit the
 * location list. Starts no hashing workers, so these commands start faster.
 */
export const queryLayer: Layer.Layer<IndexLive.QueryServices, Errors.LibraryError> = Layer.unwrapEffect(
  Effect.map(home, (home) => IndexLive.queryLayer({ home }))
)

/**
 * `Conduits` with the built-in modes and the job runtime, and every index service beside it: for the commands that
 * run conduits (a run scans and hashes) or read them.
 */
export const conduitsLayer: Layer.Layer<
  Conduits.Conduits | JobRuntime.JobRuntime | SelectiveStore.SelectiveStore | IndexLive.IndexServices,
  Errors.LibraryError | Errors.HashError | ModeRegistry.ModeError | CachePolicyError.CachePolicyError
> = Layer.provideMerge(Conduits.layer, indexLayer)
