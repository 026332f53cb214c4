/**
 * End-to-end tests of the `conduit` executable: the built `dist/main.js` run as a real child
 * process, with `CONDUIT_HOME` a fresh temporary directory and real temporary trees.
 * `turbo run test` builds the CLI first.
 */
import * as Blake3 from "blake3"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, assert, beforeAll, beforeEach, describe, it } from "vitest"

const CLI = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const VERSION = (JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

let home: string
let work: string

/** Starts `conduit ARGS` on the test's library; stdout and stderr are pipes (not terminals). */
const start = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, [CLI, ...args], {
    cwd: work,
    env: { ...process.env, CONDUIT_HOME: home, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"]
  })

/** Runs `conduit ARGS` to the end. */
const conduit = (...args: Array<string>): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = start(args)
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** Runs a `--json` command that must succeed and parses its one document. */
const json = async <A = any>(...args: Array<string>): Promise<A> => {
  const r = await conduit(...args, "--json")
  assert.strictEqual(r.code, 0, `conduit ${args.join(" ")} --json failed: ${r.stderr}`)
  const lines = r.stdout.trim().split("\n")
  assert.lengthOf(lines, 1, "one JSON document on one line")
  return JSON.parse(lines[0]!) as A
}

/** The NDJSON lines of a successful `ls --json`. */
const lsJson = async (...args: Array<string>): Promise<Array<any>> => {
  const r = await conduit("ls", ...args, "--json")
  assert.strictEqual(r.code, 0, r.stderr)
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))
}

/** Writes files: `{ "a/b.txt": "text" }`; `null` makes a directory. */
const writeTree = (root: string, files: Record<string, string | null>) => {
  for (const [rel, content] of Object.entries(files)) {
    const abs = Path.join(root, rel)
    if (content === null) Fs.mkdirSync(abs, { recursive: true })
    else {
      Fs.mkdirSync(Path.dirname(abs), { recursive: true })
      Fs.writeFileSync(abs, content)
    }
  }
}

/** A new directory under the test's work directory (canonical, so roots compare equal). */
const tree = (name: string, files: Record<string, string | null> = {}) => {
  const root = Path.join(work, name)
  Fs.mkdirSync(root, { recursive: true })
  writeTree(root, files)
  return root
}

/** BLAKE3 of a string, computed independently of the CLI. */
const b3 = (text: string) => Blake3.createHash().update(Buffer.from(text)).digest("hex") as unknown as string

/** Resolves when `read()` matches `pattern`, failing after `timeoutMs`. */
const waitFor = async (read: () => string, pattern: RegExp, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got:\n${read()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

beforeAll(() => {
  if (!Fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build it first (pnpm turbo run build --filter @conduit/cli...)`)
})

beforeEach(() => {
  home = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-cli-home-")))
  work = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-cli-work-")))
})

afterEach(() => {
  for (const dir of [home, work]) {
    Fs.chmodSync(dir, 0o700)
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})

describe("conduit", () => {
  it("prints its help and version", async () => {
    const help = await conduit("--help")
    assert.strictEqual(help.code, 0)
    for (const command of ["location add", "location list", "location rm", "index", "ls"]) {
      assert.include(help.stdout, command)
    }
    const version = await conduit("--version")
    assert.strictEqual(version.code, 0)
    assert.strictEqual(version.stdout.trim(), VERSION)
    const lsHelp = await conduit("ls", "--help")
    assert.strictEqual(lsHelp.code, 0)
    assert.include(lsHelp.stdout, "--recursive")
    // Help opens no library.
    assert.isFalse(Fs.existsSync(Path.join(home, "library.db")))
  })

  it("keeps a V8 code cache of its bundle: written by the first run, used by the next, rebuilt if damaged, off on request", async () => {
    const run = (env: Record<string, string>) =>
      new Promise<Result>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, "location", "list", "--json"], {
          cwd: work,
          env: { ...process.env, CONDUIT_HOME: home, NO_COLOR: "1", ...env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
        child.on("error", reject)
        child.on("close", (code) => resolve({ code, stdout, stderr }))
      })
    const cacheHome = Path.join(work, "xdg-cache")
    const cached = () => (Fs.existsSync(Path.join(cacheHome, "conduit")) ? Fs.readdirSync(Path.join(cacheHome, "conduit")) : [])
    const off = await run({ XDG_CACHE_HOME: cacheHome, CONDUIT_NO_CODE_CACHE: "1" })
    assert.strictEqual(off.code, 0, off.stderr)
    assert.deepStrictEqual(cached(), [])
    const first = await run({ XDG_CACHE_HOME: cacheHome })
    assert.strictEqual(first.code, 0, first.stderr)
    const files = cached()
    assert.lengthOf(files, 1)
    assert.match(files[0]!, /^cli-[0-9a-f]{16}\.v8$/)
    const file = Path.join(cacheHome, "conduit", files[0]!)
    const written = Fs.statSync(file)
    assert.isAbove(written.size, 100_000)
    const second = await run({ XDG_CACHE_HOME: cacheHome })
    assert.deepStrictEqual([second.code, second.stdout, second.stderr], [0, first.stdout, ""])
    assert.strictEqual(Fs.statSync(file).mtimeMs, written.mtimeMs, "an accepted cache is not rewritten")
    // A damaged cache is rejected by V8, the bundle compiled as usual and the cache replaced.
    Fs.writeFileSync(file, "not a code cache")
    const third = await run({ XDG_CACHE_HOME: cacheHome })
    assert.deepStrictEqual([third.code, third.stdout, third.stderr], [0, first.stdout, ""])
    assert.isAbove(Fs.statSync(file).size, 100_000)
    // An unusable cache directory costs nothing but the cache.
    const blocked = Path.join(work, "blocked")
    Fs.writeFileSync(blocked, "a file, not a directory")
    const fourth = await run({ XDG_CACHE_HOME: blocked })
    assert.deepStrictEqual([fourth.code, fourth.stdout, fourth.stderr], [0, first.stdout, ""])
  })

  it("adds, lists and removes locations, in text and JSON", async () => {
    const docs = tree("docs", { "a.txt": "alpha", "b.log": "noise", "tmp/t.txt": "temp", "sub/c.txt": "gamma" })
    const added = await json("location", "add", docs, "--name", "Docs", "--mode", "standard", "--ignore", "*.log", "--ignore", "tmp/")
    assert.match(added.location.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.deepStrictEqual(
      { name: added.location.name, root: added.location.root, mode: added.location.mode, ignorePatterns: added.location.ignorePatterns },
      { name: "Docs", root: docs, mode: "Standard", ignorePatterns: ["*.log", "tmp/"] }
    )
    assert.strictEqual(new Date(added.location.createdAt).toISOString(), added.location.createdAt)
    assert.isString(added.location.lastScanAt, "indexed at once")
    // a.txt, sub, sub/c.txt: the ignored file and directory are not indexed.
    assert.include(added.scan, { location: added.location.id, root: docs, entriesSeen: 3, added: 3, filesHashed: 2, bytesHashed: 10, deleted: 0 })
    assert.deepStrictEqual(added.scan.problems, [])
    assert.deepStrictEqual((await lsJson(docs, "-r")).map((e) => e.path), ["a.txt", "sub", "sub/c.txt"])

    const music = tree("music", { "song.mp3": "la la" })
    const text = await conduit("location", "add", music, "--mode", "sync-complete", "--ignore", "*.tmp", "--no-index")
    assert.strictEqual(text.code, 0, text.stderr)
    assert.strictEqual(text.stderr, "")
    assert.match(text.stdout, /^added location music \(.*music\), mode SyncComplete, ignoring \*\.tmp, id [0-9a-f-]{36}\n$/)
    const notIndexed = await json("location", "list")
    const musicJson = notIndexed.locations.find((l: any) => l.name === "music")
    assert.isNull(musicJson.lastScanAt)
    assert.strictEqual(musicJson.totals.files, 0)

    const list = await json("location", "list")
    assert.deepStrictEqual(list.locations.map((l: any) => [l.name, l.root, l.mode]), [["Docs", docs, "Standard"], ["music", music, "SyncComplete"]])
    assert.deepStrictEqual(list.locations[0].totals, { files: 2, directories: 1, symlinks: 0, bytes: 10, tombstones: 0, unhashed: 0 })

    const table = await conduit("location", "list")
    assert.strictEqual(table.code, 0)
    const rows = table.stdout.trim().split("\n")
    assert.lengthOf(rows, 3)
    assert.match(rows[0]!, /^ID\s+NAME\s+MODE\s+LAST SCAN\s+FILES\s+SIZE\s+ROOT$/)
    assert.match(rows[1]!, new RegExp(`^${added.location.id}\\s+Docs\\s+Standard\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+2\\s+10 B\\s+${docs}$`))
    assert.match(rows[2]!, /\smusic\s+SyncComplete\s+never\s+0\s+0 B\s/)

    const typo = await conduit("location", "add", "dosc")
    assert.strictEqual(typo.code, 1)
    assert.strictEqual(typo.stderr, `'${Path.join(work, "dosc")}' does not exist\n`)

    const overlapping = await conduit("location", "add", Path.join(docs, "sub"))
    assert.strictEqual(overlapping.code, 1)
    assert.include(overlapping.stderr, "overlaps an existing location")

    // By root (any spelling of it), in text.
    const removed = await conduit("location", "rm", Path.relative(work, music) + "/")
    assert.strictEqual(removed.code, 0, removed.stderr)
    assert.include(removed.stdout, `removed location music (${music})`)
    assert.isTrue(Fs.existsSync(Path.join(music, "song.mp3")), "files are not touched")

    // By id, in JSON.
    const byId = await json("location", "rm", added.location.id)
    assert.strictEqual(byId.removed.id, added.location.id)
    assert.strictEqual(byId.removed.root, docs)
    assert.deepStrictEqual((await json("location", "list")).locations, [])
    assert.isTrue(Fs.existsSync(Path.join(docs, "a.txt")))

    const gone = await conduit("location", "rm", docs)
    assert.strictEqual(gone.code, 1)
    assert.strictEqual(gone.stderr.trim(), `no location at '${docs}'`)
  })

  it("indexes a directory in no location by adding it; a rescan of unchanged files hashes nothing", async () => {
    const photos = tree("photos", { "one.jpg": "1111", "two.jpg": "2222", "album/three.jpg": "3333" })
    const first = await conduit("index", "photos") // relative to the working directory
    assert.strictEqual(first.code, 0, first.stderr)
    assert.match(first.stdout, new RegExp(`^'${photos}' was in no location: added location photos \\(${photos}\\), mode Standard`, "m"))
    assert.match(first.stdout, /^indexed photos: 4 entries, 4 added, 0 modified, 0 moved, 0 deleted, 3 files hashed \(12 B\) in \d+ ms$/m)
    const list = await json("location", "list")
    assert.deepStrictEqual(list.locations.map((l: any) => [l.root, l.mode]), [[photos, "Standard"]])

    const again = await json("index")
    assert.isNull(again.addedLocation)
    assert.deepStrictEqual(again.errors, [])
    assert.lengthOf(again.scans, 1)
    assert.include(again.scans[0], { root: photos, entriesSeen: 4, added: 0, modified: 0, moved: 0, deleted: 0, filesHashed: 0, bytesHashed: 0 })
    assert.isNull(again.scans[0].sequences)
    const text = await conduit("index", photos)
    assert.strictEqual(text.code, 0, text.stderr)
    assert.match(text.stdout, /^indexed photos: 4 entries, 0 added, 0 modified, 0 moved, 0 deleted, 0 files hashed \(0 B\) in \d+ ms\n$/)

    // A change in a subdirectory, scanned on its own: only that file is hashed.
    Fs.writeFileSync(Path.join(photos, "album/three.jpg"), "33333")
    Fs.writeFileSync(Path.join(photos, "album/four.jpg"), "4")
    const sub = await json("index", Path.join(photos, "album"))
    // three.jpg changed, four.jpg is new, and album/ itself has a new mtime (a file was added to it).
    assert.include(sub.scans[0], { added: 1, modified: 2, filesHashed: 2, bytesHashed: 6 })
    assert.strictEqual((await lsJson(photos, "-r")).find((e) => e.path === "album/three.jpg").hash, b3("33333"))

    const notADirectory = await conduit("index", Path.join(work, "nowhere"))
    assert.strictEqual(notADirectory.code, 1)
    assert.strictEqual(notADirectory.stderr.trim(), `'${Path.join(work, "nowhere")}' does not exist`)
  })

  it("lists index entries: text columns, NDJSON, recursive, no tombstones", async () => {
    const root = tree("root", { "a.txt": "alpha", "sub/b.txt": "bravo!", "sub/deeper/c.txt": "c" })
    Fs.symlinkSync("a.txt", Path.join(root, "link"))
    assert.strictEqual((await conduit("index", root)).code, 0)

    const text = await conduit("ls", root)
    assert.strictEqual(text.code, 0, text.stderr)
    const lines = text.stdout.trim().split("\n")
    assert.lengthOf(lines, 3, "the root's children only")
    const iso = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"
    assert.match(lines[0]!, new RegExp(`^- +5 ${iso} ${b3("alpha").slice(0, 12)} a\\.txt$`))
    assert.match(lines[1]!, new RegExp(`^l +5 ${iso} [0-9a-f]{12} link -> a\\.txt$`))
    assert.match(lines[2]!, new RegExp(`^d +0 ${iso} - {12}sub$`))

    const recursive = await conduit("ls", "-r", root)
    assert.deepStrictEqual(
      recursive.stdout.trim().split("\n").map((l) => l.split(" ").filter((c) => c !== "")[4]),
      ["a.txt", "link", "sub", "sub/b.txt", "sub/deeper", "sub/deeper/c.txt"]
    )

    const entries = await lsJson(root, "--recursive")
    assert.deepStrictEqual(entries.map((e) => [e.path, e.kind]), [
      ["a.txt", "file"], ["link", "symlink"], ["sub", "directory"], ["sub/b.txt", "file"], ["sub/deeper", "directory"], ["sub/deeper/c.txt", "file"]
    ])
    const a = entries[0]
    const stat = Fs.statSync(Path.join(root, "a.txt"), { bigint: true })
    assert.deepStrictEqual(Object.keys(a).sort(), ["hash", "hashState", "inode", "kind", "linkTarget", "mode", "mtime", "mtimeNs", "path", "pinned", "remote", "seq", "size"])
    assert.include(a, { size: 5, hash: b3("alpha"), hashState: "ok", linkTarget: null, inode: Number(stat.ino), mode: Number(stat.mode & 0o7777n) })
    assert.strictEqual(a.mtimeNs, stat.mtimeNs.toString())
    assert.strictEqual(a.mtime, new Date(Number(stat.mtimeNs / 1_000_000n)).toISOString())
    assert.isAbove(a.seq, 0)
    assert.strictEqual(entries[1].linkTarget, "a.txt")
    assert.isNull(entries[2].hash)

    // Paths are relative to the listed directory.
    assert.deepStrictEqual((await lsJson(Path.join(root, "sub"))).map((e) => e.path), ["b.txt", "deeper"])
    // A file lists as itself.
    assert.deepStrictEqual((await lsJson(Path.join(root, "sub/b.txt"))).map((e) => [e.path, e.hash]), [["b.txt", b3("bravo!")]])

    // Deleted files become tombstones in the index, which ls does not show.
    Fs.rmSync(Path.join(root, "sub/deeper"), { recursive: true })
    const rescan = await json("index", root)
    assert.strictEqual(rescan.scans[0].deleted, 2)
    assert.deepStrictEqual((await lsJson(root, "-r")).map((e) => e.path), ["a.txt", "link", "sub", "sub/b.txt"])
    const tombstoned = await conduit("ls", Path.join(root, "sub/deeper"))
    assert.strictEqual(tombstoned.code, 1)
    assert.include(tombstoned.stderr, "is not in the index")
  })

  it("refuses to list a path outside every location", async () => {
    tree("inside", { "x.txt": "x" })
    assert.strictEqual((await conduit("index", "inside")).code, 0)
    const outside = tree("outside", { "y.txt": "y" })

    const text = await conduit("ls", outside)
    assert.strictEqual(text.code, 1)
    assert.strictEqual(text.stdout, "")
    assert.strictEqual(text.stderr, `'${outside}' is not inside any location (add one with 'conduit location add')\n`)

    const asJson = await conduit("ls", outside, "--json")
    assert.strictEqual(asJson.code, 1)
    assert.deepStrictEqual(JSON.parse(asJson.stdout), {
      error: {
        _tag: "PathError",
        reason: "OutsideLocations",
        message: `'${outside}' is not inside any location (add one with 'conduit location add')`,
        path: outside
      }
    })
  })

  it("exits with 2 on usage errors and changes nothing", async () => {
    const root = tree("root", { "a.txt": "a" })

    const unknownFlag = await conduit("ls", root, "--bogus")
    assert.strictEqual(unknownFlag.code, 2)
    assert.include(unknownFlag.stderr, "--bogus")
    assert.strictEqual(unknownFlag.stdout, "")

    const badMode = await conduit("location", "add", root, "--mode", "fast")
    assert.strictEqual(badMode.code, 2)
    assert.include(badMode.stderr, "standard, sync-complete")

    const missing = await conduit("ls")
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "Missing argument <PATH>")

    const unknownCommand = await conduit("frobnicate")
    assert.strictEqual(unknownCommand.code, 2)

    assert.deepStrictEqual((await json("location", "list")).locations, [], "no location was added")
  })

  it("stops with RootMissing when a location's root is gone, and leaves the index as it was", async () => {
    const root = tree("disk", { "a.txt": "a", "d/b.txt": "b" })
    const other = tree("other", { "c.txt": "c" })
    assert.strictEqual((await conduit("location", "add", root)).code, 0)
    assert.strictEqual((await conduit("location", "add", other)).code, 0)
    const before = await lsJson(root, "-r")
    const totalsBefore = (await json("location", "list")).locations

    Fs.renameSync(root, `${root}.unmounted`)
    const sentence = `the location root '${root}' is missing; nothing was changed in the index`

    // Every location: the other one is still scanned, the missing one is reported.
    const all = await conduit("index")
    assert.strictEqual(all.code, 1)
    assert.strictEqual(all.stderr.trim(), sentence)
    assert.match(all.stdout, /^indexed other: /)
    const allJson = await conduit("index", "--json")
    assert.strictEqual(allJson.code, 1)
    const document = JSON.parse(allJson.stdout)
    assert.deepStrictEqual(document.scans.map((s: any) => s.root), [other])
    assert.deepStrictEqual(document.errors, [{ _tag: "LocationError", reason: "RootMissing", message: sentence, path: root }])

    // That location by name: the command fails.
    const one = await conduit("index", root, "--json")
    assert.strictEqual(one.code, 1)
    assert.deepStrictEqual(JSON.parse(one.stdout), { error: { _tag: "LocationError", reason: "RootMissing", message: sentence, path: root } })
    assert.strictEqual(one.stderr.trim(), sentence)

    assert.deepStrictEqual(await lsJson(root, "-r"), before, "no entry was deleted")
    const totalsAfter = (await json("location", "list")).locations
    assert.deepStrictEqual(totalsAfter.map((l: any) => l.totals), totalsBefore.map((l: any) => l.totals))

    // Back in place: a rescan finds nothing changed.
    Fs.renameSync(`${root}.unmounted`, root)
    const back = await json("index", root)
    assert.include(back.scans[0], { added: 0, modified: 0, deleted: 0, filesHashed: 0 })
  })

  it("reports a corrupt library database and leaves the file untouched", async () => {
    const garbage = Buffer.from("this is not a database\n".repeat(200))
    const file = Path.join(home, "library.db")
    Fs.writeFileSync(file, garbage)
    const sentence = `the library database ${file} is corrupt or not a Conduit library; it was left untouched`

    const list = await conduit("location", "list")
    assert.strictEqual(list.code, 1)
    assert.strictEqual(list.stderr, `${sentence}\n`)
    assert.strictEqual(list.stdout, "")

    const index = await conduit("index", tree("t", { "a": "a" }), "--json")
    assert.strictEqual(index.code, 1)
    assert.deepStrictEqual(JSON.parse(index.stdout), { error: { _tag: "LibraryError", reason: "Corrupt", message: sentence, path: file } })
    assert.notInclude(index.stderr, "    at ", "no stack trace")

    assert.isTrue(Fs.readFileSync(file).equals(garbage), "the file's bytes are unchanged")
    assert.deepStrictEqual(Fs.readdirSync(home), ["library.db"], "no journal or WAL file beside it")
  })

  it("keeps watching after the scan with --watch and picks up a new file", async () => {
    const root = tree("live", { "a.txt": "a" })
    const child = start(["index", root, "--watch"])
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      await waitFor(() => stdout, /^indexed live: 1 entry, 1 added/m)
      // The watch is in place once it says so; a change made after that is seen.
      await waitFor(() => stderr, /^watching .*live for changes/m)
      Fs.writeFileSync(Path.join(root, "new.txt"), "fresh")
      await waitFor(() => stdout, /^rescanned live: .*1 added, 0 modified, 0 moved, 0 deleted, 1 file hashed \(5 B\)/m)
    } finally {
      child.kill("SIGTERM")
    }
    assert.strictEqual(await exited, 0, stderr)
    const entries = await lsJson(root)
    assert.deepStrictEqual(entries.map((e) => [e.path, e.hash]), [["a.txt", b3("a")], ["new.txt", b3("fresh")]])
  })

  it("streams --watch --json as one document per line", async () => {
    const root = tree("live", { "a.txt": "a", "b.txt": "b" })
    const child = start(["index", root, "--watch", "--json"])
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
    try {
      await waitFor(() => stderr, /^watching /m)
      Fs.rmSync(Path.join(root, "a.txt"))
      await waitFor(() => stdout, /"rescan"/)
    } finally {
      child.kill("SIGINT")
    }
    assert.strictEqual(await exited, 0, stderr)
    const [first, second] = stdout.trim().split("\n").map((l) => JSON.parse(l))
    assert.strictEqual(first.addedLocation.root, root)
    assert.include(first.scans[0], { added: 2, filesHashed: 2 })
    assert.include(second.rescan, { root, deleted: 1 })
  })
})
