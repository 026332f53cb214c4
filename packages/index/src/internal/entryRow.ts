import { Entry } from "@conduit/domain"
import type { Ids, RelPath } from "@conduit/domain"

/** The columns of `entries`, as the driver returns them. */
export interface EntryRow {
  readonly id: number
  readonly location_id: number
  readonly path: string
  readonly parent: string
  readonly disk_path: string | null
  readonly kind: number
  readonly size: number
  readonly mtime_s: number
  readonly mtime_ns: number
  readonly inode: number | null
  readonly mode: number | null
  readonly hash: string | null
  readonly hash_state: string
  readonly link_target: string | null
  readonly seq: number
  readonly tombstone: number
  readonly moved_from: string | null
  readonly remote: number
}

/** Builds the domain entry; rows come from our own database, so validation is skipped. */
export const toEntry = (row: EntryRow, location: Ids.LocationId): Entry.Entry =>
  new Entry.Entry({
    id: row.id as Ids.EntryId,
    location,
    path: row.path as RelPath.RelPath,
    diskPath: row.disk_path,
    kind: row.kind as Entry.EntryKind,
    size: row.size,
    mtimeNs: BigInt(row.mtime_s) * 1_000_000_000n + BigInt(row.mtime_ns),
    inode: row.inode,
    mode: row.mode,
    hash: row.hash as Ids.ContentHash | null,
    hashState: row.hash_state as Entry.HashState,
    linkTarget: row.link_target,
    seq: row.seq as Ids.Sequence,
    tombstone: row.tombstone === 1,
    remote: row.remote === 1,
    movedFrom: row.moved_from as RelPath.RelPath | null
  }, true)
