/**
 * The daemon's event hub (`ConduitEvents`) and what feeds it besides the daemon's own
 * `Conduits` (which publishes its runs and changes directly):
 *
 * - the paired peers' connections, as the node has them: connected / disconnected;
 * - the library, for what other processes do to it (the CLI creates, changes and runs
 *   conduits in its own process): conduits created, updated or removed, runs started and
 *   ended (with their conflicts and verification), and the progress their jobs record.
 *   Runs of this process are left to `Conduits`; a conduit change seen both ways is told
 *   once (the hub drops the second).
 *
 * Both are looked at every `POLL`; what was there when the daemon started is no event.
 *
 * @since 0.1.0
 */
import { ConduitEvents } from "@conduit/sync"
import { Node } from "@conduit/transport"
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Layer } from "effect"

/** How often the node's connections and the library are looked at: events lag at most this. */
export const POLL = Duration.millis(500)

interface ConduitRow {
  readonly uuid: string
  readonly mode: string
  readonly enabled: number
  readonly schedule: string
  readonly created_at: number
  readonly updated_at: number
  readonly source: string
  readonly target: string
}

interface GenerationRow {
  readonly id: number
  readonly conduit_id: number
  readonly uuid: string
  readonly generation: number
  readonly started_at: number
  readonly completed_at: number | null
  readonly status: string
  readonly pid: number | null
  readonly files_copied: number
  readonly files_deleted: number
  readonly files_moved: number
  readonly conflicts_resolved: number
  readonly bytes_transferred: number
  readonly verification: string
  readonly remaining: number
}

/** Publishes the peers' connections as they open and close. */
const watchPeers = (events: ConduitEvents.ConduitEvents["Type"], node: Node.Node["Type"]) => {
  let open = new Map<string, string>()
  return Effect.gen(function* () {
    const now = new Map<string, string>()
    for (const c of yield* node.connections) if (!now.has(c.peerId)) now.set(c.peerId, c.remoteAddress)
    for (const [peerId, remoteAddress] of now) if (!open.has(peerId)) yield* events.publish({ _tag: "PeerConnected", peerId, remoteAddress })
    for (const peerId of open.keys()) if (!now.has(peerId)) yield* events.publish({ _tag: "PeerDisconnected", peerId })
    open = now
  })
}

/** Publishes what other processes did to the library's conduits since the last look. */
const watchLibrary = (events: ConduitEvents.ConduitEvents["Type"], sql: SqlClient.SqlClient) => {
  let baseline = true
  let conduits = new Map<string, ConduitRow>()
  let lastGeneration = 0
  const runningGenerations = new Set<number>()
  const jobProgress = new Map<string, number>()

  const ended = (g: GenerationRow) =>
    Effect.gen(function* () {
      const at = new Date(g.completed_at ?? Date.now())
      const conflicts = yield* sql<{ path: string; reason: string; winner: string; resolution: string }>`
        SELECT path, reason, winner, resolution FROM sync_conflicts WHERE conduit_id = ${g.conduit_id} AND generation = ${g.generation} ORDER BY id`
      for (const c of conflicts) yield* events.publish({ _tag: "ConflictDetected", at, conduit: g.uuid, generation: g.generation, ...c })
      if (g.verification !== "pending") {
        yield* events.publish({ _tag: "VerificationDone", at, conduit: g.uuid, generation: g.generation, verified: g.verification === "verified", remaining: g.remaining })
      }
      if (g.status === "completed") {
        return yield* events.publish({
          _tag: "SyncCompleted",
          at,
          conduit: g.uuid,
          generation: g.generation,
          copied: g.files_copied,
          deleted: g.files_deleted,
          moved: g.files_moved,
          conflicts: g.conflicts_resolved,
          bytes: g.bytes_transferred,
          durationMs: Math.max(0, at.getTime() - g.started_at)
        })
      }
      const reason = g.status === "failed" ? "NotVerified" : g.status.charAt(0).toUpperCase() + g.status.slice(1)
      yield* events.publish({
        _tag: "SyncFailed",
        at,
        conduit: g.uuid,
        generation: g.generation,
        reason,
        message: g.status === "failed" ? `${g.remaining} difference(s) remain after the run` : `the run was ${g.status}`
      })
    })

  return Effect.gen(function* () {
    // Conduits: by id, a change of `updated_at` is an update.
    const rows = yield* sql<ConduitRow>`
      SELECT c.uuid, c.mode, c.enabled, c.schedule, c.created_at, c.updated_at,
        CASE c.source_dir WHEN '' THEN ls.root ELSE ls.root || '/' || c.source_dir END AS source,
        CASE c.target_dir WHEN '' THEN lt.root ELSE lt.root || '/' || c.target_dir END AS target
      FROM sync_conduits c JOIN locations ls ON ls.id = c.source_location_id JOIN locations lt ON lt.id = c.target_location_id`
    const next = new Map(rows.map((r) => [r.uuid, r]))
    // Runs of other processes: new generations, and the end of those seen running.
    const generations = yield* sql<GenerationRow>`
      SELECT g.id, g.conduit_id, k.uuid, g.generation, g.started_at, g.completed_at, g.status, g.pid, g.files_copied, g.files_deleted,
        g.files_moved, g.conflicts_resolved, g.bytes_transferred, g.verification, g.remaining
      FROM sync_generations g JOIN sync_conduits k ON k.id = g.conduit_id
      WHERE (g.id > ${lastGeneration} OR g.id IN (SELECT value FROM json_each(${JSON.stringify([...runningGenerations])})))
        AND (g.pid IS NULL OR g.pid != ${process.pid})
      ORDER BY g.id`
    const jobs = yield* sql<{ id: string; payload: string; progress: string; updated_at: number }>`
      SELECT id, payload, progress, updated_at FROM jobs
      WHERE kind = 'FileSyncJob' AND status = 'running' AND (pid IS NULL OR pid != ${process.pid})`

    if (!baseline) {
      for (const [id, r] of next) {
        const before = conduits.get(id)
        if (before === undefined) {
          yield* events.publish({ _tag: "ConduitCreated", at: new Date(r.created_at), conduit: id, source: r.source, target: r.target, mode: r.mode, schedule: r.schedule })
        } else if (before.updated_at !== r.updated_at) {
          yield* events.publish({ _tag: "ConduitUpdated", at: new Date(r.updated_at), conduit: id, mode: r.mode, enabled: r.enabled === 1, schedule: r.schedule })
        }
      }
      for (const id of conduits.keys()) if (!next.has(id)) yield* events.publish({ _tag: "ConduitRemoved", conduit: id })
      for (const job of jobs) {
        if (jobProgress.get(job.id) === job.updated_at) continue
        jobProgress.set(job.id, job.updated_at)
        const progress = JSON.parse(job.progress) as { done: number; total: number; bytes: number }
        const conduit = (JSON.parse(job.payload) as { conduit: string }).conduit
        yield* events.publish({ _tag: "SyncProgress", at: new Date(job.updated_at), conduit, done: progress.done, total: progress.total, bytes: progress.bytes })
      }
    }
    for (const g of generations) {
      const isNew = g.id > lastGeneration
      lastGeneration = Math.max(lastGeneration, g.id)
      if (baseline) {
        if (g.status === "running") runningGenerations.add(g.id)
        continue
      }
      if (isNew) yield* events.publish({ _tag: "SyncStarted", at: new Date(g.started_at), conduit: g.uuid, generation: g.generation, job: null })
      if (g.status === "running") runningGenerations.add(g.id)
      else {
        runningGenerations.delete(g.id)
        yield* ended(g)
      }
    }
    for (const id of jobProgress.keys()) if (!jobs.some((j) => j.id === id)) jobProgress.delete(id)
    conduits = next
    baseline = false
  })
}

/**
 * The hub, with the node's connections and the library watched for as long as the layer
 * lives. Provided to `Conduits` (which then publishes its own runs) and to the control API.
 */
export const layer: Layer.Layer<ConduitEvents.ConduitEvents, never, Node.Node | SqlClient.SqlClient> = Layer.scoped(
  ConduitEvents.ConduitEvents,
  Effect.gen(function* () {
    const events = yield* ConduitEvents.make()
    const node = yield* Node.Node
    const sql = yield* SqlClient.SqlClient
    const peers = watchPeers(events, node)
    const changes = watchLibrary(events, sql)
    // Conduits creates its tables after this starts: the library is read once they exist (a
    // statement that failed to prepare would stay failed in the client's statement cache).
    let ready = false
    const tablesReady = Effect.map(
      sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('sync_conduits', 'sync_generations', 'sync_conflicts', 'jobs')`,
      (rows) => (ready = Number(rows[0]?.n) === 4)
    )
    let failures = 0
    const library = Effect.catchAllCause(
      Effect.flatMap(Effect.suspend(() => ready ? Effect.succeed(true) : tablesReady), (ok) => (ok ? changes : Effect.void)),
      (cause) => (++failures === 1 ? Effect.logWarning("the library cannot be watched for events", cause) : Effect.void)
    )
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.zipRight(peers, library), Effect.sleep(POLL))))
    return events
  })
)
