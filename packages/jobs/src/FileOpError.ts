/**
 * Why a file operation of a sync did not happen. Every reason leaves the destination as it was:
 * operations write to a temporary file and rename only after verification.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A copy, replacement or removal that was not carried out. */
export class FileOpError extends Schema.TaggedError<FileOpError>()("FileOpError", {
  reason: Schema.Literal(
    /** The source is gone (deleted between plan and copy). */
    "SourceMissing",
    /** The source's bytes are not the ones the plan was made for (changed since it was indexed). */
    "SourceChanged",
    /** The copy's bytes read back do not hash to what was written. */
    "VerifyFailed",
    "PermissionDenied",
    /** No space left on the destination's file system. */
    "DiskFull",
    /** Anything else the file system refused. */
    "Io"
  ),
  path: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    switch (this.reason) {
      case "SourceMissing":
        return `'${this.path}' is gone; it was skipped`
      case "SourceChanged":
        return `'${this.path}' changed since it was indexed; it was skipped and will be synced after the next scan`
      case "VerifyFailed":
        return `the copy of '${this.path}' did not verify; the destination was left as it was`
      case "PermissionDenied":
        return `permission denied writing '${this.path}'; the destination was left as it was`
      case "DiskFull":
        return `no space left for '${this.path}'; the destination was left as it was`
      case "Io":
        return `could not write '${this.path}'${this.cause instanceof Error ? `: ${this.cause.message}` : ""}; the destination was left as it was`
    }
  }
}

/** Classifies a Node file-system error for `path`. */
export const fromErrno = (path: string, cause: unknown): FileOpError => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  const reason = code === "EACCES" || code === "EPERM" || code === "EROFS"
    ? "PermissionDenied"
    : code === "ENOSPC" || code === "EDQUOT"
    ? "DiskFull"
    : "Io"
  return new FileOpError({ reason, path, cause })
}

/** A file operation that did not happen, as a job's checkpoint records it (JSON). */
export interface Failure {
  readonly path: string
  readonly reason: FileOpError["reason"]
  readonly message: string
}

/** The record of `error` for `path`. */
export const toFailure = (path: string, error: FileOpError): Failure => ({ path, reason: error.reason, message: error.message })
