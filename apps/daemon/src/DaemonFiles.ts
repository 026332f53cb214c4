/**
 * The files a running daemon keeps in the Conduit home, and how a client reads them:
 *
 * - `daemon.json` (0600): which process holds the home (`pid`), and once it is ready the
 *   control API's URL, the node's PeerId and addresses. It doubles as the lock that keeps a
 *   second daemon off the same home: a file whose `pid` is alive is a running daemon; one whose
 *   process is gone (a crash, SIGKILL) is stale and replaced.
 * - `daemon.token` (0600): the control API's bearer token, 32 random bytes as hex, new at every
 *   start.
 * - `daemon.log`: what `conduit daemon start` redirects the daemon's output to.
 *
 * The daemon removes the first two when it shuts down cleanly. This module uses only Node's
 * `fs` and `effect`, so the CLI shares it.
 *
 * @since 0.1.0
 */
import { Effect, Either, Option, Schema } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** The daemon's state file, in the home directory. */
export const INFO_FILE = "daemon.json"

/** The control API's bearer token, in the home directory. */
export const TOKEN_FILE = "daemon.token"

/** Where `conduit daemon start` sends the daemon's stdout and stderr, in the home directory. */
export const LOG_FILE = "daemon.log"

/**
 * The addresses the node listened on last time (ports included): a restart without `--listen`
 * takes the same ports again, so paired devices reach it at the addresses they were given.
 */
export const LISTEN_FILE = "listen.json"

/** Owner read and write only: the token lets anyone who reads it drive the daemon. */
export const FILE_MODE = 0o600

/** The largest state or token file read; both are well under 4 KiB. */
const MAX_FILE_BYTES = 64 * 1024

/** The contents of `daemon.json`. The last four fields appear when the daemon is ready. */
export const DaemonInfo = Schema.Struct({
  pid: Schema.Int.pipe(Schema.positive()),
  /** ISO 8601. */
  startedAt: Schema.String,
  /** The control API, `http://127.0.0.1:PORT`. */
  api: Schema.optional(Schema.String),
  peerId: Schema.optional(Schema.String),
  addresses: Schema.optional(Schema.Array(Schema.String)),
  /** The Conduit home the daemon works on. */
  home: Schema.optional(Schema.String)
})

/** The contents of `daemon.json`. */
export type DaemonInfo = typeof DaemonInfo.Type

/** The paths of the daemon's files in a home directory. */
export const paths = (home: string) => ({
  info: Path.join(home, INFO_FILE),
  token: Path.join(home, TOKEN_FILE),
  log: Path.join(home, LOG_FILE),
  listen: Path.join(home, LISTEN_FILE)
})

const decodeListen = Schema.decodeUnknownEither(Schema.parseJson(Schema.Array(Schema.String.pipe(Schema.maxLength(512))).pipe(Schema.maxItems(16))))

/** The listen addresses remembered in `home`, or null (none yet, or not readable: the defaults then). */
export const readListenSync = (home: string): ReadonlyArray<string> | null => {
  const text = readSmall(paths(home).listen)
  if (text === null) return null
  const decoded = decodeListen(text)
  return Either.isRight(decoded) && decoded.right.length > 0 ? decoded.right : null
}

/** Remembers the addresses the node listens on (without their `/p2p/<peer id>` part). */
export const writeListen = (home: string, addresses: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.ignore(Effect.try(() => {
    const bare = addresses.map((a) => a.replace(/\/p2p\/[^/]+$/, ""))
    const temp = `${paths(home).listen}.${process.pid}.tmp`
    Fs.writeFileSync(temp, JSON.stringify(bare), { mode: FILE_MODE })
    Fs.renameSync(temp, paths(home).listen)
  }))

/** What `daemon.json` says: nothing there, something that is not a state file (yet), or the state. */
export type InfoRead =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unreadable"; readonly detail: string }
  | { readonly _tag: "Found"; readonly info: DaemonInfo }

const decodeInfo = Schema.decodeUnknownEither(Schema.parseJson(DaemonInfo))

/** Reads a small file, or null when it does not exist. */
const readSmall = (file: string): string | null => {
  let fd: number
  try {
    fd = Fs.openSync(file, "r")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
  try {
    const buffer = Buffer.alloc(MAX_FILE_BYTES)
    const n = Fs.readSync(fd, buffer, 0, MAX_FILE_BYTES, 0)
    return buffer.subarray(0, n).toString("utf8")
  } finally {
    Fs.closeSync(fd)
  }
}

/** Reads `daemon.json` of a home (synchronously; for the daemon's own start-up and the CLI). */
export const readInfoSync = (home: string): InfoRead => {
  let text: string | null
  try {
    text = readSmall(paths(home).info)
  } catch (e) {
    return { _tag: "Unreadable", detail: (e as Error).message }
  }
  if (text === null) return { _tag: "Missing" }
  return Either.match(decodeInfo(text), {
    onLeft: () => ({ _tag: "Unreadable", detail: "not a daemon state file" }),
    onRight: (info) => ({ _tag: "Found", info })
  })
}

/** Reads `daemon.json` of a home. */
export const readInfo = (home: string): Effect.Effect<InfoRead> => Effect.sync(() => readInfoSync(home))

/**
 * Whether a process is alive. One of another user counts (it cannot be signalled, but it is
 * there); a zombie does not (on Linux: a killed daemon whose parent has not reaped it yet).
 */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
  if (process.platform !== "linux") return true
  try {
    // The state is the first field after the parenthesised command name.
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    // Gone between the two checks, or no /proc: kill(0) said it was there.
    return Fs.existsSync(`/proc/${pid}`) || !Fs.existsSync("/proc/self")
  }
}

/** Reads the token of a home, or `None` when there is none. */
export const readToken = (home: string): Effect.Effect<Option.Option<string>, Error> =>
  Effect.try({
    try: () => Option.fromNullable(readSmall(paths(home).token)).pipe(Option.map((t) => t.trim()), Option.filter((t) => t !== "")),
    catch: (e) => e as Error
  })

/** A new control API token: 32 random bytes as 64 hex digits. */
export const newToken = (): string => Crypto.randomBytes(32).toString("hex")

/** Whether `given` is `expected`, compared in constant time (a token must not leak by timing). */
export const sameToken = (given: string, expected: string): boolean => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && Crypto.timingSafeEqual(a, b)
}

/**
 * Writes a file readable by its owner only, atomically: a temporary file created 0600 beside
 * it, then renamed over it (a reader sees the old or the new contents, never a part).
 */
export const writePrivateSync = (file: string, contents: string): void => {
  const temp = `${file}.${process.pid}.${Crypto.randomBytes(4).toString("hex")}.tmp`
  const fd = Fs.openSync(temp, "wx", FILE_MODE)
  try {
    Fs.writeFileSync(fd, contents)
    Fs.fsyncSync(fd)
  } finally {
    Fs.closeSync(fd)
  }
  try {
    Fs.renameSync(temp, file)
  } catch (e) {
    Fs.rmSync(temp, { force: true })
    throw e
  }
}

/** Encodes the state file. */
export const encodeInfo = (info: DaemonInfo): string => `${JSON.stringify(info, null, 2)}\n`
