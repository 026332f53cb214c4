/**
 * End-to-end tests of the conduit commands — `conduit conduit create | list | show | rm |
 * enable | disable`, `run`, `plan`, `history`, `conflicts`, `versions`, `restore` — with the
 * built `dist/main.js` run as a real child process, `CONDUIT_HOME` a fresh temporary directory
 * and real temporary trees. `turbo run test` builds the CLI first.
 *
 * Trees get whole-second modification times (`settle`), and edits explicit ones, so that
 * comparisons are exact and the winner of a conflict is known.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "vitest"
import { spawn } from "node:child_process"
import { CLI, DURATION, escape, ISO, manyFiles, session, T0, TIME, tree as treeIn, write } from "./support.js"

const { conduit, json, home: homeDir, work: workDir } = session("conduit")

/** A tree in this test's working directory (see `support.tree`). */
const tree = (name: string, files: Record<string, string | null> = {}) => treeIn(workDir(), name, files)

/** The lines of a command's stdout, after checking that it exited with `code`. */
const lines = async (code: number, ...args: Array<string>): Promise<Array<string>> => {
  const r = await conduit(...args)
  assert.strictEqual(r.code, code, `conduit ${args.join(" ")}: ${r.stderr}`)
  return r.stdout.trimEnd().split("\n")
}

/** Runs a command that must fail with exit code 1 and one sentence; returns that sentence. */
const refused = async (...args: Array<string>): Promise<string> => {
  const r = await conduit(...args)
  assert.strictEqual(r.code, 1, `conduit ${args.join(" ")} should fail: ${r.stdout}`)
  assert.strictEqual(r.stdout, "")
  assert.match(r.stderr, /^[^\n]+\n$/, "one sentence on stderr")
  return r.stderr.trimEnd()
}

/** The `{"error": …}` document of a command that must fail with exit code 1. */
const refusedJson = async (...args: Array<string>): Promise<any> => (await json(1, ...args)).error

const read = (root: string, rel: string) => Fs.readFileSync(Path.join(root, rel), "utf8")

/** Every file under a root but the version store: `[path, content]`, sorted. */
const files = (root: string): Array<[string, string]> =>
  (Fs.readdirSync(root, { recursive: true }) as Array<string>)
    .map((rel) => rel.split(Path.sep).join("/"))
    .filter((rel) => rel !== ".conduit" && !rel.startsWith(".conduit/") && Fs.statSync(Path.join(root, rel)).isFile())
    .sort()
    .map((rel): [string, string] => [rel, read(root, rel)])

/** Creates a conduit (JSON) and returns it. */
const create = async (src: string, dst: string, ...options: Array<string>): Promise<any> =>
  (await json(0, "conduit", "create", src, dst, ...options)).conduit


describe("conduit conduit, run, plan, history, conflicts, versions, restore", () => {
  it("are listed in the help, each with its options", async () => {
    const help = await conduit("--help")
    assert.strictEqual(help.code, 0)
    for (const command of [
      "conduit create", "conduit list", "conduit show", "conduit set", "conduit rm", "conduit enable", "conduit disable",
      "run", "plan", "history", "conflicts", "versions", "restore"
    ]) {
      assert.include(help.stdout, `- ${command} `)
    }
    // `conduit conduit` alone shows the help too.
    const group = await conduit("conduit")
    assert.strictEqual(group.code, 0)
    assert.include(group.stdout, "- conduit create ")

    const expected: Array<[Array<string>, Array<string>]> = [
      [["conduit", "create"], [
        "<SRC>", "<DST>", "--mode mirror|bidirectional|archive|selective", "--schedule manual|instant|interval:<n>s|m|h|d",
        "--parallel N", "--max-delete-ratio R", "--keep-versions DAYS", "--bandwidth-limit MBPS", "--disabled", "--json"
      ]],
      [["conduit", "list"], ["--json"]],
      [["conduit", "show"], ["<ID>", "--json"]],
      [["conduit", "set"], [
        "<ID>", "--schedule manual|instant|interval:<n>s|m|h|d", "--parallel N", "--max-delete-ratio R", "--keep-versions DAYS",
        "--bandwidth-limit MBPS", "--no-bandwidth-limit", "--conflict-strategy last-write-wins", "--json"
      ]],
      [["conduit", "rm"], ["<ID>", "--json"]],
      [["conduit", "enable"], ["<ID>", "--json"]],
      [["conduit", "disable"], ["<ID>", "--json"]],
      [["run"], ["<ID>", "--force", "--json"]],
      [["plan"], ["<ID>", "--mode mirror|bidirectional|archive|selective", "--json"]],
      [["history"], ["<ID>", "--json"]],
      [["conflicts"], ["[<ID>]", "--json"]],
      [["versions"], ["<PATH>", "--json"]],
      [["restore"], ["<PATH>", "--version", "--json"]]
    ]
    for (const [command, options] of expected) {
      const r = await conduit(...command, "--help")
      assert.strictEqual(r.code, 0, command.join(" "))
      for (const option of options) assert.include(r.stdout, option, `${command.join(" ")} --help`)
    }
    assert.isFalse(Fs.existsSync(Path.join(homeDir(), "library.db")), "help opens no library")
  })

  it("creates, lists, shows, disables (run refused), enables, runs, keeps the history of and removes a conduit", async () => {
    const src = tree("src", { "a.txt": "alpha", "sub/b.txt": "bravo" })
    const dst = tree("dst", { "old.txt": "target only" })

    // create, in text: the new locations, the conduit, every setting.
    const created = await lines(0, "conduit", "create", "src", "dst", "--schedule", "interval:30m", "--parallel", "2", "--max-delete-ratio", "1", "--keep-versions", "7")
    assert.deepStrictEqual(created.slice(0, 2), [
      `'${src}' was in no location: added it as a location`,
      `'${dst}' was in no location: added it as a location`
    ])
    const [, id] = /^created conduit ([0-9a-f]{8}) \(/.exec(created[2]!) ?? []
    assert.isDefined(id, created[2])
    assert.strictEqual(created[2], `created conduit ${id} (${src} → ${dst})`)
    const details = created.slice(3)
    assert.match(details[0]!, new RegExp(`^id +${id}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`))
    for (
      const line of [
        `source               ${src} (location src)`,
        `target               ${dst} (location dst)`,
        "mode                 mirror",
        "enabled              yes",
        "schedule             interval:30m",
        "parallel transfers   2",
        "max delete ratio     1",
        "keep versions        7 days",
        "generation           0",
        "last sync            never"
      ]
    ) assert.include(details, line)

    // list and show, in text and JSON.
    const table = await lines(0, "conduit", "list")
    assert.deepStrictEqual(table, [
      `ID        MODE    ENABLED  GENERATION  LAST SYNC  SOURCE → TARGET`,
      `${id}  mirror  yes      0           never      ${src} → ${dst}`
    ])
    const listed = (await json(0, "conduit", "list")).conduits
    assert.lengthOf(listed, 1)
    const full: string = listed[0].id
    assert.deepStrictEqual(Object.keys(listed[0]), [
      "id", "source", "target", "mode", "enabled", "schedule", "parallelTransfers", "maxDeleteRatio", "versionRetentionDays",
      "cacheMaxBytes", "cacheMinFreeBytes", "cacheMinFreePercent", "cachePolicy", "useIndexRules", "indexModeOverride", "bandwidthLimitMbps", "conflictStrategy", "generation", "lastSyncCompletedAt", "createdAt", "updatedAt"
    ])
    assert.deepStrictEqual(listed[0].source, { path: src, root: src, dir: "", location: listed[0].source.location })
    assert.deepStrictEqual(listed[0].target, { path: dst, root: dst, dir: "", location: listed[0].target.location })
    assert.include(listed[0], {
      mode: "mirror", enabled: true, schedule: "interval:30m", parallelTransfers: 2, maxDeleteRatio: 1, versionRetentionDays: 7, useIndexRules: true,
      indexModeOverride: null, bandwidthLimitMbps: null, conflictStrategy: "last-write-wins", generation: 0, lastSyncCompletedAt: null
    })
    assert.match(listed[0].createdAt, ISO)
    const shown = await json(0, "conduit", "show", id!.slice(0, 4)) // the shortest prefix accepted
    assert.deepStrictEqual(shown, { conduit: listed[0], lastGeneration: null })
    assert.include(await lines(0, "conduit", "show", full), "last generation      none (it never ran)")

    // disable: run is refused and changes nothing; plan still works.
    assert.deepStrictEqual(await lines(0, "conduit", "disable", id!), [
      `disabled conduit ${id} (${src} → ${dst}); 'conduit run' refuses it until 'conduit conduit enable ${id}'`
    ])
    assert.strictEqual(await refused("run", id!), `conduit '${full}' is disabled; enable it first`)
    assert.deepStrictEqual(await refusedJson("run", id!), {
      _tag: "SyncError", reason: "Disabled", message: `conduit '${full}' is disabled; enable it first`, path: full
    })
    assert.deepStrictEqual(files(dst), [["old.txt", "target only"]])
    assert.strictEqual((await json(0, "plan", id!)).plan.summary.copies, 3)
    assert.isFalse((await json(0, "conduit", "show", id!)).conduit.enabled)

    // enable, then run: the output of `conduit sync`.
    const enabled = await json(0, "conduit", "enable", id!)
    assert.include(enabled.conduit, { id: full, enabled: true })
    const run = await conduit("run", id!)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.strictEqual(run.stderr, "")
    const out = run.stdout.trimEnd().split("\n")
    assert.strictEqual(out[0], "plan: 3 copies (10 B), 0 moves, 1 delete, 0 attribute changes, 0 conflicts")
    assert.match(out[1]!, new RegExp(`^synced ${escape(src)} → ${escape(dst)} \\(mirror\\): 3 copied, 0 moved, 1 deleted, \\d+ attributes set in ${DURATION}; verified$`))
    assert.lengthOf(out, 2)
    assert.deepStrictEqual(files(dst), files(src))

    // Again, in JSON: the document of `conduit sync`, with this conduit and its second generation.
    const again = await json(0, "run", full)
    assert.deepStrictEqual(Object.keys(again), [
      "conduit", "generation", "source", "target", "mode", "plan", "report", "refusal", "verified", "remaining", "durationMs", "job"
    ])
    assert.include(again, { conduit: full, generation: 2, mode: "mirror", verified: true, remaining: 0, refusal: null })
    assert.deepStrictEqual(again.source, { path: src, root: src, dir: "", addedLocation: false })
    assert.deepStrictEqual(again.report, { copied: 0, moved: 0, deleted: 0, attributes: 0, bytes: 0, skipped: [], stopped: null })

    // history: newest first, in text and JSON.
    const history = await lines(0, "history", id!)
    assert.strictEqual(history[0], "GENERATION  STATUS     STARTED              DURATION  COPIED  DELETED  MOVED  BYTES  CONFLICTS  VERIFICATION")
    assert.match(history[1]!, new RegExp(`^2 +completed +${TIME} +${DURATION} +0 +0 +0 +0 B +0 +verified$`))
    assert.match(history[2]!, new RegExp(`^1 +completed +${TIME} +${DURATION} +3 +1 +0 +10 B +0 +verified$`))
    assert.lengthOf(history, 3)
    const generations = await json(0, "history", id!)
    assert.strictEqual(generations.conduit, full)
    assert.deepStrictEqual(generations.generations.map((g: any) => g.generation), [2, 1])
    const first = generations.generations[1]
    assert.deepStrictEqual(Object.keys(first), [
      "generation", "status", "startedAt", "completedAt", "durationMs", "filesCopied", "filesDeleted", "filesMoved",
      "bytesTransferred", "conflictsResolved", "verification", "remaining", "errors"
    ])
    assert.include(first, {
      status: "completed", filesCopied: 3, filesDeleted: 1, filesMoved: 0, bytesTransferred: 10, conflictsResolved: 0,
      verification: "verified", remaining: 0
    })
    assert.deepStrictEqual(first.errors, [])
    assert.match(first.startedAt, ISO)
    assert.isAtLeast(first.durationMs, 0)

    const afterRuns = await json(0, "conduit", "show", id!)
    assert.include(afterRuns.conduit, { generation: 2 })
    assert.match(afterRuns.conduit.lastSyncCompletedAt, ISO)
    assert.deepStrictEqual(afterRuns.lastGeneration, generations.generations[0])
    const shownText = await lines(0, "conduit", "show", id!)
    assert.match(shownText.at(-1)!, new RegExp(`^last generation +2: completed, started ${TIME}, took ${DURATION}; 0 copied, 0 deleted, 0 moved, 0 B, 0 conflicts; verified$`))

    // rm: the conduit and its history go, the files and locations stay.
    assert.deepStrictEqual(await lines(0, "conduit", "rm", id!), [
      `removed conduit ${id} (${src} → ${dst}) and its history; the files were not touched`
    ])
    assert.deepStrictEqual((await json(0, "conduit", "list")).conduits, [])
    const empty = await conduit("conduit", "list")
    assert.strictEqual(empty.code, 0)
    assert.strictEqual(empty.stdout, "")
    assert.strictEqual(empty.stderr, "no conduits yet; create one with 'conduit conduit create SRC DST'\n")
    assert.strictEqual(await refused("history", full), `no conduit '${full}'`)
    assert.deepStrictEqual(files(dst), files(src))
    assert.lengthOf((await json(0, "location", "list")).locations, 2)
  })

  it("create --json: the conduit and the locations it added; --disabled; a conduit inside a location", async () => {
    const outer = tree("outer", { "photos/p.jpg": "jpeg" })
    Fs.mkdirSync(Path.join(workDir(), "backup"))
    assert.strictEqual((await conduit("location", "add", outer)).code, 0)

    const document = await json(0, "conduit", "create", Path.join(outer, "photos"), "backup", "--mode", "archive", "--disabled", "--bandwidth-limit", "12.5")
    assert.deepStrictEqual(Object.keys(document), ["conduit", "addedLocations"])
    assert.deepStrictEqual(document.addedLocations.map((l: any) => l.root), [Path.join(workDir(), "backup")])
    assert.include(document.conduit, { mode: "archive", enabled: false, schedule: "manual", parallelTransfers: 4, maxDeleteRatio: 0.5, bandwidthLimitMbps: 12.5 })
    assert.deepStrictEqual(document.conduit.source, {
      path: Path.join(outer, "photos"), root: outer, dir: "photos", location: document.conduit.source.location
    })
    assert.strictEqual(document.conduit.target.location, document.addedLocations[0].id)

    // The same pair, either way round, is refused.
    const duplicate = await refusedJson("conduit", "create", "backup", Path.join(outer, "photos"))
    assert.include(duplicate, { _tag: "SyncError", reason: "Duplicate", path: document.conduit.id })
  })

  it("plan lists every operation and changes nothing; --mode plans with another mode and keeps the conduit's", async () => {
    const src = tree("src", { "a.txt": "new content", "keep.txt": "same", "new/b.txt": "bee" })
    const dst = tree("dst", { "a.txt": "old content", "keep.txt": "same", "old.txt": "target only", "o2.txt": "2", "o3.txt": "3" })
    const { id } = await create(src, dst)
    const before = files(dst)
    const guard = "the plan deletes 3 of 5 entries on the target, more than allowed; nothing was done — " +
      "check the plan first ('conduit plan ID' or 'conduit sync --dry-run'), then pass --force if it is right"

    const r = await conduit("plan", id.slice(0, 8))
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(r.stdout.trimEnd().split("\n"), [
      "plan: 3 copies (14 B), 0 moves, 3 deletes, 0 attribute changes, 0 conflicts",
      "copy a.txt → target (replacing the target's)",
      "copy new/ → target",
      "copy new/b.txt → target",
      "delete o2.txt on target",
      "delete o3.txt on target",
      "delete old.txt on target",
      `a real run would be refused: ${guard}`
    ])
    assert.strictEqual(r.stderr, "dry run: nothing was changed on disk\n")
    assert.deepStrictEqual(files(dst), before)
    assert.isFalse(Fs.existsSync(Path.join(dst, ".conduit")), "no version was kept")

    const document = await json(0, "plan", id)
    assert.include(document, { conduit: id, generation: null, report: null, mode: "mirror", verified: false, remaining: 6 })
    assert.include(document.refusal, { _tag: "PlanGuardError", reason: "TooManyDeletes" })
    assert.deepStrictEqual(document.plan.operations.map((op: any) => op._tag), ["Copy", "Copy", "Copy", "Delete", "Delete", "Delete"])
    assert.include(document.plan.operations[0], { path: "a.txt", from: "source", to: "target" })

    // Another mode: archive never deletes on the target.
    const archive = await json(0, "plan", id, "--mode", "archive")
    assert.strictEqual(archive.mode, "archive")
    assert.deepStrictEqual(archive.plan.operations.map((op: any) => [op._tag, op.path, op.side ?? op.to]), [
      ["Copy", "a.txt", "target"],
      ["Delete", "a.txt", "source"],
      ["Delete", "keep.txt", "source"],
      ["Copy", "new", "target"],
      ["Copy", "new/b.txt", "target"],
      ["Delete", "new/b.txt", "source"]
    ])
    assert.strictEqual((await json(0, "conduit", "show", id)).conduit.mode, "mirror", "the conduit's mode is left alone")
    assert.deepStrictEqual((await json(0, "history", id)).generations, [], "a dry run records no generation")
    const noHistory = await conduit("history", id)
    assert.strictEqual(noHistory.code, 0)
    assert.strictEqual(noHistory.stdout, "")
    assert.strictEqual(noHistory.stderr, `conduit ${id.slice(0, 8)} (${src} → ${dst}) has not run yet; run it with 'conduit run ${id.slice(0, 8)}'\n`)
    assert.deepStrictEqual(files(dst), before)
    assert.deepStrictEqual(files(src), [["a.txt", "new content"], ["keep.txt", "same"], ["new/b.txt", "bee"]])

    // The guard refuses the real run (nothing done, no generation); --force runs it.
    assert.strictEqual(await refused("run", id), guard)
    assert.deepStrictEqual(files(dst), before)
    const forced = await json(0, "run", id, "--force")
    assert.include(forced, { generation: 1, verified: true })
    assert.deepStrictEqual(files(dst), files(src))
  })

  it("history shows a run that skipped an operation as failed, with its error", async () => {
    const src = tree("src", { "a.txt": "new", "b.txt": "bee" })
    const dst = tree("dst", { "a.txt": "old", "b.txt": "bee" })
    // Replacing a.txt keeps the old bytes in `.conduit/versions`, which a file in the way blocks.
    Fs.writeFileSync(Path.join(dst, ".conduit"), "in the way")
    const { id } = await create(src, dst)

    const run = await conduit("run", id)
    assert.strictEqual(run.code, 1)
    assert.match(run.stdout, /^skipped: copy a\.txt → target \(replacing the target's\): could not write '.*a\.txt': .+$/m)
    assert.strictEqual(run.stderr, "1 operation was skipped and left as they were; fix what is listed above and sync again\n")

    const history = await lines(0, "history", id)
    assert.match(history[1]!, new RegExp(`^1 +failed +${TIME} +${DURATION} +0 +0 +0 +0 B +0 +not-verified$`))
    assert.match(history[2]!, new RegExp(`^  Io: could not write '${escape(Path.join(dst, "a.txt"))}'.*; the destination was left as it was$`))
    assert.lengthOf(history, 3)
    const [generation] = (await json(0, "history", id)).generations
    assert.include(generation, { status: "failed", verification: "not-verified", remaining: 1 })
    assert.lengthOf(generation.errors, 1)
    assert.include(generation.errors[0], { path: Path.join(dst, "a.txt"), reason: "Io" })
  })

  it("conflicts: a bidirectional double edit is listed, newest first, for one conduit or all", async () => {
    const one = tree("one", { "shared.txt": "base", "x.txt": "x" })
    const two = tree("two")
    const other = tree("other", { "o.txt": "o" })
    const elsewhere = tree("elsewhere")
    const { id } = await create(one, two, "--mode", "bidirectional")
    const { id: otherId } = await create(other, elsewhere)

    const none = await conduit("conflicts")
    assert.strictEqual(none.code, 0)
    assert.strictEqual(none.stdout, "")
    assert.strictEqual(none.stderr, "no conflicts recorded\n")
    assert.deepStrictEqual(await json(0, "conflicts"), { conflicts: [] })
    assert.strictEqual((await conduit("run", id)).code, 0)

    // Both sides edit both files: the target later for shared.txt, the source later for x.txt.
    write(one, "shared.txt", "edited on one", T0 + 100)
    write(two, "shared.txt", "edited on two, later", T0 + 200)
    write(one, "x.txt", "x from one, later", T0 + 500)
    write(two, "x.txt", "x from two", T0 + 400)
    const run = await lines(0, "run", id)
    assert.deepStrictEqual(run.slice(1, 3), [
      "conflict: shared.txt — changed on both sides, kept the target's version (the later write); the other is in the version store",
      "conflict: x.txt — changed on both sides, kept the source's version (the later write); the other is in the version store"
    ])
    assert.strictEqual(read(one, "shared.txt"), "edited on two, later")
    assert.strictEqual(read(two, "x.txt"), "x from one, later")

    // A second double edit of shared.txt, the source later this time: a newer conflict.
    write(one, "shared.txt", "one again, later", T0 + 900)
    write(two, "shared.txt", "two again", T0 + 800)
    assert.strictEqual((await conduit("run", id)).code, 0)

    const short = id.slice(0, 8)
    const table = await lines(0, "conflicts", short)
    assert.deepStrictEqual(table, [
      "CONDUIT   GENERATION  PATH        REASON       WINNER  RESOLUTION",
      `${short}  3           shared.txt  BothChanged  source  LastWriteWins`,
      `${short}  2           x.txt       BothChanged  source  LastWriteWins`,
      `${short}  2           shared.txt  BothChanged  target  LastWriteWins`
    ])
    assert.deepStrictEqual(await lines(0, "conflicts"), table, "every conduit's: only this one has conflicts")
    const document = await json(0, "conflicts", id)
    assert.deepStrictEqual(document.conflicts.map((c: any) => [c.generation, c.path, c.winner]), [
      [3, "shared.txt", "source"], [2, "x.txt", "source"], [2, "shared.txt", "target"]
    ])
    const newest = document.conflicts[0]
    assert.deepStrictEqual(Object.keys(newest), [
      "conduit", "generation", "path", "reason", "winner", "resolution", "sourceHash", "targetHash", "createdAt"
    ])
    assert.include(newest, { conduit: id, reason: "BothChanged", resolution: "LastWriteWins" })
    assert.match(newest.sourceHash, /^[0-9a-f]{64}$/)
    assert.match(newest.targetHash, /^[0-9a-f]{64}$/)
    assert.match(newest.createdAt, ISO)
    assert.deepStrictEqual(await json(0, "conflicts", otherId), { conflicts: [] })
    assert.strictEqual(await refused("conflicts", "nope"), "no conduit 'nope'")
  })

  it("versions lists what a mirror run replaced and deleted; restore puts it back and keeps what it replaced", async () => {
    const src = tree("src", { "doc.txt": "from the source", "sub/s.txt": "s" })
    const dst = tree("dst", { "doc.txt": "the target's own", "gone.txt": "deleted by the run", "sub/s.txt": "s" })
    const { id } = await create(src, dst, "--max-delete-ratio", "1")
    assert.strictEqual((await conduit("run", id)).code, 0)
    assert.strictEqual(read(dst, "doc.txt"), "from the source")
    assert.isFalse(Fs.existsSync(Path.join(dst, "gone.txt")))

    // versions: relative to the working directory, or absolute.
    const listing = await lines(0, "versions", "dst/doc.txt")
    assert.strictEqual(listing[0], "VERSION  KEPT AT              SIZE  FILE")
    assert.match(listing[1]!, new RegExp(`^1 +${TIME} +16 B +${escape(Path.join(dst, ".conduit", "versions", "doc.txt~"))}\\d{8}-\\d{6}-\\d{3}$`))
    assert.lengthOf(listing, 2)
    const listed = await json(0, "versions", Path.join(dst, "doc.txt"))
    assert.strictEqual(listed.path, Path.join(dst, "doc.txt"))
    assert.lengthOf(listed.versions, 1)
    assert.deepStrictEqual(Object.keys(listed.versions[0]), ["version", "keptAt", "size", "file"])
    assert.include(listed.versions[0], { version: 1, size: 16 })
    assert.match(listed.versions[0].keptAt, ISO)
    assert.strictEqual(Fs.readFileSync(listed.versions[0].file, "utf8"), "the target's own")

    // restore: the target's own content is back; what it replaced is now version 1.
    const restored = await lines(0, "restore", "dst/doc.txt")
    assert.match(restored[0]!, new RegExp(`^restored '${escape(Path.join(dst, "doc.txt"))}' from version 1, kept ${TIME} \\(16 B\\)$`))
    assert.match(restored[1]!, new RegExp(`^the content it replaced was kept as version 1 \\(${escape(Path.join(dst, ".conduit", "versions", "doc.txt~"))}.+\\)$`))
    assert.lengthOf(restored, 2)
    assert.strictEqual(read(dst, "doc.txt"), "the target's own")
    const after = (await json(0, "versions", "dst/doc.txt")).versions
    assert.deepStrictEqual(after.map((v: any) => [v.version, Fs.readFileSync(v.file, "utf8")]), [
      [1, "from the source"], [2, "the target's own"]
    ])

    // --version 1 now undoes the restore; in JSON.
    const undone = await json(0, "restore", "dst/doc.txt", "--version", "1")
    assert.deepStrictEqual(Object.keys(undone), ["path", "restored", "replaced"])
    assert.deepStrictEqual(undone.restored, after[0])
    assert.include(undone.replaced, { version: 1, size: 16 })
    assert.strictEqual(Fs.readFileSync(undone.replaced.file, "utf8"), "the target's own")
    assert.strictEqual(read(dst, "doc.txt"), "from the source")
    assert.lengthOf((await json(0, "versions", "dst/doc.txt")).versions, 3)
    // --version N counts from the newest: 3 is the target's own content again.
    assert.strictEqual((await json(0, "restore", "dst/doc.txt", "--version", "3")).restored.version, 3)
    assert.strictEqual(read(dst, "doc.txt"), "the target's own")

    // A deleted file comes back; nothing was there, so nothing is kept.
    const deleted = await lines(0, "restore", Path.join(dst, "gone.txt"))
    assert.deepStrictEqual(deleted.slice(1), ["there was nothing at that path before, so no version was kept"])
    assert.strictEqual(read(dst, "gone.txt"), "deleted by the run")
    assert.lengthOf((await json(0, "versions", "dst/gone.txt")).versions, 1)

    // A file without versions.
    const none = await conduit("versions", "src/doc.txt")
    assert.strictEqual(none.code, 0)
    assert.strictEqual(none.stdout, "")
    assert.strictEqual(none.stderr, `no versions of '${Path.join(src, "doc.txt")}'\n`)
    assert.deepStrictEqual(await json(0, "versions", "src/doc.txt"), { path: Path.join(src, "doc.txt"), versions: [] })
  })

  it("set changes settings (kept across commands); bad values, no setting or an unknown id change nothing", async () => {
    const src = tree("src", { "a.txt": "a" })
    const dst = tree("dst")
    const { id } = (await json(0, "conduit", "create", src, dst)).conduit
    const before = (await json(0, "conduit", "show", id)).conduit

    const set = await json(0, "conduit", "set", id.slice(0, 8), "--schedule", "interval:5m", "--bandwidth-limit", "25.5", "--parallel", "12",
      "--conflict-strategy", "last-write-wins", "--keep-versions", "7", "--max-delete-ratio", "0.3")
    assert.include(set.conduit, {
      id, schedule: "interval:5m", bandwidthLimitMbps: 25.5, parallelTransfers: 12, conflictStrategy: "last-write-wins",
      versionRetentionDays: 7, maxDeleteRatio: 0.3, enabled: true
    })
    const text = await lines(0, "conduit", "set", id, "--no-bandwidth-limit")
    assert.strictEqual(text[0], `updated conduit ${id.slice(0, 8)} (${src} → ${dst}): bandwidthLimitMbps`)
    const after = (await json(0, "conduit", "show", id)).conduit
    assert.include(after, { schedule: "interval:5m", bandwidthLimitMbps: null, parallelTransfers: 12 })
    assert.notStrictEqual(after.updatedAt, before.updatedAt)

    const unchanged = JSON.stringify(after)
    assert.strictEqual(await refused("conduit", "set", id, "--schedule", "every tuesday"),
      "unknown schedule 'every tuesday' (accepted: manual, instant, or interval:<n>s|m|h|d with a whole n of at least 1, e.g. interval:30m)")
    assert.match(await refused("conduit", "set", id, "--bandwidth-limit", "-5"), /^--bandwidth-limit must be a number of megabits per second above 0/)
    assert.match(await refused("conduit", "set", id, "--bandwidth-limit", "1e9"), /^--bandwidth-limit must be/)
    assert.match(await refused("conduit", "set", id, "--bandwidth-limit", "5", "--no-bandwidth-limit"), /^--bandwidth-limit must be.*--no-bandwidth-limit/)
    assert.match(await refused("conduit", "set", id, "--parallel", "0"), /^--parallel must be a whole number from 1 to 64/)
    assert.strictEqual(await refused("conduit", "set", id), "nothing to change: give at least one setting (see 'conduit conduit set --help')")
    assert.match(await refused("conduit", "set", "ffffffff", "--parallel", "2"), /ffffffff/)
    assert.strictEqual((await conduit("conduit", "set", id, "--conflict-strategy", "coin-flip")).code, 2, "a usage error")
    assert.strictEqual(JSON.stringify((await json(0, "conduit", "show", id)).conduit), unchanged, "nothing changed")
  })

  it("refuses bad input with one sentence (exit 1) or a usage error (exit 2), and creates nothing", async () => {
    const src = tree("src", { "a.txt": "a" })
    const dst = tree("dst")
    const outside = tree("outside", { "o.txt": "o" })

    // Settings out of range.
    const parallel = (n: string) => `--parallel must be a whole number from 1 to 64 (got ${n})`
    for (const n of ["0", "-3", "65", "100000"]) assert.strictEqual(await refused("conduit", "create", src, dst, "--parallel", n), parallel(n))
    const ratio = (r: string) =>
      `--max-delete-ratio must be a number above 0 and at most 1, the largest share of a side a run may delete (got ${r})`
    for (const r of ["0", "1.5", "-0.5"]) assert.strictEqual(await refused("conduit", "create", src, dst, "--max-delete-ratio", r), ratio(r))
    const keep = (d: string) => `--keep-versions must be a whole number of days from 0 (keep forever) to 36500 (got ${d})`
    for (const d of ["-1", "36501"]) assert.strictEqual(await refused("conduit", "create", src, dst, "--keep-versions", d), keep(d))
    const limit = (m: string) => `--bandwidth-limit must be a number of megabits per second above 0 and at most 100000 (got ${m})`
    for (const m of ["0", "-5", "100001"]) assert.strictEqual(await refused("conduit", "create", src, dst, "--bandwidth-limit", m), limit(m))
    const schedule = (s: string) =>
      `unknown schedule '${s}' (accepted: manual, instant, or interval:<n>s|m|h|d with a whole n of at least 1, e.g. interval:30m)`
    for (const s of ["weekly", "interval:0m", "interval:5w", "interval:m", "interval:1.5h"]) {
      assert.strictEqual(await refused("conduit", "create", src, dst, "--schedule", s), schedule(s))
    }
    assert.deepStrictEqual(await refusedJson("conduit", "create", src, dst, "--parallel", "0"), {
      _tag: "CliError", reason: "InvalidParallel", message: parallel("0"), path: null
    })
    assert.include(await refusedJson("conduit", "create", src, dst, "--schedule", "weekly"), { _tag: "CliError", reason: "InvalidSchedule" })
    assert.include(await refusedJson("conduit", "create", src, dst, "--max-delete-ratio", "2"), { _tag: "CliError", reason: "InvalidMaxDeleteRatio" })
    const modes = "unknown sync mode 'fast' (known: mirror, bidirectional, archive, selective)"
    assert.strictEqual(await refused("conduit", "create", src, dst, "--mode", "fast"), modes)
    assert.include(await refusedJson("conduit", "create", src, dst, "--mode", "fast"), { _tag: "ModeError", reason: "Unknown", message: modes })

    // Not numbers at all: usage errors.
    for (const args of [["--parallel", "many"], ["--parallel", "1.5"], ["--max-delete-ratio", "half"]]) {
      const r = await conduit("conduit", "create", src, dst, ...args)
      assert.strictEqual(r.code, 2, args.join(" "))
      assert.strictEqual(r.stdout, "")
    }
    const unknownSub = await conduit("conduit", "frobnicate")
    assert.strictEqual(unknownSub.code, 2)
    assert.strictEqual((await conduit("run")).code, 2, "missing ID")

    assert.deepStrictEqual((await json(0, "conduit", "list")).conduits, [], "no conduit was created")
    assert.deepStrictEqual((await json(0, "location", "list")).locations, [], "no location was added")

    // Accepted forms.
    const made = await create(src, dst, "--schedule", "interval:1d", "--parallel", "64", "--max-delete-ratio", "0.01")
    assert.include(made, { schedule: "interval:1d", parallelTransfers: 64, maxDeleteRatio: 0.01 })

    // Unknown conduits, and prefixes too short or matching nothing.
    for (const command of [["conduit", "show"], ["conduit", "rm"], ["conduit", "enable"], ["conduit", "disable"], ["run"], ["plan"], ["history"], ["conflicts"]]) {
      assert.strictEqual(await refused(...command, "nope"), "no conduit 'nope'", command.join(" "))
    }
    assert.strictEqual(await refused("conduit", "show", made.id.slice(0, 3)), `no conduit '${made.id.slice(0, 3)}'`, "a prefix needs 4 characters")
    assert.deepStrictEqual(await refusedJson("run", "nope"), { _tag: "SyncError", reason: "NotFound", message: "no conduit 'nope'", path: "nope" })
    assert.strictEqual(await refused("plan", made.id, "--mode", "fast"), modes)

    // Paths outside every location; versions that do not exist.
    const out = Path.join(outside, "o.txt")
    const outsideSentence = `'${out}' is not inside any location (add one with 'conduit location add')`
    assert.strictEqual(await refused("versions", "outside/o.txt"), outsideSentence)
    assert.strictEqual(await refused("restore", out), outsideSentence)
    assert.deepStrictEqual(await refusedJson("versions", out), { _tag: "PathError", reason: "OutsideLocations", message: outsideSentence, path: out })
    assert.strictEqual(await refused("restore", "src/a.txt"), `there are no versions of '${Path.join(src, "a.txt")}' to restore`)

    write(dst, "a.txt", "the target's", T0)
    assert.strictEqual((await conduit("run", made.id)).code, 0)
    const target = Path.join(dst, "a.txt")
    for (const n of ["2", "0", "-1"]) {
      assert.strictEqual(
        await refused("restore", target, "--version", n),
        `'${target}' has 1 version, so --version must be from 1 (the newest) to 1 (got ${n})`
      )
    }
    assert.include(await refusedJson("restore", target, "--version", "2"), { _tag: "CliError", reason: "NoSuchVersion", path: target })
    assert.strictEqual(read(dst, "a.txt"), "a", "nothing was restored")
  })

  it("jobs: a run paused from another process stops at a checkpoint, is listed, and resumes to a verified end", async () => {
    const src = tree("src", manyFiles(25, 200))
    const dst = tree("dst")
    const made = await create(src, dst, "--mode", "mirror")
    const runner = spawn(process.execPath, [CLI, "run", made.id, "--json"], {
      cwd: workDir(),
      env: { ...process.env, CONDUIT_HOME: homeDir(), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    runner.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    const ended = new Promise<number | null>((resolve) => runner.on("close", resolve))
    // Wait for the run's job, then ask for the pause from this other process.
    let job: any
    for (let i = 0; i < 200 && job === undefined; i++) {
      job = (await json(0, "jobs")).jobs.find((j: any) => j.status === "running")
      if (job === undefined) await new Promise((r) => setTimeout(r, 25))
    }
    assert.isDefined(job, "the run shows up as a running job")
    assert.include(job, { kind: "FileSyncJob", conduit: made.id })
    const paused = await json(0, "jobs", "pause", job.id.slice(0, 8))
    assert.strictEqual(paused.job.id, job.id)
    assert.strictEqual(await ended, 1, "a paused run did not verify")
    const result = JSON.parse(stdout.trim())
    assert.deepStrictEqual(result.job, { id: job.id, status: "paused" })
    assert.strictEqual(result.report.stopped, "paused")
    assert.isBelow(result.report.copied, 5025)

    const listed = (await json(0, "jobs")).jobs
    assert.lengthOf(listed, 1)
    assert.include(listed[0], { id: job.id, status: "paused", orphaned: false })
    assert.strictEqual(listed[0].progress.total, 5025)
    const table = await lines(0, "jobs")
    assert.match(table[1]!, new RegExp(`^${job.id.slice(0, 8)}\\s+FileSyncJob\\s+paused\\s+${made.id.slice(0, 8)}\\s+\\d+/5025 `))
    assert.deepStrictEqual((await json(0, "history", made.id)).generations.map((g: any) => g.status), ["paused"])

    // Resumed here: only what is left is copied, and the run verifies.
    const resumed = await json(0, "jobs", "resume", job.id.slice(0, 8))
    assert.deepStrictEqual(resumed.job, { id: job.id, status: "completed" })
    assert.strictEqual(resumed.report.copied + result.report.copied, 5025)
    assert.isTrue(resumed.verified)
    assert.deepStrictEqual(files(dst), files(src))
    assert.include((await json(0, "jobs")).jobs[0], { status: "completed" })
    // An ended job cannot be paused or resumed again; an unknown one is named.
    assert.strictEqual(await refused("jobs", "resume", job.id), `job ${job.id.slice(0, 8)} is completed: it has ended, so it cannot be paused, cancelled or resumed`)
    assert.strictEqual(await refused("jobs", "pause", "ffffffff"), "no job 'ffffffff' (see 'conduit jobs')")
  }, 120_000)
})
