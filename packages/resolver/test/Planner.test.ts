import { describe, it } from "@effect/vitest"
import type { RelPath } from "@conduit/domain"
import { Effect, Either, FastCheck as fc } from "effect"
import { assert } from "vitest"
import { Fingerprint, ModeRegistry, Modes, Plan, Planner, SyncModeStrategy } from "../src/index.js"

type Fp = Fingerprint.Fingerprint
type Tree = Map<string, Fp>

// -- generated trees ------------------------------------------------------------------------------

const file = (content: string, mtime: bigint, mode = 0o644): Fp => ({
  kind: 0, hash: content, size: content.length, mtimeNs: mtime, mode, linkTarget: null
})
const dir = (mtime: bigint = 1n, mode = 0o755): Fp => ({ kind: 1, hash: null, size: 0, mtimeNs: mtime, mode, linkTarget: null })
const link = (target: string, mtime: bigint): Fp => ({ kind: 2, hash: `link:${target}`, size: target.length, mtimeNs: mtime, mode: 0o777, linkTarget: target })

const leafArb: fc.Arbitrary<Fp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ c: fc.constantFrom("h1", "h2", "h3", "h4"), m: fc.constantFrom(1n, 2n, 3n), p: fc.constantFrom(0o644, 0o600) }).map(({ c, m, p }) => file(c, m, p)) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom("x", "y"), m: fc.constantFrom(1n, 2n) }).map(({ t, m }) => link(t, m)) },
  { weight: 1, arbitrary: fc.constantFrom(1n, 2n).map((m) => dir(m)) }
)

/** A consistent tree: every ancestor of an entry is a directory; the first leaf at a path wins. */
const treeArb: fc.Arbitrary<Tree> = fc
  .array(fc.tuple(fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 3 }), leafArb), { maxLength: 12 })
  .map((leaves) => {
    const tree: Tree = new Map()
    for (const [segments, leaf] of leaves) {
      const path = segments.join("/")
      let ok = !tree.has(path)
      for (let i = 1; i < segments.length && ok; i++) {
        const ancestor = tree.get(segments.slice(0, i).join("/"))
        if (ancestor !== undefined && ancestor.kind !== 1) ok = false
      }
      if (!ok) continue
      for (let i = 1; i < segments.length; i++) {
        const p = segments.slice(0, i).join("/")
        if (!tree.has(p)) tree.set(p, dir())
      }
      tree.set(path, leaf)
    }
    return tree
  })

const statesOf = (source: Tree, target: Tree, baseline: Tree): Array<Planner.Input> =>
  [...new Set([...source.keys(), ...target.keys(), ...baseline.keys()])].sort().map((path) => ({
    path: path as RelPath.RelPath,
    source: source.get(path) ?? null,
    target: target.get(path) ?? null,
    baseline: baseline.get(path) ?? null
  }))

// -- an in-memory executor, in the order the real one runs: copies and moves, then deletes ------

interface World {
  readonly source: Tree
  readonly target: Tree
  readonly versions: Array<{ readonly side: Plan.Side; readonly path: string; readonly entry: Fp }>
}

const under = (tree: Tree, path: string) => [...tree.keys()].filter((p) => p === path || p.startsWith(`${path}/`))

const keepAndRemove = (world: World, side: Plan.Side, path: string) => {
  const tree = world[side]
  for (const p of under(tree, path)) {
    world.versions.push({ side, path: p, entry: tree.get(p)! })
    tree.delete(p)
  }
}

const apply = (start: { source: Tree; target: Tree }, plan: Plan.Plan): World => {
  const world: World = { source: new Map(start.source), target: new Map(start.target), versions: [] }
  const parentExists = (tree: Tree, path: string) => {
    const i = path.lastIndexOf("/")
    return i < 0 || tree.get(path.slice(0, i))?.kind === 1
  }
  for (const op of plan.operations) {
    switch (op._tag) {
      case "Copy": {
        const tree = world[op.to]
        const present = tree.get(op.path)
        if (present !== undefined && !(present.kind === 1 && op.entry.kind === 1)) keepAndRemove(world, op.to, op.path)
        if (!parentExists(tree, op.path)) throw new Error(`copy into a missing directory: ${op.to}:${op.path}`)
        tree.set(op.path, op.entry)
        break
      }
      case "Move": {
        const tree = world[op.side]
        if (!tree.has(op.from)) throw new Error(`move of a missing path: ${op.side}:${op.from}`)
        if (tree.has(op.to)) keepAndRemove(world, op.side, op.to)
        if (!parentExists(tree, op.to)) throw new Error(`move into a missing directory: ${op.side}:${op.to}`)
        tree.delete(op.from)
        tree.set(op.to, op.entry)
        break
      }
      case "SetAttributes": {
        const tree = world[op.side]
        const present = tree.get(op.path)
        if (present === undefined) throw new Error(`attributes of a missing path: ${op.side}:${op.path}`)
        tree.set(op.path, { ...present, mtimeNs: op.mtimeNs, mode: op.mode })
        break
      }
      case "Delete":
        break
    }
  }
  const deletes = plan.operations.filter((op): op is Plan.Delete => op._tag === "Delete").sort((a, b) => (a.path < b.path ? 1 : -1))
  for (const op of deletes) {
    const tree = world[op.side]
    if (!tree.has(op.path)) continue
    if (op.verifiedOn !== null && !Fingerprint.sameContent(world[op.verifiedOn].get(op.path) ?? null, tree.get(op.path)!)) continue
    keepAndRemove(world, op.side, op.path)
  }
  return world
}

const equalTrees = (a: Tree, b: Tree) =>
  a.size === b.size && [...a].every(([path, fp]) => Fingerprint.same(fp, b.get(path) ?? null))

const contents = (tree: Tree) => [...tree.values()].filter((fp) => fp.kind === 0).map((fp) => fp.hash)

const run = (mode: SyncModeStrategy.SyncModeStrategy, source: Tree, target: Tree, baseline: Tree = new Map()) => {
  const plan = Planner.plan(mode, statesOf(source, target, baseline))
  return { plan, world: apply({ source, target }, plan) }
}

const params = { numRuns: 400 }

describe("mirror", () => {
  it.prop("makes the target equal to the source, keeps every replaced file as a version, and is then idle", [treeArb, treeArb], ([source, target]) => {
    const { world } = run(Modes.mirror, source, target)
    assert.isTrue(equalTrees(world.target, source))
    assert.isTrue(equalTrees(world.source, source), "mirror never writes to the source")
    const after = new Set([...contents(world.target), ...world.versions.map((v) => v.entry.hash)])
    for (const hash of contents(target)) assert.isTrue(after.has(hash), `lost ${hash}`)
    assert.deepStrictEqual(Planner.plan(Modes.mirror, statesOf(world.source, world.target, new Map())).operations, [])
  }, { fastCheck: params })
})

describe("bidirectional", () => {
  it.prop("converges, never loses a version, and is then idle", [treeArb, treeArb, treeArb], ([source, target, baseline]) => {
    const { world } = run(Modes.bidirectional, source, target, baseline)
    assert.isTrue(equalTrees(world.source, world.target), "both sides are equal afterwards")
    const after = new Set([...contents(world.source), ...contents(world.target), ...world.versions.map((v) => v.entry.hash)])
    for (const hash of [...contents(source), ...contents(target)]) assert.isTrue(after.has(hash), `lost ${hash}`)
    const again = Planner.plan(Modes.bidirectional, statesOf(world.source, world.target, world.source))
    assert.deepStrictEqual(again.operations, [])
  }, { fastCheck: params })

  it.prop("a side that did not change since the baseline takes the other side's changes, deletes included, without conflicts", [treeArb, treeArb], ([baseline, changed]) => {
    // The target still equals the baseline; the source moved on.
    const { plan, world } = run(Modes.bidirectional, changed, new Map(baseline), baseline)
    assert.isTrue(equalTrees(world.target, changed))
    assert.isTrue(plan.conflicts.every((c) => c.reason === "TypeChange"))
  }, { fastCheck: params })

  it("identical content on both sides is not a conflict, first sync included", () => {
    const source: Tree = new Map([["a", file("h1", 1n)], ["d", dir()], ["d/b", file("h2", 2n)]])
    const plan = Planner.plan(Modes.bidirectional, statesOf(source, new Map(source), new Map()))
    assert.deepStrictEqual(plan.operations, [])
    assert.deepStrictEqual(plan.conflicts, [])
  })

  it("both edited: the later write wins, the loser is a recorded conflict and is replaced (kept as a version)", () => {
    const base: Tree = new Map([["doc", file("v0", 1n)]])
    const { plan, world } = run(Modes.bidirectional, new Map([["doc", file("v-source", 5n)]]), new Map([["doc", file("v-target", 7n)]]), base)
    assert.strictEqual(plan.conflicts.length, 1)
    assert.include(plan.conflicts[0]!, { reason: "BothChanged", winner: "target", resolution: "LastWriteWins" })
    assert.strictEqual(world.source.get("doc")!.hash, "v-target")
    assert.deepStrictEqual(world.versions.map((v) => [v.side, v.entry.hash]), [["source", "v-source"]])
  })

  it("delete against edit keeps the edit, and the directory it lives in", () => {
    const base: Tree = new Map([["d", dir()], ["d/f", file("v0", 1n)]])
    const source: Tree = new Map() // deleted the whole directory
    const target: Tree = new Map([["d", dir()], ["d/f", file("v1", 2n)]]) // edited the file
    const { plan, world } = run(Modes.bidirectional, source, target, base)
    assert.strictEqual(world.source.get("d/f")!.hash, "v1")
    assert.strictEqual(world.target.get("d/f")!.hash, "v1")
    assert.deepStrictEqual(plan.conflicts.map((c) => [c.path, c.reason, c.winner]), [["d/f", "DeleteVsEdit", "target"]])
  })

  it("a file against a directory is a TypeChange conflict, never a silent delete", () => {
    const { plan, world } = run(
      Modes.bidirectional,
      new Map([["x", file("was-a-file", 9n)]]),
      new Map([["x", dir(2n)], ["x/inner", file("inside", 2n)]])
    )
    assert.deepStrictEqual(plan.conflicts.map((c) => [c.reason, c.winner]), [["TypeChange", "source"]])
    assert.strictEqual(world.target.get("x")!.hash, "was-a-file")
    assert.deepStrictEqual(world.versions.map((v) => v.path).sort(), ["x", "x/inner"])
  })
})

describe("selective", () => {
  /** A tree whose files are each evicted (remote) or not, as a selective primary's index has them. */
  const primaryArb = fc.tuple(treeArb, fc.array(fc.boolean(), { minLength: 12, maxLength: 12 })).map(([tree, flags]) => {
    let i = 0
    return new Map([...tree].map(([path, fp]) => [path, fp.kind === 0 && flags[i++ % flags.length]! ? { ...fp, remote: true } : fp] as const))
  })

  it.prop("mirrors the primary's local files; an evicted file is never copied from, never deleted on the secondary, and never planned for", [primaryArb, treeArb], ([source, target]) => {
    const plan = Planner.plan(Modes.selective, statesOf(source, target, new Map()))
    const remote = new Set([...source].filter(([, fp]) => fp.remote === true).map(([path]) => path))
    for (const op of plan.operations) {
      if (op._tag === "Copy") assert.isFalse(remote.has(op.path), `copied from evicted ${op.path}`)
      if (op._tag === "Delete") assert.isFalse(remote.has(op.path), `deleted ${op.path}, whose only bytes may be that copy`)
      if (op._tag === "Delete") assert.strictEqual(op.side, "target", "the primary is never written to")
      if (op._tag === "Copy") assert.strictEqual(op.to, "target")
    }
    // Local files end up on the secondary exactly as mirror would put them.
    const local = new Map([...source].filter(([path]) => !remote.has(path)))
    const { world } = run(Modes.selective, source, target)
    for (const [path, fp] of local) assert.isTrue(Fingerprint.same(fp, world.target.get(path) ?? null), path)
  }, { fastCheck: params })

  it("an evicted file whose secondary copy is gone or different is left alone (the risk report shows it)", () => {
    const evicted = { ...file("h1", 1n), remote: true }
    for (const target of [new Map<string, Fp>(), new Map([["x", file("h2", 2n)]])]) {
      const plan = Planner.plan(Modes.selective, statesOf(new Map([["x", evicted]]), target, new Map()))
      assert.deepStrictEqual(plan.operations, [])
    }
    // mirror from an evicted file does nothing either: there are no bytes to copy.
    assert.deepStrictEqual(Planner.plan(Modes.mirror, statesOf(new Map([["x", evicted]]), new Map(), new Map())).operations, [])
  })
})

describe("archive", () => {
  it.prop("never removes a source file without the same content at the target, never removes anything on the target", [treeArb, treeArb], ([source, target]) => {
    const { plan, world } = run(Modes.archive, source, target)
    for (const [path, fp] of source) {
      if (fp.kind === 1 || world.source.has(path)) continue
      assert.isTrue(Fingerprint.sameContent(world.target.get(path) ?? null, fp), `${path} removed without a verified copy`)
    }
    for (const v of world.versions.filter((v) => v.side === "target")) {
      assert.isTrue(plan.operations.some((op) => op._tag === "Copy" && op.to === "target" && (op.path === v.path || v.path.startsWith(`${op.path}/`))))
    }
    assert.isTrue(plan.operations.every((op) => op._tag !== "Delete" || (op.side === "source" && op.verifiedOn === "target")))
  }, { fastCheck: params })

  it("a source delete whose copy cannot be verified does not happen", () => {
    const source: Tree = new Map([["f", file("h1", 1n)]])
    const plan = Planner.plan(Modes.archive, statesOf(source, new Map(), new Map()))
    // The executor's copy failed: the target does not have the content.
    const withoutCopy: Plan.Plan = { ...plan, operations: plan.operations.filter((op) => op._tag !== "Copy") }
    const world = apply({ source, target: new Map() }, withoutCopy)
    assert.isTrue(world.source.has("f"))
  })
})

describe("moves", () => {
  it("a rename on the source becomes a rename on the target, not a copy and a delete", () => {
    const target: Tree = new Map([["old", dir()], ["old/report.pdf", file("pdf", 1n)]])
    const source: Tree = new Map([["new", dir()], ["new/report.pdf", file("pdf", 1n)]])
    const { plan, world } = run(Modes.mirror, source, target)
    assert.deepStrictEqual(plan.summary, { copies: 1, deletes: 1, moves: 1, attributes: 0, conflicts: 0, bytes: 0 })
    assert.deepStrictEqual(plan.operations.find((op) => op._tag === "Move"), {
      _tag: "Move", side: "target", from: "old/report.pdf" as RelPath.RelPath, to: "new/report.pdf" as RelPath.RelPath, entry: file("pdf", 1n)
    })
    assert.isTrue(equalTrees(world.target, source))
  })
})

describe("guards", () => {
  const endpoint = (entries: number, over: Partial<Planner.EndpointState> = {}): Planner.EndpointState => ({ entries, rootPresent: true, rootEmpty: false, ...over })
  const big: Tree = new Map(Array.from({ length: 10 }, (_, i) => [`f${i}`, file(`h${i}`, 1n)] as const))

  it.prop("fire exactly when a plan deletes more than the allowed share of a side", [fc.integer({ min: 0, max: 10 }), fc.double({ min: 0.05, max: 1, noNaN: true })], ([kept, ratio]) => {
    const source: Tree = new Map([...big].slice(0, kept))
    const plan = Planner.plan(Modes.mirror, statesOf(source, big, new Map()))
    const deletes = 10 - kept
    const result = Planner.guard(plan, { source: endpoint(kept), target: endpoint(10) }, { maxDeleteRatio: ratio })
    if (deletes > ratio * 10) {
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.include(result.left, { reason: "TooManyDeletes", side: "target", deletes, entries: 10 })
    } else {
      assert.isTrue(Either.isRight(result))
    }
    assert.isTrue(Either.isRight(Planner.guard(plan, { source: endpoint(kept), target: endpoint(10) }, { maxDeleteRatio: ratio, force: true })))
  }, { fastCheck: { numRuns: 200 } })

  it("refuse a missing root, and an empty root the index had files in", () => {
    const plan = Planner.plan(Modes.mirror, statesOf(new Map(), new Map(), new Map()))
    const missing = Planner.guard(plan, { source: endpoint(0, { rootPresent: false }), target: endpoint(0) })
    assert.strictEqual(Either.isLeft(missing) && missing.left.reason, "RootMissing")
    const emptied = Planner.guard(plan, { source: endpoint(5, { rootEmpty: true }), target: endpoint(5) })
    assert.strictEqual(Either.isLeft(emptied) && emptied.left.reason, "RootEmpty")
    assert.isTrue(Either.isRight(Planner.guard(plan, { source: endpoint(0, { rootEmpty: true }), target: endpoint(0) })))
  })

  it("archive's verified source deletes are its purpose and do not count", () => {
    const plan = Planner.plan(Modes.archive, statesOf(big, new Map(), new Map()))
    assert.isTrue(Either.isRight(Planner.guard(plan, { source: endpoint(10), target: endpoint(0) })))
  })
})

/** The README's custom mode: a mirror that never deletes. */
const additive: SyncModeStrategy.SyncModeStrategy = {
  name: "additive",
  description: "one way: copy new and changed files to the target, never delete there",
  usesBaseline: false,
  deletesOn: [],
  decide: (state) => ({ operations: Modes.follow(state, "source").filter((op) => op._tag !== "Delete") })
}

describe("ModeRegistry", () => {
  it.effect("holds the built-ins; a user mode registers the same way and plans like one", () =>
    Effect.gen(function* () {
      const registry = yield* ModeRegistry.ModeRegistry
      assert.deepStrictEqual((yield* registry.list).map((m) => m.name), ["mirror", "bidirectional", "archive", "selective", "additive"])
      const mode = yield* registry.get("additive")
      const { world } = run(mode, new Map([["new", file("n", 1n)]]), new Map([["only-here", file("t", 1n)]]))
      assert.deepStrictEqual([...world.target.keys()].sort(), ["new", "only-here"])
      const unknown = yield* Effect.flip(registry.get("teleport"))
      assert.strictEqual(unknown.message, "unknown sync mode 'teleport' (known: mirror, bidirectional, archive, selective, additive)")
      const duplicate = yield* Effect.flip(registry.register(Modes.mirror))
      assert.strictEqual(duplicate.reason, "Duplicate")
    }).pipe(Effect.provide(ModeRegistry.layerWith([additive]))))
})
