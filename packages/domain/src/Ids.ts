/**
 * Branded identifiers. A brand keeps a location id from being passed where a device id is
 * expected, at no run-time cost.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A device: this machine or a paired peer. A UUID until the transport gives devices a libp2p
 * PeerId; treat it as opaque text.
 */
export const DeviceId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128), Schema.brand("DeviceId"))
export type DeviceId = typeof DeviceId.Type

/** A location (an indexed root on some device), a UUID that is stable across devices. */
export const LocationId = Schema.UUID.pipe(Schema.brand("LocationId"))
export type LocationId = typeof LocationId.Type

/** An entry's row id in one device's library database. Local: never sent to peers as is. */
export const EntryId = Schema.Int.pipe(Schema.positive(), Schema.brand("EntryId"))
export type EntryId = typeof EntryId.Type

/** A full-length BLAKE3-256 digest of a file's bytes, 64 lower-case hex digits. */
export const ContentHash = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/), Schema.brand("ContentHash"))
export type ContentHash = typeof ContentHash.Type

/** A change sequence number: each device numbers its own index changes 1, 2, 3, … */
export const Sequence = Schema.NonNegativeInt.pipe(Schema.brand("Sequence"))
export type Sequence = typeof Sequence.Type
