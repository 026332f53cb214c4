/**
 * Previous versions: everything a sync overwrites or deletes is kept here first, on the same
 * file system as the file (so keeping it is a rename or a hard link, never a copy), in
 * `<location root>/.conduit/versions/<path>~<UTC time>` — the index never indexes `.conduit/`.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fromErrno, type FileOpError } from "./FileOpError.js"
import { fsyncPath } from "./internal/fsync.js"
import { makeDirectory } from "./internal/makeDirectory.js"

/** The directory of a location's versions. */
export const directory = (locationRoot: string): string => Path.join(locationRoot, ".conduit", "versions")

/** A kept version. */
export interface Version {
  /** The path it had, relative to the location root. */
  readonly path: string
  /** Where its bytes are now (absolute). */
  readonly file: string
  /** When it was kept. */
  readonly keptAt: Date
}

const stamp = (date: Date) => date.toISOString().replace(/[-:]/g, "").replace("T", "-").replace(".", "-").replace("Z", "")

const parseStamp = (text: string): Date | null => {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-(\d{3})(?:-\d+)?$/.exec(text)
  return m === null ? null : new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!))
}

/** A fresh version name for `rel` (a counter keeps two versions of one millisecond apart). */
const target = (locationRoot: string, rel: string, now: Date): string => {
  const base = Path.join(directory(locationRoot), `${rel}~${stamp(now)}`)
  let candidate = base
  for (let n = 1; Fs.existsSync(candidate); n++) candidate = `${base}-${n}`
  return candidate
}

/**
 * Moves the file, symlink or whole directory at `rel` into the versions (a rename). Nothing to
 * keep is not an error: returns null.
 */
export const keep = (locationRoot: string, rel: RelPath.RelPath | string, now = new Date()): Effect.Effect<Version | null, FileOpError> =>
  Effect.try({
    try: () => {
      const from = Path.join(locationRoot, rel)
      if (!Fs.existsSync(from) && !isLink(from)) return null
      const to = target(locationRoot, rel, now)
      makeDirectory(Path.dirname(to))
      Fs.renameSync(from, to)
      return { path: rel, file: to, keptAt: now }
    },
    catch: (cause) => fromErrno(Path.join(locationRoot, rel), cause)
  })

/**
 * Keeps a copy of the file at `rel` while leaving it in place: a hard link (no bytes copied),
 * or a copy where the file system cannot link. Used just before an atomic replacement, so the
 * path never stops existing.
 */
export const snapshot = (locationRoot: string, rel: RelPath.RelPath | string, now = new Date()): Effect.Effect<Version | null, FileOpError> =>
  Effect.try({
    try: () => {
      const from = Path.join(locationRoot, rel)
      if (!Fs.existsSync(from)) return null
      const to = target(locationRoot, rel, now)
      makeDirectory(Path.dirname(to))
      try {
        Fs.linkSync(from, to)
      } catch {
        Fs.copyFileSync(from, to, Fs.constants.COPYFILE_FICLONE)
      }
      return { path: rel, file: to, keptAt: now }
    },
    catch: (cause) => fromErrno(Path.join(locationRoot, rel), cause)
  })

/** The kept versions of `rel` (a file path relative to the location root), newest first. */
export const list = (locationRoot: string, rel: string): Effect.Effect<ReadonlyArray<Version>, FileOpError> =>
  Effect.try({
    try: () => {
      const dir = Path.join(directory(locationRoot), Path.dirname(rel))
      const name = Path.basename(rel)
      let names: Array<string>
      try {
        names = Fs.readdirSync(dir)
      } catch {
        return []
      }
      const versions: Array<Version> = []
      for (const candidate of names) {
        if (!candidate.startsWith(`${name}~`)) continue
        const keptAt = parseStamp(candidate.slice(name.length + 1))
        if (keptAt !== null) versions.push({ path: rel, file: Path.join(dir, candidate), keptAt })
      }
      return versions.sort((a, b) => b.keptAt.getTime() - a.keptAt.getTime() || (a.file < b.file ? 1 : -1))
    },
    catch: (cause) => fromErrno(rel, cause)
  })

const isLink = (path: string) => {
  try {
    return Fs.lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/**
 * Puts a kept version back at `rel`: what is there now is kept as a version first, then the
 * version's bytes are copied (not moved: the version stays) to a temporary name beside `rel`,
 * given the version's modification time, made durable (fsync; a directory's files each), and
 * renamed into place; the parent directory is fsynced after. A failure leaves no temporary
 * file behind and `rel` as it was kept.
 */
export const restore = (locationRoot: string, rel: string, version: Version): Effect.Effect<void, FileOpError> =>
  Effect.gen(function* () {
    const destination = Path.join(locationRoot, rel)
    const existing = Fs.existsSync(destination) || isLink(destination)
    if (existing) {
      const stat = Fs.lstatSync(destination)
      yield* stat.isFile() ? snapshot(locationRoot, rel) : keep(locationRoot, rel)
    }
    const parent = Path.dirname(destination)
    // A fresh run token per restore (the `.conduit-tmp-<token>-` form that runs use), so two
    // restores never share a temporary name and a crashed one's leftover is recognised.
    const temp = Path.join(parent, `.conduit-tmp-${Crypto.randomBytes(4).toString("hex")}-restore-${Path.basename(destination).slice(0, 160)}`)
    yield* Effect.try({
      try: () => {
        makeDirectory(parent)
        const stat = Fs.lstatSync(version.file)
        if (stat.isDirectory()) {
          Fs.cpSync(version.file, temp, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true })
          fsyncTree(temp)
        } else if (stat.isSymbolicLink()) {
          Fs.symlinkSync(Fs.readlinkSync(version.file), temp)
        } else {
          Fs.copyFileSync(version.file, temp, Fs.constants.COPYFILE_FICLONE)
          const fd = Fs.openSync(temp, "r+")
          try {
            Fs.futimesSync(fd, stat.atime, stat.mtime)
            Fs.fsyncSync(fd)
          } finally {
            Fs.closeSync(fd)
          }
        }
        Fs.renameSync(temp, destination)
        fsyncPath(parent)
      },
      catch: (cause) => {
        Fs.rmSync(temp, { recursive: true, force: true })
        return fromErrno(destination, cause)
      }
    })
  })

/** fsyncs every file and directory of a tree (a restored directory, before it is renamed in). */
const fsyncTree = (root: string) => {
  for (const entry of Fs.readdirSync(root, { withFileTypes: true })) {
    const path = Path.join(root, entry.name)
    if (entry.isDirectory()) fsyncTree(path)
    else if (entry.isFile()) fsyncPath(path)
  }
  fsyncPath(root)
}

/** Removes versions kept longer ago than `maxAgeMs`; returns how many were removed. */
export const prune = (locationRoot: string, maxAgeMs: number, now = Date.now()): Effect.Effect<number, FileOpError> =>
  Effect.try({
    try: () => {
      const root = directory(locationRoot)
      if (!Fs.existsSync(root)) return 0
      let removed = 0
      const visit = (dir: string) => {
        for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
          const path = Path.join(dir, entry.name)
          const tilde = entry.name.lastIndexOf("~")
          const keptAt = tilde < 0 ? null : parseStamp(entry.name.slice(tilde + 1))
          if (keptAt !== null) {
            if (now - keptAt.getTime() > maxAgeMs) {
              Fs.rmSync(path, { recursive: true, force: true })
              removed++
            }
          } else if (entry.isDirectory()) {
            visit(path)
          }
        }
      }
      visit(root)
      return removed
    },
    catch: (cause) => fromErrno(directory(locationRoot), cause)
  })
