/**
 * @conduit/resolver — sync modes as strategies, the plan type, the planner and plan guards.
 * The planning is pure; `IndexDiff` reads the path states that differ from the index.
 *
 * @since 0.1.0
 */
export * as Fingerprint from "./Fingerprint.js"
export * as IndexDiff from "./IndexDiff.js"
export * as ModeRegistry from "./ModeRegistry.js"
export * as Modes from "./Modes.js"
export * as Plan from "./Plan.js"
export * as Planner from "./Planner.js"
export * as SyncModeStrategy from "./SyncModeStrategy.js"
