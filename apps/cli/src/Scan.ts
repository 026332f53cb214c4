/**
 * A scan as the CLI runs it: `Indexer.scan` of a whole location or one directory of it, with
 * the progress bar, and its summary printed as text.
 *
 * @since 0.1.0
 */
import { RelPath } from "@conduit/domain"
import { Indexer } from "@conduit/index"
import type { Locations } from "@conduit/index"
import { Effect } from "effect"
import * as Format from "./Format.js"
import * as Output from "./Output.js"
import * as Progress from "./Progress.js"

/** What to scan: a location, and a directory of it (the root for the whole location). */
export interface Target {
  readonly location: Locations.Location
  readonly path: RelPath.RelPath
}

/** How a target is called in output: the location's name, then the directory if not the root. */
export const label = (target: Target): string =>
  target.path === RelPath.root ? target.location.name : `${target.location.name}/${target.path}`

/** Scans a target, drawing the progress bar when a person is watching (see `Progress.enabled`). */
export const run = (target: Target, options: { readonly json: boolean; readonly allowEmptyRoot: boolean }) =>
  Effect.flatMap(Indexer.Indexer, (indexer) =>
    Progress.track(label(target), Progress.enabled(options), (onProgress) =>
      indexer.scan(target.location.id, {
        ...(target.path === RelPath.root ? {} : { paths: [target.path] }),
        allowEmptyRoot: options.allowEmptyRoot,
        ...(onProgress === undefined ? {} : { onProgress })
      })))

/** Prints a summary as text: one line of counts, then one line per problem. */
export const printSummary = (verb: string, target: Target, summary: Indexer.ScanSummary): Effect.Effect<void> =>
  Effect.forEach(Format.summary(verb, label(target), summary), Output.line, { discard: true })
