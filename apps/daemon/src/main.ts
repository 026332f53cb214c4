#!/usr/bin/env node
/**
 * `conduitd`: runs the daemon on Node until SIGINT or SIGTERM (which shut it down cleanly) or
 * a stop request. A failure to start is one sentence on stderr and exit code 1; a usage error
 * (which @effect/cli reports) exit code 2.
 *
 * @since 0.1.0
 */
import { ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Option, Predicate } from "effect"
import * as DaemonCommand from "./DaemonCommand.js"

/** One sentence for a failure: a tagged error's message, else the whole cause. */
const sentence = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onSome: (e) => (Predicate.hasProperty(e, "message") && typeof e.message === "string" ? e.message : String(e)),
    onNone: () => Cause.pretty(cause)
  })

const isUsageError = (cause: Cause.Cause<unknown>) => Option.exists(Cause.failureOption(cause), ValidationError.isValidationError)

DaemonCommand.run(process.argv).pipe(
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) || isUsageError(cause)
      ? Effect.void
      : Effect.sync(() => void process.stderr.write(`conduitd: ${sentence(cause)}\n`))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) =>
      onExit(Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? 0 : isUsageError(exit.cause) ? 2 : 1)
  })
)
