/**
 * End-to-end tests of the control API's conduit endpoints on a real `conduitd` child process:
 * list and read conduits, change their settings (each refused setting a 400 or 404 with a
 * sentence, and nothing stored), and pause and resume a run caught mid-flight. The conduits
 * are created in this process on the test's home (the library is shared through SQLite), then
 * the daemon is started on it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { IndexLive } from "@conduit/index"
import { Conduits } from "@conduit/sync"
import { Effect, Layer } from "effect"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { ControlClient, DaemonFiles } from "../src/api.js"

const CONDUITD = fileURLToPath(new URL("../dist/main.js", import.meta.url))

let work: string
let home: string
const children: Array<ChildProcess> = []

beforeEach(() => {
  work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduitd-conduits-"))
  home = Path.join(work, "home")
  Fs.mkdirSync(home)
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL")
      await new Promise((resolve) => child.once("exit", resolve))
    }
  }
  Fs.rmSync(work, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Writes `files` under `work/name`, every time set in the past (so nothing reads as changing). */
const tree = (name: string, files: Record<string, string> = {}) => {
  const root = Path.join(work, name)
  Fs.mkdirSync(root, { recursive: true })
  for (const [rel, content] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(root, rel)), { recursive: true })
    Fs.writeFileSync(Path.join(root, rel), content)
  }
  const all = (Fs.readdirSync(root, { recursive: true }) as Array<string>).map((rel) => Path.join(root, rel))
  for (const path of [...all.sort((a, b) => b.length - a.length), root]) Fs.utimesSync(path, 1_700_000_000, 1_700_000_000)
  return root
}

const manyFiles = (dirs: number, files: number): Record<string, string> => {
  const many: Record<string, string> = {}
  for (let d = 0; d < dirs; d++) for (let f = 0; f < files; f++) many[`d${d}/f${f}.txt`] = `file ${d}/${f}`
  return many
}

/** The files under `root` with their contents. */
const files = (root: string) =>
  Object.fromEntries((Fs.readdirSync(root, { recursive: true }) as Array<string>)
    .filter((rel) => Fs.statSync(Path.join(root, rel)).isFile())
    .sort()
    .map((rel) => [rel, Fs.readFileSync(Path.join(root, rel), "utf8")]))

/** Creates a mirror conduit in the test's home, from this process. */
const createConduit = (source: string, target: string) =>
  Effect.runPromise(
    Effect.flatMap(Conduits.Conduits, (c) => c.create(source, target, { mode: "mirror" })).pipe(
      Effect.provide(Layer.provideMerge(Conduits.layer, IndexLive.layer({ home })))
    )
  )

/** Starts `conduitd` on the test's home and waits until it is ready; its API and a fetch with the token. */
const start = async () => {
  const child = spawn(process.execPath, [CONDUITD], { env: { ...process.env, CONDUIT_HOME: home }, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) assert.fail(`conduitd exited: ${output}`)
    const read = DaemonFiles.readInfoSync(home)
    if (read._tag === "Found" && read.info.pid === child.pid && read.info.api !== undefined) {
      const api = read.info.api
      const token = Fs.readFileSync(DaemonFiles.paths(home).token, "utf8").trim()
      const call = async (method: string, path: string, body?: unknown, raw?: string) => {
        const response = await fetch(`${api}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}) },
          ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {})
        })
        const text = await response.text()
        return { status: response.status, body: text === "" ? null : JSON.parse(text) }
      }
      return { api, token, call, output: () => output }
    }
    await sleep(100)
  }
  return assert.fail(`conduitd did not get ready: ${output}`)
}

describe("conduitd conduits", () => {
  it("lists and reads conduits, changes each setting, and refuses bad settings without changing anything", async () => {
    const first = await createConduit(tree("a", { "x.txt": "x" }), tree("b"))
    const second = await createConduit(tree("c"), tree("d"))
    const daemon = await start()
    const { call } = daemon

    // Token-protected like every endpoint.
    assert.strictEqual((await fetch(`${daemon.api}/v1/conduits`)).status, 401)
    assert.strictEqual((await fetch(`${daemon.api}/v1/conduits/${first.id}`, { method: "PATCH", body: "{}" })).status, 401)
    assert.strictEqual((await fetch(`${daemon.api}/v1/conduits/${first.id}/pause`, { method: "POST" })).status, 401)

    // The list, as `conduit list --json` prints it; through the typed client too.
    const client = await Effect.runPromise(ControlClient.make(daemon.api, daemon.token))
    const listed = await Effect.runPromise(client.conduits.list())
    assert.deepStrictEqual(listed.conduits.map((c) => c.id), [first.id, second.id])
    const doc = listed.conduits[0]!
    assert.deepStrictEqual(Object.keys(doc), [
      "id", "source", "target", "mode", "enabled", "schedule", "parallelTransfers", "maxDeleteRatio", "versionRetentionDays",
      "cacheMaxBytes", "cacheMinFreeBytes", "cacheMinFreePercent", "cachePolicy",
      "useIndexRules", "indexModeOverride", "bandwidthLimitMbps", "conflictStrategy", "generation", "lastSyncCompletedAt", "createdAt", "updatedAt"
    ])
    assert.include(doc, { mode: "mirror", enabled: true, schedule: "manual", parallelTransfers: 4, maxDeleteRatio: 0.5, versionRetentionDays: 30, bandwidthLimitMbps: null, conflictStrategy: "last-write-wins", generation: 0 })
    assert.deepStrictEqual(doc.source, { path: first.source.path, root: first.source.location.root, dir: "", location: first.source.location.id })
    assert.deepStrictEqual((await call("GET", `/v1/conduits/${first.id}`)).body, { conduit: doc })
    assert.deepStrictEqual((await call("GET", `/v1/conduits/${first.id.slice(0, 8)}`)).body, { conduit: doc }, "an id prefix names it too")

    // Each setting, changed and read back (disabled first, so the scheduler leaves it alone).
    const changes: Array<[string, unknown]> = [
      ["enabled", false],
      ["schedule", "interval:90s"],
      ["schedule", "instant"],
      ["bandwidthLimitMbps", 12.5],
      ["bandwidthLimitMbps", null],
      ["parallelTransfers", 64],
      ["parallelTransfers", 1],
      ["conflictStrategy", "last-write-wins"],
      ["maxDeleteRatio", 1],
      ["maxDeleteRatio", 0.25],
      ["versionRetentionDays", 0],
      ["versionRetentionDays", 7]
    ]
    for (const [key, value] of changes) {
      const patched = await call("PATCH", `/v1/conduits/${first.id}`, { [key]: value })
      assert.strictEqual(patched.status, 200, `${key} ${JSON.stringify(patched.body)}`)
      assert.strictEqual(patched.body.conduit[key], value, key)
      assert.strictEqual((await call("GET", `/v1/conduits/${first.id}`)).body.conduit[key], value, key)
    }
    const typed = await Effect.runPromise(client.conduits.update({ path: { id: first.id }, payload: { schedule: "manual", bandwidthLimitMbps: 100 } }))
    assert.include(typed.conduit, { schedule: "manual", bandwidthLimitMbps: 100, enabled: false, parallelTransfers: 1, maxDeleteRatio: 0.25, versionRetentionDays: 7 })
    assert.deepStrictEqual((await call("GET", `/v1/conduits/${second.id}`)).body.conduit, listed.conduits[1], "the other conduit is untouched")

    // Refused: a 400 (or 404) with a sentence, and the conduit as it was.
    const stored = (await call("GET", `/v1/conduits/${first.id}`)).body.conduit
    const refusals: Array<[unknown, number, string, string | RegExp]> = [
      [{ schedule: "every tuesday" }, 400, "InvalidSchedule", "'every tuesday' is not a schedule: manual, instant, or interval:<n>s|m|h|d"],
      [{ schedule: "interval:0m" }, 400, "InvalidSchedule", "is not a schedule"],
      [{ bandwidthLimitMbps: -5 }, 400, "InvalidBandwidthLimit", "a bandwidth limit is above 0 and at most 100000 Mbit/s (null for none), not -5"],
      [{ bandwidthLimitMbps: 1e9 }, 400, "InvalidBandwidthLimit", "not 1000000000"],
      [{ bandwidthLimitMbps: 0 }, 400, "InvalidBandwidthLimit", "not 0"],
      [{ parallelTransfers: 0 }, 400, "InvalidParallel", "parallel transfers are a whole number from 1 to 64, not 0"],
      [{ parallelTransfers: 65 }, 400, "InvalidParallel", "not 65"],
      [{ parallelTransfers: 2.5 }, 400, "InvalidParallel", "not 2.5"],
      [{ maxDeleteRatio: 1.5 }, 400, "InvalidMaxDeleteRatio", "at most 1"],
      [{ maxDeleteRatio: 0 }, 400, "InvalidMaxDeleteRatio", "0 would refuse every delete"],
      [{ versionRetentionDays: -1 }, 400, "InvalidRetentionDays", "not -1"],
      [{ versionRetentionDays: 1.5 }, 400, "InvalidRetentionDays", "not 1.5"],
      // One bad setting refuses the whole patch: the good ones beside it are not stored either.
      [{ enabled: true, parallelTransfers: 0 }, 400, "InvalidParallel", "not 0"]
    ]
    for (const [body, status, reason, message] of refusals) {
      const refused = await call("PATCH", `/v1/conduits/${first.id}`, body)
      assert.strictEqual(refused.status, status, JSON.stringify(body))
      assert.include(refused.body, { _tag: "InvalidRequest", error: "ConduitSettings", reason }, JSON.stringify(body))
      typeof message === "string" ? assert.include(refused.body.message, message) : assert.match(refused.body.message, message)
    }
    // Wrong types, an unknown strategy, a body that is not JSON: the API's decode error (400).
    for (const raw of [`{"enabled":"yes"}`, `{"parallelTransfers":"4"}`, `{"bandwidthLimitMbps":"fast"}`, `{"conflictStrategy":"newest"}`, `{"schedule":5}`, `not json`, `[1]`]) {
      const refused = await call("PATCH", `/v1/conduits/${first.id}`, undefined, raw)
      assert.strictEqual(refused.status, 400, raw)
      assert.strictEqual(refused.body._tag, "HttpApiDecodeError", raw)
      assert.isString(refused.body.message, raw)
    }
    // An unknown conduit: 404, for every conduit endpoint.
    for (const [method, path, body] of [["GET", "/v1/conduits/ffffffff", undefined], ["PATCH", "/v1/conduits/ffffffff", { enabled: true }], ["POST", "/v1/conduits/ffffffff/pause", undefined], ["POST", "/v1/conduits/ffffffff/resume", undefined]] as const) {
      const missing = await call(method, path, body)
      assert.strictEqual(missing.status, 404, `${method} ${path}`)
      assert.deepStrictEqual(missing.body, { _tag: "ConduitNotFound", error: "SyncError", reason: "NotFound", message: "no conduit 'ffffffff'" })
    }
    assert.deepStrictEqual((await call("GET", `/v1/conduits/${first.id}`)).body.conduit, stored, "nothing refused was stored")
    assert.deepStrictEqual((await call("PATCH", `/v1/conduits/${first.id}`, {})).body.conduit, stored, "an empty patch changes nothing")

    // Nothing runs: nothing to pause or to resume (409).
    const pause = await call("POST", `/v1/conduits/${second.id}/pause`)
    assert.strictEqual(pause.status, 409)
    assert.deepStrictEqual(pause.body, { _tag: "ConduitConflict", error: "ConduitState", reason: "NotRunning", message: `conduit '${second.id}' has no run going on to pause` })
    const resume = await call("POST", `/v1/conduits/${second.id}/resume`)
    assert.strictEqual(resume.status, 409)
    assert.deepStrictEqual(resume.body, { _tag: "ConduitConflict", error: "ConduitState", reason: "NotPaused", message: `conduit '${second.id}' has no paused run to resume` })
  })

  it("pauses a run caught mid-flight and resumes it in the background to a verified end", async () => {
    const src = tree("src", manyFiles(25, 200))
    const dst = tree("dst")
    const made = await createConduit(src, dst)
    const daemon = await start()
    const { call } = daemon

    // The run answers when it ends; meanwhile the status shows it running with a total.
    const run = call("POST", `/v1/conduits/${made.id}/run`, {})
    let running: any
    for (let i = 0; i < 1000 && running === undefined; i++) {
      const s = (await call("GET", "/v1/conduits/status")).body.conduits[0]
      if (s.state === "running" && s.job !== null && s.job.total > 0) running = s
      else await sleep(10)
    }
    assert.isDefined(running, "the run shows as running")
    const paused = await call("POST", `/v1/conduits/${made.id}/pause`)
    assert.strictEqual(paused.status, 202, JSON.stringify(paused.body))
    assert.deepStrictEqual(paused.body, { conduit: made.id, requested: "pause", job: { id: running.job.id, status: "running" } })
    const ran = await run
    assert.strictEqual(ran.status, 200, JSON.stringify(ran.body))
    assert.deepStrictEqual(ran.body.job, { id: running.job.id, status: "paused" })
    assert.isBelow(ran.body.copied, 5025)
    assert.isFalse(ran.body.verified)

    // Paused: a second pause is refused; the status says paused.
    const again = await call("POST", `/v1/conduits/${made.id}/pause`)
    assert.strictEqual(again.status, 409)
    assert.strictEqual(again.body.reason, "AlreadyPaused")
    assert.strictEqual((await call("GET", "/v1/conduits/status")).body.conduits[0].state, "paused")

    // Resumed the moment the paused run ended: answered at once, the run goes on in the daemon
    // until verified.
    const resumed = await call("POST", `/v1/conduits/${made.id}/resume`)
    assert.strictEqual(resumed.status, 202, JSON.stringify(resumed.body))
    assert.deepStrictEqual(resumed.body, { conduit: made.id, requested: "resume", job: { id: running.job.id, status: "paused" } })
    let last: any
    for (let i = 0; i < 600; i++) {
      last = (await call("GET", "/v1/conduits/status")).body.conduits[0]
      if (last.state === "idle" && last.lastGeneration?.status === "completed") break
      await sleep(50)
    }
    assert.include(last, { state: "idle", job: null })
    assert.include(last.lastGeneration, { status: "completed", verification: "verified" })
    assert.deepStrictEqual(files(dst), files(src))
    const after = await call("POST", `/v1/conduits/${made.id}/resume`)
    assert.strictEqual(after.status, 409)
    assert.strictEqual(after.body.reason, "NotPaused")

    // The history: newest first, the paused generation then the resumed one; limits checked.
    const history = await call("GET", `/v1/conduits/${made.id}/history`)
    assert.strictEqual(history.status, 200)
    assert.deepStrictEqual(history.body.generations.map((g: any) => [g.generation, g.status, g.verification]), [
      [2, "completed", "verified"],
      [1, "paused", "not-verified"]
    ])
    assert.strictEqual(history.body.generations[0].filesCopied + history.body.generations[1].filesCopied, 5025)
    assert.isAbove(history.body.generations[0].durationMs, 0)
    const one = await call("GET", `/v1/conduits/${made.id.slice(0, 8)}/history?limit=1`)
    assert.deepStrictEqual(one.body.generations.map((g: any) => g.generation), [2])
    for (const limit of ["0", "-1", "1.5", "abc", "1001"]) {
      const bad = await call("GET", `/v1/conduits/${made.id}/history?limit=${limit}`)
      assert.strictEqual(bad.status, 400, `limit=${limit}`)
    }
    const unknown = await call("GET", "/v1/conduits/ffffffff/history")
    assert.strictEqual(unknown.status, 404)
    assert.strictEqual(unknown.body._tag, "ConduitNotFound")
  })
})
