/**
 * `conduit ls PATH [-r]`: what the index holds under a directory (not what the disk holds).
 * Entries are streamed from the database and printed as they come, so a listing of millions
 * of files needs no more memory than one of ten.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import type { Entry } from "@conduit/domain"
import { IndexStore, Locations } from "@conduit/index"
import { SelectiveStore } from "@conduit/sync"
import { Args, Command, Options } from "@effect/cli"
import { Chunk, Effect, Option, Stream } from "effect"
import { CliError } from "./CliError.js"
import * as Format from "./Format.js"
import * as Json from "./Json.js"
import * as Library from "./Library.js"
import * as Output from "./Output.js"
import * as Paths from "./Paths.js"

/** `conduit ls`. */
export const command = Command.make("ls", {
  path: Args.text({ name: "PATH" }).pipe(Args.withDescription("a directory (or file) inside a location")),
  recursive: Options.boolean("recursive").pipe(
    Options.withAlias("r"),
    Options.withDescription("list the whole subtree, not only the directory's children")
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const locations = yield* Locations.Locations
    const store = yield* IndexStore.IndexStore
    const absolute = Paths.absolute(args.path)
    const { location, path: dir } = yield* locations.resolve(absolute)
    // A library that never had a conduit has no pins table yet: nothing is pinned then.
    const pins = yield* Effect.orElseSucceed(Effect.flatMap(SelectiveStore.SelectiveStore, (s) => s.pins(location)), () => [])
    const render = (entry: Entry.Entry, path: string) => {
      const pinned = SelectiveStore.isPinned(pins, entry.path)
      return args.json ? JSON.stringify({ ...Json.entry(entry, path), pinned }) : Format.entry(entry, path, pinned)
    }

    if (dir !== RelPath.root) {
      const found = yield* store.get(location, dir)
      if (Option.isNone(found) || found.value.tombstone) return yield* new CliError({ reason: "NotIndexed", path: absolute })
      // A file or symlink lists as itself.
      if (found.value.kind !== 1) return yield* Output.line(render(found.value, RelPath.basename(dir)))
    }
    const prefix = dir === RelPath.root ? 0 : dir.length + 1
    yield* store.entriesUnder(location, dir, { recursive: args.recursive }).pipe(
      Stream.runForEachChunk((chunk) =>
        Output.write(Chunk.reduce(chunk, "", (text, entry) => `${text}${render(entry, entry.path.slice(prefix))}\n`)))
    )
  }).pipe(Effect.provide(SelectiveStore.layer), Effect.provide(Library.queryLayer), Output.reportFailures(args))).pipe(
  Command.withDescription("List the index entries under a directory (one JSON object per line with --json); evicted files are marked [remote], pinned ones [pinned].")
)
