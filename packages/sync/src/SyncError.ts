/**
 * Why a directory sync was refused or did not complete.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A sync that cannot run, or that ran but did not verify. */
export class SyncError extends Schema.TaggedError<SyncError>()("SyncError", {
  reason: Schema.Literal("SamePath", "Nested", "NotVerified", "NotFound", "Duplicate", "Disabled", "Busy", "JobFailed", "UnknownPeer", "PeerPathUnknown", "BothRemote", "PeerUnavailable", "PeerUnreachable", "PeerBehind", "NotSelective", "NotAFile", "SecondaryUnavailable", "SecondaryMissing", "SelectiveSourceRemote", "InvalidBudget", "UnknownPolicy"),
  path: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "SamePath":
        return `source and target are the same directory ('${this.path}')`
      case "Nested":
        return `one of source and target is inside the other ('${this.path}'); a sync between them would copy into itself`
      case "NotVerified":
        return `after the run the index still shows differences under '${this.path}'; the generation is marked failed`
      case "NotFound":
        return `no conduit '${this.path}'`
      case "Duplicate":
        return `a conduit between these two directories already exists ('${this.path}'), maybe in the other direction; run or remove that one`
      case "Disabled":
        return `conduit '${this.path}' is disabled; enable it first`
      case "Busy":
        return `conduit '${this.path}' is already syncing`
      case "JobFailed":
        return `the sync job ended without a result (${this.path})`
      case "UnknownPeer":
        return `no paired device '${this.path}' whose index this library has (pair it, then let library sync run)`
      case "PeerPathUnknown":
        return `no location of the paired device contains '${this.path}' (its locations arrive with library sync)`
      case "BothRemote":
        return `both endpoints are on other devices ('${this.path}'); one must be on this device`
      case "PeerUnavailable":
        return `the conduit has an endpoint on device '${this.path}', but this process has no connection to peers (run it in the daemon)`
      case "PeerUnreachable":
        return `could not reach device ${this.path}`
      case "PeerBehind":
        return `this library's copy of device '${this.path}''s index is not complete yet; the run waits for library sync`
      case "NotSelective":
        return `'${this.path}' is in no selective conduit's source (create one with --mode selective)`
      case "NotAFile":
        return `'${this.path}' is no file of the index (get fetches files; pin a directory to keep its files local)`
      case "SecondaryUnavailable":
        return `the secondary of '${this.path}' cannot be reached now; the file will be fetched by the conduit's next run once it is back`
      case "SecondaryMissing":
        return `the secondary has no verified copy of '${this.path}' any more; it cannot be fetched (see 'conduit risk')`
      case "SelectiveSourceRemote":
        return `a selective conduit's source is the device that keeps a hot set: it must be on this device ('${this.path}')`
      case "InvalidBudget":
        return `invalid cache budget: ${this.path}`
      case "UnknownPolicy":
        return `unknown cache policy '${this.path}' (known: decayed-frequency, lru, lfu)`
    }
  }
}
