/** Shared by the CLI's end-to-end tests: the built CLI run as a real child process. */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert } from "vitest"

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
