/**
 * The default way a received file is put in place: rename over the destination, then fsync
 * the directory so the rename itself survives a crash.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import { TransferError } from "../TransferError.js"

/** `fsync` of a directory (its entries: a rename or a new file), off the event loop. */
export const fsyncDirectory = async (dir: string): Promise<void> => {
  const handle = await FsP.open(dir, Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** An errno failure as a `TransferError` (`DiskFull` for ENOSPC and EDQUOT, else `Io`). */
export const ioError = (path: string, cause: unknown): TransferError => {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  return new TransferError({
    reason: code === "ENOSPC" || code === "EDQUOT" ? "DiskFull" : "Io",
    path,
    detail: cause instanceof Error ? cause.message : String(cause),
    cause
  })
}

/** Renames `temp` over `destination` and fsyncs the directory. */
export const defaultCommit = (temp: string, destination: string): Effect.Effect<void, TransferError> =>
  Effect.tryPromise({
    try: async () => {
      await FsP.rename(temp, destination)
      await fsyncDirectory(Path.dirname(destination))
    },
    catch: (cause) => ioError(destination, cause)
  })

/**
 * Flushes the whole file system holding `path` (Linux `syncfs`, via coreutils' `sync
 * --file-system`, which Node does not expose): one barrier for a bundle of files instead of an
 * fsync each. Falls back to fsyncing `files` one by one where that command is missing.
 */
export const syncFileSystem = async (path: string, files: ReadonlyArray<string>): Promise<void> => {
  const synced = await new Promise<boolean>((resolve) =>
    execFile("sync", ["--file-system", path], { timeout: 120_000 }, (error) => resolve(error === null))
  )
  if (synced) return
  for (const file of files) {
    const handle = await FsP.open(file, Fs.constants.O_RDONLY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}
