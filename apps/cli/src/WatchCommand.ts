/**
 * `conduit watch [--json]`: the running daemon's events as they happen — conduits created,
 * changed and removed, runs starting, progressing and ending, conflicts, verifications, paired
 * peers connecting and going away — one line each (`--json`: one JSON document each, as the
 * daemon sends it), until interrupted (Ctrl-C exits 0) or the daemon stops.
 *
 * It reads the control API's `GET /v1/events` (server-sent events) with a plain `fetch`: the
 * typed client cannot stream.
 *
 * @since 0.1.0
 */
import { DaemonFiles } from "@conduit/daemon/api"
import { ConduitEvents } from "@conduit/sync"
import { Command } from "@effect/cli"
import { Effect, Either, Stream } from "effect"
import { CliError } from "./CliError.js"
import * as DaemonCommand from "./DaemonCommand.js"
import * as Format from "./Format.js"
import * as Output from "./Output.js"

/** An event as one line: time, kind, conduit or peer, and its figures. */
export const describe = (e: ConduitEvents.Event): string => {
  const time = e.at.toISOString().slice(11, 23)
  const row = (kind: string, subject: string, rest: string) => `${time}  ${kind.padEnd(20)} ${subject}${rest === "" ? "" : `  ${rest}`}`
  switch (e._tag) {
    case "ConduitCreated":
      return row("conduit created", Format.shortId(e.conduit), `${e.source} → ${e.target} (${e.mode}, ${e.schedule})`)
    case "ConduitUpdated":
      return row("conduit updated", Format.shortId(e.conduit), `${e.mode}, ${e.schedule}, ${e.enabled ? "enabled" : "disabled"}`)
    case "ConduitRemoved":
      return row("conduit removed", Format.shortId(e.conduit), "")
    case "SyncStarted":
      return row("sync started", Format.shortId(e.conduit), e.generation === null ? "" : `generation ${e.generation}`)
    case "SyncProgress":
      return row("sync progress", Format.shortId(e.conduit), `${e.done}/${e.total} operations, ${Format.bytes(e.bytes)}`)
    case "SyncCompleted":
      return row("sync completed", Format.shortId(e.conduit),
        `generation ${e.generation}: ${e.copied} copied, ${e.moved} moved, ${e.deleted} deleted, ${e.conflicts} conflicts, ${Format.bytes(e.bytes)} in ${Format.duration(e.durationMs)}`)
    case "SyncFailed":
      return row("sync failed", Format.shortId(e.conduit), `${e.generation === null ? "" : `generation ${e.generation}: `}${e.reason}: ${e.message}`)
    case "ConflictDetected":
      return row("conflict", Format.shortId(e.conduit), `${e.path} (${e.reason}, ${e.winner} wins, ${e.resolution})`)
    case "VerificationDone":
      return row("verification", Format.shortId(e.conduit), e.verified ? `generation ${e.generation} verified` : `generation ${e.generation} not verified: ${e.remaining} differences remain`)
    case "PeerConnected":
      return row("peer connected", e.peerId, e.remoteAddress)
    case "PeerDisconnected":
      return row("peer disconnected", e.peerId, "")
  }
}

/** One server-sent event: its `event:` and `data:` lines, or a comment. */
type Sse = { readonly _tag: "Event"; readonly data: string } | { readonly _tag: "Comment"; readonly text: string }

/** Server-sent events from the lines of a stream (a blank line ends an event). */
const parseSse = <E>(lines: Stream.Stream<string, E>): Stream.Stream<Sse, E> =>
  Stream.mapConcat(
    Stream.mapAccum(lines, [] as Array<string>, (data, line): [Array<string>, ReadonlyArray<Sse>] => {
      if (line.startsWith(":")) return [data, [{ _tag: "Comment", text: line.slice(1).trim() }]]
      if (line.startsWith("data:")) return [[...data, line.slice(5).replace(/^ /, "")], []]
      if (line === "") return [[], data.length === 0 ? [] : [{ _tag: "Event", data: data.join("\n") }]]
      return [data, []] // `event:` (the data carries the kind too), `id:`, `retry:`
    }),
    (events) => events
  )

export const watch = Command.make("watch", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const pid = String(connection.info.pid)
    const tokenFile = DaemonFiles.paths(connection.home).token
    const unreachable = (detail: string) => new CliError({ reason: "DaemonUnreachable", value: pid, detail })
    const response = yield* Effect.tryPromise({
      try: (signal) => fetch(`${connection.info.api}/v1/events`, { headers: { authorization: `Bearer ${connection.token}` }, signal }),
      catch: () => unreachable(`nothing answers at ${connection.info.api}`)
    })
    if (response.status === 401) return yield* new CliError({ reason: "DaemonTokenRefused", value: pid, path: tokenFile })
    if (!response.ok || response.body === null) return yield* unreachable(`its events could not be read (HTTP ${response.status})`)
    const body = response.body
    const lines = Stream.fromReadableStream({ evaluate: () => body, onError: () => unreachable("the event stream broke off") }).pipe(
      Stream.decodeText(),
      Stream.splitLines
    )
    yield* Stream.runForEach(parseSse(lines), (sse) =>
      Effect.gen(function* () {
        if (sse._tag === "Comment") {
          if (sse.text === "connected") yield* Output.note(`watching the events of the daemon (pid ${pid}); Ctrl-C to stop`)
          return
        }
        const parsed = Either.try(() => JSON.parse(sse.data) as unknown)
        if (Either.isLeft(parsed)) return
        if (args.json) return yield* Output.line(JSON.stringify(parsed.right))
        // A kind this CLI does not know (a newer daemon) is shown as it came.
        const event = yield* Effect.either(ConduitEvents.decode(parsed.right))
        yield* Output.line(Either.isRight(event) ? describe(event.right) : sse.data)
      }))
    yield* Output.note(`the daemon (pid ${pid}) closed the event stream`)
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Print the running daemon's events as they happen (conduits, runs, conflicts, peers) until Ctrl-C.")
)
