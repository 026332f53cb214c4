/**
 * Where a received file may be written. The receiver's policy names a root and a destination
 * inside it; this checks that the destination really is inside: both absolute and normal, the
 * destination below the root, and every directory on the way a real directory of the root
 * (a symlink on the way must resolve inside the root too). Missing directories are created
 * one at a time, each checked before the next. Nothing is ever written anywhere but in the
 * destination's directory so checked.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { TransferError } from "../TransferError.js"

/** A destination that passed the checks. */
export interface CheckedDestination {
  /** The destination as the policy gave it. */
  readonly destination: string
  /** The destination's directory, resolved (no symlink left); temporary files go here. */
  readonly directory: string
  /** The destination's file name. */
  readonly name: string
}

const isNormalAbsolute = (p: string): boolean =>
  p.length > 0 && !p.includes("\0") && Path.isAbsolute(p) && Path.normalize(p) === p && (p === "/" || !p.endsWith("/"))

const within = (path: string, root: string): boolean =>
  path === root || path.startsWith(root.endsWith(Path.sep) ? root : root + Path.sep)

const refused = (path: string, detail: string) => new TransferError({ reason: "PathRefused", path, detail })

const lstatOrNull = (path: string): Fs.Stats | null => {
  try {
    return Fs.lstatSync(path)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return null
    throw cause
  }
}

/**
 * Checks `destination` against `root` and creates its missing directories inside the root.
 * `path` (the offered relative path) names the file in errors.
 */
export const check = (root: string, destination: string, path: string): Effect.Effect<CheckedDestination, TransferError> =>
  Effect.suspend(() => {
    if (!isNormalAbsolute(root)) return Effect.fail(refused(path, "the location root is not a normal absolute path"))
    if (!isNormalAbsolute(destination)) return Effect.fail(refused(path, "the destination is not a normal absolute path"))
    const relative = Path.relative(root, destination)
    if (relative === "" || relative.startsWith("..") || Path.isAbsolute(relative)) {
      return Effect.fail(refused(path, "the destination is not inside the location root"))
    }
    return Effect.try({
      try: (): CheckedDestination | TransferError => {
        let realRoot: string
        try {
          realRoot = Fs.realpathSync(root)
        } catch {
          return refused(path, "the location root does not exist")
        }
        const segments = Path.dirname(relative) === "." ? [] : Path.dirname(relative).split(Path.sep)
        let current = realRoot
        for (const segment of segments) {
          const next = Path.join(current, segment)
          let stat = lstatOrNull(next)
          if (stat === null) {
            try {
              Fs.mkdirSync(next)
            } catch (cause) {
              if ((cause as NodeJS.ErrnoException).code !== "EEXIST") throw cause
            }
            stat = Fs.lstatSync(next)
          }
          if (stat.isSymbolicLink()) {
            const real = Fs.realpathSync(next)
            if (!within(real, realRoot)) return refused(path, `'${segment}' is a symlink that leads out of the location`)
            if (!Fs.statSync(real).isDirectory()) return refused(path, `'${segment}' is not a directory`)
            current = real
          } else if (stat.isDirectory()) {
            current = next
          } else {
            return refused(path, `'${segment}' is not a directory`)
          }
        }
        // The same check once more on the whole directory: what is there now must be inside.
        const directory = Fs.realpathSync(Path.dirname(destination))
        if (!within(directory, realRoot)) return refused(path, "the destination's directory leads out of the location")
        return { destination, directory, name: Path.basename(destination) }
      },
      catch: (cause) =>
        new TransferError({
          reason: (cause as NodeJS.ErrnoException).code === "ENOSPC" ? "DiskFull" : "Io",
          path,
          detail: cause instanceof Error ? cause.message : "the destination's directory could not be made",
          cause
        })
    }).pipe(Effect.flatMap((result) => (result instanceof TransferError ? Effect.fail(result) : Effect.succeed(result))))
  })
