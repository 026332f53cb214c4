/**
 * The local file operations a sync plan runs, each safe on its own:
 *
 * - a copy goes to a temporary file beside the destination (kernel copy: reflink where the file
 *   system has it, else copy_file_range), is re-read and its BLAKE3 compared with what the plan
 *   expects, gets its mode and mtime, is fsynced, and only then renamed over the destination
 *   (whose bytes were kept as a version first); the directory is fsynced after the rename;
 * - a removal, a replacement of a directory or symlink, and the target of a move keep what was
 *   there in the version store;
 * - on any failure the temporary file is removed and the destination is as it was.
 *
 * Temporary files are named `.conduit-tmp-*`, which the index never indexes.
 *
 * @since 0.1.0
 */
import type { RelPath } from "@conduit/domain"
import { Hasher } from "@conduit/index"
import { Effect, Either } from "effect"
import { execFileSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FileOpError, fromErrno } from "./FileOpError.js"
import { fsyncPath as fsyncDirectory } from "./internal/fsync.js"
import { makeDirectory } from "./internal/makeDirectory.js"
import * as VersionStore from "./VersionStore.js"

/** A file to write at `root/path` with the bytes of `from`. */
export interface CopyRequest {
  /** Where the bytes are read: the source, or any local file with the same content. */
  readonly from: string
  /** The destination location's root (the version store lives there). */
  readonly root: string
  readonly path: RelPath.RelPath
  /** The BLAKE3 the plan expects; the copy is refused unless the written bytes have it. */
  readonly hash: string
  readonly size: number
  readonly mtimeNs: bigint
  readonly mode: number | null
  /**
   * 8 hex digits naming the run that writes the temporary file (`.conduit-tmp-<token>-…`), so
   * the leftovers of a run that died can be told from the files of one still going.
   */
  readonly token?: string
}

/** What a copy did. */
export interface CopyResult {
  readonly bytes: number
  /** The previous file at the destination, now a version. */
  readonly kept: VersionStore.Version | null
}

// A process-wide prefix and counter keep temporary names unique without a random draw per file.
const processTag = Crypto.randomBytes(4).toString("hex")
let tempCounter = 0
const tempName = (name: string, token?: string) =>
  `.conduit-tmp-${token ?? processTag}-${processTag.slice(0, 4)}${(tempCounter++).toString(16).padStart(4, "0")}-${name.slice(0, 160)}`

/** The run token in a temporary file's name, if it is one of ours. */
export const tokenOf = (name: string): string | null => {
  const m = /^\.conduit-tmp-([0-9a-f]{8})-/.exec(name)
  return m === null ? null : m[1]!
}

/**
 * Seconds as a double, for `futimes`/`utimes`. The file system call truncates to microseconds
 * and the double is ~0.24 µs coarse, so half a microsecond is added: the time set is then the
 * nearest microsecond, and setting a time read back from an earlier set gives the same time
 * again (without it each round could lose another microsecond).
 */
export const seconds = (ns: bigint): number => Number(ns / 1_000_000_000n) + (Number(ns % 1_000_000_000n) + 500) / 1e9

const removeQuietly = (path: string) => {
  try {
    Fs.rmSync(path, { force: true })
  } catch {
    // best effort: the name is never indexed, and the next run's cleanup finds it
  }
}

/** A verified copy waiting under its temporary name (see `prepareCopy`). */
export interface PreparedCopy {
  readonly request: CopyRequest
  readonly temp: string
  readonly destination: string
}

/**
 * The first half of a copy: the bytes go to a temporary file beside the destination (kernel
 * copy), are re-read and checked against the planned BLAKE3, and get the mode and mtime.
 * `fsync` says whether the temporary file is also fsynced now (a single copy) or left to one
 * file-system sync for a whole batch (`commitCopies`). Nothing is visible yet.
 */
export const prepareCopy = (request: CopyRequest, fsync = true): Effect.Effect<PreparedCopy, FileOpError, Hasher.Hasher> =>
  Effect.gen(function* () {
    const hasher = yield* Hasher.Hasher
    const destination = Path.join(request.root, request.path)
    const dir = Path.dirname(destination)
    const source = yield* Effect.try({
      try: () => Fs.statSync(request.from),
      catch: (cause) =>
        (cause as NodeJS.ErrnoException).code === "ENOENT"
          ? new FileOpError({ reason: "SourceMissing", path: request.from })
          : fromErrno(request.from, cause)
    })
    if (source.size !== request.size) return yield* new FileOpError({ reason: "SourceChanged", path: request.from })
    const temp = Path.join(dir, tempName(Path.basename(destination), request.token))

    const written = Effect.gen(function* () {
      yield* Effect.try({
        try: () => {
          makeDirectory(dir)
          Fs.copyFileSync(request.from, temp, Fs.constants.COPYFILE_FICLONE)
        },
        catch: (cause) => fromErrno(destination, cause)
      })
      const [result] = yield* hasher.hashFiles([{ path: temp, size: request.size }]).pipe(
        Effect.mapError((cause) => new FileOpError({ reason: "Io", path: destination, cause }))
      )
      if (result === undefined || result.state !== "ok" || result.hash !== request.hash || result.size !== request.size) {
        // The bytes read are not the planned ones: the source changed after it was indexed.
        return yield* new FileOpError({ reason: "SourceChanged", path: request.from })
      }
      yield* Effect.try({
        try: () => {
          const fd = Fs.openSync(temp, "r+")
          try {
            if (request.mode !== null) Fs.fchmodSync(fd, request.mode)
            Fs.futimesSync(fd, Date.now() / 1000, seconds(request.mtimeNs))
            if (fsync) Fs.fsyncSync(fd)
          } finally {
            Fs.closeSync(fd)
          }
        },
        catch: (cause) => fromErrno(destination, cause)
      })
      return { request, temp, destination }
    })
    return yield* Effect.onError(written, () => Effect.sync(() => removeQuietly(temp)))
  })

/**
 * `prepareCopy` for many files at once: the kernel copies first, then one hashing pass over
 * all temporary files spread across the hasher's workers (no round trip per file), then modes
 * and times. Results in order; nothing is fsynced (see `commitCopies`).
 */
export const prepareCopies = (
  requests: ReadonlyArray<CopyRequest>
): Effect.Effect<ReadonlyArray<Either.Either<PreparedCopy, FileOpError>>, never, Hasher.Hasher> =>
  Effect.gen(function* () {
    const hasher = yield* Hasher.Hasher
    const made = new Set<string>()
    const staged: Array<Either.Either<PreparedCopy, FileOpError>> = requests.map((request) => {
      const destination = Path.join(request.root, request.path)
      const dir = Path.dirname(destination)
      let size: number
      try {
        size = Fs.statSync(request.from).size
      } catch (cause) {
        return Either.left((cause as NodeJS.ErrnoException).code === "ENOENT"
          ? new FileOpError({ reason: "SourceMissing", path: request.from })
          : fromErrno(request.from, cause))
      }
      if (size !== request.size) return Either.left(new FileOpError({ reason: "SourceChanged", path: request.from }))
      const temp = Path.join(dir, tempName(Path.basename(destination), request.token))
      try {
        if (!made.has(dir)) {
          makeDirectory(dir)
          made.add(dir)
        }
        Fs.copyFileSync(request.from, temp, Fs.constants.COPYFILE_FICLONE)
      } catch (cause) {
        removeQuietly(temp)
        return Either.left(fromErrno(destination, cause))
      }
      return Either.right({ request, temp, destination })
    })
    const copied = staged.flatMap((s) => (Either.isRight(s) ? [s.right] : []))
    const tickets: Array<Hasher.HashTicket> = []
    for (let i = 0; i < copied.length; i += 64) {
      tickets.push(yield* hasher.submit(copied.slice(i, i + 64).map((p) => ({ path: p.temp, size: p.request.size }))).pipe(
        Effect.orElseSucceed((): Hasher.HashTicket => ({ done: () => true, results: Effect.succeed([]) }))
      ))
    }
    const hashes: Array<Hasher.HashResult | undefined> = []
    for (const ticket of tickets) {
      const results = yield* Effect.orElseSucceed(ticket.results, (): ReadonlyArray<Hasher.HashResult> => [])
      for (const r of results) hashes.push(r)
    }
    let next = 0
    return staged.map((s) => {
      if (Either.isLeft(s)) return s
      const p = s.right
      const result = hashes[next++]
      if (result === undefined || result.state !== "ok" || result.hash !== p.request.hash || result.size !== p.request.size) {
        removeQuietly(p.temp)
        return Either.left(new FileOpError({ reason: "SourceChanged", path: p.request.from }))
      }
      try {
        const fd = Fs.openSync(p.temp, "r+")
        try {
          if (p.request.mode !== null) Fs.fchmodSync(fd, p.request.mode)
          Fs.futimesSync(fd, Date.now() / 1000, seconds(p.request.mtimeNs))
        } finally {
          Fs.closeSync(fd)
        }
      } catch (cause) {
        removeQuietly(p.temp)
        return Either.left(fromErrno(p.destination, cause))
      }
      return Either.right(p)
    })
  })

/**
 * The second half: keeps what is at the destination as a version and renames the temporary
 * file over it. The temporary file must be durable already (fsynced, or covered by a sync of
 * its file system).
 */
const commit = (prepared: PreparedCopy): Effect.Effect<CopyResult, FileOpError> =>
  Effect.gen(function* () {
    const { request, temp, destination } = prepared
    // Keep what is there: a file is hard-linked into the versions (the path never disappears),
    // a directory or symlink is moved there (a rename cannot replace a directory).
    const existing = lstatOrNull(destination)
    const kept = existing === null
      ? null
      : existing.isFile()
      ? yield* VersionStore.snapshot(request.root, request.path)
      : yield* VersionStore.keep(request.root, request.path)
    yield* Effect.try({
      try: () => Fs.renameSync(temp, destination),
      catch: (cause) => fromErrno(destination, cause)
    })
    return { bytes: request.size, kept }
  }).pipe(Effect.onError(() => Effect.sync(() => removeQuietly(prepared.temp))))

/** Flushes the whole file system holding `path` to disk (Linux `syncfs`, via coreutils). */
export const syncFileSystem = (path: string): Effect.Effect<void, FileOpError> =>
  Effect.try({
    try: () => void execFileSync("sync", ["--file-system", path], { stdio: "ignore" }),
    catch: (cause) => fromErrno(path, cause)
  })

/**
 * Makes a batch of prepared copies visible: one file-system sync makes every temporary file
 * durable, then each is renamed into place (what it replaces kept as a version), then one
 * more sync makes the renames durable. Two syncs for the batch instead of two fsyncs per file;
 * a crash at any point leaves each destination either as it was or complete. Returns each
 * copy's result in order.
 */
export const commitCopies = (
  root: string,
  prepared: ReadonlyArray<PreparedCopy>
): Effect.Effect<ReadonlyArray<Either.Either<CopyResult, FileOpError>>> =>
  Effect.gen(function* () {
    if (prepared.length === 0) return []
    const flushed = yield* Effect.either(syncFileSystem(root))
    if (Either.isLeft(flushed)) {
      for (const p of prepared) removeQuietly(p.temp)
      const failure = flushed.left
      return prepared.map(() => Either.left(failure))
    }
    const results = yield* Effect.forEach(prepared, (p) => Effect.either(commit(p)))
    yield* Effect.ignore(syncFileSystem(root))
    return results
  })

/** Copies a file to its destination, verified; see the module comment for the steps. */
export const copyVerified = (request: CopyRequest): Effect.Effect<CopyResult, FileOpError, Hasher.Hasher> =>
  Effect.gen(function* () {
    const prepared = yield* prepareCopy(request, true)
    const result = yield* commit(prepared)
    yield* Effect.try({
      try: () => fsyncDirectory(Path.dirname(prepared.destination)),
      catch: (cause) => fromErrno(prepared.destination, cause)
    })
    return result
  })

/** Creates (or keeps) a directory with the given mode and mtime; a file or symlink in the way is kept as a version. */
export const ensureDirectory = (root: string, path: RelPath.RelPath, mtimeNs: bigint | null, mode: number | null) =>
  Effect.gen(function* () {
    const absolute = Path.join(root, path)
    const existing = lstatOrNull(absolute)
    if (existing !== null && !existing.isDirectory()) yield* VersionStore.keep(root, path)
    yield* Effect.try({
      try: () => {
        makeDirectory(absolute)
        if (mode !== null) Fs.chmodSync(absolute, mode)
        if (mtimeNs !== null) Fs.utimesSync(absolute, Date.now() / 1000, seconds(mtimeNs))
      },
      catch: (cause) => fromErrno(absolute, cause)
    })
  })

/** Creates a symlink (its target text verbatim, never followed); what is there is kept as a version. */
export const writeSymlink = (root: string, path: RelPath.RelPath, linkTarget: string, mtimeNs: bigint | null) =>
  Effect.gen(function* () {
    const absolute = Path.join(root, path)
    const temp = Path.join(Path.dirname(absolute), tempName(Path.basename(absolute)))
    yield* Effect.try({
      try: () => {
        makeDirectory(Path.dirname(absolute))
        Fs.symlinkSync(linkTarget, temp)
        if (mtimeNs !== null) Fs.lutimesSync(temp, Date.now() / 1000, seconds(mtimeNs))
      },
      catch: (cause) => {
        removeQuietly(temp)
        return fromErrno(absolute, cause)
      }
    })
    const existing = lstatOrNull(absolute)
    if (existing !== null) yield* VersionStore.keep(root, path)
    yield* Effect.try({
      try: () => Fs.renameSync(temp, absolute),
      catch: (cause) => {
        removeQuietly(temp)
        return fromErrno(absolute, cause)
      }
    })
  })

/** Sets mode and mtime of an existing path (the content is already right). */
export const setAttributes = (root: string, path: RelPath.RelPath, mtimeNs: bigint, mode: number | null) =>
  Effect.try({
    try: () => {
      const absolute = Path.join(root, path)
      const stat = Fs.lstatSync(absolute)
      if (stat.isSymbolicLink()) {
        Fs.lutimesSync(absolute, Date.now() / 1000, seconds(mtimeNs))
        return
      }
      if (mode !== null) Fs.chmodSync(absolute, mode)
      Fs.utimesSync(absolute, Date.now() / 1000, seconds(mtimeNs))
    },
    catch: (cause) => fromErrno(Path.join(root, path), cause)
  })

/** Removes a path (a whole directory too) by moving it into the version store. */
export const remove = (root: string, path: RelPath.RelPath) => VersionStore.keep(root, path)

/** Renames `from` to `to` inside one location; what is at `to` is kept as a version. */
export const move = (root: string, from: RelPath.RelPath, to: RelPath.RelPath) =>
  Effect.gen(function* () {
    const source = Path.join(root, from)
    if (lstatOrNull(source) === null) return yield* new FileOpError({ reason: "SourceMissing", path: source })
    const destination = Path.join(root, to)
    if (lstatOrNull(destination) !== null) yield* VersionStore.keep(root, to)
    yield* Effect.try({
      try: () => {
        makeDirectory(Path.dirname(destination))
        Fs.renameSync(source, destination)
        fsyncDirectory(Path.dirname(destination))
      },
      catch: (cause) => fromErrno(destination, cause)
    })
  })

const lstatOrNull = (path: string): Fs.Stats | null => {
  try {
    return Fs.lstatSync(path)
  } catch {
    return null
  }
}
