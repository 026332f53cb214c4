/**
 * @conduit/index — the local index: library database, locations, index rules, indexer,
 * BLAKE3 hashing, watcher and queries.
 *
 * @since 0.1.0
 */
export * as Hasher from "./Hasher.js"
export * as Indexer from "./Indexer.js"
export * as IndexLive from "./IndexLive.js"
export * as IndexRules from "./IndexRules.js"
export * as IndexStore from "./IndexStore.js"
export * as LibraryDatabase from "./LibraryDatabase.js"
export * as Locations from "./Locations.js"
export * as Watcher from "./Watcher.js"
