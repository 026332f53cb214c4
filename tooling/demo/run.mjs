#!/usr/bin/env node
/**
 * The demo: generates a small project-like tree (with files the index rules exclude), indexes
 * it with the real `conduit` CLI, lists it, mirrors it to a backup directory, changes it (edit,
 * add, delete, rename) and syncs again to show that only what changed is hashed and copied
 * (the rename is a rename at the target, the deleted file is kept as a version), then keeps a
 * second directory in two-way sync, and finally keeps only a hot set of a media folder local
 * (selective mode: the rest is evicted to an archive once verified there, and fetched back on
 * demand). Everything lives under `.conduit-demo/` in the repository
 * (git-ignored); run it as often as you like.
 */
import { execFileSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const repo = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const cli = Path.join(repo, "apps/cli/dist/main.js")
const base = Path.join(repo, ".conduit-demo")
const home = Path.join(base, "home")
const tree = Path.join(base, "project")
const backup = Path.join(base, "backup")
const laptop = Path.join(base, "laptop")
const media = Path.join(base, "media")
const archive = Path.join(base, "archive")

Fs.rmSync(base, { recursive: true, force: true })
Fs.mkdirSync(tree, { recursive: true })
Fs.mkdirSync(backup, { recursive: true })
Fs.mkdirSync(laptop, { recursive: true })
Fs.mkdirSync(media, { recursive: true })
Fs.mkdirSync(archive, { recursive: true })
for (let i = 0; i < 6; i++) Fs.writeFileSync(Path.join(media, `clip-${i}.bin`), Crypto.randomBytes(256 * 1024))

// A deterministic tree: sources, docs, a few binaries, and things the rules leave out.
const random = (seed, size) => Crypto.createHash("sha256").update(String(seed)).digest().toString("hex").repeat(Math.ceil(size / 64)).slice(0, size)
const write = (rel, content) => {
  const abs = Path.join(tree, rel)
  Fs.mkdirSync(Path.dirname(abs), { recursive: true })
  Fs.writeFileSync(abs, content)
}
for (let p = 0; p < 5; p++) {
  for (let f = 0; f < 8; f++) write(`src/pkg${p}/module${f}.ts`, `export const value${f} = ${JSON.stringify(random(`${p}/${f}`, 200 + f * 50))}\n`)
}
for (let d = 0; d < 4; d++) write(`docs/chapter-${d}.md`, `# Chapter ${d}\n\n${random(`doc${d}`, 2000)}\n`)
for (let a = 0; a < 3; a++) write(`assets/image-${a}.bin`, Crypto.randomBytes(256 * 1024 * (a + 1)))
write("assets/empty.txt", "")
write("node_modules/left-pad/index.js", "module.exports = () => {}\n")
write(".git/HEAD", "ref: refs/heads/main\n")
write(".DS_Store", "junk")
write("notes.tmp", "scratch")
write(".gitignore", "dist/\n*.log\n")
write("dist/bundle.js", "built output")
write("debug.log", "log line")
write("café-ñandú.txt", "unicode names are fine\n")

const run = (...args) => {
  console.log(`\n$ conduit ${args.map((a) => a.replace(base + "/", "")).join(" ")}`)
  const out = execFileSync(process.execPath, [cli, ...args], { env: { ...process.env, CONDUIT_HOME: home }, encoding: "utf8", cwd: base })
  process.stdout.write(out)
  return out
}

console.log(`Demo tree: ${tree}\nLibrary:   ${home}/library.db`)
run("index", tree)
run("ls", tree)
run("sync", tree, backup, "--mode", "mirror")

// Change the tree: edit, add, delete, rename a directory.
write("docs/chapter-0.md", "# Chapter 0\n\nRewritten.\n")
write("docs/chapter-9.md", "# A new chapter\n")
Fs.rmSync(Path.join(tree, "assets/image-0.bin"))
Fs.renameSync(Path.join(tree, "src/pkg4"), Path.join(tree, "src/renamed-pkg"))
console.log("\n(edited docs/chapter-0.md, added docs/chapter-9.md, deleted assets/image-0.bin, renamed src/pkg4 → src/renamed-pkg)")
run("sync", tree, backup, "--mode", "mirror", "--dry-run")
run("sync", tree, backup, "--mode", "mirror")
// (conduit versions PATH lists what a sync kept; see the README)

// Two-way: the project and a "laptop" copy, edited on both sides.
run("sync", tree, laptop, "--mode", "bidirectional")
write("docs/chapter-1.md", "# Chapter 1, edited in the project\n")
Fs.writeFileSync(Path.join(laptop, "docs/chapter-2.md"), "# Chapter 2, edited on the laptop\n")
Fs.rmSync(Path.join(laptop, "docs/chapter-3.md"))
console.log("\n(edited docs/chapter-1.md in the project; on the laptop edited docs/chapter-2.md and deleted docs/chapter-3.md)")
run("sync", tree, laptop, "--mode", "bidirectional")

// Selective: the media folder keeps at most 600 KiB local; clips 4 and 5 are watched, clip 0 is pinned.
const made = JSON.parse(execFileSync(process.execPath, [cli, "conduit", "create", media, archive, "--mode", "selective", "--cache-max", "600K", "--json"], { env: { ...process.env, CONDUIT_HOME: home }, encoding: "utf8" }))
const id = made.conduit.id.slice(0, 8)
console.log(`\n(created selective conduit ${id}: media → archive, at most 600 KiB local)`)
run("open", Path.join(media, "clip-4.bin"))
run("open", Path.join(media, "clip-5.bin"))
run("pin", Path.join(media, "clip-0.bin"))
run("run", id)
run("ls", media)
run("get", Path.join(media, "clip-1.bin"))
run("location", "list")
console.log("\nDemo done. node_modules, .git, .DS_Store, notes.tmp, dist/ and debug.log were left out by the index rules,")
console.log("so they were neither indexed nor synced. Replaced and deleted files are in each location's .conduit/versions/.")
