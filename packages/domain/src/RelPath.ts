/**
 * Relative paths inside a location, as the index stores them: POSIX separators, Unicode NFC,
 * no leading `/`, no `.` or `..` segments, no empty segments. The empty string is the root.
 *
 * Every path that crosses a trust boundary (CLI argument, peer message) goes through `parse`,
 * which refuses anything that could point outside the location.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"
import { PathError } from "./Errors.js"

const isValid = (path: string): boolean => {
  if (path === "") return true
  if (path.length > 4096) return false
  if (path.startsWith("/") || path.endsWith("/")) return false
  if (path.includes("\\") || path.includes("\0")) return false
  if (path.normalize("NFC") !== path) return false
  for (const segment of path.split("/")) {
    if (segment === "" || segment === "." || segment === "..") return false
  }
  return true
}

/** A validated relative path (see the module comment for the rules). */
export const RelPath = Schema.String.pipe(
  Schema.filter((s) => isValid(s) || "a relative POSIX path in NFC without '.', '..' or empty segments"),
  Schema.brand("RelPath")
)
export type RelPath = typeof RelPath.Type

/** The location root itself. */
export const root: RelPath = "" as RelPath

/**
 * Normalises a path given by a person or a peer (backslashes are kept as name characters on
 * POSIX, so they are refused), then validates it. Use for untrusted input.
 */
export const parse = (input: string): Either.Either<RelPath, PathError> => {
  const nfc = input.normalize("NFC").replace(/^\.\/+/, "").replace(/\/+$/, "")
  const cleaned = nfc === "." ? "" : nfc
  return isValid(cleaned)
    ? Either.right(cleaned as RelPath)
    : Either.left(new PathError({ reason: "Invalid", path: input }))
}

/** Joins a directory path and a child name (the name must already be one NFC segment). */
export const join = (dir: RelPath, name: string): RelPath => (dir === "" ? name : `${dir}/${name}`) as RelPath

/** The parent directory of a path; the root's parent is the root. */
export const parent = (path: RelPath): RelPath => {
  const i = path.lastIndexOf("/")
  return (i < 0 ? "" : path.slice(0, i)) as RelPath
}

/** The last segment of a path. */
export const basename = (path: RelPath): string => path.slice(path.lastIndexOf("/") + 1)

/** Whether `path` is `dir` itself or lies below it. */
export const isWithin = (path: RelPath, dir: RelPath): boolean =>
  dir === "" || path === dir || path.startsWith(`${dir}/`)

/** Decodes unknown input as a RelPath, for schemas that embed one. */
export const decode = (u: unknown): Either.Either<RelPath, ParseResult.ParseError> => Schema.decodeUnknownEither(RelPath)(u)
