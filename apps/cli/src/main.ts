/**
 * The CLI program (bundled as `dist/cli.cjs`, started by the `launcher`): runs the command
 * line on Node and exits with its code.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as Cli from "./Cli.js"
import * as Output from "./Output.js"

Output.exitQuietlyOnClosedPipe()

// The commands print their own results; the libraries' logs (what a daemon keeps in its log)
// stay quiet here unless asked for with CONDUIT_LOG_LEVEL (debug, info, warning, error), on stderr.
const logLevel = LogLevel.allLevels.find((l) => l.label.toLowerCase() === (process.env.CONDUIT_LOG_LEVEL ?? "").toLowerCase()) ?? LogLevel.None
const logging = Layer.mergeAll(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger)), Logger.minimumLogLevel(logLevel))

Cli.run(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer, logging)),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: (exit, onExit) => onExit(Output.exitCode(exit)) })
)
