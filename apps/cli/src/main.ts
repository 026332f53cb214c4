#!/usr/bin/env node
/**
 * The `conduit` executable: runs the command line on Node and exits with its code.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer } from "effect"
import * as V8 from "node:v8"
import * as Cli from "./Cli.js"
import * as Output from "./Output.js"

// A scan allocates a lot of short-lived garbage; without this V8 grows the heap rather than
// collect, and 100,000 files took ~240 MB instead of ~160 MB (tooling/bench).
V8.setFlagsFromString("--optimize-for-size")

Output.exitQuietlyOnClosedPipe()

Cli.run(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown: (exit, onExit) => onExit(Output.exitCode(exit)) })
)
