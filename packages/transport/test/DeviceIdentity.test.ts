import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert } from "vitest"
import { DeviceIdentity } from "../src/index.js"
import { device, tempDir } from "./support.js"

const mode = (file: string) => Fs.statSync(file).mode & 0o777

describe("DeviceIdentity", () => {
  it.scopedLive("creates an Ed25519 key file (0600) beside the library database on first start", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const identity = yield* DeviceIdentity.load(home)
      assert.strictEqual(identity.file, Path.join(home, "identity.key"))
      assert.strictEqual(mode(identity.file), 0o600)
      assert.strictEqual(identity.privateKey.type, "Ed25519")
      assert.match(identity.peerId, /^12D3KooW/)
      assert.deepStrictEqual(Fs.readdirSync(home), ["identity.key"])
    }))

  it.scopedLive("survives a restart: the node comes back with the same PeerId", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const first = yield* Effect.scoped(Effect.map(device({}, home), (d) => [d.node.peerId, d.identity.file] as const))
      const second = yield* Effect.scoped(Effect.map(device({}, home), (d) => d.node.peerId))
      assert.strictEqual(second, first[0])
      assert.isTrue(Fs.existsSync(Path.join(home, "library.db")))
      assert.strictEqual(first[1], Path.join(home, "identity.key"))
      assert.strictEqual((yield* DeviceIdentity.load(home)).peerId, first[0])
    }))

  it.scopedLive("refuses a key file others can read (0644) and leaves it as it was", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const { file } = yield* DeviceIdentity.load(home)
      const before = Fs.readFileSync(file)
      Fs.chmodSync(file, 0o644)
      const error = yield* Effect.flip(DeviceIdentity.load(home))
      assert.strictEqual(error._tag, "IdentityError")
      assert.strictEqual(error.reason, "Permissions")
      assert.include(error.message, "chmod 600")
      assert.isTrue(Fs.readFileSync(file).equals(before))
      assert.strictEqual(mode(file), 0o644)
      // The node does not start with it either.
      assert.strictEqual((yield* Effect.flip(Effect.scoped(device({}, home)))).reason, "Permissions")
      Fs.chmodSync(file, 0o600)
      assert.isOk(yield* DeviceIdentity.load(home))
    }))

  it.scopedLive("refuses a corrupt or empty key file instead of replacing it", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const file = Path.join(home, "identity.key")
      Fs.writeFileSync(file, "not a key at all", { mode: 0o600 })
      assert.strictEqual((yield* Effect.flip(DeviceIdentity.load(home))).reason, "Corrupt")
      Fs.writeFileSync(file, "")
      assert.strictEqual((yield* Effect.flip(DeviceIdentity.load(home))).reason, "Corrupt")
      assert.strictEqual(Fs.readFileSync(file).byteLength, 0)
      Fs.rmSync(file)
      Fs.mkdirSync(file)
      assert.strictEqual((yield* Effect.flip(DeviceIdentity.load(home))).reason, "Corrupt")
    }))

  it.scopedLive("two concurrent first starts end up with one identity", () =>
    Effect.gen(function* () {
      const home = yield* tempDir
      const ids = yield* Effect.all(Array.from({ length: 4 }, () => DeviceIdentity.load(home)), { concurrency: "unbounded" })
      assert.strictEqual(new Set(ids.map((i) => i.peerId)).size, 1)
      assert.deepStrictEqual(Fs.readdirSync(home), ["identity.key"])
    }))
})
