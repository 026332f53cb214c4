/**
 * The error of policy look-up and construction.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A policy name that is not registered or registered twice, or a policy built with a bad option. */
export class CachePolicyError extends Schema.TaggedError<CachePolicyError>()("CachePolicyError", {
  reason: Schema.Literal("Unknown", "Duplicate", "InvalidOption"),
  name: Schema.String,
  known: Schema.Array(Schema.String),
  detail: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "Unknown":
        return `unknown cache policy '${this.name}' (known: ${this.known.join(", ")})`
      case "Duplicate":
        return `a cache policy named '${this.name}' is already registered`
      case "InvalidOption":
        return `cache policy '${this.name}': ${this.detail ?? "invalid option"}`
    }
  }
}
