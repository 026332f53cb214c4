/** Shared by the CLI's end-to-end tests: the built CLI run as a real child process. */
import { DaemonFiles } from "@conduit/daemon/api"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, assert, beforeAll, beforeEach } from "vitest"

/** The built CLI (`turbo run test` builds it first). */
export const CLI = fileURLToPath(new URL("../dist/main.js", import.meta.url))

/** What a run printed and how it ended. */
export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * `conduit ARGS` and `--json` runners for a test file whose `CONDUIT_HOME` and working
 * directory change per test (`session` is read at each call).
 */
export const runners = (session: () => { readonly home: string; readonly work: string }) => {
  /** Runs `conduit ARGS` to the end; stdout and stderr are pipes (no progress bar). */
  const conduit = (...args: Array<string>): Promise<Result> =>
    new Promise((resolve, reject) => {
      const { home, work } = session()
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: work,
        env: { ...process.env, CONDUIT_HOME: home, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })

  /** Runs a `--json` command, checks its exit code and parses its one document. */
  const json = async <A = any>(code: number, ...args: Array<string>): Promise<A> => {
    const r = await conduit(...args, "--json")
    assert.strictEqual(r.code, code, `conduit ${args.join(" ")} --json: ${r.stderr}`)
    const lines = r.stdout.trim().split("\n")
    assert.lengthOf(lines, 1, "one JSON document on one line")
    return JSON.parse(lines[0]!) as A
  }
  return { conduit, json }
}

/**
 * A fresh `CONDUIT_HOME` and working directory for every test of the file (both removed after
 * it), and the runners on them. Call once at the top level of a test file.
 */
export const session = (prefix: string) => {
  let home = ""
  let work = ""
  beforeAll(() => {
    if (!Fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build it first (pnpm turbo run build --filter @conduit/cli...)`)
  })
  beforeEach(() => {
    home = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), `conduit-${prefix}-home-`)))
    work = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), `conduit-${prefix}-work-`)))
  })
  afterEach(() => {
    for (const dir of [home, work]) Fs.rmSync(dir, { recursive: true, force: true })
  })
  return { home: () => home, work: () => work, ...runners(() => ({ home, work })) }
}

/** Whole seconds: set exactly, whatever the precision of the file system and of `utimes`. */
export const T0 = 1_700_000_000

/** Gives every path under `root` (and `root`) the modification time `seconds`, deepest first. */
export const settle = (root: string, seconds = T0) => {
  const all = (Fs.readdirSync(root, { recursive: true }) as Array<string>).map((rel) => Path.join(root, rel))
  for (const path of [...all.sort((a, b) => b.length - a.length), root]) Fs.utimesSync(path, seconds, seconds)
}

/** Writes files under `work/name`: `{ "a/b.txt": "text" }`; `null` makes a directory. Then settles the times. */
export const tree = (work: string, name: string, files: Record<string, string | null> = {}) => {
  const root = Path.join(work, name)
  Fs.mkdirSync(root, { recursive: true })
  for (const [rel, content] of Object.entries(files)) {
    const abs = Path.join(root, rel)
    if (content === null) Fs.mkdirSync(abs, { recursive: true })
    else {
      Fs.mkdirSync(Path.dirname(abs), { recursive: true })
      Fs.writeFileSync(abs, content)
    }
  }
  settle(root)
  return root
}

/** Writes one file with a given modification time (seconds). */
export const write = (root: string, rel: string, content: string, seconds: number) => {
  const abs = Path.join(root, rel)
  Fs.writeFileSync(abs, content)
  Fs.utimesSync(abs, seconds, seconds)
}

/** A duration as the CLI prints it, as a regular expression source. */
export const DURATION = "\\d+(?: ms|\\.\\d s| min \\d+ s)"

/** A local time as the text output prints it (`2026-11-24 07:53:16`), as a pattern. */
export const TIME = "\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}"

/** An ISO 8601 time as the JSON output gives it. */
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** `text` as a literal in a regular expression. */
export const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A device of a multi-device test: its home and work directory under `root`, and the CLI on them. */
export const deviceIn = (root: string, name: string) => {
  const home = Path.join(root, name, "home")
  const work = Path.join(root, name, "work")
  Fs.mkdirSync(work, { recursive: true })
  return { home, work, ...runners(() => ({ home, work })) }
}

/** What `conduit daemon start --json` says of a started daemon (the part pairing needs). */
export interface StartedDaemon {
  readonly peerId: string
  readonly addresses: Array<string>
}

/**
 * Starts the daemons of devices `a` and `b` (`aArgs`: more options of A's `daemon start`) and
 * pairs them both ways: A calls B "bee", B calls A "ay".
 */
export const startPaired = async (
  a: ReturnType<typeof deviceIn>,
  b: ReturnType<typeof deviceIn>,
  aArgs: ReadonlyArray<string> = []
): Promise<{ readonly a: StartedDaemon; readonly b: StartedDaemon }> => {
  const sa = (await a.json<{ daemon: StartedDaemon }>(0, "daemon", "start", ...aArgs)).daemon
  const sb = (await b.json<{ daemon: StartedDaemon }>(0, "daemon", "start")).daemon
  for (const [d, other, name] of [[a, sb, "bee"], [b, sa, "ay"]] as const) {
    const r = await d.conduit("peer", "add", other.peerId, ...other.addresses.flatMap((x) => ["--addr", x]), "--name", name)
    assert.strictEqual(r.code, 0, r.stderr)
  }
  return { a: sa, b: sb }
}

/** `dirs` × `files` small text files (`d<i>/f<j>.txt`): a run long enough to catch midway. */
export const manyFiles = (dirs: number, files: number): Record<string, string> => {
  const many: Record<string, string> = {}
  for (let d = 0; d < dirs; d++) for (let f = 0; f < files; f++) many[`d${d}/f${f}.txt`] = `file ${d}/${f}`
  return many
}

/** Kills the daemons of `homes` that are still alive (a test's cleanup), waits until they are gone, and empties `homes`. */
export const killDaemons = async (homes: Array<string>): Promise<void> => {
  for (const home of homes.splice(0)) {
    const read = DaemonFiles.readInfoSync(home)
    if (read._tag === "Found" && DaemonFiles.isAlive(read.info.pid)) {
      process.kill(read.info.pid, "SIGKILL")
      for (let i = 0; i < 200 && DaemonFiles.isAlive(read.info.pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}
