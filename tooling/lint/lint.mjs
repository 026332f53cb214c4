#!/usr/bin/env node
/**
 * House rules that the type checker does not see, run as each package's `lint` task:
 *
 * - layering: a package imports only `@conduit/*` packages below it (DESIGN.md "Layers");
 * - `src/index.ts` only re-exports;
 * - no focused tests (`.only(`) and no `console.log` in library sources (apps print, packages don't).
 *
 * Usage: conduit-lint (in a package directory). Exits 1 with one line per violation.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Rank of each package in the layer diagram; a package may import only lower ranks. */
const rank = {
  "@conduit/domain": 0,
  "@conduit/index": 1,
  "@conduit/resolver": 2,
  "@conduit/selective": 2,
  "@conduit/library-sync": 2,
  "@conduit/jobs": 2,
  "@conduit/transport": 2,
  "@conduit/sync": 3,
  "@conduit/cli": 4,
  "@conduit/daemon": 4,
  // The daemon's client entry (control API contract, client, state files): it imports no
  // @conduit package, so an app may use it without depending on the daemon's internals.
  "@conduit/daemon/api": 3
}

const dir = process.cwd()
const manifest = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8"))
const self = manifest.name
const problems = []

const files = (root) => {
  if (!Fs.existsSync(root)) return []
  const out = []
  for (const entry of Fs.readdirSync(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|mts)$/.test(entry.name)) out.push(Path.join(entry.parentPath ?? entry.path, entry.name))
  }
  return out
}

for (const file of files(Path.join(dir, "src"))) {
  const text = Fs.readFileSync(file, "utf8")
  const rel = Path.relative(dir, file)
  for (const match of text.matchAll(/from\s+"(@conduit\/[a-z-]+)(\/[a-z-]+)?/g)) {
    // A subpath entry with its own rank (see above) is judged by it, any other by its package.
    const target = match[2] !== undefined && `${match[1]}${match[2]}` in rank ? `${match[1]}${match[2]}` : match[1]
    if (match[1] === self) continue
    if (!(target in rank)) problems.push(`${rel}: imports unknown package ${target}`)
    else if (self in rank && rank[target] >= rank[self]) problems.push(`${rel}: ${self} must not import ${target} (same or higher layer)`)
  }
  if (!self.startsWith("@conduit/cli") && !self.startsWith("@conduit/daemon") && /console\.log\(/.test(text)) {
    problems.push(`${rel}: console.log in a library package`)
  }
  if (Path.basename(file) === "index.ts" && Path.dirname(file) === Path.join(dir, "src")) {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "").split("\n").map((l) => l.trim()).filter(Boolean)
    for (const line of code) if (!line.startsWith("export ")) problems.push(`${rel}: index.ts must only re-export (found: ${line.slice(0, 60)})`)
  }
}
for (const file of files(Path.join(dir, "test"))) {
  const text = Fs.readFileSync(file, "utf8")
  if (/\b(it|test|describe)(\.\w+)*\.only\(/.test(text)) problems.push(`${Path.relative(dir, file)}: focused test (.only)`)
}

for (const p of problems) console.error(p)
if (problems.length > 0) process.exit(1)
console.log(`${self}: lint ok`)
