import { describe, it } from "@effect/vitest"
import { LibraryDatabase } from "@conduit/index"
import { SqlClient } from "@effect/sql"
import { Effect, Fiber, Layer, Ref } from "effect"
import * as Testkit from "@conduit/testkit"
import { assert } from "vitest"
import { JobRuntime } from "../src/index.js"

const tempDir = Testkit.tempDir("conduit-jobs-")

const runtimeOn = (home: string) =>
  JobRuntime.layerWith({ maxAttempts: 4, backoff: "10 millis" }).pipe(Layer.provideMerge(Layer.fresh(LibraryDatabase.layer({ home }))))

/** A job that processes `units` items, one checkpoint after each, recording what it did. */
const counting = (processed: Array<number>, perUnit: Effect.Effect<void> = Effect.void): JobRuntime.JobHandler<{ units: number }, { next: number }> => ({
  kind: "Counting",
  run: (ctx) =>
    Effect.gen(function* () {
      for (let i = ctx.checkpoint?.next ?? 0; i < ctx.payload.units; i++) {
        yield* perUnit
        processed.push(i)
        yield* ctx.checkpointAt({ next: i + 1 }, { done: i + 1, total: ctx.payload.units, bytes: 0, bytesTotal: 0 })
      }
    })
})

describe("JobRuntime", () => {
  it.scopedLive("runs a job to completion, saving checkpoints and progress", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const processed: Array<number> = []
        yield* jobs.register(counting(processed))
        const id = yield* jobs.enqueue("Counting", { units: 5 })
        assert.strictEqual((yield* jobs.get(id)).status, "queued")
        const done = yield* jobs.run(id)
        assert.strictEqual(done.status, "completed")
        assert.deepStrictEqual(done.progress, { done: 5, total: 5, bytes: 0, bytesTotal: 0 })
        assert.deepStrictEqual(done.checkpoint, { next: 5 })
        assert.deepStrictEqual(processed, [0, 1, 2, 3, 4])
        assert.strictEqual((yield* Effect.flip(jobs.run(id))).reason, "NotAllowed")
      }).pipe(Effect.provide(runtimeOn(home)))
    }))

  it.scopedLive("pause stops at the next checkpoint; running again resumes from it; cancel ends it", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const processed: Array<number> = []
        yield* jobs.register(counting(processed, Effect.sleep("5 millis")))
        const id = yield* jobs.enqueue("Counting", { units: 200 })
        const fiber = yield* Effect.fork(jobs.run(id))
        while (processed.length < 10) yield* Effect.sleep("5 millis")
        yield* jobs.pause(id)
        const paused = yield* Fiber.join(fiber)
        assert.strictEqual(paused.status, "paused")
        const stoppedAt = processed.length
        assert.isBelow(stoppedAt, 200)
        assert.deepStrictEqual(paused.checkpoint, { next: stoppedAt })
        // Resume: continues from the checkpoint, every unit exactly once.
        const second = yield* Effect.fork(jobs.run(id))
        while (processed.length < stoppedAt + 10) yield* Effect.sleep("5 millis")
        yield* jobs.cancel(id)
        assert.strictEqual((yield* Fiber.join(second)).status, "cancelled")
        assert.deepStrictEqual(processed, Array.from({ length: processed.length }, (_, i) => i))
        assert.strictEqual((yield* Effect.flip(jobs.run(id))).reason, "NotAllowed")
        // A queued job is paused at once.
        const queued = yield* jobs.enqueue("Counting", { units: 1 })
        assert.strictEqual((yield* jobs.pause(queued)).status, "paused")
      }).pipe(Effect.provide(runtimeOn(home)))
    }))

  it.scopedLive("retries transient failures with backoff; a permanent failure fails the job with its message", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const calls = yield* Ref.make(0)
        yield* jobs.register({
          kind: "Flaky",
          run: () =>
            Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
              n < 3 ? Effect.fail(new JobRuntime.JobFailure({ message: "disk busy", transient: true })) : Effect.void)
        })
        yield* jobs.register({
          kind: "Broken",
          run: () => Effect.fail(new JobRuntime.JobFailure({ message: "the target is read-only", transient: false }))
        })
        const flaky = yield* jobs.run(yield* jobs.enqueue("Flaky", {}))
        assert.strictEqual(flaky.status, "completed")
        assert.strictEqual(flaky.attempts, 3)
        const broken = yield* jobs.run(yield* jobs.enqueue("Broken", {}))
        assert.strictEqual(broken.status, "failed")
        assert.strictEqual(broken.error, "the target is read-only")
        assert.strictEqual(broken.attempts, 1)
      }).pipe(Effect.provide(runtimeOn(home)))
    }))

  it.scopedLive("at start-up, a job left running by a dead process resumes from its checkpoint", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const processed: Array<number> = []
      // First "process": the job got to unit 3, then the process died (pid of nothing alive).
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        const sql = yield* SqlClient.SqlClient
        const id = yield* jobs.enqueue("Counting", { units: 6 })
        yield* sql`UPDATE jobs SET status = 'running', pid = 2147483646, checkpoint = '{"next":3}' WHERE id = ${id}`
      }).pipe(Effect.provide(runtimeOn(home)))
      // Next start.
      yield* Effect.gen(function* () {
        const jobs = yield* JobRuntime.JobRuntime
        yield* jobs.register(counting(processed))
        const resumed = yield* jobs.resumeUnfinished
        assert.deepStrictEqual(resumed.map((j) => j.status), ["completed"])
        assert.deepStrictEqual(processed, [3, 4, 5])
      }).pipe(Effect.provide(runtimeOn(home)))
    }))
})
