/**
 * The published shape: `@conduit/index` packed as a tarball (with `@conduit/domain`) and
 * imported by a project outside the workspace, in JavaScript and in TypeScript.
 *
 * No registry is reachable from CI beyond npm's own and a cold install of the native modules
 * takes minutes, so the scratch project links the third-party dependencies the workspace
 * already installed; everything of ours comes from the tarballs alone.
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "vitest"

const here = Path.dirname(fileURLToPath(import.meta.url))
const packages = Path.resolve(here, "../..")
const scratch = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-pack-"))
afterAll(() => Fs.rmSync(scratch, { recursive: true, force: true }))

const pack = (name: string) => {
  const dir = Path.join(packages, name)
  const out = Path.join(scratch, "tarballs")
  Fs.mkdirSync(out, { recursive: true })
  const before = new Set(Fs.readdirSync(out))
  execFileSync("pnpm", ["pack", "--pack-destination", out], { cwd: dir, stdio: "pipe" })
  const tarball = Fs.readdirSync(out).find((f) => !before.has(f))!
  const target = Path.join(scratch, "node_modules", "@conduit", name)
  Fs.mkdirSync(target, { recursive: true })
  execFileSync("tar", ["-xzf", Path.join(out, tarball), "-C", target, "--strip-components=1"])
  const manifest = JSON.parse(Fs.readFileSync(Path.join(target, "package.json"), "utf8"))
  // Link each third-party dependency to the copy the workspace installed for that package.
  const require = createRequire(Path.join(dir, "package.json"))
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (dep.startsWith("@conduit/")) continue
    const link = Path.join(scratch, "node_modules", dep)
    if (Fs.existsSync(link)) continue
    let pkgDir = Path.dirname(require.resolve(`${dep}/package.json`))
    pkgDir = Fs.realpathSync(pkgDir)
    Fs.mkdirSync(Path.dirname(link), { recursive: true })
    Fs.symlinkSync(pkgDir, link, "dir")
  }
  return { manifest, target }
}

describe("packed @conduit/index", () => {
  it("imports and indexes a directory from a project outside the workspace", () => {
    const domain = pack("domain")
    const index = pack("index")
    for (const { manifest, target } of [domain, index]) {
      assert.notInclude(JSON.stringify(manifest.dependencies), "workspace:", "pnpm pack must pin workspace versions")
      assert.isTrue(Fs.existsSync(Path.join(target, "dist", "index.js")))
      assert.isTrue(Fs.existsSync(Path.join(target, "dist", "index.d.ts")))
      assert.isFalse(Fs.existsSync(Path.join(target, "src")), "only dist is published")
    }
    assert.strictEqual(index.manifest.dependencies["@conduit/domain"], domain.manifest.version)

    Fs.writeFileSync(Path.join(scratch, "package.json"), JSON.stringify({ name: "outside", private: true, type: "module" }))
    const tree = Path.join(scratch, "tree")
    Fs.mkdirSync(Path.join(tree, "sub"), { recursive: true })
    Fs.writeFileSync(Path.join(tree, "sub", "hello.txt"), "hello")
    const program = `
      import { Effect } from "effect"
      import { Indexer, IndexLive, Locations } from "@conduit/index"
      const summary = await Effect.gen(function* () {
        const location = yield* (yield* Locations.Locations).add(${JSON.stringify(tree)})
        return yield* (yield* Indexer.Indexer).scan(location.id)
      }).pipe(Effect.provide(IndexLive.layer({ home: ${JSON.stringify(Path.join(scratch, "home"))} })), Effect.scoped, Effect.runPromise)
      console.log(JSON.stringify({ added: summary.added, hashed: summary.filesHashed }))
    `
    Fs.writeFileSync(Path.join(scratch, "main.mjs"), program)
    const out = execFileSync(process.execPath, ["main.mjs"], { cwd: scratch, encoding: "utf8" })
    assert.deepStrictEqual(JSON.parse(out.trim()), { added: 2, hashed: 1 })

    // The declarations type-check for a TypeScript consumer.
    Fs.writeFileSync(Path.join(scratch, "main.ts"), `
      import { Effect } from "effect"
      import { IndexLive, Indexer, type IndexStore } from "@conduit/index"
      import type { Entry } from "@conduit/domain"
      export const totals: (t: IndexStore.LocationTotals) => number = (t) => t.files
      export const scan = (id: Parameters<Indexer.Indexer["Type"]["scan"]>[0]) =>
        Effect.flatMap(Indexer.Indexer, (i) => i.scan(id)).pipe(Effect.provide(IndexLive.layer({ home: "/tmp/x" })))
      export const kind = (e: Entry.Entry): number => e.kind
    `)
    Fs.writeFileSync(Path.join(scratch, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ["main.ts"]
    }))
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: scratch, stdio: "pipe" })
  }, 120_000)
})
