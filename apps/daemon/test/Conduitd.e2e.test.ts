/**
 * End-to-end tests of the `conduitd` executable: the built `dist/main.js` run as a real child
 * process on a fresh temporary home, its control API reached over 127.0.0.1. (The CLI's
 * `conduit daemon` and `conduit peer` commands, and two daemons replicating, are tested in
 * apps/cli/test/Daemon.e2e.test.ts.) `turbo run test` builds the daemon first.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { ControlClient, DaemonFiles } from "../src/api.js"

const CONDUITD = fileURLToPath(new URL("../dist/main.js", import.meta.url))

let home: string
const children: Array<ChildProcess> = []

beforeEach(() => {
  home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduitd-e2e-"))
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL")
      await new Promise((resolve) => child.once("exit", resolve))
    }
  }
  Fs.rmSync(home, { recursive: true, force: true })
})

interface Run {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `conduitd ARGS` on the test's home. */
const conduitd = (...args: Array<string>): Run => {
  const child = spawn(process.execPath, [CONDUITD, ...args], {
    env: { ...process.env, CONDUIT_HOME: home },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })))
  return { child, output: () => output, exited }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits until the daemon of `run` has announced itself in daemon.json. */
const ready = async (run: Run): Promise<DaemonFiles.DaemonInfo & { api: string }> => {
  for (let i = 0; i < 300; i++) {
    if (run.child.exitCode !== null) assert.fail(`conduitd exited: ${run.output()}`)
    const read = DaemonFiles.readInfoSync(home)
    if (read._tag === "Found" && read.info.pid === run.child.pid && read.info.api !== undefined) {
      return read.info as DaemonFiles.DaemonInfo & { api: string }
    }
    await sleep(100)
  }
  return assert.fail(`conduitd did not get ready: ${run.output()}`)
}

const token = () => Fs.readFileSync(DaemonFiles.paths(home).token, "utf8").trim()

describe("conduitd", () => {
  it("announces itself in 0600 files, answers only with its token, refuses a second daemon, and cleans up on SIGTERM", async () => {
    const first = conduitd()
    const info = await ready(first)
    const files = DaemonFiles.paths(home)
    assert.strictEqual(Fs.statSync(files.info).mode & 0o777, 0o600)
    assert.strictEqual(Fs.statSync(files.token).mode & 0o777, 0o600)
    assert.match(token(), /^[0-9a-f]{64}$/)
    assert.match(info.api, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.strictEqual(info.home, home)
    assert.isAtLeast(info.addresses!.length, 2, "QUIC and TCP on loopback by default")
    for (const address of info.addresses!) assert.match(address, new RegExp(`^/ip4/127\\.0\\.0\\.1/.*/p2p/${info.peerId}$`))

    // Without the token, or with another one: 401, whatever the endpoint.
    assert.strictEqual((await fetch(`${info.api}/v1/status`)).status, 401)
    assert.strictEqual((await fetch(`${info.api}/v1/peers`, { headers: { authorization: "Bearer 00" } })).status, 401)
    assert.strictEqual((await fetch(`${info.api}/v1/stop`, { method: "POST" })).status, 401)
    // With it, through the typed client.
    const status = await Effect.runPromise(Effect.flatMap(ControlClient.make(info.api, token()), (c) => c.daemon.status()))
    assert.strictEqual(status.pid, first.child.pid)
    assert.strictEqual(status.peerId, info.peerId)
    assert.deepStrictEqual(status.addresses, info.addresses)
    assert.strictEqual(status.pairedPeers, 0)
    assert.strictEqual(status.home, home)
    // The conduits' status: token-protected; none in a fresh library.
    assert.strictEqual((await fetch(`${info.api}/v1/conduits/status`)).status, 401)
    const conduits = await Effect.runPromise(Effect.flatMap(ControlClient.make(info.api, token()), (c) => c.conduits.status()))
    assert.deepStrictEqual(conduits, { conduits: [] })

    // A second daemon on the same home is refused before it opens anything.
    const tokenBefore = token()
    const second = conduitd()
    assert.deepStrictEqual(await second.exited, { code: 1, signal: null })
    assert.include(second.output(), `a daemon is already running on this home (pid ${first.child.pid}`)
    assert.strictEqual(token(), tokenBefore, "the running daemon's token is untouched")
    assert.strictEqual((DaemonFiles.readInfoSync(home) as { info: DaemonFiles.DaemonInfo }).info.pid, first.child.pid)

    first.child.kill("SIGTERM")
    assert.deepStrictEqual(await first.exited, { code: 0, signal: null })
    assert.isFalse(Fs.existsSync(files.info))
    assert.isFalse(Fs.existsSync(files.token))
    assert.include(first.output(), "conduitd stopped")
  })

  it("replaces the files of a daemon that was killed, with a new token; listens where told", async () => {
    const killed = conduitd()
    const before = await ready(killed)
    const tokenBefore = token()
    killed.child.kill("SIGKILL")
    await killed.exited
    assert.isTrue(Fs.existsSync(DaemonFiles.paths(home).info), "SIGKILL leaves the state file behind")

    const next = conduitd("--listen", "/ip4/127.0.0.1/tcp/0")
    const after = await ready(next)
    assert.notStrictEqual(after.pid, before.pid)
    assert.notStrictEqual(token(), tokenBefore, "a new token at every start")
    assert.strictEqual(after.peerId, before.peerId, "the device identity stays")
    assert.strictEqual(after.addresses!.length, 1)
    assert.match(after.addresses![0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

    // The stop endpoint: answered, then the daemon shuts down and removes its files.
    const answer = await fetch(`${after.api}/v1/stop`, { method: "POST", headers: { authorization: `Bearer ${token()}` } })
    assert.strictEqual(answer.status, 202)
    assert.deepStrictEqual(await answer.json(), { pid: after.pid })
    assert.deepStrictEqual(await next.exited, { code: 0, signal: null })
    assert.deepStrictEqual(Fs.readdirSync(home).filter((f) => f.startsWith("daemon.")), [])
  })

  it("fails to start with one sentence on a bad listen address", async () => {
    const run = conduitd("--listen", "not-a-multiaddr")
    const { code } = await run.exited
    assert.strictEqual(code, 1)
    assert.match(run.output(), /^conduitd: /m)
    assert.isFalse(Fs.existsSync(DaemonFiles.paths(home).info), "a failed start leaves no state file")
    assert.isFalse(Fs.existsSync(DaemonFiles.paths(home).token))
  })
})
