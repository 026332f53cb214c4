/**
 * This device's identity on the wire: a libp2p Ed25519 private key kept in
 * `$home/identity.key`, next to the library database. Its PeerId is what paired devices know
 * this device by, so the key is created once and then only ever read.
 *
 * The file is created with mode 0600. A key file that others can read, that belongs to
 * another user, or that does not decode to an Ed25519 key is refused with an
 * `IdentityError`; it is never replaced, since a new key would silently unpair the device
 * from every peer.
 *
 * @since 0.1.0
 */
import { LibraryDatabase } from "@conduit/index"
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Context, Effect, Layer, Option, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { IDENTITY_FILE, IDENTITY_FILE_MODE, MAX_IDENTITY_FILE_BYTES } from "./constants.js"

/** The identity file could not be used; nothing was written over it. */
export class IdentityError extends Schema.TaggedError<IdentityError>()("IdentityError", {
  reason: Schema.Literal(
    /** The file does not hold an Ed25519 libp2p private key (empty, truncated, another format). */
    "Corrupt",
    /** The file can be read by others than its owner, or belongs to another user. */
    "Permissions",
    /** The file or the home directory could not be read or written. */
    "Storage"
  ),
  path: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    switch (this.reason) {
      case "Corrupt":
        return `the device key ${this.path} is corrupt or not a libp2p Ed25519 key; it was left untouched (restore it from a backup, or move it away to create a new identity and pair again)`
      case "Permissions":
        return `the device key ${this.path} is readable by other users or not owned by this user; run 'chmod 600 ${this.path}' (as its owner)`
      case "Storage":
        return `the device key ${this.path} could not be read or written${this.cause instanceof Error ? `: ${this.cause.message}` : ""}`
    }
  }
}

/** This device's identity. */
export class DeviceIdentity extends Context.Tag("@conduit/transport/DeviceIdentity")<DeviceIdentity, {
  /** The key file. */
  readonly file: string
  /** This device's PeerId, as text (`12D3KooW…`); what peers pair with. */
  readonly peerId: string
  /** The private key the libp2p node signs its handshakes with. */
  readonly privateKey: PrivateKey
}>() {}

class Refused extends Error {
  constructor(readonly reason: "Corrupt" | "Permissions") {
    super(reason)
  }
}

const isPosix = process.platform !== "win32"

/** Reads and checks an existing key file; `None` when there is none. */
const readKey = (file: string): Effect.Effect<Option.Option<PrivateKey>, IdentityError> =>
  Effect.try({
    try: () => {
      let fd: number
      try {
        fd = Fs.openSync(file, "r")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return Option.none<PrivateKey>()
        throw e
      }
      try {
        const stat = Fs.fstatSync(fd)
        if (!stat.isFile()) throw new Refused("Corrupt")
        if (isPosix) {
          if ((stat.mode & 0o077) !== 0) throw new Refused("Permissions")
          const uid = process.getuid?.()
          if (uid !== undefined && stat.uid !== uid) throw new Refused("Permissions")
        }
        if (stat.size === 0 || stat.size > MAX_IDENTITY_FILE_BYTES) throw new Refused("Corrupt")
        const bytes = Buffer.alloc(stat.size)
        const read = Fs.readSync(fd, bytes, 0, stat.size, 0)
        let key: PrivateKey
        try {
          key = privateKeyFromProtobuf(bytes.subarray(0, read))
        } catch {
          throw new Refused("Corrupt")
        }
        if (key.type !== "Ed25519") throw new Refused("Corrupt")
        return Option.some(key)
      } finally {
        Fs.closeSync(fd)
      }
    },
    catch: (cause) =>
      cause instanceof Refused
        ? new IdentityError({ reason: cause.reason, path: file })
        : new IdentityError({ reason: "Storage", path: file, cause })
  })

/**
 * Writes a new key so that the file appears complete or not at all: a private temporary
 * file (0600, fsynced) hard-linked to the final name. The link fails if another process
 * created the identity meanwhile; that one wins and is read back.
 */
const writeKey = (file: string, key: PrivateKey): Effect.Effect<void, IdentityError> =>
  Effect.try({
    try: () => {
      const temp = `${file}.tmp-${process.pid}-${crypto.randomUUID()}`
      const fd = Fs.openSync(temp, "wx", IDENTITY_FILE_MODE)
      try {
        try {
          // The umask may only have narrowed the mode; make it exactly 0600.
          if (isPosix) Fs.fchmodSync(fd, IDENTITY_FILE_MODE)
          Fs.writeSync(fd, privateKeyToProtobuf(key))
          Fs.fsyncSync(fd)
        } finally {
          Fs.closeSync(fd)
        }
        try {
          Fs.linkSync(temp, file)
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        }
      } finally {
        Fs.rmSync(temp, { force: true })
      }
      if (isPosix) {
        const dir = Fs.openSync(Path.dirname(file), "r")
        try {
          Fs.fsyncSync(dir)
        } finally {
          Fs.closeSync(dir)
        }
      }
    },
    catch: (cause) => new IdentityError({ reason: "Storage", path: file, cause })
  })

/**
 * Loads the identity kept in `home` (`home/identity.key`), creating the directory (0700) and a
 * new Ed25519 key on first use.
 */
export const load = (home: string): Effect.Effect<DeviceIdentity["Type"], IdentityError> =>
  Effect.gen(function* () {
    const file = Path.join(home, IDENTITY_FILE)
    yield* Effect.try({
      try: () => Fs.mkdirSync(home, { recursive: true, mode: 0o700 }),
      catch: (cause) => new IdentityError({ reason: "Storage", path: home, cause })
    })
    let key = yield* readKey(file)
    if (Option.isNone(key)) {
      const fresh = yield* Effect.tryPromise({
        try: () => generateKeyPair("Ed25519"),
        catch: (cause) => new IdentityError({ reason: "Storage", path: file, cause })
      })
      yield* writeKey(file, fresh)
      // Read back what is on disk: ours, or the one a concurrent first start wrote.
      key = yield* readKey(file)
      if (Option.isNone(key)) return yield* new IdentityError({ reason: "Storage", path: file })
    }
    const privateKey = key.value
    return DeviceIdentity.of({ file, peerId: peerIdFromPrivateKey(privateKey).toString(), privateKey })
  }).pipe(Effect.withSpan("DeviceIdentity.load"))

/** The identity of the device whose library database is open: the key beside `library.db`. */
export const make: Effect.Effect<DeviceIdentity["Type"], IdentityError, LibraryDatabase.LibraryDatabase> = Effect.flatMap(
  LibraryDatabase.LibraryDatabase,
  (db) => load(db.home)
)

/** Provides `DeviceIdentity` from the key beside the open library database. */
export const layer: Layer.Layer<DeviceIdentity, IdentityError, LibraryDatabase.LibraryDatabase> = Layer.effect(
  DeviceIdentity,
  make
)

/** Provides `DeviceIdentity` from the key in `home`, without a library database. */
export const layerAt = (home: string): Layer.Layer<DeviceIdentity, IdentityError> => Layer.effect(DeviceIdentity, load(home))
