/**
 * Keeps a location's index current between scans: `@parcel/watcher` reports changes (one
 * inotify watch per directory, not per file), they are debounced and coalesced, and the
 * directories they touched are rescanned shallowly — a burst of ten thousand writes is one
 * scan, not ten thousand.
 *
 * @since 0.1.0
 */
import type { Errors, Ids } from "@conduit/domain"
import { RelPath } from "@conduit/domain"
import { Context, Duration, Effect, Either, Layer, Queue } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { Indexer, type ScanSummary } from "./Indexer.js"
import { devPatterns } from "./IndexRules.js"
import { Locations } from "./Locations.js"

/** Options of `Watcher.watch`. */
export interface WatchOptions {
  /** Quiet time after the last event before the rescan starts; default 200 ms. */
  readonly debounce?: Duration.DurationInput
  /** Longest wait under a steady stream of events; default 2 s. */
  readonly maxDelay?: Duration.DurationInput
  /** Called after each rescan. */
  readonly onScan?: (summary: ScanSummary) => void
  /** Passed to every rescan: the root really may become empty (see `ScanOptions`). */
  readonly allowEmptyRoot?: boolean
  /** Called when a rescan or the watch itself fails; watching goes on. */
  readonly onError?: (error: unknown) => void
}

/** Watches locations. */
export class Watcher extends Context.Tag("@conduit/index/Watcher")<Watcher, {
  /**
   * Watches a location until the scope closes, rescanning what changed. Resolves once the
   * watch is in place, so a change made after it returns is seen.
   */
  readonly watch: (location: Ids.LocationId, options?: WatchOptions) => Effect.Effect<void, Errors.LocationError | Errors.LibraryError, Scope.Scope>
}>() {}

/** Builds the watcher. */
export const make: Effect.Effect<Watcher["Type"], never, Indexer | Locations> = Effect.gen(function* () {
  const indexer = yield* Indexer
  const locations = yield* Locations

  const watch = Effect.fn("Watcher.watch")(function* (locationId: Ids.LocationId, options: WatchOptions = {}) {
    const location = yield* locations.get(locationId)
    yield* locations.checkRoot(location)
    const debounce = Duration.decode(options.debounce ?? "200 millis")
    const maxDelay = Duration.toMillis(options.maxDelay ?? "2 seconds")
    const changed = yield* Queue.unbounded<string>()

    const toDirectory = (absolute: string): string | null => {
      const relative = Path.relative(location.root, absolute)
      if (relative.startsWith("..") || Path.isAbsolute(relative)) return null
      const parsed = RelPath.parse(relative.split(Path.sep).join("/"))
      return Either.isRight(parsed) ? RelPath.parent(parsed.right) : null
    }

    const ignore = location.indexingMode === "Standard" ? devPatterns.map((p) => `**/${p.replace(/\/$/, "")}`) : []
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        // Loaded on first use (the native module costs start-up time elsewhere), with require:
        // the CLI runs as a cached script, where a dynamic import() has no loader.
        try: async () =>
          (createRequire(import.meta.url)("@parcel/watcher") as typeof import("@parcel/watcher")).subscribe(location.root, (error, events) => {
            if (error) {
              options.onError?.(error)
              return
            }
            for (const event of events) {
              const dir = toDirectory(event.path)
              if (dir !== null) Queue.unsafeOffer(changed, dir)
            }
          }, { ignore }),
        catch: (cause) => cause
      }).pipe(
        // A root problem gets its precise error; anything else is a defect of the watch backend.
        Effect.catchAll((cause) => Effect.zipRight(locations.checkRoot(location), Effect.die(cause)))
      ),
      (subscription) => Effect.promise(() => subscription.unsubscribe())
    )

    const rescanLoop = Effect.gen(function* () {
      const first = yield* Queue.take(changed)
      const dirs = new Set<string>([first])
      const started = Date.now()
      // Wait for a quiet period (or the longest delay) so a burst becomes one scan.
      for (;;) {
        yield* Effect.sleep(debounce)
        const more = yield* Queue.takeAll(changed)
        for (const d of more) dirs.add(d)
        if (more.length === 0 || Date.now() - started >= maxDelay) break
      }
      yield* indexer.scan(locationId, {
        paths: [...dirs] as Array<RelPath.RelPath>,
        recursive: false,
        allowEmptyRoot: options.allowEmptyRoot ?? false
      }).pipe(
        Effect.tap((summary) => Effect.sync(() => options.onScan?.(summary))),
        Effect.catchAll((error) => Effect.sync(() => options.onError?.(error)))
      )
    }).pipe(Effect.forever)
    yield* Effect.forkScoped(rescanLoop)
  })

  return Watcher.of({ watch })
})

/** The watcher, on the indexer. */
export const layer = Layer.effect(Watcher, make)
