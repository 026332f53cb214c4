/**
 * Selective mode end to end with two daemons (real child processes on 127.0.0.1, each with its
 * own library): A keeps a hot set of a folder within a budget, B is the secondary. A run
 * mirrors to B, then evicts A's coldest unpinned files after verifying B's copies; `conduit get`
 * brings one back bit-exact; a pinned file stays; a file whose copy on B was deleted is not
 * evictable and `conduit risk` lists it. And the bad input: pinning outside any location, a
 * `get` while B is offline (remembered, done when B is back), a budget below the pinned set.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { deviceIn, killDaemons, startPaired } from "./support.js"

let root: string
const homes: Array<string> = []

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-selective-e2e-")))
})

afterEach(async () => {
  await killDaemons(homes)
  if (process.env.CONDUIT_KEEP_TEST_DIRS !== "1") Fs.rmSync(root, { recursive: true, force: true })
})

const device = (name: string) => {
  const d = deviceIn(root, name)
  homes.push(d.home)
  return d
}
type Device = ReturnType<typeof device>

const sha = (file: string) => Crypto.createHash("sha256").update(Fs.readFileSync(file)).digest("hex")

/** Ten files of 100 KiB (f0 … f9), random bytes. */
const KIB = 1024
const FILE = 100 * KIB

interface RunJson {
  readonly verified: boolean
  readonly cache: {
    readonly limitBytes: number | null
    readonly localBytesAfter: number
    readonly evicted: Array<{ path: string; size: number; reason: string }>
    readonly fetched: Array<{ path: string; size: number; reason: string }>
    readonly warnings: Array<{ reason: string; message: string }>
  } | null
}

const setup = async () => {
  const a = device("a")
  const b = device("b")
  const { b: sb } = await startPaired(a, b)
  const hot = Path.join(a.work, "hot")
  Fs.mkdirSync(hot)
  const content: Record<string, string> = {}
  for (let i = 0; i < 10; i++) {
    const file = Path.join(hot, `f${i}.bin`)
    Fs.writeFileSync(file, Crypto.randomBytes(FILE))
    content[`f${i}.bin`] = sha(file)
  }
  const store = Path.join(b.work, "store")
  Fs.mkdirSync(store)
  assert.strictEqual((await b.conduit("location", "add", store)).code, 0)
  assert.strictEqual((await a.conduit("peer", "pull", sb.peerId)).code, 0)
  // A budget of 450 KiB: 4 of the 10 files fit.
  const made = await a.json<{ conduit: { id: string; cacheMaxBytes: number } }>(0, "conduit", "create", hot, `bee:${store}`, "--mode", "selective", "--cache-max", "450K")
  assert.strictEqual(made.conduit.cacheMaxBytes, 450 * KIB)
  return { a, b, hot, store, id: made.conduit.id, content, peerB: sb.peerId }
}

const run = async (a: Device, id: string) => {
  const ran = await a.json<RunJson>(0, "run", id)
  assert.isTrue(ran.verified, JSON.stringify(ran))
  return ran
}

describe("selective mode with two daemons", () => {
  it("evicts the coldest unpinned files after verifying them on the secondary; get brings one back bit-exact; pins stay; a lost secondary copy makes a file non-evictable and at risk", async () => {
    const { a, b, hot, store, id, content, peerB } = await setup()

    // Opened often: f7, f8, f9 (several times), f6 once; f0 pinned; the rest never opened.
    for (const [name, times] of [["f9.bin", 4], ["f8.bin", 3], ["f7.bin", 3], ["f6.bin", 1]] as const) {
      for (let i = 0; i < times; i++) assert.strictEqual((await a.conduit("open", Path.join(hot, name))).code, 0)
    }
    const pinned = await a.conduit("pin", Path.join(hot, "f0.bin"))
    assert.strictEqual(pinned.code, 0, pinned.stderr)
    assert.match(pinned.stdout, /^pinned /)

    const first = await run(a, id)
    assert.isNotNull(first.cache)
    const evicted = first.cache!.evicted.map((e) => e.path).sort()
    // 10 × 100 KiB into 450 KiB: six go, the never-opened unpinned ones; f0 (pinned) and the hot ones stay.
    assert.deepStrictEqual(evicted, ["f1.bin", "f2.bin", "f3.bin", "f4.bin", "f5.bin", "f6.bin"].filter((f) => evicted.includes(f)))
    assert.lengthOf(evicted, 6)
    assert.notInclude(evicted, "f0.bin")
    for (const hotFile of ["f7.bin", "f8.bin", "f9.bin"]) assert.notInclude(evicted, hotFile)
    assert.isAtMost(first.cache!.localBytesAfter, 450 * KIB)
    for (const f of evicted) {
      assert.isFalse(Fs.existsSync(Path.join(hot, f)), `${f} evicted from A`)
      assert.strictEqual(sha(Path.join(store, f)), content[f], `${f} verified on B`)
    }
    assert.isTrue(Fs.existsSync(Path.join(hot, "f0.bin")), "the pinned file stays")

    // ls marks evicted and pinned files; the rows stay visible.
    const ls = await a.conduit("ls", hot)
    assert.strictEqual(ls.code, 0, ls.stderr)
    const lines = ls.stdout.trimEnd().split("\n")
    assert.lengthOf(lines, 10)
    assert.match(lines.find((l) => l.includes(" f0.bin"))!, / f0\.bin \[pinned\]$/)
    for (const f of evicted) assert.match(lines.find((l) => l.includes(` ${f}`))!, new RegExp(` ${f.replace(".", "\\.")} \\[remote\\]$`))
    const lsJson = (await a.conduit("ls", hot, "--json")).stdout.trimEnd().split("\n").map((l) => JSON.parse(l))
    assert.deepStrictEqual(lsJson.filter((e) => e.remote).map((e) => e.path).sort(), evicted)

    // A second run finds nothing to do: evicted files are neither copied nor deleted on B.
    const second = await run(a, id)
    assert.lengthOf(second.cache!.evicted, 0)
    for (const f of evicted) assert.isTrue(Fs.existsSync(Path.join(store, f)))

    // get: back bit-exact, verified; the open counts.
    const back = evicted[0]!
    const got = await a.json<{ fetched: boolean; size: number; hash: string }>(0, "get", Path.join(hot, back))
    assert.isTrue(got.fetched)
    assert.strictEqual(got.size, FILE)
    assert.strictEqual(sha(Path.join(hot, back)), content[back])
    const again = await a.json<{ fetched: boolean }>(0, "get", Path.join(hot, back))
    assert.isFalse(again.fetched, "local already")

    // B's copy of a local file is deleted (B's index says so, and A pulls it): that file cannot
    // be evicted any more, and the risk report lists it.
    const lost = "f7.bin"
    Fs.rmSync(Path.join(store, lost))
    assert.strictEqual((await b.conduit("index", store)).code, 0)
    assert.strictEqual((await a.conduit("peer", "pull", peerB)).code, 0)
    assert.strictEqual((await a.conduit("conduit", "set", id, "--cache-max", "0")).code, 0)
    const preview = await a.json<{ evict: Array<{ path: string }>; unverified: Array<string>; warnings: Array<{ reason: string }> }>(0, "cache", id)
    assert.include(preview.unverified, lost)
    assert.notInclude(preview.evict.map((e) => e.path), lost)
    assert.includeMembers(preview.evict.map((e) => e.path), ["f8.bin", "f9.bin"])
    assert.notInclude(preview.evict.map((e) => e.path), "f0.bin", "pinned")
    assert.include(preview.warnings.map((w) => w.reason), "PinnedOverBudget", "a budget of 0 is below the pinned set: pins win")
    const risk = await a.json<{ files: Array<{ path: string; state: string; copies: number; device: { self: boolean } }> }>(0, "risk")
    const atRisk = risk.files.filter((f) => f.path === Path.join(hot, lost))
    assert.lengthOf(atRisk, 1, JSON.stringify(risk))
    assert.deepInclude(atRisk[0], { state: "local", copies: 1 })
    assert.isTrue(atRisk[0]!.device.self)
    assert.notInclude(risk.files.map((f) => f.path), Path.join(hot, "f8.bin"), "a file with a copy on B is not at risk")

    // The next run copies it to B again (mirror), then, with a verified copy there, the tight budget evicts it; the pin holds.
    const tight = await run(a, id)
    const gone = tight.cache!.evicted.map((e) => e.path)
    assert.include(gone, lost)
    assert.notInclude(gone, "f0.bin")
    assert.strictEqual(sha(Path.join(store, lost)), content[lost])
    assert.deepStrictEqual(tight.cache!.warnings.map((w) => w.reason), ["PinnedOverBudget"], "pins win over a budget they do not fit in")
    assert.isTrue(Fs.existsSync(Path.join(hot, "f0.bin")))
    // Evicted files live on B alone now: the risk report says so (their row here is `remote`).
    const after = (await a.json<{ files: Array<{ path: string; state: string; copies: number }> }>(0, "risk")).files
    assert.deepInclude(after, { ...after.find((f) => f.path === Path.join(hot, lost))!, state: "remote", copies: 1 })
  }, 240_000)

  it("refuses bad input clearly: a pin outside any location, bad budgets, a get while the secondary is offline (remembered, done when it is back)", async () => {
    const { a, b, hot, store, id, content } = await setup()
    const refused = async (d: Device, code: number, ...args: Array<string>) => {
      const r = await d.conduit(...args)
      assert.strictEqual(r.code, code, `conduit ${args.join(" ")}: ${r.stdout}${r.stderr}`)
      return r.stderr.trim()
    }
    const outside = Path.join(root, "elsewhere")
    Fs.mkdirSync(outside)
    Fs.writeFileSync(Path.join(outside, "x.txt"), "x")
    assert.match(await refused(a, 1, "pin", Path.join(outside, "x.txt")), /is not inside any location/)
    assert.match(await refused(a, 1, "pin", Path.join(hot, "nope.bin")), /is not in the index/)
    assert.match(await refused(a, 1, "conduit", "set", id, "--cache-max", "12Q"), /^--cache-max must be a size/)
    assert.match(await refused(a, 1, "conduit", "set", id, "--cache-min-free", "150%"), /^--cache-min-free must be a size/)
    assert.strictEqual((await a.conduit("conduit", "set", id, "--cache-policy", "fifo")).code, 2)
    assert.match(await refused(a, 1, "get", Path.join(outside, "x.txt")), /is in no selective conduit's source/)
    assert.match(await refused(a, 1, "get", hot), /is no file of the index/)
    assert.match(await refused(a, 1, "cache", "ffffffff"), /no conduit 'ffffffff'/)
    assert.strictEqual((await a.json<{ conduit: { cacheMaxBytes: number } }>(0, "conduit", "show", id)).conduit.cacheMaxBytes, 450 * KIB, "unchanged")

    // A budget below the pinned set: pins win, with a warning.
    assert.strictEqual((await a.conduit("pin", hot)).code, 0)
    const over = await a.conduit("run", id)
    assert.strictEqual(over.code, 0, over.stderr)
    assert.match(over.stdout, /warning: the pinned files \(10 files, 1024000 bytes\) do not fit in the budget of 460800 bytes: pins win, the budget is exceeded by 563200 bytes/, over.stdout)
    for (let i = 0; i < 10; i++) assert.isTrue(Fs.existsSync(Path.join(hot, `f${i}.bin`)))
    assert.strictEqual((await a.conduit("unpin", hot)).code, 0)
    const evicted = (await run(a, id)).cache!.evicted.map((e) => e.path)
    assert.lengthOf(evicted, 6)

    // The secondary goes offline: get says so, and remembers.
    assert.strictEqual((await b.conduit("daemon", "stop")).code, 0)
    const wanted = evicted[0]!
    assert.match(await refused(a, 1, "get", Path.join(hot, wanted)), /cannot be reached now; the file will be fetched by the conduit's next run once it is back/)
    assert.isFalse(Fs.existsSync(Path.join(hot, wanted)))
    // Back: the daemon retries the fetch by itself (it redials B with backoff, and runs a
    // conduit with pending fetches every 10 s), with no run asked for.
    assert.strictEqual((await b.conduit("daemon", "start")).code, 0)
    const deadline = Date.now() + 90_000
    while (!Fs.existsSync(Path.join(hot, wanted)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250))
    assert.isTrue(Fs.existsSync(Path.join(hot, wanted)), "fetched once the secondary is back")
    // The fetch is a verified copy into place (a temporary name, then a rename): what appears is whole.
    assert.strictEqual(sha(Path.join(hot, wanted)), content[wanted])
    assert.isTrue(Fs.existsSync(Path.join(store, wanted)))
  }, 240_000)

  it("works between two directories of one device too, without a daemon", async () => {
    const a = device("solo")
    const hot = Path.join(a.work, "hot")
    const cold = Path.join(a.work, "cold")
    Fs.mkdirSync(hot)
    Fs.mkdirSync(cold)
    const content: Record<string, string> = {}
    for (let i = 0; i < 5; i++) {
      Fs.writeFileSync(Path.join(hot, `f${i}.bin`), Crypto.randomBytes(FILE))
      content[`f${i}.bin`] = sha(Path.join(hot, `f${i}.bin`))
    }
    // No budget yet: the first run copies everything to the secondary (reading every file, which
    // moves atimes on a relatime mount) and evicts nothing; its cache step notes the atimes.
    const { id } = (await a.json<{ conduit: { id: string } }>(0, "conduit", "create", hot, cold, "--mode", "selective", "--cache-policy", "lru")).conduit
    const first = await a.json<RunJson>(0, "run", id)
    assert.deepStrictEqual(first.cache!.evicted, [])
    assert.isNull(first.cache!.limitBytes)
    for (const f of ["f3.bin", "f4.bin"]) assert.strictEqual((await a.conduit("open", Path.join(hot, f))).code, 0)
    // f0 is read by some program after the opens above (its atime moves on): under LRU it is
    // the most recent, so it stays, and f3 (the older open) goes. The others' atimes did not move.
    const now = Date.now() / 1000
    Fs.utimesSync(Path.join(hot, "f0.bin"), now + 5, Fs.statSync(Path.join(hot, "f0.bin")).mtimeMs / 1000)
    assert.strictEqual((await a.conduit("conduit", "set", id, "--cache-max", "250K")).code, 0)
    const ran = await a.json<RunJson>(0, "run", id)
    assert.deepStrictEqual(ran.cache!.evicted.map((e) => e.path).sort(), ["f1.bin", "f2.bin", "f3.bin"])
    assert.isTrue(Fs.existsSync(Path.join(hot, "f0.bin")), "an atime counts as an open")
    for (const f of ["f1.bin", "f2.bin", "f3.bin"]) {
      assert.isFalse(Fs.existsSync(Path.join(hot, f)))
      assert.strictEqual(sha(Path.join(cold, f)), content[f])
    }
    const text = await a.conduit("get", Path.join(hot, "f1.bin"))
    assert.strictEqual(text.code, 0, text.stderr)
    assert.match(text.stdout, /^fetched .*f1\.bin \(100 KiB\) from the secondary, verified \(BLAKE3 [0-9a-f]{12}\)/)
    assert.strictEqual(sha(Path.join(hot, "f1.bin")), content["f1.bin"])
    // A change to an evicted file on the secondary is not lost: the file cannot come back stale.
    const cache = await a.json<{ localBytes: number; limitBytes: number }>(0, "cache", id)
    assert.strictEqual(cache.limitBytes, 250 * KIB)
    assert.strictEqual(cache.localBytes, 3 * FILE)
    // Both directories are on this one device: every file's only copies are on it.
    const risk = await a.conduit("risk")
    assert.strictEqual(risk.code, 0, risk.stderr)
    assert.match(risk.stdout.split("\n")[0]!, /^ +100 KiB {2}only on this device {7}\/.+\.bin$/)
    assert.match(risk.stderr, /^\d+ files \(.+\) whose only verified copy is on one device\n$/)
  }, 120_000)
})
