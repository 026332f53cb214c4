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

/**
 * A conduit endpoint as typed: `DEVICE:/absolute/path` names a directory of a paired device
 * (its peer id, device id or name, then a path there); anything else is a directory here.
 */
export const endpoint = (arg: string): string | { readonly peer: string; readonly path: string } => {
  const m = /^([^/:][^:/]*):(\/.*)$/.exec(arg)
  return m === null ? absolute(arg) : { peer: m[1]!, path: m[2]! }
}
