/**
 * How the CLI speaks. Results go to stdout, as text or (with `--json`) as JSON; every failure
 * is one sentence on stderr (and, with `--json`, `{"error": …}` on stdout); the exit code is
 * 0 on success, 1 on a failure and 2 on a usage error.
 *
 * @since 0.1.0
 */
import { Options, ValidationError } from "@effect/cli"
import { Cause, Data, Effect, Exit, Option, Predicate } from "effect"
import type * as Json from "./Json.js"

/** The `--json` flag every command takes. */
export const json: Options.Options<boolean> = Options.boolean("json").pipe(
  Options.withDescription("print JSON on stdout instead of text (see README.md for the shapes)")
)

// -- writing ---------------------------------------------------------------------------------

/** Writes text to stdout, waiting for the pipe to drain when it is full (large listings). */
export const write = (text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (process.stdout.write(text)) resume(Effect.void)
    else process.stdout.once("drain", () => resume(Effect.void))
  })

/** Writes one line to stdout. */
export const line = (text: string): Effect.Effect<void> => write(`${text}\n`)

/** Writes one JSON document, on one line, to stdout. */
export const printJson = (document: unknown): Effect.Effect<void> => line(JSON.stringify(document))

/** Writes a remark for the person at the terminal (not a result) to stderr. */
export const note = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${text}\n`))

/**
 * Writes one line to stdout at once, for callbacks that run outside an effect (the watcher's).
 * Those lines are few, so not waiting for the pipe to drain is fine.
 */
export const unsafeLine = (text: string): void => void process.stdout.write(`${text}\n`)

/**
 * Ends the process quietly when stdout is closed early (`conduit ls -r … | head`), instead of
 * crashing with an EPIPE stack trace.
 */
export const exitQuietlyOnClosedPipe = (): void => {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0)
    throw error
  })
}

// -- failures --------------------------------------------------------------------------------

/** A failure that was already reported to the user: only the exit code is left to set. */
export class Reported extends Data.TaggedError("Reported")<{}> {}

/** Whether a value is one of our tagged errors (`_tag`, `reason`, a `message` sentence). */
const isTaggedError = (u: unknown): u is { readonly _tag: string; readonly reason: string; readonly message: string; readonly path?: string } =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" &&
  Predicate.hasProperty(u, "reason") && typeof u.reason === "string" &&
  Predicate.hasProperty(u, "message") && typeof u.message === "string"

/** Encodes any failure; an unknown one is an internal error. */
export const describe = (error: unknown): Json.ErrorJson => {
  if (isTaggedError(error)) {
    return { _tag: error._tag, reason: error.reason, message: error.message, path: typeof error.path === "string" ? error.path : null }
  }
  const detail = error instanceof Error ? error.message : typeof error === "string" ? error : Cause.pretty(Cause.die(error))
  return { _tag: "InternalError", reason: "Defect", message: `internal error: ${detail}`, path: null }
}

/**
 * Reports one failure: its sentence on stderr and, with `--json`, `{"error": …}` on stdout.
 * Used directly for a failure the command goes on after (one location of several).
 */
export const reportError = (error: unknown, options: { readonly json: boolean }): Effect.Effect<void> =>
  Effect.suspend(() => {
    const described = describe(error)
    return Effect.zipRight(
      note(described.message),
      options.json ? printJson({ error: described }) : Effect.void
    )
  })

/**
 * Reports whatever a command fails or dies with and fails with `Reported`. Interruption
 * (Ctrl-C), usage errors (which @effect/cli already printed) and failures reported before
 * pass through unchanged.
 */
export const reportFailures = (options: { readonly json: boolean }) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Reported | ValidationError.ValidationError, R> =>
  Effect.catchAllCause(self, (cause): Effect.Effect<never, Reported | ValidationError.ValidationError> => {
    if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (error instanceof Reported || ValidationError.isValidationError(error)) return Effect.fail(error as Reported | ValidationError.ValidationError)
      return Effect.zipRight(reportError(error, options), Effect.fail(new Reported()))
    }
    const defect = Option.getOrElse(Cause.dieOption(cause), () => Cause.pretty(cause))
    return Effect.zipRight(reportError(defect, options), Effect.fail(new Reported()))
  })

/** The exit code of a finished run: 0 done or stopped by a signal, 2 usage error, 1 otherwise. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  return Option.exists(Cause.failureOption(exit.cause), ValidationError.isValidationError) ? 2 : 1
}
