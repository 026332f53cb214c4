/**
 * The indexer: walks a location once, stats every entry, and brings the index in line with the
 * disk. Only files whose size, mtime or inode changed are hashed (on the `Hasher` pool, while
 * the walk goes on); a directory whose children, read from the disk, give the digest stored
 * when the index last matched it exactly is not compared row by row at all; deletions become tombstones; a rename (same inode with the old path gone,
 * or the same content with the old path gone) is recorded as a move; every changed row takes
 * the next change sequence number of this device. Writes are batched transactions.
 *
 * A root that is missing, on another volume than when it was added, or empty while the index
 * says it had files stops the scan before anything is written: that is an unmounted disk, not
 * a deletion. A directory that cannot be read keeps its index rows.
 *
 * A remote file (`Entry.remote`: selective mode evicted its bytes) is absent by design: its row
 * is never tombstoned by a scan, counted as deleted or taken as a move's source, and neither are
 * the directories above it. A file that appears at its path is hashed and its row becomes local
 * again (`remote = 0`); only the very file that was marked (same size, mtime and inode: its
 * eviction has not removed it yet) leaves the row as it is.
 *
 * @since 0.1.0
 */
import { Errors, RelPath } from "@conduit/domain"
import type { Ids } from "@conduit/domain"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Hasher, type HashTicket } from "./Hasher.js"
import { type DirectoryRules, rulesCache, type RuleFileProblem } from "./IndexRules.js"
import { orLibraryError } from "./internal/sqlError.js"
import { LibraryDatabase } from "./LibraryDatabase.js"
import { type Location, Locations } from "./Locations.js"

/** Options of one scan. */
export interface ScanOptions {
  /** Directories to scan (relative to the root); default: the root. */
  readonly paths?: ReadonlyArray<RelPath.RelPath>
  /**
   * Descend into directories the index already knows (default true). With false only the
   * given directories' children are compared; new directories are still walked whole. The
   * watcher uses this for cheap incremental updates.
   */
  readonly recursive?: boolean
  /** Accept an empty root although the index has files there (they really were deleted). */
  readonly allowEmptyRoot?: boolean
  /** Called as the scan advances; keep it cheap. */
  readonly onProgress?: (progress: ScanProgress) => void
  /**
   * Digests the caller already verified for files it just wrote (a sync's copies), by path.
   * A file whose size matches and whose mtime is within 2 µs of the given one takes this
   * digest instead of being read again; anything else is hashed as usual.
   */
  readonly knownHashes?: ReadonlyMap<string, KnownHash>
}

/** A digest vouched for by whoever wrote the file (see `ScanOptions.knownHashes`). */
export interface KnownHash {
  readonly hash: string
  readonly size: number
  readonly mtimeNs: bigint
}

/** Where a scan is. */
export interface ScanProgress {
  readonly phase: "walking" | "hashing" | "writing"
  readonly entriesSeen: number
  readonly filesToHash: number
  readonly filesHashed: number
  readonly bytesToHash: number
  readonly bytesHashed: number
}

/** Something the scan could not index; the scan went on without it. */
export interface ScanProblem {
  readonly path: string
  readonly reason: "unreadable" | "unstable" | "unreadable-directory" | "name-collision" | "rule-file"
  readonly detail: string
}

/** What a scan did. */
export interface ScanSummary {
  readonly location: Ids.LocationId
  readonly root: string
  /** Entries seen on disk (not excluded by rules). */
  readonly entriesSeen: number
  readonly added: number
  readonly modified: number
  readonly moved: number
  readonly deleted: number
  readonly filesHashed: number
  readonly bytesHashed: number
  readonly problems: ReadonlyArray<ScanProblem>
  /** Conduit's in-flight files (`.conduit-tmp-*`) found, relative on-disk paths; never indexed. */
  readonly partials: ReadonlyArray<string>
  /** The range of sequence numbers this scan used, or null when nothing changed. */
  readonly sequences: { readonly first: number; readonly last: number } | null
  readonly durationMs: number
}

/** Keeps the index of a location in line with its files. */
export class Indexer extends Context.Tag("@conduit/index/Indexer")<Indexer, {
  /** Scans a location (or some of its directories) and updates the index. */
  readonly scan: (
    location: Ids.LocationId,
    options?: ScanOptions
  ) => Effect.Effect<ScanSummary, Errors.LocationError | Errors.LibraryError | Errors.HashError>
}>() {}

// ---------------------------------------------------------------------------------------------

/** What the walk saw of one path. */
interface DiskItem {
  readonly path: string
  readonly parent: string
  /** Relative path as spelled on disk; differs from `path` only for non-NFC names. */
  readonly diskRel: string
  readonly kind: 0 | 1 | 2
  size: number
  /** Milliseconds as Node computes them from (sec, nsec): what the walk compares. */
  mtimeMs: number
  /** Exact time, filled in before the item is written (from the hasher, or a bigint lstat). */
  mtimeS: number | undefined
  mtimeNs: number | undefined
  ino: number
  mode: number
  readonly linkTarget: string | null
}

/** The columns of an index row the comparison needs. */
interface Known {
  readonly id: number
  readonly path: string
  readonly parent: string
  readonly kind: number
  readonly size: number
  readonly mtime_s: number
  readonly mtime_ns: number
  readonly inode: number | null
  readonly mode: number | null
  readonly hash: string | null
  readonly hash_state: string
  readonly link_target: string | null
  readonly disk_path: string | null
  readonly tombstone: number
  /** 1: the file's bytes were evicted (selective mode); its absence is not a deletion. */
  readonly remote: number
}

/** A row to upsert. */
interface Write {
  readonly item: DiskItem
  readonly hash: string | null
  readonly hashState: "ok" | "pending" | "unreadable" | "unstable"
  readonly movedFrom: string | null
}

interface PendingHash {
  readonly items: ReadonlyArray<{ readonly item: DiskItem; readonly isNew: boolean }>
  readonly ticket: HashTicket
}

const DIRS_PER_BATCH = 128
const ENTRIES_PER_BATCH = 1500
const HASH_BATCH_FILES = 64
const HASH_BATCH_BYTES = 4 << 20
const ROWS_PER_INSERT = 500
// Rows per write transaction: the indexes (by hash above all) take random inserts, so fewer,
// larger transactions rewrite far fewer pages (20,000 files: 47 → 25 MiB written).
const WRITE_BATCH = 6000
const MAX_BATCHES_IN_FLIGHT = 16
const KNOWN_COLUMNS = "id, path, parent, kind, size, mtime_s, mtime_ns, inode, mode, hash, hash_state, link_target, disk_path, tombstone, remote"

const knownFromValues = (v: ReadonlyArray<unknown>): Known => ({
  id: v[0] as number,
  path: v[1] as string,
  parent: v[2] as string,
  kind: v[3] as number,
  size: v[4] as number,
  mtime_s: v[5] as number,
  mtime_ns: v[6] as number,
  inode: v[7] as number | null,
  mode: v[8] as number | null,
  hash: v[9] as string | null,
  hash_state: v[10] as string,
  link_target: v[11] as string | null,
  disk_path: v[12] as string | null,
  tombstone: v[13] as number,
  remote: v[14] as number
})

const join = (dir: string, name: string) => (dir === "" ? name : `${dir}/${name}`)
const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const statItem = (abs: string, path: string, parent: string, diskRel: string): DiskItem | NodeJS.ErrnoException => {
  // A number stat: the walk of an unchanged tree allocates no BigInts. Exact nanoseconds are
  // read only for what gets written (see `exactTimes`).
  let st: Fs.Stats
  try {
    st = Fs.lstatSync(abs)
  } catch (e) {
    return e as NodeJS.ErrnoException
  }
  const kind = st.isDirectory() ? 1 : st.isSymbolicLink() ? 2 : st.isFile() ? 0 : -1
  if (kind < 0) return Object.assign(new Error("special file"), { code: "ESPECIAL" }) as NodeJS.ErrnoException
  let linkTarget: string | null = null
  if (kind === 2) {
    try {
      linkTarget = Fs.readlinkSync(abs)
    } catch (e) {
      return e as NodeJS.ErrnoException
    }
  }
  return {
    path,
    parent,
    diskRel,
    kind: kind as 0 | 1 | 2,
    size: kind === 1 ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    mtimeS: undefined,
    mtimeNs: undefined,
    ino: st.ino,
    mode: st.mode & 0o7777,
    linkTarget
  }
}

/** Node's own formula for `Stats.mtimeMs` from (sec, nsec): equal inputs give equal doubles. */
const msOf = (seconds: number, nanoseconds: number) => seconds * 1000 + nanoseconds / 1_000_000

/** Fills in the exact modification time of an item about to be written. */
const exactTimes = (abs: string, item: DiskItem): void => {
  if (item.mtimeS !== undefined) return
  try {
    const ns = Fs.lstatSync(abs, { bigint: true }).mtimeNs
    const seconds = Number(ns / 1_000_000_000n)
    const nanoseconds = Number(ns % 1_000_000_000n)
    // Changed since the walk: keep the walk's view; the next scan sees the change.
    if (msOf(seconds, nanoseconds) === item.mtimeMs) {
      item.mtimeS = seconds
      item.mtimeNs = nanoseconds
      return
    }
  } catch {
    // gone since the walk: fall through to the walk's value
  }
  item.mtimeS = Math.floor(item.mtimeMs / 1000)
  item.mtimeNs = Math.round((item.mtimeMs - item.mtimeS * 1000) * 1_000_000)
}

/**
 * What a directory holds, as the walk saw it: every field the comparison with the index looks
 * at, for every child, in name order. Equal digests mean equal children.
 */
const digestOf = (items: ReadonlyMap<string, DiskItem>): string => {
  const parts: Array<string> = []
  for (const i of items.values()) {
    parts.push(`${i.diskRel}\0${i.kind}\0${i.size}\0${i.mtimeMs}\0${i.ino}\0${i.mode}\0${i.linkTarget ?? ""}`)
  }
  return Crypto.createHash("sha1").update(parts.sort().join("\n")).digest("base64")
}

const sameTime = (row: Known, item: DiskItem) => msOf(row.mtime_s, row.mtime_ns) === item.mtimeMs

const sameContentStat = (row: Known, item: DiskItem) => row.size === item.size && sameTime(row, item) && row.inode === item.ino

/** Builds the indexer. */
export const make: Effect.Effect<Indexer["Type"], never, SqlClient.SqlClient | LibraryDatabase | Locations | Hasher> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const db = yield* LibraryDatabase
  const locations = yield* Locations
  const hasher = yield* Hasher
  const lib = orLibraryError(db.file)

  // One scan per location at a time in this process (the watcher and a manual scan may meet);
  // the comparison reads and writes the same rows.
  const locks = new Map<string, Effect.Semaphore>()
  const lockFor = (id: Ids.LocationId) => {
    let lock = locks.get(id)
    if (lock === undefined) {
      lock = Effect.unsafeMakeSemaphore(1)
      locks.set(id, lock)
    }
    return lock
  }

  const scan = (locationId: Ids.LocationId, options: ScanOptions = {}) => lockFor(locationId).withPermits(1)(scanUnlocked(locationId, options))

  const scanUnlocked = Effect.fn("Indexer.scan")(function* (locationId: Ids.LocationId, options: ScanOptions) {
    const started = performance.now()
    const location: Location = yield* locations.get(locationId)
    // A peer's location (a library-sync replica) is not on this device's disks.
    if (location.deviceRowId !== db.self.rowId) return yield* new Errors.LocationError({ reason: "NotLocal", path: location.id })
    yield* locations.checkRoot(location)
    const root = location.root
    const settings = { mode: location.indexingMode, extraPatterns: location.ignorePatterns }
    const recursive = options.recursive ?? true
    const problems: Array<ScanProblem> = []
    const partials: Array<string> = []
    const progress = { phase: "walking" as ScanProgress["phase"], entriesSeen: 0, filesToHash: 0, filesHashed: 0, bytesToHash: 0, bytesHashed: 0 }
    const report = () => options.onProgress?.({ ...progress })
    let added = 0
    let modified = 0
    let moved = 0
    let deleted = 0
    let firstSeq: number | null = null
    let lastSeq: number | null = null

    // -- guards -------------------------------------------------------------------------------
    const scanRoots = normaliseRoots(options.paths ?? [RelPath.root], recursive)
    if (scanRoots.includes(RelPath.root) && !options.allowEmptyRoot) {
      const names = yield* Effect.try({
        try: () => Fs.readdirSync(root),
        catch: () => new Errors.LocationError({ reason: "PermissionDenied", path: root })
      })
      if (names.length === 0) {
        // What should be on disk: a live row that is not remote (an evicted file's bytes are
        // elsewhere), other than a directory that only holds remote files (eviction may leave
        // no file in it, and removing it leaves the root empty).
        const onDisk = yield* lib(sql<{ n: number }>`SELECT EXISTS (SELECT 1 FROM entries e
          WHERE e.location_id = ${location.rowId} AND e.tombstone = 0 AND e.remote = 0
            AND (e.kind != 1 OR NOT EXISTS (SELECT 1 FROM entries r
              WHERE r.location_id = e.location_id AND r.tombstone = 0 AND r.remote = 1
                AND r.path >= e.path || '/' AND r.path < e.path || '0'))) AS n`)
        if (onDisk[0]!.n > 0) return yield* new Errors.LocationError({ reason: "RootEmpty", path: root })
      }
    }

    // -- writing ------------------------------------------------------------------------------
    const useSequences = (count: number) =>
      Effect.map(db.reserveSequence(count), (first) => {
        if (firstSeq === null) firstSeq = first
        lastSeq = first + count - 1
        return first
      })

    // Rows wait here until there are enough for one transaction: fewer, larger commits.
    let buffered: Array<Write> = []
    const write = (writes: ReadonlyArray<Write>) =>
      Effect.suspend(() => {
        for (const w of writes) buffered.push(w)
        return buffered.length >= WRITE_BATCH ? flushWrites : Effect.void
      })
    const flushWrites = Effect.suspend(() => {
      const rows = buffered
      buffered = []
      return upsert(rows)
    })

    const upsert = (writes: ReadonlyArray<Write>) =>
      writes.length === 0 ? Effect.void : lib(sql.withTransaction(Effect.gen(function* () {
        let seq = yield* useSequences(writes.length)
        for (const part of chunks(writes, ROWS_PER_INSERT)) {
          const rows = part.map((w) => {
            exactTimes(Path.join(root, w.item.diskRel), w.item)
            return {
            location_id: location.rowId,
            path: w.item.path,
            parent: w.item.parent,
            disk_path: w.item.diskRel === w.item.path ? null : w.item.diskRel,
            kind: w.item.kind,
            size: w.item.size,
            mtime_s: w.item.mtimeS,
            mtime_ns: w.item.mtimeNs,
            inode: w.item.ino,
            mode: w.item.mode,
            hash: w.hash,
            hash_state: w.hashState,
            link_target: w.item.linkTarget,
            seq: seq++,
            tombstone: 0,
            moved_from: w.movedFrom,
            remote: 0
          }
          })
          yield* sql`INSERT INTO entries ${sql.insert(rows)}
            ON CONFLICT (location_id, path) DO UPDATE SET
              parent = excluded.parent, disk_path = excluded.disk_path, kind = excluded.kind,
              size = excluded.size, mtime_s = excluded.mtime_s, mtime_ns = excluded.mtime_ns,
              inode = excluded.inode, mode = excluded.mode, hash = excluded.hash,
              hash_state = excluded.hash_state, link_target = excluded.link_target,
              seq = excluded.seq, tombstone = 0, moved_from = excluded.moved_from, remote = 0`
        }
      })))

    const tombstone = (ids: ReadonlyArray<number>) =>
      ids.length === 0 ? Effect.void : lib(sql.withTransaction(Effect.gen(function* () {
        let seq = yield* useSequences(ids.length)
        for (const part of chunks(ids, ROWS_PER_INSERT)) {
          const values = sql.csv(part.map((id) => sql`(${id}, ${seq++})`))
          yield* sql`UPDATE entries SET tombstone = 1, seq = v.column2, moved_from = NULL
            FROM (VALUES ${values}) AS v WHERE entries.id = v.column1`
        }
      })))

    // -- hashing ------------------------------------------------------------------------------
    const pendingHashes: Array<PendingHash> = []
    let hashBatch: Array<{ item: DiskItem; isNew: boolean }> = []
    let hashBatchBytes = 0
    const vanishedDuringHash: Array<string> = []
    /** Files added (not modified) in this scan: the candidates for moves by content. */
    const addedFiles = new Set<string>()

    const flushHashBatch = Effect.gen(function* () {
      if (hashBatch.length === 0) return
      const items = hashBatch
      hashBatch = []
      hashBatchBytes = 0
      const ticket = yield* hasher.submit(items.map(({ item }) => ({ path: Path.join(root, item.diskRel), size: item.size })))
      pendingHashes.push({ items, ticket })
      // Backpressure: a walk far ahead of the hashers would hold the whole tree in memory.
      while (pendingHashes.length > MAX_BATCHES_IN_FLIGHT) yield* settle(pendingHashes.shift()!)
    })

    const knownHashes = options.knownHashes
    const vouched = (item: DiskItem): string | null => {
      const known = knownHashes?.get(item.path)
      if (known === undefined || known.size !== item.size) return null
      const ms = Number(known.mtimeNs / 1_000_000n) + Number(known.mtimeNs % 1_000_000n) / 1e6
      return Math.abs(ms - item.mtimeMs) < 0.002 ? known.hash : null
    }

    const queueHash = (item: DiskItem, isNew: boolean) =>
      Effect.gen(function* () {
        const hash = knownHashes === undefined ? null : vouched(item)
        if (hash !== null) {
          if (isNew) {
            added++
            addedFiles.add(item.path)
          } else modified++
          return yield* write([{ item, hash, hashState: "ok", movedFrom: null }])
        }
        hashBatch.push({ item, isNew })
        hashBatchBytes += item.size
        progress.filesToHash++
        progress.bytesToHash += item.size
        // Large files go alone so one worker's 256 MiB does not hold back a batch of small ones.
        if (hashBatch.length >= HASH_BATCH_FILES || hashBatchBytes >= HASH_BATCH_BYTES) yield* flushHashBatch
      })

    const settle = (pending: PendingHash) =>
      Effect.gen(function* () {
        const results = yield* pending.ticket.results
        const writes: Array<Write> = []
        for (let i = 0; i < results.length; i++) {
          const { item, isNew } = pending.items[i]!
          const result = results[i]!
          progress.filesHashed++
          if (result.state !== "ok") dirty.add(item.parent)
          if (result.state === "vanished") {
            vanishedDuringHash.push(item.path)
            continue
          }
          if (result.state === "ok") {
            progress.bytesHashed += result.bytesRead
            item.size = result.size
            item.mtimeS = result.mtimeS
            item.mtimeNs = result.mtimeNs
            item.mtimeMs = msOf(result.mtimeS, result.mtimeNs)
            item.ino = result.ino
            item.mode = result.mode & 0o7777
            writes.push({ item, hash: result.hash, hashState: "ok", movedFrom: null })
          } else {
            if (result.state === "unstable") progress.bytesHashed += result.bytesRead
            problems.push({
              path: item.path,
              reason: result.state,
              detail: result.state === "unstable" ? "the file kept changing while it was read; it will be hashed again" : result.error
            })
            writes.push({ item, hash: null, hashState: result.state, movedFrom: null })
          }
          if (isNew) {
            added++
            if (result.state === "ok") addedFiles.add(item.path)
          } else modified++
        }
        yield* write(writes)
        report()
      })

    /** Writes the hash batches that are done, in order, without waiting for the others. */
    const settleReady = Effect.gen(function* () {
      while (pendingHashes.length > 0 && pendingHashes[0]!.ticket.done()) yield* settle(pendingHashes.shift()!)
    })

    const settleAll = Effect.gen(function* () {
      yield* flushHashBatch
      progress.phase = "hashing"
      report()
      while (pendingHashes.length > 0) yield* settle(pendingHashes.shift()!)
    })

    // -- the walk -----------------------------------------------------------------------------
    const vanished: Array<Known> = []
    /** Digests of the directories compared row by row, stored at the end unless `dirty`. */
    const digests = new Map<string, string>()
    /** Directories with a child the index could not take as it is on disk (yet). */
    const dirty = new Set<string>()
    /** New items whose inode the index knows at another path: maybe a move, decided at the end. */
    const deferred: Array<DiskItem> = []
    const metadataOnly: Array<Write> = []
    /** Directories that became a file or symlink: their subtrees are deleted. */
    const replacedDirs: Array<Known> = []

    interface Dir {
      readonly path: string
      readonly diskRel: string
      readonly rules: DirectoryRules
    }
    const stack: Array<Dir> = []
    const ruleProblems: Array<RuleFileProblem> = []
    const rulesFor = rulesCache(root, settings)

    /** The requested directories (other than the root) as they are on disk. */
    const startDirs: Array<DiskItem> = []
    for (const start of scanRoots) {
      // A requested path is NFC; the index knows its on-disk spelling if that differs.
      let diskRel: string = start
      if (start !== "") {
        const rows = yield* lib(sql<{ disk_path: string | null }>`SELECT disk_path FROM entries WHERE location_id = ${location.rowId} AND path = ${start}`)
        diskRel = rows[0]?.disk_path ?? start
        if (rulesFor(start, ruleProblems).ignores(start, true)) continue
      }
      // A requested directory that is gone (or no longer a directory) is rescanned through its
      // nearest existing ancestor, which then sees it vanish.
      let path: RelPath.RelPath = start
      while (path !== "") {
        const item = statItem(Path.join(root, diskRel), path, RelPath.parent(path), diskRel)
        if (!(item instanceof Error) && item.kind === 1) {
          if (path === start) startDirs.push(item)
          break
        }
        path = RelPath.parent(path)
        const up = Path.posix.dirname(diskRel)
        diskRel = up === "." ? "" : up
      }
      if (path !== start) {
        stack.push({ path, diskRel, rules: rulesFor(path, ruleProblems) })
        continue
      }
      stack.push({ path: start, diskRel, rules: rulesFor(start, ruleProblems) })
    }
    // A requested directory's own row (its time, mode, inode) is its parent's to read, and the
    // parent is not read here: refresh it from the stat above, or a directory whose time a sync
    // just restored would keep the time a scan saw while the sync wrote into it.
    if (startDirs.length > 0) {
      const rows = yield* lib(sql`SELECT ${sql.literal(KNOWN_COLUMNS)} FROM entries
        WHERE location_id = ${location.rowId} AND tombstone = 0 AND path IN (SELECT value FROM json_each(${JSON.stringify(startDirs.map((d) => d.path))}))`.values)
      const own = new Map(rows.map((values) => {
        const row = knownFromValues(values)
        return [row.path, row] as const
      }))
      const changed: Array<Write> = []
      for (const item of startDirs) {
        const row = own.get(item.path)
        if (row === undefined || row.kind !== 1) continue // new, or not a directory in the index: its parent's scan says so
        if (!(sameTime(row, item) && row.inode === item.ino && row.mode === item.mode)) changed.push({ item, hash: null, hashState: "ok", movedFrom: null })
      }
      modified += changed.length
      yield* write(changed)
    }
    const visited = new Set<string>()

    while (stack.length > 0) {
      // Take a batch of directories, read them, then compare them with the index in one query.
      const batch: Array<{ dir: Dir; items: Map<string, DiskItem>; digest: string }> = []
      let entriesInBatch = 0
      while (stack.length > 0 && batch.length < DIRS_PER_BATCH && entriesInBatch < ENTRIES_PER_BATCH) {
        const dir = stack.pop()!
        if (visited.has(dir.path)) continue
        visited.add(dir.path)
        const absDir = dir.diskRel === "" ? root : Path.join(root, dir.diskRel)
        let dirents: Array<Fs.Dirent>
        try {
          dirents = Fs.readdirSync(absDir, { withFileTypes: true })
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? String(e)
          if (code !== "ENOENT" && code !== "ENOTDIR") {
            problems.push({ path: dir.path, reason: "unreadable-directory", detail: code })
            continue // its rows stay as they are: unreadable is not deleted
          }
          dirents = []
        }
        const rules = dir.rules.enter(absDir, dir.path, dirents.map((d) => d.name), ruleProblems)
        const items = new Map<string, DiskItem>()
        for (const dirent of dirents) {
          const name = dirent.name.normalize("NFC")
          const path = join(dir.path, name)
          const diskRel = join(dir.diskRel, dirent.name)
          if (rules.ignores(path, dirent.isDirectory())) {
            // Conduit's own in-flight files are never indexed, but a crashed run's leftovers
            // are reported so the sync layer can remove them.
            if (dirent.name.startsWith(".conduit-tmp-")) partials.push(join(dir.diskRel, dirent.name))
            continue
          }
          if (items.has(path)) {
            dirty.add(dir.path)
            problems.push({ path, reason: "name-collision", detail: "two names on disk are the same after Unicode NFC normalisation; only one is indexed" })
            continue
          }
          const item = statItem(Path.join(absDir, dirent.name), path, dir.path, diskRel)
          if (item instanceof Error) {
            if (item.code !== "ENOENT") problems.push({ path, reason: "unreadable", detail: item.code ?? item.message })
            dirty.add(dir.path)
            continue
          }
          items.set(path, item)
        }
        progress.entriesSeen += items.size
        entriesInBatch += items.size
        batch.push({ dir: { ...dir, rules }, items, digest: digestOf(items) })
      }
      if (batch.length === 0) continue

      // Directories whose digest is the stored one are as the index has them: no rows to read.
      const stored = new Map<string, string>()
      for (const values of yield* lib(sql`SELECT path, digest FROM directory_digests
        WHERE location_id = ${location.rowId} AND path IN (SELECT value FROM json_each(${JSON.stringify(batch.map((b) => b.dir.path))}))`.values)) {
        stored.set(values[0] as string, values[1] as string)
      }
      const unchanged = new Set(batch.filter((b) => stored.get(b.dir.path) === b.digest).map((b) => b.dir.path))
      const parents = batch.filter((b) => !unchanged.has(b.dir.path)).map((b) => b.dir.path)
      // Rows as arrays: the driver builds plain arrays far faster than keyed objects.
      const knownRows = parents.length === 0 ? [] : yield* lib(sql`SELECT ${sql.literal(KNOWN_COLUMNS)} FROM entries
        WHERE location_id = ${location.rowId} AND parent IN (SELECT value FROM json_each(${JSON.stringify(parents)}))`.values)
      const known = new Map<string, Known>()
      for (const values of knownRows) {
        const row = knownFromValues(values)
        known.set(row.path, row)
      }

      const fresh: Array<DiskItem> = []
      for (const { dir, items, digest } of batch) {
        if (unchanged.has(dir.path)) {
          if (recursive) for (const item of items.values()) if (item.kind === 1) stack.push({ path: item.path, diskRel: item.diskRel, rules: dir.rules })
          continue
        }
        digests.set(dir.path, digest)
        for (const item of items.values()) {
          const row = known.get(item.path)
          known.delete(item.path)
          let walk = recursive
          if (row === undefined || row.tombstone === 1) {
            fresh.push(item)
            walk = true
          } else if (row.kind !== item.kind) {
            // The upsert of the new item replaces this row; a former directory's subtree goes.
            if (row.kind === 1) replacedDirs.push(row)
            if (item.kind === 0) yield* queueHash(item, false)
            else metadataOnly.push({ item, hash: item.kind === 2 ? hasher.hashBytes(Buffer.from(item.linkTarget ?? "")) : null, hashState: "ok", movedFrom: null })
            walk = true
          } else if (item.kind === 0) {
            // A remote row whose file is still there with the same size, time and inode is a
            // file whose eviction has not removed it yet: left as it is. Any other file at
            // its path is new bytes: hashed, and written back as local.
            if (row.remote === 1 && sameContentStat(row, item) && row.hash !== null) continue
            if (!sameContentStat(row, item) || row.hash === null) yield* queueHash(item, false)
            else if (row.mode !== item.mode || row.disk_path !== (item.diskRel === item.path ? null : item.diskRel)) {
              metadataOnly.push({ item, hash: row.hash, hashState: "ok", movedFrom: null })
            }
          } else if (item.kind === 1) {
            if (row.inode !== item.ino) walk = true
            if (!(sameTime(row, item) && row.inode === item.ino && row.mode === item.mode)) {
              metadataOnly.push({ item, hash: null, hashState: "ok", movedFrom: null })
            }
          } else if (row.link_target !== item.linkTarget || !sameTime(row, item)) {
            metadataOnly.push({ item, hash: hasher.hashBytes(Buffer.from(item.linkTarget ?? "")), hashState: "ok", movedFrom: null })
          }
          if (item.kind === 1 && walk) stack.push({ path: item.path, diskRel: item.diskRel, rules: dir.rules })
        }
      }
      // Rows of the batch's directories that the disk no longer has.
      // A remote file is absent by design: not a deletion.
      for (const row of known.values()) if (row.tombstone === 0 && row.remote === 0) vanished.push(row)

      // New items whose inode the index has elsewhere may be moves: keep them for the end.
      const inodes = fresh.map((i) => i.ino)
      const seenInodes = new Set<number>()
      for (const part of chunks(inodes, ROWS_PER_INSERT)) {
        const rows = yield* lib(sql<{ inode: number }>`SELECT DISTINCT inode FROM entries
          WHERE location_id = ${location.rowId} AND tombstone = 0 AND remote = 0 AND inode IN (SELECT value FROM json_each(${JSON.stringify(part)}))`)
        for (const r of rows) seenInodes.add(r.inode)
      }
      const direct: Array<Write> = []
      for (const item of fresh) {
        if (seenInodes.has(item.ino)) deferred.push(item)
        else if (item.kind === 0) yield* queueHash(item, true)
        else {
          direct.push({ item, hash: item.kind === 2 ? hasher.hashBytes(Buffer.from(item.linkTarget ?? "")) : null, hashState: "ok", movedFrom: null })
        }
      }
      added += direct.length
      modified += metadataOnly.length
      yield* write(direct)
      yield* write(metadataOnly.splice(0))
      yield* settleReady
      report()
    }
    for (const p of ruleProblems) problems.push({ path: p.path, reason: "rule-file", detail: p.error })

    // -- the end: directory deletions, moves, leftovers ---------------------------------------
    // A vanished directory takes its whole subtree with it, except remote files: those stay,
    // and so do the directories above them (eviction may have emptied and removed them).
    const vanishedDirs = [...vanished.filter((row) => row.kind === 1), ...replacedDirs]
    const holdingRemote = new Set<string>()
    for (const dir of vanishedDirs) {
      const rows = yield* lib(sql<Known>`SELECT ${sql.literal(KNOWN_COLUMNS)} FROM entries
        WHERE location_id = ${location.rowId} AND tombstone = 0 AND path >= ${dir.path + "/"} AND path < ${dir.path + "0"}`)
      for (const row of rows) {
        if (row.remote === 0) {
          vanished.push(row)
          continue
        }
        for (let p = RelPath.parent(row.path as RelPath.RelPath); p !== "" && !holdingRemote.has(p); p = RelPath.parent(p)) {
          holdingRemote.add(p)
        }
      }
    }
    const vanishedIds = new Set<number>()
    for (let i = vanished.length - 1; i >= 0; i--) {
      const row = vanished[i]!
      if (vanishedIds.has(row.id) || (row.kind === 1 && holdingRemote.has(row.path))) vanished.splice(i, 1)
      else vanishedIds.add(row.id)
    }

    // Moves by inode: same inode and kind; for files also the same size and mtime (a recycled
    // inode of a new file would otherwise inherit a stale hash), for symlinks the same target.
    const byInode = new Map<number, Array<Known>>()
    for (const row of vanished) {
      if (row.inode === null) continue
      const list = byInode.get(row.inode)
      if (list === undefined) byInode.set(row.inode, [row])
      else list.push(row)
    }
    const moves: Array<Write> = []
    const movedRowIds = new Set<number>()
    for (const item of deferred) {
      const candidates = byInode.get(item.ino) ?? []
      const match = candidates.find((row) =>
        !movedRowIds.has(row.id) && row.kind === item.kind &&
        (item.kind !== 0 || (row.hash !== null && row.size === item.size && sameTime(row, item))) &&
        (item.kind !== 2 || row.link_target === item.linkTarget)
      )
      if (match !== undefined) {
        movedRowIds.add(match.id)
        moves.push({ item, hash: match.hash, hashState: "ok", movedFrom: match.path })
      } else if (item.kind === 0) {
        yield* queueHash(item, true)
      } else {
        moves.push({ item, hash: item.kind === 2 ? hasher.hashBytes(Buffer.from(item.linkTarget ?? "")) : null, hashState: "ok", movedFrom: null })
      }
    }
    yield* settleAll
    progress.phase = "writing"
    report()
    yield* flushWrites

    const moveCount = moves.filter((w) => w.movedFrom !== null).length
    moved += moveCount
    added += moves.length - moveCount

    // Files that vanished between the walk and their hashing are deletions too.
    if (vanishedDuringHash.length > 0) {
      for (const part of chunks(vanishedDuringHash, ROWS_PER_INSERT)) {
        const rows = yield* lib(sql<Known>`SELECT ${sql.literal(KNOWN_COLUMNS)} FROM entries
          WHERE location_id = ${location.rowId} AND tombstone = 0 AND remote = 0 AND path IN (SELECT value FROM json_each(${JSON.stringify(part)}))`)
        for (const row of rows) if (!vanishedIds.has(row.id)) {
          vanishedIds.add(row.id)
          vanished.push(row)
        }
      }
    }

    // Moves by content: a file added in this scan whose digest equals a vanished file's.
    const unmatched = vanished.filter((row) => row.kind === 0 && row.hash !== null && !movedRowIds.has(row.id))
    const vanishedByHash = new Map<string, Array<Known>>()
    for (const row of unmatched) {
      const list = vanishedByHash.get(row.hash!)
      if (list === undefined) vanishedByHash.set(row.hash!, [row])
      else list.push(row)
    }
    const hashMoves: Array<{ id: number; from: string }> = []
    if (vanishedByHash.size > 0 && firstSeq !== null) {
      for (const part of chunks([...vanishedByHash.keys()], ROWS_PER_INSERT)) {
        const rows = yield* lib(sql<{ id: number; path: string; hash: string }>`SELECT id, path, hash FROM entries
          WHERE location_id = ${location.rowId} AND seq >= ${firstSeq} AND tombstone = 0 AND kind = 0
            AND moved_from IS NULL AND hash IN (SELECT value FROM json_each(${JSON.stringify(part)}))`)
        for (const row of rows) {
          if (!addedFiles.has(row.path)) continue
          const candidates = vanishedByHash.get(row.hash)
          if (candidates === undefined || candidates.length === 0) continue
          // Prefer the vanished file with the same name (moved to another directory).
          const name = RelPath.basename(row.path as RelPath.RelPath)
          const index = Math.max(0, candidates.findIndex((c) => RelPath.basename(c.path as RelPath.RelPath) === name))
          const [source] = candidates.splice(index, 1)
          movedRowIds.add(source!.id)
          hashMoves.push({ id: row.id, from: source!.path })
        }
      }
    }
    if (hashMoves.length > 0) {
      // A new sequence number too: a peer that replicated the row before it was known as a move
      // learns of the move.
      yield* lib(sql.withTransaction(Effect.gen(function* () {
        let seq = yield* useSequences(hashMoves.length)
        for (const m of hashMoves) yield* sql`UPDATE entries SET moved_from = ${m.from}, seq = ${seq++} WHERE id = ${m.id}`
      })))
      moved += hashMoves.length
      added -= hashMoves.length
    }

    // Tombstones first, then the moved rows: a move onto a path that was just vacated works.
    const gone = vanished.filter((row) => row.tombstone === 0)
    deleted += gone.length - movedRowIds.size
    yield* tombstone(gone.map((row) => row.id))
    yield* upsert(moves)

    // Digests: the directories now matched row by row get theirs; a vanished directory's and
    // its subtree's go, and so does a dirty one's (its rows are not all as the disk is).
    for (const d of dirty) digests.delete(d)
    yield* lib(sql.withTransaction(Effect.gen(function* () {
      for (const dir of vanishedDirs) {
        yield* sql`DELETE FROM directory_digests WHERE location_id = ${location.rowId}
          AND (path = ${dir.path} OR (path >= ${dir.path + "/"} AND path < ${dir.path + "0"}))`
      }
      if (dirty.size > 0) {
        yield* sql`DELETE FROM directory_digests WHERE location_id = ${location.rowId}
          AND path IN (SELECT value FROM json_each(${JSON.stringify([...dirty])}))`
      }
      const entries = [...digests]
      for (let i = 0; i < entries.length; i += ROWS_PER_INSERT) {
        yield* sql`INSERT OR REPLACE INTO directory_digests (location_id, path, digest)
          SELECT ${location.rowId}, key, value FROM json_each(${JSON.stringify(Object.fromEntries(entries.slice(i, i + ROWS_PER_INSERT)))})`
      }
    })))
    yield* locations.markScanned(location)

    const summary: ScanSummary = {
      location: location.id,
      root,
      entriesSeen: progress.entriesSeen,
      added,
      modified,
      moved,
      deleted,
      filesHashed: progress.filesHashed,
      bytesHashed: progress.bytesHashed,
      problems,
      partials,
      sequences: firstSeq === null ? null : { first: firstSeq, last: lastSeq! },
      durationMs: Math.round(performance.now() - started)
    }
    return summary
  })

  return Indexer.of({ scan })
})

/**
 * Drops duplicates and, for recursive scans, directories that lie inside another requested
 * one (a shallow scan of a parent does not cover its children's contents).
 */
const normaliseRoots = (paths: ReadonlyArray<RelPath.RelPath>, recursive: boolean): Array<RelPath.RelPath> => {
  const sorted = [...new Set(paths)].sort()
  if (!recursive) return sorted
  const out: Array<RelPath.RelPath> = []
  for (const p of sorted) if (!out.some((q) => RelPath.isWithin(p, q))) out.push(p)
  return out
}

/** The indexer, on its services. */
export const layer = Layer.effect(Indexer, make)
