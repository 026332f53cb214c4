/**
 * The tagged errors shared by every layer. Each carries a `reason` that a caller can match on
 * and that the CLI turns into one sentence.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A path that is not acceptable as a relative location path, or lies outside every location. */
export class PathError extends Schema.TaggedError<PathError>()("PathError", {
  reason: Schema.Literal("Invalid", "OutsideLocations", "NotFound", "NotADirectory"),
  path: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "Invalid":
        return `'${this.path}' is not a valid relative path`
      case "OutsideLocations":
        return `'${this.path}' is not inside any location (add one with 'conduit location add')`
      case "NotFound":
        return `'${this.path}' does not exist`
      case "NotADirectory":
        return `'${this.path}' is not a directory`
    }
  }
}

/** The library database could not be opened, migrated or used. */
export class LibraryError extends Schema.TaggedError<LibraryError>()("LibraryError", {
  reason: Schema.Literal("Corrupt", "Storage", "Migration", "Busy"),
  path: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    const where = this.path === undefined ? "the library database" : `the library database ${this.path}`
    switch (this.reason) {
      case "Corrupt":
        return `${where} is corrupt or not a Conduit library; it was left untouched`
      case "Storage":
        return `${where} could not be read or written${causeText(this.cause)}`
      case "Migration":
        return `${where} could not be upgraded${causeText(this.cause)}`
      case "Busy":
        return `${where} is locked by another process`
    }
  }
}

/** A location could not be added, found or used. */
export class LocationError extends Schema.TaggedError<LocationError>()("LocationError", {
  reason: Schema.Literal("NotFound", "AlreadyExists", "Overlaps", "RootMissing", "RootUnmounted", "RootEmpty", "NotADirectory", "PermissionDenied", "NotLocal"),
  path: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "NotFound":
        return `no location at '${this.path}'`
      case "AlreadyExists":
        return `'${this.path}' is already a location`
      case "Overlaps":
        return `'${this.path}' overlaps an existing location (one would be inside the other)`
      case "RootMissing":
        return `the location root '${this.path}' is missing; nothing was changed in the index`
      case "RootUnmounted":
        return `the location root '${this.path}' is on a different file system than when it was added (unmounted?); nothing was changed in the index`
      case "RootEmpty":
        return `the location root '${this.path}' is empty but the index has files there (unmounted?); nothing was changed — pass --allow-empty if they really were deleted`
      case "NotADirectory":
        return `'${this.path}' is not a directory`
      case "PermissionDenied":
        return `permission denied reading '${this.path}'`
      case "NotLocal":
        return `location '${this.path}' belongs to another device: its index comes from library sync, it cannot be scanned here`
    }
  }
}

/** Hashing failed for a reason other than an unreadable or changing file (those are recorded on the entry). */
export class HashError extends Schema.TaggedError<HashError>()("HashError", {
  reason: Schema.Literal("Backend", "Worker"),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return this.reason === "Backend"
      ? "the BLAKE3 backend is not the native one or gives wrong digests"
      : `a hashing worker failed${causeText(this.cause)}`
  }
}

const causeText = (cause: unknown): string => {
  if (cause instanceof Error) return `: ${cause.message}`
  if (typeof cause === "string") return `: ${cause}`
  return ""
}
