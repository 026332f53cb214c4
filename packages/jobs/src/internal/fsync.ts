import * as Fs from "node:fs"

/** fsyncs a file or a directory (a directory's fsync makes its new and renamed entries durable). */
export const fsyncPath = (path: string): void => {
  const fd = Fs.openSync(path, "r")
  try {
    Fs.fsyncSync(fd)
  } finally {
    Fs.closeSync(fd)
  }
}
