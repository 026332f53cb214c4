/**
 * The daemon's scheduler, end to end: a real `conduitd` child process, real directories. An
 * instant conduit follows changes on either side within 3 seconds of the last write, and a burst
 * of 5,000 writes is a handful of runs; an interval conduit runs on time, and again after the
 * daemon restarts.
 */
import { DaemonFiles } from "@conduit/daemon/api"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { runners } from "./support.js"

let root: string
let home: string
let work: string
const { conduit, json } = runners(() => ({ home, work }))

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-schedule-e2e-")))
  home = Path.join(root, "home")
  work = Path.join(root, "work")
  Fs.mkdirSync(work, { recursive: true })
})

afterEach(() => {
  const read = DaemonFiles.readInfoSync(home)
  if (read._tag === "Found" && DaemonFiles.isAlive(read.info.pid)) process.kill(read.info.pid, "SIGKILL")
  if (process.env["KEEP_E2E"] === "1") console.log(`[kept] ${root}`)
  else Fs.rmSync(root, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` holds; the milliseconds it took. */
const within = async (what: string, millis: number, check: () => boolean | Promise<boolean>) => {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > millis) assert.fail(`not within ${millis} ms: ${what}`)
    await sleep(20)
  }
  return Date.now() - started
}

interface Generation {
  readonly generation: number
  readonly status: string
  readonly startedAt: string
}

const generations = async (id: string) => (await json<{ generations: Array<Generation> }>(0, "history", id)).generations

const dirs = () => {
  const a = Path.join(work, "a")
  const b = Path.join(work, "b")
  Fs.mkdirSync(a)
  Fs.mkdirSync(b)
  return { a, b }
}

describe("scheduled conduits in the daemon", () => {
  it("instant: a change on either side is synced within 3 s of the last write; 5,000 writes are a handful of runs", async () => {
    const { a, b } = dirs()
    Fs.writeFileSync(Path.join(a, "first.txt"), "there before")
    await json(0, "daemon", "start")
    const made = (await json<{ conduit: { id: string } }>(0, "conduit", "create", a, b, "--mode", "bidirectional", "--schedule", "instant")).conduit
    // The first run comes by itself.
    await within("the first run", 10_000, () => Fs.existsSync(Path.join(b, "first.txt")))
    await within("the first generation is recorded", 5_000, async () => (await generations(made.id)).some((g) => g.status === "completed"))
    await sleep(500)

    Fs.writeFileSync(Path.join(a, "from-a.txt"), "written on A")
    const toB = await within("A's new file on B", 3_000, () => Fs.existsSync(Path.join(b, "from-a.txt")))
    Fs.mkdirSync(Path.join(b, "sub"))
    Fs.writeFileSync(Path.join(b, "sub", "from-b.txt"), "written on B")
    const toA = await within("B's new file on A", 3_000, () => Fs.existsSync(Path.join(a, "sub", "from-b.txt")))
    assert.strictEqual(Fs.readFileSync(Path.join(a, "sub", "from-b.txt"), "utf8"), "written on B")
    assert.isBelow(Math.max(toA, toB), 3_000)
    if (process.env["CONDUIT_E2E_FIGURES"] === "1") console.log(`instant: A→B ${toB} ms, B→A ${toA} ms`)

    // A burst: 5,000 files in 50 directories, as fast as they can be written.
    await within("the runs so far are done", 10_000, async () => (await generations(made.id)).every((g) => g.status !== "running"))
    const before = (await generations(made.id)).length
    for (let d = 0; d < 50; d++) {
      Fs.mkdirSync(Path.join(a, "burst", `d${d}`), { recursive: true })
      for (let f = 0; f < 100; f++) Fs.writeFileSync(Path.join(a, "burst", `d${d}`, `f${f}.txt`), `file ${d}/${f}`)
    }
    const count = () => {
      let n = 0
      for (let d = 0; d < 50; d++) n += Fs.existsSync(Path.join(b, "burst", `d${d}`)) ? Fs.readdirSync(Path.join(b, "burst", `d${d}`)).length : 0
      return n
    }
    await within("all 5,000 files on B", 60_000, () => count() === 5000)
    await within("the runs are done", 10_000, async () => (await generations(made.id)).every((g) => g.status !== "running"))
    const runs = (await generations(made.id)).length - before
    assert.isAtMost(runs, 6, `${runs} runs for a burst of 5,000 writes`)
    if (process.env["CONDUIT_E2E_FIGURES"] === "1") console.log(`instant: ${runs} run(s) for 5,000 writes`)
    await json(0, "daemon", "stop")
  }, 120_000)

  it("interval: runs every 2 s after the last run, and keeps doing so after the daemon restarts", async () => {
    const { a, b } = dirs()
    Fs.writeFileSync(Path.join(a, "f.txt"), "x")
    const made = (await json<{ conduit: { id: string } }>(0, "conduit", "create", a, b, "--mode", "mirror", "--schedule", "interval:2s")).conduit
    await json(0, "daemon", "start")
    await within("three runs", 15_000, async () => (await generations(made.id)).length >= 3)
    const starts = (await generations(made.id)).map((g) => Date.parse(g.startedAt)).sort((x, y) => x - y)
    for (let i = 1; i < starts.length; i++) {
      const gap = starts[i]! - starts[i - 1]!
      assert.isAtLeast(gap, 1_900, `runs ${starts.length}: a gap of ${gap} ms`)
      assert.isAtMost(gap, 4_500, `runs ${starts.length}: a gap of ${gap} ms`)
    }
    assert.isTrue(Fs.existsSync(Path.join(b, "f.txt")))

    await json(0, "daemon", "stop")
    const stopped = (await generations(made.id)).length
    await sleep(500)
    await json(0, "daemon", "start")
    await within("a run after the restart", 6_000, async () => (await generations(made.id)).length > stopped)
    await json(0, "daemon", "stop")
  }, 60_000)

  it("manual conduits are left alone, and a disabled instant conduit does not run", async () => {
    const { a, b } = dirs()
    Fs.writeFileSync(Path.join(a, "f.txt"), "x")
    const manual = (await json<{ conduit: { id: string } }>(0, "conduit", "create", a, b, "--mode", "mirror")).conduit
    const c = Path.join(work, "c")
    const d = Path.join(work, "d")
    Fs.mkdirSync(c)
    Fs.mkdirSync(d)
    Fs.writeFileSync(Path.join(c, "g.txt"), "y")
    const disabled = (await json<{ conduit: { id: string } }>(0, "conduit", "create", c, d, "--schedule", "instant", "--disabled")).conduit
    await json(0, "daemon", "start")
    await sleep(3_000)
    assert.lengthOf(await generations(manual.id), 0)
    assert.lengthOf(await generations(disabled.id), 0)
    assert.isFalse(Fs.existsSync(Path.join(b, "f.txt")))
    assert.strictEqual((await conduit("daemon", "stop")).code, 0)
  }, 60_000)
})
