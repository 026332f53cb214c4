/**
 * Runs conduits by their schedule, for the daemon that owns them.
 *
 * - Every local location is watched (`Watcher`: inotify per directory, debounced, coalesced),
 *   so the index stays current without rescans at sync time.
 * - `instant` conduits run when a watched rescan of one of their local endpoints changed
 *   something, or when the peer's replica of a remote endpoint moved on (its index is pulled
 *   every `peerPoll`).
 * - `interval:<n><unit>` conduits run when that long has passed since their last completed run
 *   (read from the library, so a restart keeps the rhythm) or since the last attempt here.
 * - A run asked for while one of the same conduit is running is coalesced into a single run
 *   after it: a burst of ten thousand writes is a handful of runs, never one per file.
 * - A selective conduit with fetches asked for while its secondary was unreachable runs every
 *   `fetchRetry` until they are done (its run fetches them), whatever its schedule.
 *
 * @since 0.1.0
 */
import { LibraryDatabase, Locations, Watcher } from "@conduit/index"
import type { Indexer } from "@conduit/index"
import { SqlClient } from "@effect/sql"
import { Cause, Clock, Context, Duration, Effect, Either, ExecutionStrategy, Exit, FiberSet, Layer, Option, Runtime, Scope } from "effect"
import * as ConduitSchedule from "./ConduitSchedule.js"
import { type Conduit, Conduits } from "./Conduits.js"
import { PeerLink } from "./PeerLink.js"
import * as SelectiveStore from "./SelectiveStore.js"

/** Options of `make`. */
export interface SchedulerOptions {
  /** How often schedules and new locations are looked over (default 1 second). */
  readonly tick?: Duration.DurationInput
  /** How often the replicas of instant conduits' remote endpoints are pulled (default 2 seconds). */
  readonly peerPoll?: Duration.DurationInput
  /** Quiet time after the last change before a watched location is rescanned (default 200 ms). */
  readonly debounce?: Duration.DurationInput
  /**
   * How often a selective conduit with fetches asked for while its secondary was unreachable
   * is run again to do them (default 10 seconds), whatever its schedule.
   */
  readonly fetchRetry?: Duration.DurationInput
}

/** What the scheduler knows of one conduit. */
export interface ScheduledConduit {
  readonly conduitId: string
  readonly schedule: string
  readonly running: boolean
  /** A run was asked for while one was running: it follows. */
  readonly pending: boolean
  /** Runs this scheduler started. */
  readonly runs: number
  readonly lastRunAt: Date | null
  /** When an interval conduit runs next. */
  readonly nextRunAt: Date | null
  readonly lastError: string | null
}

/** Runs conduits by their schedule. */
export class Scheduler extends Context.Tag("@conduit/sync/Scheduler")<Scheduler, {
  /** Asks for a run of a conduit now (coalesced with a running one). */
  readonly trigger: (conduitId: string, reason: string) => Effect.Effect<void>
  /** Every conduit the scheduler has looked at. */
  readonly conduits: Effect.Effect<ReadonlyArray<ScheduledConduit>>
}>() {}

/** Runs in a row that may end unverified before the scheduler waits for the next change. */
const MAX_UNVERIFIED_RETRIES = 3

interface Slot {
  unverified: number
  running: boolean
  pending: boolean
  runs: number
  lastRunAt: number | null
  lastError: string | null
  schedule: string
  nextRunAt: number | null
}

/** Builds the scheduler; its work runs in the scope until it closes. */
export const make = (
  options: SchedulerOptions = {}
): Effect.Effect<
  Scheduler["Type"],
  never,
  Conduits | Watcher.Watcher | Locations.Locations | LibraryDatabase.LibraryDatabase | SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function* () {
    const conduits = yield* Conduits
    const watcher = yield* Watcher.Watcher
    const locations = yield* Locations.Locations
    const db = yield* LibraryDatabase.LibraryDatabase
    const sql = yield* SqlClient.SqlClient
    const peerLink = yield* Effect.serviceOption(PeerLink)
    const selective = yield* Effect.serviceOption(SelectiveStore.SelectiveStore)
    const fetchRetryMillis = Duration.toMillis(Duration.decode(options.fetchRetry ?? "10 seconds"))
    /** When each conduit's pending fetches were last tried. */
    const fetchTried = new Map<string, number>()
    const scope = yield* Effect.scope
    const runtime = yield* Effect.runtime<never>()
    const fibers = yield* FiberSet.make()
    const tick = Duration.decode(options.tick ?? "1 second")
    const peerPollMillis = Duration.toMillis(Duration.decode(options.peerPoll ?? "2 seconds"))
    const debounce = options.debounce ?? "200 millis"

    const slots = new Map<string, Slot>()
    const slotOf = (id: string): Slot => {
      let slot = slots.get(id)
      if (slot === undefined) {
        slot = { unverified: 0, running: false, pending: false, runs: 0, lastRunAt: null, lastError: null, schedule: "manual", nextRunAt: null }
        slots.set(id, slot)
      }
      return slot
    }

    /** Runs a conduit until no run was asked for during the last one. */
    const runLoop = (id: string, slot: Slot): Effect.Effect<void> =>
      Effect.gen(function* () {
        while (slot.running) {
          slot.pending = false
          slot.runs++
          slot.lastRunAt = yield* Clock.currentTimeMillis
          const exit = yield* Effect.exit(conduits.run(id))
          if (Exit.isSuccess(exit)) {
            const verified = exit.value.verified
            slot.lastError = verified ? null : `not verified: ${exit.value.remaining} operation(s) left`
            // A change that arrived during the run (and was indexed by its own re-index, so no
            // watcher reports it) leaves it unverified: run again, a few times at most in a row.
            slot.unverified = verified ? 0 : slot.unverified + 1
            if (!verified && slot.unverified <= MAX_UNVERIFIED_RETRIES) slot.pending = true
          } else {
            const error = Cause.squash(exit.cause)
            slot.lastError = error instanceof Error ? error.message : String(error)
            yield* Effect.logWarning(`scheduled run of conduit ${id} failed`, exit.cause)
          }
          if (!slot.pending) slot.running = false
        }
      })

    const trigger = (id: string, reason: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const slot = slotOf(id)
        if (slot.running) {
          slot.pending = true
          return
        }
        slot.running = true
        yield* Effect.logDebug(`conduit ${id}: run (${reason})`)
        yield* FiberSet.run(fibers, runLoop(id, slot))
      })

    // -- watching ------------------------------------------------------------------------------

    /** Locations watched, by id; instant conduits on them run after a rescan that changed something. */
    const watched = new Set<string>()

    const onScan = (summary: Indexer.ScanSummary) => {
      if (summary.sequences === null) return // nothing changed (a run's own writes were indexed by it already)
      Runtime.runFork(runtime)(Effect.gen(function* () {
        for (const conduit of yield* Effect.orElseSucceed(conduits.list, () => [])) {
          if (!conduit.enabled || conduit.schedule !== "instant") continue
          const onIt = [conduit.source, conduit.target].some((e) => e.peer === null && e.location.id === summary.location)
          if (onIt) yield* trigger(conduit.id, `change in ${summary.root}`)
        }
      }))
    }

    const watchLocalLocations = Effect.gen(function* () {
      const all = yield* Effect.orElseSucceed(locations.list, () => [])
      for (const location of all) {
        if (location.deviceRowId !== db.self.rowId || watched.has(location.id)) continue
        watched.add(location.id)
        const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const started = yield* Effect.either(Scope.extend(watcher.watch(location.id, {
          debounce,
          onScan,
          onError: (error) => Runtime.runFork(runtime)(Effect.logWarning(`watching ${location.root} failed`, error))
        }), child))
        if (Either.isLeft(started)) {
          // A root that is missing now is tried again later.
          watched.delete(location.id)
          yield* Scope.close(child, Exit.void)
          yield* Effect.logDebug(`not watching ${location.root} yet: ${started.left.message}`)
        }
      }
    })

    // -- schedules -----------------------------------------------------------------------------

    /** The replica's latest change number of a remote endpoint's location, per conduit. */
    const replicaMarks = new Map<string, number>()
    let lastPeerPoll = 0

    const replicaMark = (conduit: Conduit, rowId: number) =>
      Effect.map(
        Effect.orElseSucceed(sql<{ mark: number | null }>`SELECT max(seq) AS mark FROM entries WHERE location_id = ${rowId}`, () => []),
        (rows) => rows[0]?.mark ?? 0
      ).pipe(Effect.withSpan("Scheduler.replicaMark", { attributes: { conduit: conduit.id } }))

    const lookOver = Effect.gen(function* () {
      yield* watchLocalLocations
      const now = yield* Clock.currentTimeMillis
      const pollPeers = now - lastPeerPoll >= peerPollMillis
      if (pollPeers) lastPeerPoll = now
      const all = yield* Effect.orElseSucceed(conduits.list, () => [])
      for (const id of [...slots.keys()]) if (!all.some((c) => c.id === id) && !slots.get(id)!.running) slots.delete(id)
      for (const conduit of all) {
        const slot = slotOf(conduit.id)
        slot.schedule = conduit.schedule
        slot.nextRunAt = null
        if (!conduit.enabled) continue
        // Fetches asked for while the secondary was away: a run does them once it is back.
        if (Option.isSome(selective) && conduit.mode === "selective" && conduit.source.peer === null && !slot.running &&
          now - (fetchTried.get(conduit.id) ?? 0) >= fetchRetryMillis) {
          const pending = yield* Effect.orElseSucceed(selective.value.fetchRequests(conduit.source.location), () => [])
          if (pending.length > 0) {
            fetchTried.set(conduit.id, now)
            yield* trigger(conduit.id, `${pending.length} fetch(es) asked for while the secondary was away`)
          }
        }
        const schedule = ConduitSchedule.parse(conduit.schedule)
        if (Either.isLeft(schedule)) continue
        switch (schedule.right._tag) {
          case "Interval": {
            const since = Math.max(conduit.lastSyncCompletedAt?.getTime() ?? conduit.createdAt.getTime(), slot.lastRunAt ?? 0)
            slot.nextRunAt = since + schedule.right.millis
            if (now >= slot.nextRunAt && !slot.running) yield* trigger(conduit.id, `interval ${conduit.schedule}`)
            break
          }
          case "Instant": {
            // A new instant conduit syncs once by itself; after that, changes start its runs.
            if (conduit.syncGeneration === 0 && slot.runs === 0 && !slot.running) yield* trigger(conduit.id, "first run")
            if (!pollPeers || Option.isNone(peerLink)) break
            for (const end of [conduit.source, conduit.target]) {
              if (end.peer?.peerId == null) continue
              const synced = yield* Effect.either(peerLink.value.refresh(end.peer.peerId, end.location.id))
              if (Either.isLeft(synced)) continue
              const mark = yield* replicaMark(conduit, end.location.rowId)
              const key = `${conduit.id}\0${end.location.id}`
              const before = replicaMarks.get(key)
              replicaMarks.set(key, mark)
              if (before !== undefined && mark > before) yield* trigger(conduit.id, `change on ${end.peer.name}`)
            }
            break
          }
          case "Manual":
            break
        }
      }
    }).pipe(Effect.withSpan("Scheduler.lookOver"))

    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(
      Effect.catchAllCause(lookOver, (cause) => Effect.logWarning("the scheduler's look over failed", cause)),
      Effect.sleep(tick)
    )))

    const list = Effect.sync(() =>
      [...slots.entries()].map(([conduitId, s]): ScheduledConduit => ({
        conduitId,
        schedule: s.schedule,
        running: s.running,
        pending: s.pending,
        runs: s.runs,
        lastRunAt: s.lastRunAt === null ? null : new Date(s.lastRunAt),
        nextRunAt: s.nextRunAt === null ? null : new Date(s.nextRunAt),
        lastError: s.lastError
      })))

    return Scheduler.of({ trigger, conduits: list })
  })

/** The scheduler, at work for as long as the layer lives. */
export const layer = (options: SchedulerOptions = {}): Layer.Layer<
  Scheduler,
  never,
  Conduits | Watcher.Watcher | Locations.Locations | LibraryDatabase.LibraryDatabase | SqlClient.SqlClient
> => Layer.scoped(Scheduler, make(options))
