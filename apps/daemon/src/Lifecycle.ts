/**
 * One run of the daemon on a home: it holds the home (`daemon.json`, see `DaemonFiles`), has
 * the control API's token (`daemon.token`), knows when it started and ends when asked to.
 *
 * Acquiring the layer claims the home before anything else opens the library: `daemon.json`
 * is created exclusively with this process's id; an existing one whose process is alive
 * refuses the start (`DaemonError` `AlreadyRunning`), one whose process is gone (a crash,
 * SIGKILL) is stale and replaced. Releasing it removes both files, the state file last, so a
 * client that still sees it may find the daemon stopping but never a second one starting.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Duration, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import pkg from "../package.json" with { type: "json" }
import * as DaemonFiles from "./DaemonFiles.js"
import { DaemonError } from "./DaemonError.js"

/**
 * How long the response to a stop request gets before the daemon starts shutting down: the
 * server would otherwise close the connection the answer is still being written to.
 */
const STOP_GRACE = Duration.millis(100)

/** How often and how long a start waits for a `daemon.json` being written by another process. */
const UNREADABLE_RETRY = Duration.millis(100)
const UNREADABLE_RETRIES = 10

/** This run of the daemon. */
export class Lifecycle extends Context.Tag("@conduit/daemon/Lifecycle")<Lifecycle, {
  /** The Conduit home directory (absolute). */
  readonly home: string
  /** The control API's bearer token. */
  readonly token: string
  readonly startedAt: Date
  /** The daemon's version. */
  readonly version: string
  /** Records where the daemon is reachable in `daemon.json` (the daemon is then ready). */
  readonly announce: (ready: { readonly api: string; readonly peerId: string; readonly addresses: ReadonlyArray<string> }) => Effect.Effect<void, DaemonError>
  /** Asks the daemon to shut down (shortly, so that the current request can be answered). */
  readonly requestStop: Effect.Effect<void>
  /** Waits until a stop was requested. */
  readonly awaitStop: Effect.Effect<void>
}>() {}

const homeUnusable = (path: string) => (cause: unknown) => new DaemonError({ reason: "HomeUnusable", path, cause })

/** Claims the home: creates `daemon.json` with this pid, replacing a stale one. */
const claim = (home: string, startedAt: Date) =>
  Effect.gen(function* () {
    const { info: file } = DaemonFiles.paths(home)
    const contents = DaemonFiles.encodeInfo({ pid: process.pid, startedAt: startedAt.toISOString() })
    yield* Effect.try({ try: () => Fs.mkdirSync(home, { recursive: true, mode: 0o700 }), catch: homeUnusable(home) })
    let unreadable = 0
    while (true) {
      const created = yield* Effect.try({
        try: () => {
          try {
            Fs.writeFileSync(file, contents, { flag: "wx", mode: DaemonFiles.FILE_MODE })
            return true
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
            throw e
          }
        },
        catch: homeUnusable(file)
      })
      if (created) return
      const existing = DaemonFiles.readInfoSync(home)
      if (existing._tag === "Found" && existing.info.pid !== process.pid && DaemonFiles.isAlive(existing.info.pid)) {
        return yield* new DaemonError({
          reason: "AlreadyRunning",
          path: file,
          pid: existing.info.pid,
          ...(existing.info.api === undefined ? {} : { api: existing.info.api })
        })
      }
      if (existing._tag === "Unreadable" && unreadable++ < UNREADABLE_RETRIES) {
        // Possibly another daemon between creating the file and writing it.
        yield* Effect.sleep(UNREADABLE_RETRY)
        continue
      }
      if (existing._tag !== "Missing") {
        yield* Effect.logInfo(`replacing the stale ${file}${existing._tag === "Found" ? ` of process ${existing.info.pid}, which is gone` : ""}`)
        yield* Effect.try({ try: () => Fs.rmSync(file, { force: true }), catch: homeUnusable(file) })
      }
    }
  })

/** Removes the token and then the state file, if the state file is still this process's. */
const release = (home: string) =>
  Effect.sync(() => {
    const files = DaemonFiles.paths(home)
    const current = DaemonFiles.readInfoSync(home)
    if (current._tag !== "Found" || current.info.pid !== process.pid) return
    Fs.rmSync(files.token, { force: true })
    Fs.rmSync(files.info, { force: true })
  })

/** The daemon's run on `home`: claims it, writes a new token; removes both files when released. */
export const layer = (home: string): Layer.Layer<Lifecycle, DaemonError> =>
  Layer.scoped(
    Lifecycle,
    Effect.gen(function* () {
      const startedAt = new Date()
      yield* Effect.acquireRelease(claim(home, startedAt), () => release(home))
      const files = DaemonFiles.paths(home)
      const token = DaemonFiles.newToken()
      yield* Effect.try({ try: () => DaemonFiles.writePrivateSync(files.token, `${token}\n`), catch: homeUnusable(files.token) })
      const stop = yield* Deferred.make<void>()

      const announce = (ready: { readonly api: string; readonly peerId: string; readonly addresses: ReadonlyArray<string> }) =>
        Effect.try({
          try: () =>
            DaemonFiles.writePrivateSync(
              files.info,
              DaemonFiles.encodeInfo({ pid: process.pid, startedAt: startedAt.toISOString(), home, ...ready, addresses: [...ready.addresses] })
            ),
          catch: homeUnusable(files.info)
        })

      const requestStop = Effect.forkDaemon(Effect.delay(Deferred.succeed(stop, undefined), STOP_GRACE)).pipe(Effect.asVoid)

      return Lifecycle.of({ home, token, startedAt, version: pkg.version, announce, requestStop, awaitStop: Deferred.await(stop) })
    })
  )
