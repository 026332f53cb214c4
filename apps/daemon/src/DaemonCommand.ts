/**
 * The `conduitd` command line: `conduitd [--listen MULTIADDR]... [--api-port N]`, on the home
 * `$CONDUIT_HOME` (default `~/.conduit`). Runs the daemon until SIGINT, SIGTERM or a stop
 * request through the control API.
 *
 * @since 0.1.0
 */
import { Command, Options } from "@effect/cli"
import { Config, Effect, Option, Ref } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import pkg from "../package.json" with { type: "json" }
import * as Daemon from "./Daemon.js"
import { Lifecycle } from "./Lifecycle.js"

/** The Conduit home directory: `$CONDUIT_HOME` (relative to the working directory), else `~/.conduit`. */
export const home: Effect.Effect<string> = Config.option(Config.string("CONDUIT_HOME")).pipe(
  Effect.map(Option.filter((value) => value !== "")),
  Effect.map(Option.match({
    onNone: () => Path.join(Os.homedir(), ".conduit"),
    onSome: (value) => Path.resolve(value)
  })),
  Effect.orDie
)

const listen = Options.text("listen").pipe(
  Options.withPseudoName("MULTIADDR"),
  Options.withDescription(
    "a multiaddr for the node to listen on, repeatable (default: loopback only, /ip4/127.0.0.1/udp/0/quic-v1 and /ip4/127.0.0.1/tcp/0)"
  ),
  Options.repeated
)

const apiPort = Options.integer("api-port").pipe(
  Options.withPseudoName("N"),
  Options.withDescription("the control API's port on 127.0.0.1 (default 0: any free port; daemon.json says which)"),
  Options.withDefault(0)
)

const bandwidthLimit = Options.float("bandwidth-limit").pipe(
  Options.withPseudoName("MBPS"),
  Options.withDescription("this device's total rate for the files it pushes to paired devices, in megabits per second, shared by all conduits (default: none)"),
  Options.filterMap(
    (n) => (n > 0 && n <= 100_000 ? Option.some(n) : Option.none()),
    "--bandwidth-limit must be a number of megabits per second above 0 and at most 100000"
  ),
  Options.optional
)

/** `conduitd`. */
export const command = Command.make("conduitd", { listen, apiPort, bandwidthLimit }, (options) =>
  Effect.gen(function* () {
    const dir = yield* home
    const started = yield* Ref.make(false)
    yield* Effect.flatMap(Lifecycle, (lifecycle) => Effect.zipRight(Ref.set(started, true), lifecycle.awaitStop)).pipe(
      Effect.provide(Daemon.layer({
        home: dir,
        listen: options.listen,
        apiPort: options.apiPort,
        bandwidthLimitMbps: Option.getOrNull(options.bandwidthLimit)
      })),
      // Once everything is released, also after SIGINT or SIGTERM (a failed start says why instead).
      Effect.ensuring(Effect.whenEffect(Effect.logInfo("conduitd stopped"), Ref.get(started)))
    )
  })).pipe(
  Command.withDescription(
    "Conduit's daemon: serves this device's index to paired devices over libp2p, runs the jobs, and answers the CLI on a local control API."
  )
)

/** Runs the command line `argv` (as `process.argv`). */
export const run = (argv: ReadonlyArray<string>) => Command.run(command, { name: "conduitd", version: pkg.version })(argv)
