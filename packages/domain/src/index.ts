/**
 * @conduit/domain — schemas, branded ids and errors. No I/O.
 *
 * @since 0.1.0
 */
export * as Entry from "./Entry.js"
export * as Errors from "./Errors.js"
export * as Ids from "./Ids.js"
export * as Modes from "./Modes.js"
export * as RelPath from "./RelPath.js"
