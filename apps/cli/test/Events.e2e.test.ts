/**
 * End-to-end test of the daemon's events: `conduit watch --json` as a real child process of
 * a real daemon, while the CLI creates, changes, runs and removes conduits (in its own
 * process: the daemon sees it in the library), the daemon runs one (with a conflict and its
 * progress), a run fails, and a second daemon pairs, connects and stops. And `GET /v1/events`
 * answers only with the token.
 */
import { DaemonFiles } from "@conduit/daemon/api"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { CLI, deviceIn, T0, write } from "./support.js"

let root: string
const homes: Array<string> = []
const children: Array<ChildProcessWithoutNullStreams> = []

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-events-e2e-")))
})

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
  for (const home of homes.splice(0)) {
    const read = DaemonFiles.readInfoSync(home)
    if (read._tag === "Found" && DaemonFiles.isAlive(read.info.pid)) {
      process.kill(read.info.pid, "SIGKILL")
      for (let i = 0; i < 200 && DaemonFiles.isAlive(read.info.pid); i++) await sleep(50)
    }
  }
  Fs.rmSync(root, { recursive: true, force: true })
})

const device = (name: string) => deviceIn(root, name)
type Device = ReturnType<typeof device>

interface StatusJson {
  readonly pid: number
  readonly peerId: string
  readonly addresses: Array<string>
  readonly api: string
}

const start = async (d: Device): Promise<StatusJson> => {
  homes.push(d.home)
  return (await d.json<{ daemon: StatusJson }>(0, "daemon", "start")).daemon
}

/** Polls `check` until it gives a value, failing after `timeout` ms. */
const until = async <A>(what: string, timeout: number, check: () => A | undefined): Promise<A> => {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeout / 1000} s`)
    await sleep(25)
  }
}

/** `conduit watch --json` running on a device: the events it printed so far. */
const watch = async (d: Device) => {
  const child = spawn(process.execPath, [CLI, "watch", "--json"], {
    cwd: d.work,
    env: { ...process.env, CONDUIT_HOME: d.home, NO_COLOR: "1" },
    stdio: ["pipe", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()))
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  await until("watch subscribed", 20_000, () => (stderr.includes("watching the events") ? true : undefined))
  const events = () => stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { _tag: string; [k: string]: unknown })
  return { child, exited, events, stderr: () => stderr }
}

describe("conduit watch", () => {
  it("prints every kind of event as JSON lines until interrupted; the events endpoint needs the token", async () => {
    const a = device("a")
    const none = await a.conduit("watch")
    assert.strictEqual(none.code, 1)
    assert.strictEqual(none.stderr.trim(), "no daemon is running on this home (start one with 'conduit daemon start')")

    const statusA = await start(a)
    assert.strictEqual((await fetch(`${statusA.api}/v1/events`)).status, 401)
    assert.strictEqual((await fetch(`${statusA.api}/v1/events`, { headers: { authorization: "Bearer nope" } })).status, 401)
    const token = Fs.readFileSync(DaemonFiles.paths(a.home).token, "utf8").trim()

    const w = await watch(a)
    const seen = (tag: string, match: (e: Record<string, unknown>) => boolean = () => true) =>
      until(`a ${tag} event`, 20_000, () => w.events().find((e) => e._tag === tag && match(e)))

    // Made by the CLI in its own process: the daemon sees it in the library.
    const one = Path.join(a.work, "one")
    const two = Path.join(a.work, "two")
    Fs.mkdirSync(one)
    Fs.mkdirSync(two)
    write(one, "shared.txt", "base", T0)
    write(one, "x.txt", "x", T0)
    const { id } = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", one, two, "--mode", "bidirectional")).conduit
    const created = await seen("ConduitCreated", (e) => e.conduit === id)
    assert.strictEqual(created.mode, "bidirectional")
    assert.strictEqual(created.source, one)
    assert.strictEqual(created.target, two)
    assert.match(String(created.at), /^\d{4}-\d\d-\d\dT/)
    assert.strictEqual((await a.conduit("conduit", "disable", id)).code, 0)
    assert.strictEqual((await seen("ConduitUpdated", (e) => e.conduit === id && e.enabled === false)).mode, "bidirectional")
    assert.strictEqual((await a.conduit("conduit", "enable", id)).code, 0)
    await seen("ConduitUpdated", (e) => e.conduit === id && e.enabled === true)

    // A run by the CLI: started, verified, completed.
    const ran = await a.conduit("run", id)
    assert.strictEqual(ran.code, 0, ran.stderr)
    await seen("SyncStarted", (e) => e.conduit === id && e.generation === 1)
    assert.isTrue((await seen("VerificationDone", (e) => e.conduit === id && e.generation === 1)).verified)
    assert.strictEqual((await seen("SyncCompleted", (e) => e.conduit === id && e.generation === 1)).copied, 2)

    // Both sides edit a file; the daemon runs the conduit: progress, the conflict, completed.
    write(one, "shared.txt", "edited on one", T0 + 100)
    write(two, "shared.txt", "edited on two, later", T0 + 200)
    const run = await fetch(`${statusA.api}/v1/conduits/${id}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}"
    })
    assert.strictEqual(run.status, 200, await run.clone().text())
    const conflict = await seen("ConflictDetected", (e) => e.conduit === id)
    assert.strictEqual(conflict.path, "shared.txt")
    assert.strictEqual(conflict.winner, "target")
    const progress = await seen("SyncProgress", (e) => e.conduit === id)
    assert.isAtLeast(progress.total as number, 1)
    await seen("SyncCompleted", (e) => e.conduit === id && e.generation === 2)

    // A run that fails: its source is gone.
    const three = Path.join(a.work, "three")
    const four = Path.join(a.work, "four")
    Fs.mkdirSync(three)
    Fs.mkdirSync(four)
    write(three, "t.txt", "t", T0)
    const { id: failing } = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", three, four)).conduit
    Fs.rmSync(three, { recursive: true })
    const refused = await fetch(`${statusA.api}/v1/conduits/${failing}/run`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}"
    })
    assert.isAtLeast(refused.status, 400)
    const failed = await seen("SyncFailed", (e) => e.conduit === failing)
    assert.isString(failed.reason)
    assert.isString(failed.message)

    // Removed by the CLI.
    assert.strictEqual((await a.conduit("conduit", "rm", id)).code, 0)
    await seen("ConduitRemoved", (e) => e.conduit === id)

    // A second daemon pairs: connected; it stops: disconnected.
    const b = device("b")
    const statusB = await start(b)
    assert.strictEqual((await a.conduit("peer", "add", statusB.peerId, ...statusB.addresses.flatMap((x) => ["--addr", x]))).code, 0)
    assert.strictEqual((await b.conduit("peer", "add", statusA.peerId, ...statusA.addresses.flatMap((x) => ["--addr", x]))).code, 0)
    await seen("PeerConnected", (e) => e.peerId === statusB.peerId)
    assert.strictEqual((await b.conduit("daemon", "stop")).code, 0)
    await seen("PeerDisconnected", (e) => e.peerId === statusB.peerId)

    // Every kind of event came; Ctrl-C ends the watch with 0.
    const kinds = new Set(w.events().map((e) => e._tag))
    for (const kind of [
      "ConduitCreated", "ConduitUpdated", "ConduitRemoved", "SyncStarted", "SyncProgress", "SyncCompleted", "SyncFailed",
      "ConflictDetected", "VerificationDone", "PeerConnected", "PeerDisconnected"
    ]) assert.isTrue(kinds.has(kind), `${kind} in ${[...kinds].join(", ")}`)
    w.child.kill("SIGINT")
    assert.strictEqual(await w.exited, 0, w.stderr())
  })
})
