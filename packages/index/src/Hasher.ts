/**
 * Content hashing: full-length BLAKE3-256 with the native backend, on a pool of worker threads
 * so hashing runs beside the walk and uses every core.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
import * as Blake3 from "blake3"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { Worker } from "node:worker_threads"
import { hashWorkerSource } from "./internal/hashWorkerSource.js"

/** One file to hash. `size` only guides batching; the worker stats the file itself. */
export interface HashJob {
  readonly path: string
  readonly size: number
}

/** What hashing one file gave. `vanished`: gone before it was opened. */
export type HashResult =
  | {
    readonly state: "ok"
    readonly hash: Ids.ContentHash
    /** The stat the digest belongs to (taken after the read, equal to the one before). */
    readonly size: number
    readonly mtimeS: number
    readonly mtimeNs: number
    readonly ino: number
    readonly mode: number
    readonly bytesRead: number
  }
  | { readonly state: "unstable"; readonly bytesRead: number }
  | { readonly state: "unreadable"; readonly error: string }
  | { readonly state: "vanished"; readonly error: string }

/** A batch handed to the pool: poll `done`, or wait on `results`. */
export interface HashTicket {
  /** Whether the results are in (so `results` will not wait). */
  readonly done: () => boolean
  readonly results: Effect.Effect<ReadonlyArray<HashResult>, Errors.HashError>
}

/** Hashes files and bytes. */
export class Hasher extends Context.Tag("@conduit/index/Hasher")<Hasher, {
  /**
   * Hashes a batch of files on the worker pool. Results come back in the order of `jobs`.
   * Submit many batches at once to keep every worker busy; the pool spreads them by bytes.
   */
  readonly hashFiles: (jobs: ReadonlyArray<HashJob>) => Effect.Effect<ReadonlyArray<HashResult>, Errors.HashError>
  /**
   * Hands a batch to the pool at once and returns the effect that awaits its results, so a
   * caller can keep walking while workers hash (the way `Effect.fork` returns a fiber).
   */
  readonly submit: (jobs: ReadonlyArray<HashJob>) => Effect.Effect<HashTicket>
  /** Hashes bytes in memory on the calling thread (for small inputs: symlink targets, blocks). */
  readonly hashBytes: (bytes: Uint8Array) => Ids.ContentHash
  /** How many workers the pool runs. */
  readonly workers: number
}>() {}

/** Pool settings. */
export interface HasherOptions {
  /** Worker threads; default: the available parallelism, capped at 8. */
  readonly workers?: number
  /** Reads of a file that keeps changing before it is reported unstable; default 3. */
  readonly attempts?: number
}

const MAX_UPDATE = 1 << 20

/** BLAKE3 of in-memory bytes, fed in ≤ 1 MiB updates (the wasm fallback breaks above that). */
export const hashBytes = (bytes: Uint8Array): Ids.ContentHash => {
  const hasher = Blake3.createHash()
  for (let offset = 0; offset < bytes.length; offset += MAX_UPDATE) {
    hasher.update(bytes.subarray(offset, Math.min(offset + MAX_UPDATE, bytes.length)))
  }
  return hasher.digest("hex") as unknown as Ids.ContentHash
}

/**
 * Refuses to run on a backend that gives wrong digests: checks two of the official BLAKE3
 * vectors (the empty input, and 1025 bytes of the `i % 251` pattern, which crosses a chunk).
 */
export const checkBackend: Effect.Effect<void, Errors.HashError> = Effect.suspend(() => {
  const input = new Uint8Array(1025)
  for (let i = 0; i < input.length; i++) input[i] = i % 251
  const ok = hashBytes(new Uint8Array(0)) === "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262" &&
    hashBytes(input) === "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"
  return ok ? Effect.void : Effect.fail(new Errors.HashError({ reason: "Backend" }))
})

interface Pending {
  readonly resolve: (results: ReadonlyArray<HashResult>) => void
  readonly reject: (error: unknown) => void
  readonly worker: number
  readonly bytes: number
}

/** Builds the worker pool; the workers are terminated when the scope closes. */
export const make = (options: HasherOptions = {}): Effect.Effect<Hasher["Type"], Errors.HashError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* checkBackend
    const count = Math.max(1, options.workers ?? Math.min(8, Os.availableParallelism()))
    const blake3Path = createRequire(import.meta.url).resolve("blake3")
    const pending = new Map<number, Pending>()
    const load = new Array<number>(count).fill(0)
    let nextBatch = 0
    let failure: unknown = undefined

    const workers = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Array.from({ length: count }, (_, index) => {
          const worker = new Worker(hashWorkerSource, {
            eval: true,
            execArgv: [],
            workerData: { blake3Path, attempts: options.attempts ?? 3 }
          })
          worker.unref()
          worker.on("message", (msg: { batch: number; results: ReadonlyArray<HashResult> }) => {
            const p = pending.get(msg.batch)
            if (p === undefined) return
            pending.delete(msg.batch)
            load[index] = load[index]! - p.bytes
            p.resolve(msg.results)
          })
          worker.on("error", (error) => {
            failure = error
            for (const [batch, p] of pending) {
              if (p.worker === index) {
                pending.delete(batch)
                p.reject(error)
              }
            }
          })
          return worker
        })
      ),
      (ws) => Effect.promise(() => Promise.all(ws.map((w) => w.terminate())))
    )

    const post = (jobs: ReadonlyArray<HashJob>): Promise<ReadonlyArray<HashResult>> =>
      new Promise((resolve, reject) => {
        if (failure !== undefined) return reject(failure)
        // Least-loaded by queued bytes: a worker busy with a 4 GiB file gets no small batches.
        let target = 0
        for (let i = 1; i < count; i++) if (load[i]! < load[target]!) target = i
        const bytes = jobs.reduce((sum, job) => sum + job.size, 0) + jobs.length * 4096
        const batch = nextBatch++
        load[target] = load[target]! + bytes
        pending.set(batch, { worker: target, bytes, resolve, reject })
        workers[target]!.postMessage({ batch, jobs })
      })

    const await_ = (promise: Promise<ReadonlyArray<HashResult>>) =>
      Effect.tryPromise({ try: () => promise, catch: (cause) => new Errors.HashError({ reason: "Worker", cause }) })

    const submit = (jobs: ReadonlyArray<HashJob>) =>
      Effect.sync((): HashTicket => {
        if (jobs.length === 0) return { done: () => true, results: Effect.succeed([]) }
        let settled = false
        const promise = post(jobs)
        promise.then(() => (settled = true), () => (settled = true))
        return { done: () => settled, results: await_(promise) }
      })

    const hashFiles = (jobs: ReadonlyArray<HashJob>) => Effect.flatMap(submit(jobs), (ticket) => ticket.results)

    return Hasher.of({ hashFiles, submit, hashBytes, workers: count })
  })

/** The hasher with default settings. */
export const layer: Layer.Layer<Hasher, Errors.HashError> = Layer.scoped(Hasher, make())

/** The hasher with explicit settings. */
export const layerWith = (options: HasherOptions): Layer.Layer<Hasher, Errors.HashError> =>
  Layer.scoped(Hasher, make(options))
