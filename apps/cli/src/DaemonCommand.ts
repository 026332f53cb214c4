/**
 * `conduit daemon start | status | stop`: the daemon (`conduitd`, @conduit/daemon) of this
 * home, and how the other commands reach it: its state file and token in the home
 * (`DaemonFiles`) and its control API on 127.0.0.1 (`ControlApi`, through a typed client).
 *
 * Only the daemon's client entry, `@conduit/daemon/api`, is imported: it pulls in no libp2p,
 * which this CommonJS bundle could not load anyway (no dynamic `import()` in a code-cached
 * script). `start` runs the daemon's own executable as a detached process.
 *
 * @since 0.1.0
 */
import { ControlApi, ControlClient, DaemonFiles } from "@conduit/daemon/api"
import { Command, Options } from "@effect/cli"
import { Duration, Effect, Option, Predicate, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { CliError } from "./CliError.js"
import * as Format from "./Format.js"
import * as Library from "./Library.js"
import * as Limits from "./Limits.js"
import * as Output from "./Output.js"

/** How long `start` waits for the daemon to answer: opening the library and the node takes a second or two. */
const START_TIMEOUT = Duration.seconds(30)

/** How long `stop` waits for the daemon's process to end. */
const STOP_TIMEOUT = Duration.seconds(20)

/** How often `start` and `stop` look. */
const POLL = Duration.millis(100)

// -- reaching the daemon ---------------------------------------------------------------------

/** A daemon that is up: its state file and a client of its control API. */
export interface Connection {
  readonly home: string
  readonly info: DaemonFiles.DaemonInfo & { readonly api: string }
  readonly client: ControlClient.Client
  /** The control API's token (for what the typed client cannot do: the event stream, the panel). */
  readonly token: string
}

/** The live daemon of `home` as its state file says, or the reason there is none. */
const running = (home: string) =>
  Effect.gen(function* () {
    const files = DaemonFiles.paths(home)
    const read = yield* DaemonFiles.readInfo(home)
    if (read._tag === "Missing") return yield* new CliError({ reason: "NoDaemon" })
    if (read._tag === "Unreadable") {
      return yield* new CliError({ reason: "NoDaemon", detail: `${files.info} is unreadable (${read.detail})` })
    }
    const info = read.info
    if (!DaemonFiles.isAlive(info.pid)) {
      return yield* new CliError({
        reason: "NoDaemon",
        detail: `${files.info} is left from process ${info.pid}, which is gone ('conduit daemon start' replaces it)`
      })
    }
    return info
  })

/** The daemon's answer to a failed request, as one of our errors: the API's own pass through. */
const mapFailure = (info: DaemonFiles.DaemonInfo, tokenFile: string) => (error: unknown) => {
  const tag = Predicate.hasProperty(error, "_tag") ? error._tag : undefined
  const value = String(info.pid)
  switch (tag) {
    case "InvalidRequest":
    case "PeerNotFound":
    case "PeerFailure":
    case "DaemonFailure":
      return error as ControlApi.ControlFailure
    case "Unauthorized":
      return new CliError({ reason: "DaemonTokenRefused", value, path: tokenFile })
    case "RequestError":
      return new CliError({ reason: "DaemonUnreachable", value, detail: `nothing answers at ${info.api}` })
    default: {
      const message = Predicate.hasProperty(error, "message") && typeof error.message === "string" ? error.message : String(error)
      return new CliError({ reason: "DaemonUnreachable", value, detail: `its answer could not be read (${message})` })
    }
  }
}

/** Runs a request on the control API, mapping what can go wrong to one sentence. */
export const request = <A, E>(connection: Connection, call: (client: ControlClient.Client) => Effect.Effect<A, E>) =>
  Effect.mapError(call(connection.client), mapFailure(connection.info, DaemonFiles.paths(connection.home).token))

/** Connects to the running daemon of the home: fails with one sentence when there is none. */
export const connect: Effect.Effect<Connection, CliError> = Effect.gen(function* () {
  const home = yield* Library.home
  const info = yield* running(home)
  const token = yield* Effect.orElseSucceed(DaemonFiles.readToken(home), () => Option.none<string>())
  if (info.api === undefined || Option.isNone(token)) return yield* new CliError({ reason: "DaemonStarting", value: String(info.pid) })
  const client = yield* ControlClient.make(info.api, token.value)
  return { home, info: { ...info, api: info.api }, client, token: token.value }
})

// -- output ----------------------------------------------------------------------------------

/** The document of `daemon start|status --json`. */
const statusJson = (s: ControlApi.Status, api: string) => ({
  pid: s.pid,
  version: s.version,
  peerId: s.peerId,
  addresses: s.addresses,
  api,
  uptimeMs: s.uptimeMs,
  pairedPeers: s.pairedPeers,
  home: s.home,
  device: s.device
})

const statusLines = (s: ControlApi.Status, api: string): Array<string> => [
  ...Format.table([
    ["peer id", s.peerId],
    ["device", `${s.device.name} (${s.device.id})`],
    ["home", s.home],
    ["api", api],
    ["peers", `${s.pairedPeers} paired`],
    ...s.addresses.map((a, i) => [i === 0 ? "listening" : "", a])
  ])
]

// -- start -----------------------------------------------------------------------------------

/** The daemon's executable (`conduitd`), from the installed @conduit/daemon package. */
const daemonMain = Effect.try({
  try: () => {
    const manifest = createRequire(import.meta.url).resolve("@conduit/daemon/package.json")
    const bin = (JSON.parse(Fs.readFileSync(manifest, "utf8")) as { bin: { conduitd: string } }).bin.conduitd
    const main = Path.resolve(Path.dirname(manifest), bin)
    if (!Fs.existsSync(main)) throw new Error(`${main} does not exist (is @conduit/daemon built?)`)
    return main
  },
  catch: (e) => new CliError({ reason: "DaemonStartFailed", path: "@conduit/daemon", detail: `conduitd was not found: ${(e as Error).message}` })
})

/** The last line the daemon wrote to its log since `offset`, without its `conduitd: ` prefix. */
const lastLogLine = (log: string, offset: number): string | undefined => {
  try {
    const text = Fs.readFileSync(log).subarray(offset).toString("utf8")
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "")
    return lines.at(-1)?.replace(/^conduitd: /, "")
  } catch {
    return undefined
  }
}

const listen = Options.text("listen").pipe(
  Options.withPseudoName("MULTIADDR"),
  Options.withDescription("a multiaddr for the daemon's node to listen on, repeatable (default: loopback QUIC and TCP, random ports)"),
  Options.repeated
)

const apiPort = Options.integer("api-port").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("the control API's port on 127.0.0.1 (default: any free port)"),
  Options.optional
)

const bandwidthLimit = Options.float("bandwidth-limit").pipe(
  Options.withPseudoName("MBPS"),
  Options.withDescription("the device's total rate for the files it pushes to paired devices, megabits per second, shared by all conduits (default: none)"),
  Options.optional
)

const start = Command.make("start", { listen, apiPort, bandwidthLimit, json: Output.json }, (args) =>
  Effect.gen(function* () {
    if (Option.isSome(args.bandwidthLimit) && !Limits.isBandwidthLimit(args.bandwidthLimit.value)) {
      return yield* new CliError({ reason: "InvalidBandwidthLimit", value: String(args.bandwidthLimit.value) })
    }
    const home = yield* Library.home
    const files = DaemonFiles.paths(home)
    const before = yield* DaemonFiles.readInfo(home)
    if (before._tag === "Found" && DaemonFiles.isAlive(before.info.pid)) {
      return yield* new CliError({
        reason: "DaemonRunning",
        value: String(before.info.pid),
        ...(before.info.api === undefined ? {} : { detail: before.info.api })
      })
    }
    const main = yield* daemonMain
    // Extra Node flags for the daemon (profiling, heap size), e.g. CONDUITD_NODE_ARGS="--cpu-prof".
    const nodeArgs = (process.env["CONDUITD_NODE_ARGS"] ?? "").split(/\s+/).filter((a) => a !== "")
    const argv = [
      ...nodeArgs,
      main,
      ...args.listen.flatMap((address) => ["--listen", address]),
      ...Option.match(args.apiPort, { onNone: () => [], onSome: (port) => ["--api-port", String(port)] }),
      ...Option.match(args.bandwidthLimit, { onNone: () => [], onSome: (mbps) => ["--bandwidth-limit", String(mbps)] })
    ]
    const { child, offset } = yield* Effect.try({
      try: () => {
        Fs.mkdirSync(home, { recursive: true, mode: 0o700 })
        const log = Fs.openSync(files.log, "a", DaemonFiles.FILE_MODE)
        try {
          const offset = Fs.fstatSync(log).size
          const child = spawn(process.execPath, argv, {
            cwd: home,
            detached: true,
            env: { ...process.env, CONDUIT_HOME: home },
            stdio: ["ignore", log, log]
          })
          child.unref()
          return { child, offset }
        } finally {
          Fs.closeSync(log)
        }
      },
      catch: (e) => new CliError({ reason: "DaemonStartFailed", path: files.log, detail: (e as Error).message })
    })
    let exited: number | null = null
    child.once("exit", (code, signal) => (exited = code ?? (signal === null ? -1 : 128)))

    // Wait until this child has announced itself and answers, or has exited.
    const ready = Effect.gen(function* () {
      if (exited !== null) {
        return yield* new CliError({ reason: "DaemonStartFailed", path: files.log, detail: lastLogLine(files.log, offset) ?? `it exited with code ${exited}` })
      }
      const read = yield* DaemonFiles.readInfo(home)
      if (read._tag !== "Found" || read.info.pid !== child.pid || read.info.api === undefined) return yield* Effect.fail("not yet" as const)
      const connection = yield* Effect.mapError(connect, () => "not yet" as const)
      const status = yield* Effect.mapError(request(connection, (c) => c.daemon.status()), () => "not yet" as const)
      return { connection, status }
    })
    const { connection, status } = yield* ready.pipe(
      Effect.retry({ schedule: Schedule.spaced(POLL), while: (e) => e === "not yet" }),
      Effect.timeoutFail({
        duration: START_TIMEOUT,
        onTimeout: () => new CliError({ reason: "DaemonStartFailed", path: files.log, detail: `it did not answer within ${Duration.format(START_TIMEOUT)}` })
      }),
      Effect.catchIf((e) => e === "not yet", () => Effect.die("unreachable"))
    )
    if (args.json) return yield* Output.printJson({ daemon: statusJson(status, connection.info.api) })
    yield* Output.line(`daemon started (pid ${status.pid})`)
    yield* Effect.forEach(statusLines(status, connection.info.api), Output.line, { discard: true })
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Start the daemon (conduitd) on this home in the background and wait until it answers; its output goes to daemon.log in the home.")
)

// -- status ----------------------------------------------------------------------------------

const status = Command.make("status", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* connect
    const s = yield* request(connection, (c) => c.daemon.status())
    if (args.json) return yield* Output.printJson({ daemon: statusJson(s, connection.info.api) })
    yield* Output.line(`daemon running (pid ${s.pid}, version ${s.version}, up ${Format.duration(s.uptimeMs)})`)
    yield* Effect.forEach(statusLines(s, connection.info.api), Output.line, { discard: true })
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Show the daemon of this home: pid, peer id and listen addresses (what another device pairs with), paired peers.")
)

// -- stop ------------------------------------------------------------------------------------

const stop = Command.make("stop", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* connect
    const { pid } = yield* request(connection, (c) => c.daemon.stop())
    yield* Effect.suspend(() => (DaemonFiles.isAlive(pid) ? Effect.fail("running" as const) : Effect.void)).pipe(
      Effect.retry({ schedule: Schedule.spaced(POLL) }),
      Effect.timeoutFail({
        duration: STOP_TIMEOUT,
        onTimeout: () => new CliError({ reason: "DaemonStopTimeout", value: String(pid), detail: Duration.format(STOP_TIMEOUT) })
      })
    )
    if (args.json) return yield* Output.printJson({ stopped: { pid } })
    yield* Output.line(`daemon stopped (pid ${pid})`)
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Stop the daemon of this home and wait until its process has ended.")
)

/** `conduit daemon`. */
export const command = Command.make("daemon").pipe(
  Command.withDescription("The daemon (conduitd): the long-running process that serves this device's index to paired devices."),
  Command.withSubcommands([start, status, stop])
)
