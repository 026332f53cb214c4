/**
 * Content hashing: full-length BLAKE3-256 with the native backend, on a pool of worker threads
 * so hashing runs beside the walk and uses every core.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
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
  readonly submit: (jobs: ReadonlyArray<HashJob>) => Effect.Effect<HashTicket, Errors.HashError>
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

// Loaded on first use: the native addon costs start-up time that commands which hash nothing
// should not pay.
let blake3: typeof import("blake3") | undefined
const loadBlake3 = () => (blake3 ??= createRequire(import.meta.url)("blake3") as typeof import("blake3"))

/** BLAKE3 of in-memory bytes, fed in ≤ 1 MiB updates (the wasm fallback breaks above that). */
export const hashBytes = (bytes: Uint8Array): Ids.ContentHash => {
  const hasher = loadBlake3().createHash()
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
    const count = Math.max(1, options.workers ?? Math.min(8, Os.availableParallelism()))
    const blake3Path = () => createRequire(import.meta.url).resolve("blake3")
    const pending = new Map<number, Pending>()
    const load = new Array<number>(count).fill(0)
    let nextBatch = 0
    let failure: unknown = undefined

    // Workers start on the first batch: a rescan that finds nothing changed starts none. Each
    // announces itself once its BLAKE3 module is loaded; the pool is only torn down after that,
    // because terminating a worker while it loads the native addon aborts the whole process.
    let workers: Array<Worker> | undefined
    let ready: Array<Promise<void>> = []
    const start = (): Array<Worker> => {
      if (workers !== undefined) return workers
      ready = []
      workers = Array.from({ length: count }, (_, index) => {
        const worker = new Worker(hashWorkerSource, {
          eval: true,
          execArgv: [],
          // A worker holds one 1 MiB buffer and a batch of paths: keep its heap small, since
          // every worker's heap counts in the process's memory.
          resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 48 },
          workerData: { blake3Path: blake3Path(), attempts: options.attempts ?? 3 }
        })
        worker.unref()
        ready.push(new Promise<void>((resolve) => {
          worker.once("exit", () => resolve())
          worker.on("message", (msg: { ready?: true; batch: number; results: ReadonlyArray<HashResult> }) => {
            if (msg.ready) return resolve()
            const p = pending.get(msg.batch)
            if (p === undefined) return
            pending.delete(msg.batch)
            load[index] = load[index]! - p.bytes
            p.resolve(msg.results)
          })
        }))
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
      return workers
    }
    yield* Effect.addFinalizer(() =>
      workers === undefined
        ? Effect.void
        : Effect.promise(async () => {
          await Promise.all(ready)
          await Promise.all(workers!.map((w) => w.terminate()))
        })
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
        start()[target]!.postMessage({ batch, jobs })
      })

    const await_ = (promise: Promise<ReadonlyArray<HashResult>>) =>
      Effect.tryPromise({ try: () => promise, catch: (cause) => new Errors.HashError({ reason: "Worker", cause }) })

    let backendChecked = false
    const submit = (jobs: ReadonlyArray<HashJob>) =>
      Effect.suspend(() => (backendChecked ? Effect.void : Effect.tap(checkBackend, () => (backendChecked = true)))).pipe(
        Effect.zipRight(Effect.sync((): HashTicket => {
        if (jobs.length === 0) return { done: () => true, results: Effect.succeed([]) }
        let settled = false
        const promise = post(jobs)
        promise.then(() => (settled = true), () => (settled = true))
        return { done: () => settled, results: await_(promise) }
      }))
      )

    const hashFiles = (jobs: ReadonlyArray<HashJob>) => Effect.flatMap(submit(jobs), (ticket) => ticket.results)

    return Hasher.of({ hashFiles, submit, hashBytes, workers: count })
  })

/** The hasher with default settings. */
export const layer: Layer.Layer<Hasher, Errors.HashError> = Layer.scoped(Hasher, make())

/** The hasher with explicit settings. */
export const layerWith = (options: HasherOptions): Layer.Layer<Hasher, Errors.HashError> =>
  Layer.scoped(Hasher, make(options))
