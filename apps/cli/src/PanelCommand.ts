/**
 * `conduit panel [--open] [--json]`: the address of the running daemon's status panel, with
 * the daemon's token in it. Opening it once sets the panel's cookie and drops the token from
 * the address (see the daemon's `StatusPanel`); the token changes at every start of the daemon,
 * so the address does too.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as DaemonCommand from "./DaemonCommand.js"
import * as Output from "./Output.js"

/** Hands the address to the desktop's browser; false when there is no opener on this system. */
const openInBrowser = (url: string) =>
  Effect.async<boolean>((resume) => {
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open"
    const child = ChildProcess.spawn(opener, [url], { stdio: "ignore", detached: true })
    child.once("error", () => resume(Effect.succeed(false)))
    child.once("spawn", () => {
      child.unref()
      resume(Effect.succeed(true))
    })
  })

/** `conduit panel`. */
export const panel = Command.make("panel", {
  open: Options.boolean("open").pipe(Options.withDescription("open it in the desktop's browser too")),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const url = `${connection.info.api}/panel?token=${encodeURIComponent(connection.token)}`
    if (args.json) yield* Output.printJson({ url, pid: connection.info.pid })
    else yield* Output.line(url)
    if (args.open && !(yield* openInBrowser(url))) yield* Output.note("no browser opener found (xdg-open); open the address above yourself")
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription(
    "Print the address of the running daemon's status panel (a web page on 127.0.0.1: every conduit live, run now, pause/resume, enable/disable, settings, history). It carries the daemon's token: keep it private."
  )
)
