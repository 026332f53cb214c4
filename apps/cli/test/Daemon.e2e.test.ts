/**
 * End-to-end tests of `conduit daemon` and `conduit peer`: the built CLI and the daemon it
 * starts (`conduitd`, detached) as real child processes, each home a fresh temporary
 * directory, every connection on 127.0.0.1. Two daemons pair through the CLI and one pulls the
 * other's index; the CLI indexes the same library while its daemon runs.
 */
import { DaemonFiles } from "@conduit/daemon/api"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { deviceIn } from "./support.js"

/** better-sqlite3 (a dependency of the CLI), typed as far as these tests use it. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new (
  file: string,
  options: { readonly readonly: boolean; readonly fileMustExist: boolean }
) => { prepare: (sql: string) => { all: (...params: Array<unknown>) => Array<unknown> }; close: () => void }

let root: string

/** A device: its home and work directory, and the CLI on them. */
const device = (name: string) => deviceIn(root, name)
type Device = ReturnType<typeof device>

/** The homes of the test, to stop what they left running. */
const homes: Array<string> = []

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-daemon-e2e-")))
})

afterEach(async () => {
  for (const home of homes.splice(0)) {
    const read = DaemonFiles.readInfoSync(home)
    if (read._tag === "Found" && DaemonFiles.isAlive(read.info.pid)) {
      process.kill(read.info.pid, "SIGKILL")
      await gone(read.info.pid)
    }
  }
  Fs.rmSync(root, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` every `every` ms until it gives a value, failing once `timeout` ms have passed
 * (or at once when `abandon` says waiting is pointless): a wait bounded by a deadline, however
 * slow the machine.
 */
const until = async <A>(
  what: string,
  timeout: number,
  check: () => A | undefined,
  options: { readonly every?: number; readonly abandon?: () => string | undefined } = {}
): Promise<A> => {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    const reason = options.abandon?.()
    if (reason !== undefined) assert.fail(`${what}: ${reason}`)
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeout / 1000} s`)
    await sleep(options.every ?? 25)
  }
}

/** `promise`, or a failure naming `what` once `timeout` ms have passed. */
const within = <A>(what: string, timeout: number, promise: Promise<A>): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeout / 1000} s`)), timeout)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** Waits until a process has ended. */
const gone = async (pid: number) => {
  for (let i = 0; i < 200 && DaemonFiles.isAlive(pid); i++) await sleep(50)
  assert.isFalse(DaemonFiles.isAlive(pid), `process ${pid} is still running`)
}

interface StatusJson {
  readonly pid: number
  readonly peerId: string
  readonly addresses: Array<string>
  readonly api: string
  readonly pairedPeers: number
  readonly home: string
  readonly device: { readonly id: string; readonly name: string }
}

/** `conduit daemon start --json` on a device; the daemon is stopped after the test. */
const start = async (d: Device): Promise<StatusJson> => {
  homes.push(d.home)
  return (await d.json<{ daemon: StatusJson }>(0, "daemon", "start")).daemon
}

/** The live entries of a location in a library, path → hash, read-only beside a running daemon. */
const entriesOf = (home: string, location: string): Array<[string, string | null]> => {
  const db = new Database(Path.join(home, "library.db"), { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare(`SELECT e.path, e.hash FROM entries e JOIN locations l ON l.id = e.location_id
      WHERE l.uuid = ? AND e.tombstone = 0 ORDER BY e.path`).all(location) as Array<{ path: string; hash: string | null }>
    return rows.map((r) => [r.path, r.hash])
  } finally {
    db.close()
  }
}

describe("conduit daemon", () => {
  it("starts a daemon, shows its status, refuses a second one, answers only with the token, and stops it", async () => {
    const a = device("a")
    const files = DaemonFiles.paths(a.home)

    const none = await a.conduit("daemon", "status")
    assert.strictEqual(none.code, 1)
    assert.strictEqual(none.stderr.trim(), "no daemon is running on this home (start one with 'conduit daemon start')")
    // A device-wide bandwidth limit out of range starts nothing.
    const absurd = await a.conduit("daemon", "start", "--bandwidth-limit", "0")
    assert.strictEqual(absurd.code, 1)
    assert.include(absurd.stderr, "--bandwidth-limit")
    assert.isFalse(Fs.existsSync(files.info))

    const started = await start(a)
    assert.match(started.peerId, /^12D3KooW/)
    assert.isAtLeast(started.addresses.length, 2)
    assert.match(started.api, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.strictEqual(started.home, a.home)
    assert.strictEqual(Fs.statSync(files.info).mode & 0o777, 0o600)
    assert.strictEqual(Fs.statSync(files.token).mode & 0o777, 0o600)

    const status = (await a.json<{ daemon: StatusJson }>(0, "daemon", "status")).daemon
    assert.strictEqual(status.pid, started.pid)
    assert.strictEqual(status.peerId, started.peerId)
    assert.deepStrictEqual(status.addresses, started.addresses)
    assert.strictEqual(status.pairedPeers, 0)
    const text = await a.conduit("daemon", "status")
    assert.strictEqual(text.code, 0)
    assert.include(text.stdout, `daemon running (pid ${started.pid}`)
    assert.include(text.stdout, started.peerId)

    // A second start is refused, by the CLI and by conduitd itself; the first is untouched.
    const again = await a.conduit("daemon", "start")
    assert.strictEqual(again.code, 1)
    assert.strictEqual(again.stderr.trim(), `a daemon is already running on this home (pid ${started.pid}, ${started.api})`)
    const againJson = await a.json(1, "daemon", "start")
    assert.strictEqual(againJson.error.reason, "DaemonRunning")

    // No token, or another one: 401; the CLI says so in one sentence.
    assert.strictEqual((await fetch(`${started.api}/v1/status`)).status, 401)
    assert.strictEqual((await fetch(`${started.api}/v1/peers`, { headers: { authorization: "Bearer nope" } })).status, 401)
    const token = Fs.readFileSync(files.token, "utf8")
    Fs.writeFileSync(files.token, "0".repeat(64))
    const refused = await a.conduit("peer", "list")
    assert.strictEqual(refused.code, 1)
    assert.strictEqual(
      refused.stderr.trim(),
      `the daemon (pid ${started.pid}) refused the token in ${files.token}; restart it ('kill ${started.pid}', then 'conduit daemon start')`
    )
    Fs.writeFileSync(files.token, token)

    const stopped = await a.json<{ stopped: { pid: number } }>(0, "daemon", "stop")
    assert.deepStrictEqual(stopped, { stopped: { pid: started.pid } })
    assert.isFalse(DaemonFiles.isAlive(started.pid), "stop returns once the process has ended")
    assert.isFalse(Fs.existsSync(files.info))
    assert.isFalse(Fs.existsSync(files.token))
    const afterStop = await a.conduit("daemon", "stop")
    assert.strictEqual(afterStop.code, 1)
    assert.include(afterStop.stderr, "no daemon is running on this home")
    const peerWithout = await a.conduit("peer", "list")
    assert.strictEqual(peerWithout.code, 1)
    assert.include(peerWithout.stderr, "no daemon is running on this home")
  })

  it("pairs two daemons both ways and pulls one's index into the other, while the CLI indexes beside its daemon", async () => {
    const a = device("a")
    const b = device("b")
    const [statusA, statusB] = await Promise.all([start(a), start(b)])
    assert.notStrictEqual(statusA.peerId, statusB.peerId)

    const pairedB = await a.json<{ peer: { peerId: string; name: string; addresses: Array<string> } }>(
      0, "peer", "add", statusB.peerId, ...statusB.addresses.flatMap((addr) => ["--addr", addr]), "--name", "bee"
    )
    assert.strictEqual(pairedB.peer.peerId, statusB.peerId)
    assert.strictEqual(pairedB.peer.name, "bee")
    assert.sameMembers(pairedB.peer.addresses, statusB.addresses)
    const addA = await b.conduit("peer", "add", statusA.peerId, ...statusA.addresses.flatMap((addr) => ["--addr", addr]))
    assert.strictEqual(addA.code, 0, addA.stderr)
    assert.include(addA.stdout, `paired with peer ${statusA.peerId.slice(-8)} (${statusA.peerId})`)
    const listed = await a.json<{ peers: Array<{ peerId: string; revoked: boolean }> }>(0, "peer", "list")
    assert.deepStrictEqual(listed.peers.map((p) => [p.peerId, p.revoked]), [[statusB.peerId, false]])
    assert.strictEqual((await a.json<{ daemon: StatusJson }>(0, "daemon", "status")).daemon.pairedPeers, 1)
    // Each daemon dials its paired peer by itself (and again with backoff should it go away).
    let connected = false
    for (let i = 0; i < 100 && !connected; i++) {
      const peers = (await a.json<{ peers: Array<{ connected: boolean | null }> }>(0, "peer", "list")).peers
      connected = peers[0]?.connected === true
      if (!connected) await sleep(100)
    }
    assert.isTrue(connected, "A's daemon connected to B unasked")

    // A's CLI indexes a tree into the library its daemon has open.
    const tree = Path.join(a.work, "photos")
    for (let i = 0; i < 25; i++) {
      Fs.mkdirSync(Path.join(tree, `day${i % 3}`), { recursive: true })
      Fs.writeFileSync(Path.join(tree, `day${i % 3}`, `img${i}.jpg`), `pixels ${i}`)
    }
    const indexed = await a.conduit("index", tree)
    assert.strictEqual(indexed.code, 0, indexed.stderr)
    const locations = await a.json<{ locations: Array<{ id: string; root: string }> }>(0, "location", "list")
    const location = locations.locations.find((l) => l.root === tree)!.id
    const onA = entriesOf(a.home, location)
    assert.lengthOf(onA, 28, "25 files and 3 directories")

    // B pulls A's index: every entry, and B's library then has A's rows.
    const first = (await b.json<{ pull: Record<string, any> }>(0, "peer", "pull", statusA.peerId)).pull
    assert.strictEqual(first.peerId, statusA.peerId)
    assert.strictEqual(first.device, statusA.device.id)
    assert.strictEqual(first.entries, onA.length)
    assert.isTrue(first.caughtUp)
    assert.deepStrictEqual(entriesOf(b.home, location), onA)

    // A change on A, then a second pull: only what changed, from the watermark.
    Fs.writeFileSync(Path.join(tree, "day0", "img0.jpg"), "retouched")
    assert.strictEqual((await a.conduit("index", tree)).code, 0)
    const second = await b.conduit("peer", "pull", statusA.peerId)
    assert.strictEqual(second.code, 0, second.stderr)
    assert.match(second.stdout, /^pulled [12] entr(y|ies) from .* \(12D3KooW\w+\) in .*: watermark \d+, caught up$/m)
    assert.deepStrictEqual(entriesOf(b.home, location), entriesOf(a.home, location))

    // Errors, one sentence each: a bad peer id, a peer never paired, a revoked peer.
    const bad = await b.conduit("peer", "pull", "not-a-peer")
    assert.strictEqual(bad.code, 1)
    assert.strictEqual(bad.stderr.trim(), "'not-a-peer' is not a valid peer id")
    const stranger = await b.json(1, "peer", "pull", statusB.peerId.replace(/.$/, (c) => (c === "a" ? "b" : "a")))
    assert.oneOf(stranger.error._tag, ["PeerNotFound", "InvalidRequest"])
    const revoked = await b.json<{ revoked: { peerId: string; revoked: boolean } }>(0, "peer", "rm", statusA.peerId)
    assert.deepStrictEqual(revoked.revoked.revoked, true)
    const refused = await b.conduit("peer", "pull", statusA.peerId)
    assert.strictEqual(refused.code, 1)
    assert.strictEqual(refused.stderr.trim(), `peer ${statusA.peerId} was revoked; pair it again to use it`)

    await Promise.all([a.json(0, "daemon", "stop"), b.json(0, "daemon", "stop")])
  })

  it("a conduit from A to a directory of B runs in A's daemon: both trees end equal, B keeps what it replaced", async () => {
    const a = device("a")
    const b = device("b")
    const [statusA, statusB] = await Promise.all([start(a), start(b)])
    assert.strictEqual((await a.conduit("peer", "add", statusB.peerId, ...statusB.addresses.flatMap((x) => ["--addr", x]), "--name", "bee")).code, 0)
    assert.strictEqual((await b.conduit("peer", "add", statusA.peerId, ...statusA.addresses.flatMap((x) => ["--addr", x]), "--name", "ay")).code, 0)
    const source = Path.join(a.work, "docs")
    for (let i = 0; i < 60; i++) {
      Fs.mkdirSync(Path.join(source, `d${i % 5}`), { recursive: true })
      Fs.writeFileSync(Path.join(source, `d${i % 5}`, `f${i}.txt`), `content ${i}`)
    }
    const backup = Path.join(b.work, "backup")
    Fs.mkdirSync(Path.join(backup, "d0"), { recursive: true })
    Fs.writeFileSync(Path.join(backup, "d0", "f0.txt"), "B's older f0")
    assert.strictEqual((await b.conduit("location", "add", backup)).code, 0)
    // A learns B's locations through library sync, then names B's directory as PEER:PATH.
    assert.strictEqual((await a.conduit("peer", "pull", statusB.peerId)).code, 0)
    const created = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", source, `bee:${backup}`, "--mode", "mirror")).conduit
    const ran = await a.json<{ ranIn: string; verified: boolean; copied: number; job: { status: string } }>(0, "run", created.id)
    assert.include(ran, { ranIn: "daemon", verified: true })
    assert.strictEqual(ran.job.status, "completed")
    const list = (root_: string) =>
      (Fs.readdirSync(root_, { recursive: true }) as Array<string>)
        .filter((p) => !p.startsWith(".conduit") && Fs.statSync(Path.join(root_, p)).isFile())
        .sort()
        .map((p) => [p, Fs.readFileSync(Path.join(root_, p), "utf8")])
    assert.deepStrictEqual(list(backup), list(source))
    const versions = Fs.readdirSync(Path.join(backup, ".conduit", "versions", "d0"))
    assert.lengthOf(versions.filter((n) => n.startsWith("f0.txt~")), 1, "B kept its older f0 as a version")
    // Without a daemon, the run says where it must happen.
    await a.json(0, "daemon", "stop")
    const refused = await a.conduit("run", created.id)
    assert.strictEqual(refused.code, 1)
    assert.match(refused.stderr, /daemon/)
    await b.json(0, "daemon", "stop")
  }, 120_000)

  it("a two-way conduit between A and B converges across the daemons, and a double edit is a recorded conflict", async () => {
    const a = device("a")
    const b = device("b")
    const [statusA, statusB] = await Promise.all([start(a), start(b)])
    assert.strictEqual((await a.conduit("peer", "add", statusB.peerId, ...statusB.addresses.flatMap((x) => ["--addr", x]), "--name", "bee")).code, 0)
    assert.strictEqual((await b.conduit("peer", "add", statusA.peerId, ...statusA.addresses.flatMap((x) => ["--addr", x]), "--name", "ay")).code, 0)
    const here = Path.join(a.work, "notes")
    const there = Path.join(b.work, "notes")
    const write = (root_: string, rel: string, text: string, seconds: number) => {
      Fs.mkdirSync(Path.dirname(Path.join(root_, rel)), { recursive: true })
      Fs.writeFileSync(Path.join(root_, rel), text)
      Fs.utimesSync(Path.join(root_, rel), seconds, seconds)
    }
    write(here, "a-only.txt", "from A", 1_700_000_000)
    write(here, "shared.txt", "v0", 1_700_000_000)
    write(there, "b-only/deep.txt", "from B", 1_700_000_000)
    assert.strictEqual((await b.conduit("location", "add", there)).code, 0)
    assert.strictEqual((await a.conduit("peer", "pull", statusB.peerId)).code, 0)
    const made = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", here, `bee:${there}`, "--mode", "bidirectional")).conduit
    const list = (root_: string) =>
      (Fs.readdirSync(root_, { recursive: true }) as Array<string>)
        .filter((p) => !p.startsWith(".conduit") && Fs.statSync(Path.join(root_, p)).isFile())
        .sort()
        .map((p) => [p, Fs.readFileSync(Path.join(root_, p), "utf8")])
    assert.include(await a.json<{ verified: boolean }>(0, "run", made.id), { verified: true })
    assert.deepStrictEqual(list(there), list(here))
    assert.deepStrictEqual(list(here).map(([p]) => p), ["a-only.txt", "b-only/deep.txt", "shared.txt"])
    // Both edit shared.txt (B later: it wins); B adds a file. B's CLI indexes beside its daemon.
    write(here, "shared.txt", "edited on A", 1_700_000_100)
    write(there, "shared.txt", "edited on B", 1_700_000_200)
    write(there, "new-on-b.txt", "new", 1_700_000_200)
    assert.strictEqual((await b.conduit("index", there)).code, 0)
    const second = await a.json<{ verified: boolean; conflicts: number }>(0, "run", made.id)
    assert.include(second, { verified: true, conflicts: 1 })
    assert.deepStrictEqual(list(there), list(here))
    assert.strictEqual(Fs.readFileSync(Path.join(here, "shared.txt"), "utf8"), "edited on B")
    assert.strictEqual(Fs.readFileSync(Path.join(here, "new-on-b.txt"), "utf8"), "new")
    const conflicts = (await a.json<{ conflicts: Array<{ path: string; reason: string; winner: string }> }>(0, "conflicts")).conflicts
    assert.deepStrictEqual(conflicts.map((c) => [c.path, c.reason, c.winner]), [["shared.txt", "BothChanged", "target"]])
    const kept = Fs.readdirSync(Path.join(here, ".conduit", "versions")).filter((n) => n.startsWith("shared.txt~"))
    assert.lengthOf(kept, 1, "A's losing edit is a version on A")
    await Promise.all([a.json(0, "daemon", "stop"), b.json(0, "daemon", "stop")])
  }, 120_000)

  // The heaviest test here (256 MiB written, then sent in two runs around a daemon killed and
  // restarted): 15 to 30 s on 2 cores, also beside other test suites. The waits that depend on
  // the kill have deadlines, so a stuck step fails with its name instead of the test's limit.
  it("SIGKILL of the receiving daemon during a 256 MiB transfer: after a restart the next run resumes from its verified blocks", async () => {
    const a = device("a")
    const b = device("b")
    // B listens on a fixed port, so A reaches it again after the restart.
    const port = await new Promise<number>((resolve) => {
      const server = Net.createServer().listen(0, "127.0.0.1", () => {
        const p = (server.address() as Net.AddressInfo).port
        server.close(() => resolve(p))
      })
    })
    const listen = ["--listen", `/ip4/127.0.0.1/tcp/${port}`]
    homes.push(a.home, b.home)
    const statusA = (await a.json<{ daemon: StatusJson }>(0, "daemon", "start")).daemon
    const statusB = (await b.json<{ daemon: StatusJson }>(0, "daemon", "start", ...listen)).daemon
    for (const r of [
      await a.conduit("peer", "add", statusB.peerId, ...statusB.addresses.flatMap((x) => ["--addr", x]), "--name", "bee"),
      await b.conduit("peer", "add", statusA.peerId, ...statusA.addresses.flatMap((x) => ["--addr", x]), "--name", "ay")
    ]) assert.strictEqual(r.code, 0, r.stderr)
    const source = Path.join(a.work, "big")
    Fs.mkdirSync(source)
    const size = 256 * 1024 * 1024
    const fd = Fs.openSync(Path.join(source, "large.bin"), "w")
    for (let i = 0; i < 16; i++) Fs.writeSync(fd, Crypto.randomBytes(size / 16))
    Fs.closeSync(fd)
    const target = Path.join(b.work, "big")
    Fs.mkdirSync(target)
    const located = await b.conduit("location", "add", target)
    assert.strictEqual(located.code, 0, located.stderr)
    // The first pull also asks each daemon which device the other is (a one-shot answer).
    const pulled = await within("A pulling B's index", 60_000, a.conduit("peer", "pull", statusB.peerId))
    assert.strictEqual(pulled.code, 0, pulled.stderr)
    const made = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", source, `bee:${target}`, "--mode", "mirror")).conduit

    // The first run: kill B once a quarter of the file has arrived in its partial file.
    let firstEnded: string | undefined
    const first = a.conduit("run", made.id, "--json").then((r) => {
      firstEnded = `the run ended first (code ${r.code}): ${r.stdout} ${r.stderr}`
      return r
    })
    const partial = () => Fs.readdirSync(target).find((n) => n.startsWith(".conduit-tmp-part-"))
    const killedAt = await until("a quarter of the file arriving on B", 90_000, () => {
      const name = partial()
      // The partial file is sized up front (sparse): its allocated blocks are what arrived.
      const got = name === undefined ? 0 : Fs.statSync(Path.join(target, name)).blocks * 512
      if (got < size / 4) return undefined
      process.kill(statusB.pid, "SIGKILL")
      return got
    }, { abandon: () => firstEnded })
    // B's end of the connection is gone with it: the run fails at once, it never waits it out.
    const interrupted = await within("the interrupted run returning", 60_000, first)
    assert.strictEqual(interrupted.code, 1, `the interrupted run did not verify: ${interrupted.stdout} ${interrupted.stderr}`)
    await gone(statusB.pid)
    assert.isDefined(partial(), "the partial file stays for a resume")

    // B comes back on the same port (the killed listener's port can take a moment to be
    // free again); the next run resumes: far fewer bytes cross the wire.
    const restartBy = Date.now() + 15_000
    let restarted = await b.conduit("daemon", "start", ...listen)
    while (restarted.code !== 0 && Date.now() < restartBy) {
      await sleep(250)
      restarted = await b.conduit("daemon", "start", ...listen)
    }
    assert.strictEqual(restarted.code, 0, restarted.stderr)
    const second = await within("the resumed run", 90_000, a.json<{ verified: boolean; bytes: number; copied: number }>(0, "run", made.id))
    assert.isTrue(second.verified)
    assert.strictEqual(second.copied, 1)
    assert.isBelow(second.bytes, size - killedAt / 2, `re-sent ${second.bytes} of ${size} bytes after ${killedAt} had arrived`)
    const hash = (file: string) => Crypto.createHash("sha256").update(Fs.readFileSync(file)).digest("hex")
    assert.strictEqual(hash(Path.join(target, "large.bin")), hash(Path.join(source, "large.bin")))
    assert.isUndefined(partial(), "no temporary file is left")
    await Promise.all([a.json(0, "daemon", "stop"), b.json(0, "daemon", "stop")])
  }, 150_000)

  it("starts again after a daemon was killed: the stale state file is replaced", async () => {
    const a = device("a")
    const first = await start(a)
    process.kill(first.pid, "SIGKILL")
    await gone(first.pid)
    assert.isTrue(Fs.existsSync(DaemonFiles.paths(a.home).info), "SIGKILL leaves daemon.json behind")

    const stale = await a.conduit("daemon", "status")
    assert.strictEqual(stale.code, 1)
    assert.include(stale.stderr, `left from process ${first.pid}, which is gone`)

    const second = await start(a)
    assert.notStrictEqual(second.pid, first.pid)
    assert.strictEqual(second.peerId, first.peerId, "same device identity")
    assert.sameMembers(second.addresses, first.addresses, "the same ports again: paired devices still reach it")
    assert.strictEqual((await a.json<{ daemon: StatusJson }>(0, "daemon", "status")).daemon.pid, second.pid)
    await a.json(0, "daemon", "stop")
  })
})
