import { Effect } from "effect"
import { Indexer, IndexLive, Locations } from "../src/index.js"
const home = process.argv[2]!, root = process.argv[3]!
const program = Effect.gen(function* () {
  const locations = yield* Locations.Locations
  const indexer = yield* Indexer.Indexer
  const list = yield* locations.list
  const loc = list.find((l) => l.root === root) ?? (yield* locations.add(root))
  const t = performance.now()
  const s = yield* indexer.scan(loc.id)
  console.log(JSON.stringify({ ...s, problems: s.problems.length }), (performance.now() - t).toFixed(0), "ms")
})
Effect.runPromise(program.pipe(Effect.provide(IndexLive.layer({ home })), Effect.scoped)).catch((e) => { console.error(e); process.exit(1) })
