import { Errors } from "@conduit/domain"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

const codeOf = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 4 && current !== null && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** Classifies a driver error into the reasons a user can act on. */
export const toLibraryError = (error: SqlError | unknown, path?: string): Errors.LibraryError => {
  const code = codeOf(error) ?? ""
  const reason = code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB")
    ? "Corrupt"
    : code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")
    ? "Busy"
    : "Storage"
  const cause = (error as { cause?: unknown }).cause ?? error
  return new Errors.LibraryError(path === undefined ? { reason, cause } : { reason, path, cause })
}

/** Maps every SqlError of an effect to a LibraryError. */
export const orLibraryError = (path?: string) => <A, E, R>(
  effect: Effect.Effect<A, E | SqlError, R>
): Effect.Effect<A, Exclude<E, SqlError> | Errors.LibraryError, R> =>
  Effect.catchIf(
    effect,
    (e): e is SqlError => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "SqlError",
    (e) => Effect.fail(toLibraryError(e, path))
  ) as Effect.Effect<A, Exclude<E, SqlError> | Errors.LibraryError, R>
