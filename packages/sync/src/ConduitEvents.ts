/**
 * ConduitEvents — what happens to conduits, their runs and the paired peers, as a typed stream
 * of events: an in-process hub that `Conduits` publishes to when the service is present (the
 * daemon provides it; a CLI process does not), and that the daemon serves to clients as
 * server-sent events (`GET /v1/events`).
 *
 * The hub is a sliding `PubSub`: a publisher never waits, and a subscriber that falls more than
 * `CAPACITY` events behind loses the oldest ones instead of holding up the runs. Every event is
 * a `Schema.TaggedStruct` with its time (`at`), so it encodes to JSON as it is.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, PubSub, Queue, Schema, type Scope, Stream } from "effect"

// -- events ----------------------------------------------------------------------------------

/**
 * How many events a subscriber may fall behind before it loses the oldest: a run's progress is
 * throttled to a few a second, so this is minutes of a busy daemon.
 */
export const CAPACITY = 1024

/** The shortest time between two progress events of one run (at most ~4 a second). */
export const PROGRESS_INTERVAL_MS = 250

const at = Schema.Date

/** A conduit was created. */
export const ConduitCreated = Schema.TaggedStruct("ConduitCreated", {
  at,
  conduit: Schema.String,
  source: Schema.String,
  target: Schema.String,
  mode: Schema.String,
  schedule: Schema.String
})

/** A conduit's settings changed (`at` is its new `updatedAt`). */
export const ConduitUpdated = Schema.TaggedStruct("ConduitUpdated", {
  at,
  conduit: Schema.String,
  mode: Schema.String,
  enabled: Schema.Boolean,
  schedule: Schema.String
})

/** A conduit was removed (its files are untouched). */
export const ConduitRemoved = Schema.TaggedStruct("ConduitRemoved", {
  at,
  conduit: Schema.String
})

/** A run of a conduit started (the generation it records, when known). */
export const SyncStarted = Schema.TaggedStruct("SyncStarted", {
  at,
  conduit: Schema.String,
  generation: Schema.NullOr(Schema.Number),
  job: Schema.NullOr(Schema.String)
})

/** How far a run's plan got: operations done of total, bytes copied. */
export const SyncProgress = Schema.TaggedStruct("SyncProgress", {
  at,
  conduit: Schema.String,
  done: Schema.Number,
  total: Schema.Number,
  bytes: Schema.Number
})

/** A run ended verified: its generation is `completed`. */
export const SyncCompleted = Schema.TaggedStruct("SyncCompleted", {
  at,
  conduit: Schema.String,
  generation: Schema.Number,
  copied: Schema.Number,
  deleted: Schema.Number,
  moved: Schema.Number,
  conflicts: Schema.Number,
  bytes: Schema.Number,
  durationMs: Schema.Number
})

/**
 * A run ended otherwise: an error (`reason` is the error's, as `SyncError` and the others have
 * it), a run that did not verify (`NotVerified`), or one stopped at a checkpoint (`Paused`,
 * `Cancelled`).
 */
export const SyncFailed = Schema.TaggedStruct("SyncFailed", {
  at,
  conduit: Schema.String,
  generation: Schema.NullOr(Schema.Number),
  reason: Schema.String,
  message: Schema.String
})

/** A run decided a conflict (one event per conflict recorded). */
export const ConflictDetected = Schema.TaggedStruct("ConflictDetected", {
  at,
  conduit: Schema.String,
  generation: Schema.Number,
  path: Schema.String,
  reason: Schema.String,
  winner: Schema.String,
  resolution: Schema.String
})

/** A run's verification: whether a fresh resolve after it was empty. */
export const VerificationDone = Schema.TaggedStruct("VerificationDone", {
  at,
  conduit: Schema.String,
  generation: Schema.Number,
  verified: Schema.Boolean,
  remaining: Schema.Number
})

/** A connection to a paired peer opened. */
export const PeerConnected = Schema.TaggedStruct("PeerConnected", {
  at,
  peerId: Schema.String,
  remoteAddress: Schema.String
})

/** The last connection to a paired peer closed. */
export const PeerDisconnected = Schema.TaggedStruct("PeerDisconnected", {
  at,
  peerId: Schema.String
})

/** Every event, by its `_tag`. */
export const Event = Schema.Union(
  ConduitCreated,
  ConduitUpdated,
  ConduitRemoved,
  SyncStarted,
  SyncProgress,
  SyncCompleted,
  SyncFailed,
  ConflictDetected,
  VerificationDone,
  PeerConnected,
  PeerDisconnected
)

/** An event. */
export type Event = typeof Event.Type

/** An event's kind: its `_tag`. */
export type Kind = Event["_tag"]

/** Every kind, in the order above. */
export const kinds: ReadonlyArray<Kind> = [
  "ConduitCreated",
  "ConduitUpdated",
  "ConduitRemoved",
  "SyncStarted",
  "SyncProgress",
  "SyncCompleted",
  "SyncFailed",
  "ConflictDetected",
  "VerificationDone",
  "PeerConnected",
  "PeerDisconnected"
]

/** An event as JSON (the `at` as ISO 8601). */
export const encode = Schema.encodeSync(Event)

/** An event from its JSON form. */
export const decode = Schema.decodeUnknown(Event)

/** An event without its time: `publish` stamps it. */
export type Unstamped = Event extends infer E ? E extends Event ? Omit<E, "at"> & { readonly at?: Date } : never : never

// -- the hub ---------------------------------------------------------------------------------

/** The hub of this process's events. */
export class ConduitEvents extends Context.Tag("@conduit/sync/ConduitEvents")<ConduitEvents, {
  /**
   * Publishes an event to every subscriber (stamped with the clock's time unless it has one);
   * never waits. A conduit's created/updated/removed event equal to one published recently
   * (the same conduit and time) is dropped: a change seen both in-process and in the library
   * is told once.
   */
  readonly publish: (event: Unstamped) => Effect.Effect<void>
  /** A subscription from now on, for as long as the scope lives: a queue of the events. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Event>, never, Scope.Scope>
  /** The events from the moment the stream starts, until it is interrupted. */
  readonly stream: Stream.Stream<Event>
}>() {}

/** The key that makes a lifecycle event the same as another; null for the others. */
const lifecycleKey = (event: Event): string | null => {
  switch (event._tag) {
    case "ConduitCreated":
    case "ConduitRemoved":
      return `${event._tag}:${event.conduit}`
    case "ConduitUpdated":
      return `${event._tag}:${event.conduit}:${event.at.getTime()}`
    default:
      return null
  }
}

/** Builds a hub holding up to `capacity` events per subscriber (the oldest go first). */
export const make = (capacity: number = CAPACITY): Effect.Effect<ConduitEvents["Type"]> =>
  Effect.gen(function* () {
    const hub = yield* PubSub.sliding<Event>(capacity)
    const recent = new Set<string>()
    const publish = (input: Unstamped) =>
      Effect.gen(function* () {
        const event = (input.at === undefined ? { ...input, at: new Date(yield* Clock.currentTimeMillis) } : input) as Event
        const key = lifecycleKey(event)
        if (key !== null) {
          if (recent.has(key)) return
          recent.add(key)
          if (recent.size > 512) recent.delete(recent.values().next().value!)
        }
        yield* PubSub.publish(hub, event)
      })
    return ConduitEvents.of({ publish, subscribe: PubSub.subscribe(hub), stream: Stream.fromPubSub(hub) })
  })

/** The hub as a layer. */
export const layer: Layer.Layer<ConduitEvents> = Layer.effect(ConduitEvents, make())

/**
 * A progress callback that publishes at most one progress event per `PROGRESS_INTERVAL_MS`
 * (and always the first and the last, `done === total`), beside the caller's own.
 */
export const throttledProgress = (
  events: ConduitEvents["Type"],
  conduit: string,
  inner?: (done: number, total: number, bytes: number) => void
): ((done: number, total: number, bytes: number) => void) => {
  let last = 0
  return (done, total, bytes) => {
    inner?.(done, total, bytes)
    const now = Date.now()
    if (now - last < PROGRESS_INTERVAL_MS && done < total) return
    last = now
    Effect.runSync(events.publish({ _tag: "SyncProgress", conduit, done, total, bytes }))
  }
}
