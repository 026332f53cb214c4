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
import { Effect, Layer } from "effect"
import * as Cli from "./Cli.js"
import * as Output from "./Output.js"

Output.exitQuietlyOnClosedPipe()

Cli.run(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: (exit, onExit) => onExit(Output.exitCode(exit)) })
)
