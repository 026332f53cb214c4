/**
 * The whole transport on the open library database: the device identity beside
 * `library.db`, the pairing store in it, and a started node serving paired peers.
 *
 * @since 0.1.0
 */
import type { Errors } from "@conduit/domain"
import type { LibraryDatabase } from "@conduit/index"
import type { SqlClient } from "@effect/sql"
import { Layer } from "effect"
import * as DeviceIdentity from "./DeviceIdentity.js"
import * as Node from "./Node.js"
import * as Pairing from "./Pairing.js"
import type { TransportError } from "./TransportError.js"

/** Provides `DeviceIdentity`, `Pairing` and a started `Node` (stopped when released). */
export const layer = (
  options: Node.NodeOptions = {}
): Layer.Layer<
  DeviceIdentity.DeviceIdentity | Pairing.Pairing | Node.Node,
  DeviceIdentity.IdentityError | Errors.LibraryError | TransportError,
  LibraryDatabase.LibraryDatabase | SqlClient.SqlClient
> => {
  const identity = DeviceIdentity.layer
  const pairing = Pairing.layer.pipe(Layer.provideMerge(identity))
  return Node.layer(options).pipe(Layer.provideMerge(pairing))
}
