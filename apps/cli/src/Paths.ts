/**
 * Paths given on the command line: made absolute against the working directory, and checked
 * before a command makes a location of them, so that a typo reads "does not exist" rather than
 * a library error about a location root.
 *
 * @since 0.1.0
 */
import { Errors } from "@conduit/domain"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** An argument as an absolute path (relative ones are relative to the working directory). */
export const absolute = (arg: string): string => Path.resolve(arg)

/** Fails unless `absolute` is an existing directory, with the error that says why. */
export const checkDirectory = (absolute: string): Effect.Effect<void, Errors.PathError | Errors.LocationError> =>
  Effect.suspend((): Effect.Effect<void, Errors.PathError | Errors.LocationError> => {
    let stat: Fs.Stats
    try {
      stat = Fs.statSync(absolute)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      return code === "ENOENT" || code === "ENOTDIR"
        ? Effect.fail(new Errors.PathError({ reason: "NotFound", path: absolute }))
        : Effect.fail(new Errors.LocationError({ reason: "PermissionDenied", path: absolute }))
    }
    return stat.isDirectory() ? Effect.void : Effect.fail(new Errors.PathError({ reason: "NotADirectory", path: absolute }))
  })
