/**
 * End-to-end tests of `conduit status [ID]`: the built `dist/main.js` run as a real child
 * process on a fresh `CONDUIT_HOME` and real temporary trees, no daemon (the status is read
 * from the library: a run in another process shows as it goes).
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "vitest"
import { CLI, escape, ISO, manyFiles, session, T0, TIME, tree as treeIn, write } from "./support.js"

const { conduit, json, home: homeDir, work: workDir } = session("status")

const tree = (name: string, files: Record<string, string | null> = {}) => treeIn(workDir(), name, files)

const create = async (src: string, dst: string, ...options: Array<string>): Promise<any> =>
  (await json(0, "conduit", "create", src, dst, ...options)).conduit


describe("conduit status", () => {
  it("shows the last generation's figures, the newest conflict with its resolution and each endpoint's storage", async () => {
    const one = tree("one", { "shared.txt": "base", "x.txt": "x" })
    const two = tree("two")
    const { id } = await create(one, two, "--mode", "bidirectional")

    // Before any run: idle, no generation, no conflicts.
    const fresh = (await json(0, "status")).conduits
    assert.lengthOf(fresh, 1)
    assert.include(fresh[0], { id, state: "idle", mode: "bidirectional", schedule: "manual", job: null, bytesPerSecond: null, etaMs: null, lastGeneration: null })

    assert.strictEqual((await conduit("run", id)).code, 0)
    // A double edit: the target's is the later write, so it wins.
    write(one, "shared.txt", "edited on one", T0 + 100)
    write(two, "shared.txt", "edited on two, later", T0 + 200)
    assert.strictEqual((await conduit("run", id)).code, 0)

    const doc = await json(0, "status", id.slice(0, 8))
    assert.deepStrictEqual(Object.keys(doc), ["conduits"])
    const s = doc.conduits[0]
    assert.deepStrictEqual(Object.keys(s), [
      "id", "source", "target", "mode", "schedule", "enabled", "state", "job", "bytesPerSecond", "etaMs", "pending",
      "scheduler", "lastGeneration", "conflicts", "storage"
    ])
    assert.include(s, { id, source: one, target: two, enabled: true, state: "idle", job: null, scheduler: null })
    assert.deepStrictEqual(s.pending, { operations: 0, bytes: 0, runQueued: false })
    assert.include(s.lastGeneration, {
      generation: 2, status: "completed", filesCopied: 1, filesDeleted: 0, filesMoved: 0,
      bytesTransferred: "edited on two, later".length, conflictsResolved: 1, verification: "verified", errors: 0
    })
    assert.match(s.lastGeneration.startedAt, ISO)
    assert.strictEqual(s.conflicts.count, 1)
    assert.deepStrictEqual(
      { ...s.conflicts.recent[0], createdAt: undefined },
      { generation: 2, path: "shared.txt", reason: "BothChanged", winner: "target", resolution: "LastWriteWins", createdAt: undefined }
    )
    for (const [side, path] of [[s.storage.source, one], [s.storage.target, two]] as const) {
      assert.strictEqual(side.path, path)
      assert.isNull(side.peer)
      assert.isAbove(side.freeBytes, 0)
      assert.isAbove(side.totalBytes, 0)
      assert.isAtLeast(side.usedBytes, 0)
      assert.isAtMost(side.usedBytes + side.freeBytes, side.totalBytes)
    }

    const text = await conduit("status")
    assert.strictEqual(text.code, 0, text.stderr)
    const lines = text.stdout.trimEnd().split("\n")
    assert.strictEqual(lines[0], `${id.slice(0, 8)}  ${one} → ${two}`)
    assert.match(lines.find((l) => l.includes("state"))!, /^ {2}state +idle$/)
    assert.match(lines.find((l) => l.includes("last generation"))!, new RegExp(`^ {2}last generation +2: completed, ${TIME}; 1 copied, 0 deleted, 0 moved, 20 B$`))
    assert.match(lines.find((l) => l.includes("conflicts"))!, /^ {2}conflicts +1; newest: shared\.txt \(generation 2\) BothChanged, LastWriteWins, kept the target's$/)
    assert.match(lines.find((l) => l.startsWith("  source storage"))!, new RegExp(`^ {2}source storage +${escape(one)}: [\\d.]+ [KMGTP]?i?B used, [\\d.]+ [KMGTP]?i?B free$`))
    assert.match(lines.find((l) => l.startsWith("  target storage"))!, new RegExp(`^ {2}target storage +${escape(two)}: .+ used, .+ free$`))

    // A disabled conduit says so.
    assert.strictEqual((await conduit("conduit", "disable", id)).code, 0)
    assert.strictEqual((await json(0, "status")).conduits[0].state, "disabled")
  }, 60_000)

  it("a run in another process is seen running with its progress, then paused with what is left pending", async () => {
    const src = tree("src", manyFiles(25, 200))
    const dst = tree("dst")
    const made = await create(src, dst, "--mode", "mirror")
    const runner = spawn(process.execPath, [CLI, "run", made.id, "--json"], {
      cwd: workDir(),
      env: { ...process.env, CONDUIT_HOME: homeDir(), NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "ignore"]
    })
    const ended = new Promise<number | null>((resolve) => runner.on("close", resolve))
    // Wait until the status shows the run with a planned total.
    let running: any
    for (let i = 0; i < 400 && running === undefined; i++) {
      const s = (await json(0, "status")).conduits[0]
      if (s.state === "running" && s.job !== null && s.job.total > 0) running = s
      else await new Promise((r) => setTimeout(r, 10))
    }
    assert.isDefined(running, "the run shows as running with progress")
    assert.strictEqual(running.job.total, 5025)
    assert.strictEqual(running.job.status, "running")
    assert.strictEqual(running.pending.operations, running.job.total - running.job.done)
    assert.strictEqual(running.pending.bytes, running.job.bytesTotal - running.job.bytes)
    if (running.bytesPerSecond !== null) {
      assert.isAbove(running.bytesPerSecond, 0)
      assert.isAtLeast(running.etaMs, 0)
    }

    // Paused from here: the status shows it paused, with no speed, and what is left pending.
    assert.strictEqual((await conduit("jobs", "pause", running.job.id)).code, 0)
    assert.strictEqual(await ended, 1, "a paused run did not verify")
    const paused = (await json(0, "status")).conduits[0]
    assert.include(paused, { state: "paused", bytesPerSecond: null, etaMs: null })
    assert.include(paused.job, { id: running.job.id, status: "paused", orphaned: false, total: 5025 })
    assert.isBelow(paused.job.done, 5025)
    assert.strictEqual(paused.pending.operations, 5025 - paused.job.done)
    assert.isAbove(paused.pending.operations, 0)
    assert.include(paused.lastGeneration, { generation: 1, status: "paused" })
    const text = (await conduit("status")).stdout.split("\n")
    assert.match(text.find((l) => l.includes("  state"))!, new RegExp(`^ {2}state +paused, job ${running.job.id.slice(0, 8)}$`))
    assert.match(text.find((l) => l.includes("  progress"))!, /^ {2}progress +\d{1,2}% \(\d+\/5025 operations, .+ of .+\)$/)
  }, 120_000)

  it("a running daemon answers the same status at GET /v1/conduits/status, with its scheduler's view", async () => {
    const src = tree("src", { "a.txt": "a" })
    const dst = tree("dst")
    const { id } = await create(src, dst, "--mode", "mirror", "--schedule", "interval:1h")
    assert.strictEqual((await conduit("run", id)).code, 0)
    const cli = (await json(0, "status")).conduits[0]
    const daemon = (await json(0, "daemon", "start")).daemon
    try {
      const token = Fs.readFileSync(Path.join(homeDir(), "daemon.token"), "utf8").trim()
      assert.strictEqual((await fetch(`${daemon.api}/v1/conduits/status`)).status, 401)
      let answer: any
      for (let i = 0; i < 100 && answer?.scheduler == null; i++) {
        const r = await fetch(`${daemon.api}/v1/conduits/status`, { headers: { authorization: `Bearer ${token}` } })
        assert.strictEqual(r.status, 200)
        answer = ((await r.json()) as any).conduits[0]
        if (answer.scheduler === null) await new Promise((r) => setTimeout(r, 100))
      }
      assert.isNotNull(answer.scheduler, "the daemon's scheduler has looked at the conduit")
      assert.match(answer.scheduler.nextRunAt, ISO)
      assert.deepStrictEqual({ ...answer, scheduler: null, storage: null }, { ...cli, scheduler: null, storage: null })
      assert.strictEqual(answer.storage.source.path, src)
      assert.isAbove(answer.storage.target.freeBytes, 0)
    } finally {
      const stopped = await conduit("daemon", "stop")
      if (stopped.code !== 0) process.kill(daemon.pid, "SIGKILL")
    }
  }, 120_000)

  it("an unknown conduit is refused with one sentence and exit code 1; no conduits is a note", async () => {
    const none = await conduit("status")
    assert.strictEqual(none.code, 0)
    assert.strictEqual(none.stdout, "")
    assert.strictEqual(none.stderr, "no conduits yet; create one with 'conduit conduit create SRC DST'\n")
    assert.deepStrictEqual(await json(0, "status"), { conduits: [] })

    const r = await conduit("status", "nosuchid")
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.strictEqual(r.stderr, "no conduit 'nosuchid'\n")
    const failed = await json(1, "status", "nosuchid")
    assert.include(failed.error, { _tag: "SyncError", reason: "NotFound" })
  }, 60_000)
})
