/**
 * Indexing and sync modes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * `Standard` applies the index rules (system, temp and dev files, `.gitignore`,
 * `.conduitignore`); `SyncComplete` indexes everything under the location.
 */
export const IndexingMode = Schema.Literal("Standard", "SyncComplete")
export type IndexingMode = typeof IndexingMode.Type

/** The built-in sync modes; user modes register further names with the resolver. */
export const SyncMode = Schema.Literal("mirror", "bidirectional", "archive", "selective")
export type SyncMode = typeof SyncMode.Type
