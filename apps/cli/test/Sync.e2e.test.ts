/**
 * End-to-end tests of `conduit sync`: the built `dist/main.js` run as a real child process, with
 * `CONDUIT_HOME` a fresh temporary directory and real temporary trees. `turbo run test` builds
 * the CLI first.
 *
 * Trees get whole-second modification times (`settle`) so that a comparison of both sides is
 * exact; one test checks sub-microsecond times on purpose.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "vitest"
import { DURATION, escape, session, T0, tree as treeIn, write } from "./support.js"

const { conduit, json, work: workDir } = session("sync")

/** A tree in this test's working directory (see `support.tree`). */
const tree = (name: string, files: Record<string, string | null> = {}) => treeIn(workDir(), name, files)

/** The roots of the locations in the library. */
const locationRoots = async (): Promise<Array<string>> =>
  (await json(0, "location", "list")).locations.map((l: any) => l.root)

/**
 * What a tree holds: every path (sorted, `/`-separated) with its kind, bytes (hex), mode and
 * modification time. The version store (`.conduit/` at the root) is left out.
 */
const snapshot = (root: string) =>
  (Fs.readdirSync(root, { recursive: true }) as Array<string>)
    .map((rel) => rel.split(Path.sep).join("/"))
    .filter((rel) => rel !== ".conduit" && !rel.startsWith(".conduit/"))
    .sort()
    .map((rel) => {
      const stat = Fs.lstatSync(Path.join(root, rel), { bigint: true })
      const kind = stat.isDirectory() ? "d" : stat.isSymbolicLink() ? "l" : "f"
      return {
        path: rel,
        kind,
        bytes: kind === "f" ? Fs.readFileSync(Path.join(root, rel)).toString("hex") : null,
        mode: Number(stat.mode & 0o7777n),
        mtimeNs: stat.mtimeNs.toString()
      }
    })

/** The kept versions of a location root: `[original path, bytes]`. */
const versions = (root: string): Array<[string, string]> => {
  const dir = Path.join(root, ".conduit", "versions")
  if (!Fs.existsSync(dir)) return []
  return (Fs.readdirSync(dir, { recursive: true }) as Array<string>)
    .filter((rel) => Fs.statSync(Path.join(dir, rel)).isFile())
    .map((rel): [string, string] => [rel.replace(/~[0-9-]+$/, ""), Fs.readFileSync(Path.join(dir, rel), "utf8")])
    .sort()
}


describe("conduit sync", () => {
  it("is listed in the help, with its modes", async () => {
    const help = await conduit("--help")
    assert.strictEqual(help.code, 0)
    assert.include(help.stdout, "sync")
    const syncHelp = await conduit("sync", "--help")
    assert.strictEqual(syncHelp.code, 0)
    assert.include(syncHelp.stdout, "--mode mirror|bidirectional|archive|selective")
    for (const option of ["--dry-run", "--force", "--json", "<SRC>", "<DST>"]) assert.include(syncHelp.stdout, option)
  })

  it("mirrors nested directories, an empty directory, an empty file and a unicode name into an empty target", async () => {
    const unicode = "Ünïcødé 日本語 ✓.txt".normalize("NFC")
    const src = tree("src", {
      "docs/readme.md": "# read me\n",
      "docs/notes/deep/er/leaf.txt": "deep leaf",
      "empty": null,
      "zero.bin": "",
      [unicode]: "ünïcødé"
    })
    const dst = tree("dst")
    const before = snapshot(src)

    const r = await conduit("sync", "src", "dst") // relative to the working directory
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stderr, "")
    const lines = r.stdout.trim().split("\n")
    assert.deepStrictEqual(lines.slice(0, 3), [
      `'${src}' was in no location: added it as a location`,
      `'${dst}' was in no location: added it as a location`,
      // docs, docs/notes, docs/notes/deep, docs/notes/deep/er, the leaf, readme, empty, zero, unicode
      "plan: 9 copies (30 B), 0 moves, 0 deletes, 0 attribute changes, 0 conflicts"
    ])
    assert.match(lines[3]!, new RegExp(`^synced ${escape(src)} → ${escape(dst)} \\(mirror\\): 9 copied, 0 moved, 0 deleted, 0 attributes set in ${DURATION}; verified$`))
    assert.lengthOf(lines, 4)

    assert.deepStrictEqual(snapshot(dst), before, "the target equals the source: paths, kinds, bytes, modes, times")
    assert.deepStrictEqual(snapshot(src), before, "the source is untouched")
    assert.isTrue(Fs.statSync(Path.join(dst, "empty")).isDirectory())
    assert.strictEqual(Fs.readFileSync(Path.join(dst, unicode), "utf8"), "ünïcødé")
    assert.deepStrictEqual((await locationRoots()).sort(), [dst, src].sort())

    // Again: nothing to do, and the JSON document says so.
    const again = await json(0, "sync", src, dst)
    assert.deepStrictEqual(Object.keys(again), [
      "conduit", "generation", "source", "target", "mode", "plan", "report", "refusal", "verified", "remaining", "durationMs", "job"
    ])
    assert.deepStrictEqual(again.source, { path: src, root: src, dir: "", addedLocation: false })
    assert.deepStrictEqual(again.target, { path: dst, root: dst, dir: "", addedLocation: false })
    assert.strictEqual(again.mode, "mirror")
    assert.deepStrictEqual(again.plan, {
      summary: { copies: 0, moves: 0, deletes: 0, attributes: 0, conflicts: 0, bytes: 0 },
      conflicts: []
    }, "no operations without --dry-run")
    assert.deepStrictEqual(again.report, { copied: 0, moved: 0, deleted: 0, attributes: 0, bytes: 0, skipped: [], stopped: null })
    assert.include(again, { verified: true, remaining: 0, refusal: null })
    assert.isString(again.conduit)
    assert.isNumber(again.generation)
    assert.isNumber(again.durationMs)
  })

  it("--dry-run lists every operation and changes nothing on disk", async () => {
    const src = tree("src", {
      "a.txt": "new content",
      "keep.txt": "same",
      "touched.txt": "same bytes",
      "new-name.txt": "moving",
      "new/b.txt": "bee"
    })
    const dst = tree("dst", {
      "a.txt": "old content",
      "keep.txt": "same",
      "touched.txt": "same bytes",
      "old-name.txt": "moving",
      "old.txt": "target only"
    })
    Fs.utimesSync(Path.join(dst, "touched.txt"), T0 + 60, T0 + 60)
    const srcBefore = snapshot(src)
    const dstBefore = snapshot(dst)
    const mode = Fs.statSync(Path.join(src, "a.txt")).mode & 0o7777

    const r = await conduit("sync", src, dst, "--dry-run")
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(r.stdout.trim().split("\n").slice(2), [
      "plan: 3 copies (14 B), 1 move, 1 delete, 1 attribute change, 0 conflicts",
      "copy a.txt → target (replacing the target's)",
      // Path order, as SQLite sorts: "new" < "new-name.txt" < "new/b.txt".
      "copy new/ → target",
      "move old-name.txt → new-name.txt on target",
      "copy new/b.txt → target",
      "delete old.txt on target",
      "attributes touched.txt on target"
    ])
    assert.strictEqual(r.stderr, "dry run: nothing was changed on disk\n")
    assert.deepStrictEqual(snapshot(src), srcBefore)
    assert.deepStrictEqual(snapshot(dst), dstBefore)
    assert.isFalse(Fs.existsSync(Path.join(dst, ".conduit")), "no version was kept")

    const document = await json(0, "sync", src, dst, "--dry-run")
    assert.isNull(document.report)
    assert.isNull(document.generation)
    assert.isNull(document.refusal)
    assert.include(document, { verified: false, remaining: 6 })
    assert.deepStrictEqual(document.plan.summary, { copies: 3, moves: 1, deletes: 1, attributes: 1, conflicts: 0, bytes: 14 })
    const ops: Array<any> = document.plan.operations
    assert.deepStrictEqual(ops.map((op) => op._tag), ["Copy", "Copy", "Move", "Copy", "Delete", "SetAttributes"])
    const time = `${T0}000000000`
    assert.deepStrictEqual(ops[0], {
      _tag: "Copy", path: "a.txt", from: "source", to: "target",
      entry: { kind: "file", hash: ops[0].entry.hash, size: 11, mtimeNs: time, mode, linkTarget: null },
      replaces: { kind: "file", hash: ops[0].replaces.hash, size: 11, mtimeNs: time, mode, linkTarget: null }
    })
    assert.match(ops[0].entry.hash, /^[0-9a-f]{64}$/)
    assert.notStrictEqual(ops[0].entry.hash, ops[0].replaces.hash)
    assert.include(ops[1], { _tag: "Copy", path: "new" })
    assert.include(ops[1].entry, { kind: "directory", hash: null })
    assert.include(ops[2], { _tag: "Move", from: "old-name.txt", to: "new-name.txt", side: "target" })
    assert.include(ops[2].entry, { kind: "file", size: 6 })
    assert.include(ops[4], { _tag: "Delete", path: "old.txt", side: "target", verifiedOn: null })
    assert.deepStrictEqual(ops[5], { _tag: "SetAttributes", path: "touched.txt", side: "target", mtimeNs: time, mode })
    assert.deepStrictEqual(snapshot(dst), dstBefore)

    // The real run does what the dry run listed.
    const run = await conduit("sync", src, dst)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.match(run.stdout, /^synced .* \(mirror\): 3 copied, 1 moved, 1 deleted, 1 attributes set in .*; verified$/m)
    assert.deepStrictEqual(snapshot(dst), snapshot(src))
    assert.deepStrictEqual(versions(dst), [["a.txt", "old content"], ["old.txt", "target only"]])
  })

  it("bidirectional: edits on both sides end identical, and the conflict is printed", async () => {
    const one = tree("one", { "shared.txt": "base", "doomed.txt": "to delete", "stable/s.txt": "stable" })
    const two = tree("two")
    const first = await conduit("sync", one, two, "--mode", "bidirectional")
    assert.strictEqual(first.code, 0, first.stderr)
    assert.deepStrictEqual(snapshot(two), snapshot(one))

    // Both sides edit shared.txt (the target later); each adds a file; the target deletes one.
    write(one, "shared.txt", "edited on one", T0 + 100)
    write(two, "shared.txt", "edited on two, later", T0 + 200)
    write(one, "from-one.txt", "1", T0 + 10)
    write(two, "from-two.txt", "2", T0 + 20)
    Fs.rmSync(Path.join(two, "doomed.txt"))

    const r = await conduit("sync", one, two, "--mode", "bidirectional")
    assert.strictEqual(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split("\n")
    assert.strictEqual(lines[0], "plan: 3 copies (22 B), 0 moves, 1 delete, 0 attribute changes, 1 conflict")
    assert.strictEqual(
      lines[1],
      "conflict: shared.txt — changed on both sides, kept the target's version (the later write); the other is in the version store"
    )
    assert.match(lines[2]!, /^synced .* \(bidirectional\): 3 copied, 0 moved, 1 deleted, \d+ attributes set in .*; verified$/)
    assert.lengthOf(lines, 3)

    assert.deepStrictEqual(snapshot(one), snapshot(two), "both sides are identical")
    assert.deepStrictEqual(snapshot(one).filter((e) => e.kind === "f").map((e) => e.path), [
      "from-one.txt", "from-two.txt", "shared.txt", "stable/s.txt"
    ])
    assert.strictEqual(Fs.readFileSync(Path.join(one, "shared.txt"), "utf8"), "edited on two, later")
    assert.deepStrictEqual(versions(one), [["doomed.txt", "to delete"], ["shared.txt", "edited on one"]])

    const again = await json(0, "sync", one, two, "--mode", "bidirectional")
    assert.include(again, { mode: "bidirectional", verified: true, remaining: 0 })
    assert.deepStrictEqual(again.plan.conflicts, [])
    assert.strictEqual(again.plan.summary.copies + again.plan.summary.deletes + again.plan.summary.moves, 0)
  })

  it("bidirectional --json: the conflict's path, reason, winner and resolution", async () => {
    const one = tree("one", { "x.txt": "base", "y.txt": "y", "z.txt": "z" })
    const two = tree("two")
    assert.strictEqual((await conduit("sync", one, two, "--mode", "bidirectional")).code, 0)
    write(one, "x.txt", "source is later", T0 + 500)
    write(two, "x.txt", "target", T0 + 400)

    const document = await json(0, "sync", one, two, "--mode", "bidirectional")
    assert.deepStrictEqual(document.plan.conflicts, [{ path: "x.txt", reason: "BothChanged", winner: "source", resolution: "LastWriteWins" }])
    assert.isTrue(document.verified)
    assert.strictEqual(Fs.readFileSync(Path.join(two, "x.txt"), "utf8"), "source is later")
    assert.deepStrictEqual(versions(two), [["x.txt", "target"]])
  })

  it("archive copies to the target and removes the source files once they are there", async () => {
    const src = tree("src", { "a.txt": "alpha", "sub/b.txt": "bravo" })
    const dst = tree("dst", { "kept.txt": "target's own" })
    const r = await conduit("sync", src, dst, "--mode", "archive")
    assert.strictEqual(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split("\n")
    assert.deepStrictEqual(lines.slice(2, 3), ["plan: 3 copies (10 B), 0 moves, 2 deletes, 0 attribute changes, 0 conflicts"])
    assert.match(lines[3]!, /^synced .* \(archive\): 3 copied, 0 moved, 2 deleted, 0 attributes set in .*; verified$/)

    assert.deepStrictEqual(snapshot(src).map((e) => [e.path, e.kind]), [["sub", "d"]], "files gone, directories stay")
    const files = (root: string) =>
      snapshot(root).filter((e) => e.kind === "f").map((e) => [e.path, Buffer.from(e.bytes!, "hex").toString()])
    assert.deepStrictEqual(files(dst), [["a.txt", "alpha"], ["kept.txt", "target's own"], ["sub/b.txt", "bravo"]])
    assert.deepStrictEqual(versions(src), [], "an archived file is not kept as a version: the target holds it")

    const more = tree("more", { "c.txt": "charlie" })
    const dry = await conduit("sync", more, dst, "--mode", "archive", "--dry-run")
    assert.strictEqual(dry.code, 0, dry.stderr)
    assert.include(dry.stdout, "\ncopy c.txt → target\ndelete c.txt on source once verified on the target\n")
    assert.isTrue(Fs.existsSync(Path.join(more, "c.txt")))
  })

  it("archive also removes a source file that the target already holds, identical", async () => {
    const src = tree("src", { "already.txt": "there", "new.txt": "new" })
    const dst = tree("dst", { "already.txt": "there" })
    const r = await conduit("sync", src, dst, "--mode", "archive")
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^plan: 1 copy \(3 B\), 0 moves, 2 deletes, /m)
    assert.deepStrictEqual(snapshot(src), [], "nothing is left on the source")
    assert.deepStrictEqual(snapshot(dst).map((e) => e.path), ["already.txt", "new.txt"])
  })

  it("refuses SRC equal to DST with SamePath, and changes nothing", async () => {
    const dir = tree("dir", { "a.txt": "a" })
    const before = snapshot(dir)
    const r = await conduit("sync", dir, "./dir/")
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.strictEqual(r.stderr, `source and target are the same directory ('${dir}')\n`)

    const asJson = await conduit("sync", dir, dir, "--json")
    assert.strictEqual(asJson.code, 1)
    assert.deepStrictEqual(JSON.parse(asJson.stdout), {
      error: { _tag: "SyncError", reason: "SamePath", message: `source and target are the same directory ('${dir}')`, path: dir }
    })
    assert.deepStrictEqual(snapshot(dir), before)
    assert.deepStrictEqual(await locationRoots(), [])
  })

  it("refuses DST inside SRC (and SRC inside DST) with Nested", async () => {
    const outer = tree("outer", { "a.txt": "a", "inner/b.txt": "b" })
    const inner = Path.join(outer, "inner")
    const sentence = `one of source and target is inside the other ('${inner}'); a sync between them would copy into itself`
    for (const [src, dst] of [[outer, inner], [inner, outer]] as const) {
      const r = await conduit("sync", src, dst)
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.strictEqual(r.stderr, `${sentence}\n`)
    }
    const asJson = await conduit("sync", outer, inner, "--json")
    assert.strictEqual(asJson.code, 1)
    assert.include(JSON.parse(asJson.stdout).error, { _tag: "SyncError", reason: "Nested", path: inner })
    assert.deepStrictEqual(snapshot(outer).map((e) => e.path), ["a.txt", "inner", "inner/b.txt"])
    assert.deepStrictEqual(await locationRoots(), [])
  })

  it("refuses an unknown mode, naming the known ones", async () => {
    const src = tree("src", { "a.txt": "a" })
    const dst = tree("dst")
    const r = await conduit("sync", src, dst, "--mode", "fast")
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.strictEqual(r.stderr, "unknown sync mode 'fast' (known: mirror, bidirectional, archive, selective)\n")
    const asJson = await conduit("sync", src, dst, "--mode", "fast", "--json")
    assert.include(JSON.parse(asJson.stdout).error, { _tag: "ModeError", reason: "Unknown" })
    assert.deepStrictEqual(Fs.readdirSync(dst), [])
    assert.deepStrictEqual(await locationRoots(), [])
  })

  it("refuses a missing SRC (or DST) and creates nothing", async () => {
    const dst = tree("dst", { "t.txt": "t" })
    const missing = Path.join(workDir(), "missing")
    const r = await conduit("sync", "missing", dst)
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.strictEqual(r.stderr, `'${missing}' does not exist\n`)
    assert.isFalse(Fs.existsSync(missing))

    const src = tree("src", { "a.txt": "a" })
    const noTarget = await conduit("sync", src, missing, "--json")
    assert.strictEqual(noTarget.code, 1)
    assert.deepStrictEqual(JSON.parse(noTarget.stdout), {
      error: { _tag: "PathError", reason: "NotFound", message: `'${missing}' does not exist`, path: missing }
    })
    assert.isFalse(Fs.existsSync(missing), "the target is not created")
    assert.deepStrictEqual(snapshot(dst).map((e) => e.path), ["t.txt"])
    assert.deepStrictEqual(await locationRoots(), [])
  })

  it("refuses a plan that deletes most of the target unless --force; --dry-run says so", async () => {
    const src = tree("src", { "a.txt": "a" })
    const dst = tree("dst", { "x1": "1", "x2": "2", "x3": "3" })
    const before = snapshot(dst)
    const sentence = "the plan deletes 3 of 3 entries on the target, more than allowed; nothing was done"

    const refused = await conduit("sync", src, dst)
    assert.strictEqual(refused.code, 1)
    assert.strictEqual(refused.stdout, "")
    assert.include(refused.stderr, sentence)
    assert.deepStrictEqual(snapshot(dst), before)

    const dry = await conduit("sync", src, dst, "--dry-run")
    assert.strictEqual(dry.code, 0, dry.stderr)
    assert.include(dry.stdout, `\na real run would be refused: ${sentence}`)
    const dryJson = await json(0, "sync", src, dst, "--dry-run")
    assert.include(dryJson.refusal, { _tag: "PlanGuardError", reason: "TooManyDeletes" })

    const forced = await conduit("sync", src, dst, "--force")
    assert.strictEqual(forced.code, 0, forced.stderr)
    assert.match(forced.stdout, /: 1 copied, 0 moved, 3 deleted, 0 attributes set in .*; verified$/m)
    assert.deepStrictEqual(snapshot(dst).map((e) => e.path), ["a.txt"])
    assert.deepStrictEqual(versions(dst).map(([path]) => path), ["x1", "x2", "x3"], "the deleted files are kept as versions")
  })

  it("exits 1 after the summary when an operation is skipped", async () => {
    const src = tree("src", { "a.txt": "new", "b.txt": "bee", "c.txt": "sea" })
    const dst = tree("dst", { "a.txt": "old", "b.txt": "bee", "c.txt": "sea" })
    // Replacing a.txt keeps the old bytes in `.conduit/versions`, which a file in the way blocks.
    Fs.writeFileSync(Path.join(dst, ".conduit"), "in the way")

    const r = await conduit("sync", src, dst)
    assert.strictEqual(r.code, 1)
    assert.match(r.stdout, /^synced .* \(mirror\): .*; not verified: \d+ differences? remains?$/m)
    assert.match(r.stdout, /^skipped: copy a\.txt → target \(replacing the target's\): could not write '.*a\.txt': .+$/m)
    assert.match(r.stderr, /^\d+ operations? (was|were) skipped and left as they were; fix what is listed above and sync again\n$/)
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "a.txt"), "utf8"), "old", "the destination was left as it was")

    const document = await json(1, "sync", src, dst)
    assert.isFalse(document.verified)
    const skipped = document.report.skipped.find((s: any) => s.operation.path === "a.txt")
    assert.include(skipped.operation, { _tag: "Copy", from: "source", to: "target" })
    assert.include(skipped.error, { _tag: "FileOpError", path: Path.join(dst, "a.txt") })
  })

  it("verifies files whose modification times have sub-microsecond digits", async () => {
    const src = tree("src", { "a.txt": "a", "b.txt": "b" })
    const dst = tree("dst")
    // `touch` sets nanoseconds exactly (utimensat); Node's utimes cannot.
    const touched = spawnSync("touch", ["-d", "@1795487596.689149009", Path.join(src, "a.txt")])
    assert.strictEqual(touched.status, 0, String(touched.stderr))
    const r = await conduit("sync", src, dst)
    assert.strictEqual(r.code, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, /; verified$/m)
  })

  it("bidirectional: a type change, delete against edit and a rename converge; rule-excluded files stay where they are", async () => {
    const src = tree("src", {
      "doc.txt": "a file, for now",
      "edited.txt": "e0",
      "renamed.txt": "content that moves somewhere else",
      "node_modules/pkg/index.js": "the source's own excluded file",
      "kept.txt": "k"
    })
    const dst = tree("dst", { "node_modules/other/index.js": "the target's own excluded file" })
    const first = await json(0, "sync", src, dst, "--mode", "bidirectional")
    assert.isTrue(first.verified)
    assert.isFalse(Fs.existsSync(Path.join(dst, "node_modules/pkg")), "excluded: not copied")
    assert.isFalse(Fs.existsSync(Path.join(src, "node_modules/other")), "excluded: not copied back")

    // The source turns doc.txt into a directory and renames a file; the target edits a file
    // the source deletes.
    Fs.rmSync(Path.join(src, "doc.txt"))
    Fs.mkdirSync(Path.join(src, "doc.txt"))
    write(src, "doc.txt/inner.txt", "now a directory", T0 + 10)
    Fs.mkdirSync(Path.join(src, "moved"))
    Fs.renameSync(Path.join(src, "renamed.txt"), Path.join(src, "moved/renamed.txt"))
    Fs.rmSync(Path.join(src, "edited.txt"))
    write(dst, "edited.txt", "e1, edited on the target", T0 + 20)

    const second = await json(0, "sync", src, dst, "--mode", "bidirectional")
    assert.isTrue(second.verified)
    assert.strictEqual(second.plan.summary.moves, 1, "the rename is a rename on the target")
    assert.deepStrictEqual(
      second.plan.conflicts.map((c: any) => [c.path, c.reason, c.winner, c.resolution]).sort(),
      [["doc.txt", "TypeChange", "source", "EditKept"], ["edited.txt", "DeleteVsEdit", "target", "EditKept"]]
    )
    // Both sides hold the same (the excluded directories aside), the edit came back to the source.
    const withoutExcluded = (root: string) => snapshot(root).filter((e) => !e.path.startsWith("node_modules"))
    assert.deepStrictEqual(withoutExcluded(dst).map((e) => [e.path, e.kind, e.bytes]), withoutExcluded(src).map((e) => [e.path, e.kind, e.bytes]))
    assert.strictEqual(Fs.readFileSync(Path.join(src, "edited.txt"), "utf8"), "e1, edited on the target")
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "doc.txt/inner.txt"), "utf8"), "now a directory")
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "moved/renamed.txt"), "utf8"), "content that moves somewhere else")
    // The replaced file is a version on the target; the excluded files were never touched.
    assert.deepStrictEqual(versions(dst).filter(([p]) => p === "doc.txt"), [["doc.txt", "a file, for now"]])
    assert.strictEqual(Fs.readFileSync(Path.join(src, "node_modules/pkg/index.js"), "utf8"), "the source's own excluded file")
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "node_modules/other/index.js"), "utf8"), "the target's own excluded file")
    const listed = (await json(0, "conflicts")).conflicts.map((c: any) => [c.path, c.reason]).sort()
    assert.deepStrictEqual(listed, [["doc.txt", "TypeChange"], ["edited.txt", "DeleteVsEdit"]])
  })

  it("refuses a file given for a directory, and creates nothing", async () => {
    const src = tree("src", { "a.txt": "a" })
    const file = Path.join(workDir(), "plain.txt")
    Fs.writeFileSync(file, "not a directory")
    for (const [a, b, bad] of [[file, src, file], [src, file, file]] as const) {
      const r = await conduit("sync", a, b)
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.match(r.stderr, new RegExp(`^'${escape(bad)}' is not a directory`))
    }
    assert.deepStrictEqual(await locationRoots(), [])
    assert.strictEqual(Fs.readFileSync(file, "utf8"), "not a directory")
  })

  // Root can write anywhere, so "read-only" and "full" are real file systems here: small tmpfs
  // mounts (CI runs as root; elsewhere these two tests are skipped).
  const asRoot = process.getuid?.() === 0
  const mountTmpfs = (dir: string, options: string) => {
    Fs.mkdirSync(dir, { recursive: true })
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir])
    return () => execFileSync("umount", ["-l", dir])
  }

  it.skipIf(!asRoot)("a read-only target: every copy is a recorded skip, exit 1, and the target is unchanged", async () => {
    const src = tree("src", { "a.txt": "new a", "d/b.txt": "new b" })
    const dst = Path.join(workDir(), "ro")
    const unmount = mountTmpfs(dst, "size=4m")
    try {
      Fs.writeFileSync(Path.join(dst, "a.txt"), "old a")
      await json(0, "location", "add", dst)
      execFileSync("mount", ["-o", "remount,ro", dst])
      const before = snapshot(dst)
      const r = await json(1, "sync", src, dst)
      assert.isFalse(r.verified)
      assert.isAbove(r.report.skipped.length, 0)
      for (const s of r.report.skipped) assert.include(s.error, { _tag: "FileOpError", reason: "PermissionDenied" })
      assert.deepStrictEqual(snapshot(dst), before, "nothing changed on the target")
      assert.deepStrictEqual(Fs.readdirSync(dst).filter((n) => n.startsWith(".conduit-tmp-")), [])
    } finally {
      unmount()
    }
  })

  it.skipIf(!asRoot)("a full disk: the copies that fit are made, the others are recorded DiskFull skips; no partial file; the next run completes once there is room", async () => {
    const files: Record<string, string> = {}
    for (let i = 0; i < 8; i++) files[`big-${i}.bin`] = String(i).repeat(300 * 1024)
    const src = tree("src", files)
    const dst = Path.join(workDir(), "small")
    const unmount = mountTmpfs(dst, "size=1m")
    try {
      const r = await json(1, "sync", src, dst)
      assert.isFalse(r.verified)
      const reasons = new Set(r.report.skipped.map((s: any) => s.error.reason))
      assert.deepStrictEqual([...reasons], ["DiskFull"])
      assert.isAbove(r.report.copied, 0)
      // What is there is complete: every file under its final name has the source's bytes.
      for (const name of Fs.readdirSync(dst)) {
        if (name === ".conduit") continue
        assert.notMatch(name, /^\.conduit-tmp-/, "no partial file is left")
        assert.isTrue(Fs.readFileSync(Path.join(dst, name)).equals(Fs.readFileSync(Path.join(src, name))), name)
      }
      assert.deepStrictEqual(Fs.readdirSync(src).sort(), Object.keys(files).sort(), "the source lost nothing")
      execFileSync("mount", ["-o", "remount,size=8m", dst])
      const again = await json(0, "sync", src, dst)
      assert.isTrue(again.verified)
    } finally {
      unmount()
    }
  })
})
