import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT for what is really EROFS, EACCES or
 * ENOSPC on the first directory it could not create; that directory is tried once more on its
 * own so the error says why.
 */
export const makeDirectory = (dir: string): void => {
  try {
    Fs.mkdirSync(dir, { recursive: true })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
    let missing = dir
    while (!Fs.existsSync(Path.dirname(missing)) && Path.dirname(missing) !== missing) missing = Path.dirname(missing)
    Fs.mkdirSync(missing)
    throw e
  }
}
