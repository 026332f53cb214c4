/**
 * The daemon's files in a home: reading the state file in each of its states, the token, the
 * private (0600) atomic writes, and telling live processes from gone ones; how service failures
 * are answered; and the control API's contract as documented and as its client entry is built.
 */
import { describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import { isBuiltin } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { OpenApi } from "@effect/platform"
import { Effect, Option } from "effect"
import { afterEach, assert, beforeEach } from "vitest"
import { ControlApi, DaemonFiles } from "../src/api.js"
import { checkSettings, toFailure } from "../src/ControlServer.js"

let home: string
beforeEach(() => {
  home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduitd-files-"))
})
afterEach(() => Fs.rmSync(home, { recursive: true, force: true }))

describe("DaemonFiles", () => {
  it.effect("reads a missing, an unreadable and a complete state file", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* DaemonFiles.readInfo(home), { _tag: "Missing" })
      Fs.writeFileSync(DaemonFiles.paths(home).info, "")
      assert.strictEqual((yield* DaemonFiles.readInfo(home))._tag, "Unreadable")
      Fs.writeFileSync(DaemonFiles.paths(home).info, JSON.stringify({ pid: -4, startedAt: "x" }))
      assert.strictEqual((yield* DaemonFiles.readInfo(home))._tag, "Unreadable", "a pid must be positive")
      const info = { pid: 123, startedAt: "2025-01-01T00:00:00.000Z", api: "http://127.0.0.1:1", peerId: "p", addresses: ["/a"], home }
      DaemonFiles.writePrivateSync(DaemonFiles.paths(home).info, DaemonFiles.encodeInfo(info))
      assert.deepStrictEqual(yield* DaemonFiles.readInfo(home), { _tag: "Found", info })
      assert.strictEqual(Fs.statSync(DaemonFiles.paths(home).info).mode & 0o777, 0o600)
      assert.deepStrictEqual(Fs.readdirSync(home), ["daemon.json"], "no temporary file is left")
    }))

  it.effect("reads the token, trimmed; none when the file is missing or empty", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* DaemonFiles.readToken(home)))
      Fs.writeFileSync(DaemonFiles.paths(home).token, "\n")
      assert.isTrue(Option.isNone(yield* DaemonFiles.readToken(home)))
      const token = DaemonFiles.newToken()
      assert.match(token, /^[0-9a-f]{64}$/)
      assert.notStrictEqual(token, DaemonFiles.newToken())
      DaemonFiles.writePrivateSync(DaemonFiles.paths(home).token, `${token}\n`)
      assert.deepStrictEqual(yield* DaemonFiles.readToken(home), Option.some(token))
    }))

  it("tells a live process from one that is gone", async () => {
    assert.isTrue(DaemonFiles.isAlive(process.pid))
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    await new Promise((resolve) => child.on("exit", resolve))
    assert.isFalse(DaemonFiles.isAlive(child.pid!))
  })
})

describe("ControlServer.toFailure", () => {
  const failure = (_tag: string, reason: string) => toFailure({ _tag, reason, message: `${_tag} ${reason}` })

  it("answers each kind of failure with its status's error, keeping the original's tag, reason and sentence", () => {
    const invalid = failure("PairingError", "InvalidPeerId")
    assert.deepStrictEqual(
      { _tag: invalid._tag, error: invalid.error, reason: invalid.reason, message: invalid.message },
      { _tag: "InvalidRequest", error: "PairingError", reason: "InvalidPeerId", message: "PairingError InvalidPeerId" }
    )
    assert.strictEqual(failure("PairingError", "NotFound")._tag, "PeerNotFound")
    assert.strictEqual(failure("TransportError", "NotPaired")._tag, "PeerNotFound")
    assert.strictEqual(failure("TransportError", "InvalidAddress")._tag, "InvalidRequest")
    assert.strictEqual(failure("TransportError", "Dial")._tag, "PeerFailure")
    assert.strictEqual(failure("ReplicationError", "Protocol")._tag, "PeerFailure")
    assert.strictEqual(failure("LibraryError", "Busy")._tag, "DaemonFailure")
  })
})

describe("ControlServer.checkSettings", () => {
  const reason = (patch: ControlApi.ConduitSettingsPatch) => Option.getOrUndefined(Option.map(checkSettings(patch), (p) => p.reason))

  it("accepts every setting in range, at both ends", () => {
    for (const patch of [
      {},
      { enabled: false, conflictStrategy: "last-write-wins" as const },
      { schedule: "manual" },
      { schedule: "instant" },
      { schedule: "interval:30s" },
      { schedule: "interval:1d" },
      { bandwidthLimitMbps: null },
      { bandwidthLimitMbps: 0.5 },
      { bandwidthLimitMbps: ControlApi.MAX_BANDWIDTH_MBPS },
      { parallelTransfers: 1 },
      { parallelTransfers: ControlApi.MAX_PARALLEL },
      { maxDeleteRatio: 1 },
      { maxDeleteRatio: 0.01 },
      { versionRetentionDays: 0 },
      { versionRetentionDays: ControlApi.MAX_RETENTION_DAYS }
    ]) assert.isUndefined(reason(patch), JSON.stringify(patch))
  })

  it("names the first setting out of range, with a sentence", () => {
    assert.strictEqual(reason({ schedule: "every tuesday" }), "InvalidSchedule")
    assert.strictEqual(reason({ schedule: "interval:0m" }), "InvalidSchedule")
    assert.strictEqual(reason({ schedule: "interval:5w" }), "InvalidSchedule")
    assert.strictEqual(reason({ bandwidthLimitMbps: 0 }), "InvalidBandwidthLimit")
    assert.strictEqual(reason({ bandwidthLimitMbps: -5 }), "InvalidBandwidthLimit")
    assert.strictEqual(reason({ bandwidthLimitMbps: 1e9 }), "InvalidBandwidthLimit")
    assert.strictEqual(reason({ bandwidthLimitMbps: Number.NaN }), "InvalidBandwidthLimit")
    assert.strictEqual(reason({ parallelTransfers: 0 }), "InvalidParallel")
    assert.strictEqual(reason({ parallelTransfers: 65 }), "InvalidParallel")
    assert.strictEqual(reason({ parallelTransfers: 1.5 }), "InvalidParallel")
    assert.strictEqual(reason({ maxDeleteRatio: 0 }), "InvalidMaxDeleteRatio")
    assert.strictEqual(reason({ maxDeleteRatio: 1.01 }), "InvalidMaxDeleteRatio")
    assert.strictEqual(reason({ versionRetentionDays: -1 }), "InvalidRetentionDays")
    assert.strictEqual(reason({ versionRetentionDays: 0.5 }), "InvalidRetentionDays")
    assert.strictEqual(reason({ versionRetentionDays: ControlApi.MAX_RETENTION_DAYS + 1 }), "InvalidRetentionDays")
    const schedule = Option.getOrThrow(checkSettings({ schedule: "every tuesday" }))
    assert.strictEqual(schedule.message, "'every tuesday' is not a schedule: manual, instant, or interval:<n>s|m|h|d with a whole n of at least 1, e.g. interval:30m")
  })
})

describe("ControlApi", () => {
  it("documents every endpoint, each behind the token (bearer, or the panel's cookie holding it)", () => {
    const spec = OpenApi.fromApi(ControlApi.Api)
    assert.deepStrictEqual(Object.keys(spec.paths).sort(), ["/v1/conduits", "/v1/conduits/status", "/v1/conduits/{id}", "/v1/conduits/{id}/history", "/v1/conduits/{id}/pause", "/v1/conduits/{id}/resume", "/v1/conduits/{id}/run", "/v1/events", "/v1/files/get", "/v1/peers", "/v1/peers/{peerId}", "/v1/peers/{peerId}/pull", "/v1/status", "/v1/stop"])
    assert.deepStrictEqual(Object.keys(spec.components.securitySchemes), ["token", "panel"])
    assert.deepInclude(spec.components.securitySchemes.panel as unknown as Record<string, unknown>, { type: "apiKey", name: "conduit_panel", in: "cookie" })
    assert.deepStrictEqual(spec.security, [{ token: [] }, { panel: [] }], "the whole API requires the token, one way or the other")
    for (const [path, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations as Record<string, { responses: Record<string, unknown> }>)) {
        assert.property(operation.responses, "401", `${method} ${path}`)
      }
    }
  })

  it("its client entry, as built, imports nothing but effect, @effect/platform and Node built-ins (no libp2p)", () => {
    const built = Fs.readFileSync(new URL("../dist/api.js", import.meta.url), "utf8")
    const imports = [...built.matchAll(/^import\b[^"]*"([^"]+)"/gm)].map((m) => m[1]!)
    assert.isNotEmpty(imports)
    for (const specifier of imports) assert.isTrue(/^(effect|@effect\/platform)$/.test(specifier) || isBuiltin(specifier), specifier)
    assert.notInclude(built, "import(")
  })
})
