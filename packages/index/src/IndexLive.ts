/**
 * Everything of @conduit/index wired together on one library database: what an app provides
 * to use the index.
 *
 * @since 0.1.0
 */
import type { Errors } from "@conduit/domain"
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import * as Hasher from "./Hasher.js"
import * as Indexer from "./Indexer.js"
import * as IndexStore from "./IndexStore.js"
import * as LibraryDatabase from "./LibraryDatabase.js"
import * as Locations from "./Locations.js"
import * as Watcher from "./Watcher.js"

/** The options of the whole index. */
export interface IndexOptions extends LibraryDatabase.LibraryOptions, Hasher.HasherOptions {}

/** The services of @conduit/index. */
export type IndexServices =
  | LibraryDatabase.LibraryDatabase
  | SqlClient.SqlClient
  | Locations.Locations
  | IndexStore.IndexStore
  | Indexer.Indexer
  | Watcher.Watcher
  | Hasher.Hasher

/** The read side only: the library, locations and queries (no hasher, indexer or watcher). */
export type QueryServices = LibraryDatabase.LibraryDatabase | SqlClient.SqlClient | Locations.Locations | IndexStore.IndexStore

/** Opens the library at `options.home` for commands that only read the index. */
export const queryLayer = (options: LibraryDatabase.LibraryOptions): Layer.Layer<QueryServices, Errors.LibraryError> =>
  Layer.mergeAll(Locations.layer, IndexStore.layer).pipe(Layer.provideMerge(LibraryDatabase.layer(options)))

/**
 * Opens the library at `options.home` and provides every index service. Hashing workers and
 * the native watcher start only when first needed.
 */
export const layer = (options: IndexOptions): Layer.Layer<IndexServices, Errors.LibraryError | Errors.HashError> => {
  const indexing = Indexer.layer.pipe(Layer.provideMerge(Layer.mergeAll(Locations.layer, Hasher.layerWith(options))))
  const services = Layer.mergeAll(Watcher.layer.pipe(Layer.provideMerge(indexing)), IndexStore.layer)
  return services.pipe(Layer.provideMerge(LibraryDatabase.layer(options)))
}
