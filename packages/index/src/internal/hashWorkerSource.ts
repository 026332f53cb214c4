/**
 * The hashing worker, as CommonJS source run with `new Worker(source, { eval: true })`.
 * Keeping it a string lets the same code run from `src/` under vitest and from the bundle in
 * `dist/`, with no worker file to locate at run time. The BLAKE3 module path is resolved by
 * the parent and passed in `workerData`.
 *
 * Protocol: the parent posts `{ batch, jobs: [{ path, size }] }`; the worker answers
 * `{ batch, results: [...] }` with, per job, the digest and the stat it was taken at, or why
 * not. A file whose size or mtime changed between the stats before and after reading is read
 * again, up to `attempts` times, then reported as unstable.
 */
export const hashWorkerSource = String.raw`
// process.getBuiltinModule works whether the host runs eval code as CommonJS or as ESM
// (a parent started with --input-type=module makes it ESM).
const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads")
const fs = process.getBuiltinModule("node:fs")
const load = process.getBuiltinModule("node:module").createRequire(workerData.blake3Path)
const blake3 = load(workerData.blake3Path)
const CHUNK = 1 << 20 // blake3 must never see more than 1 MiB per update (see STACK.md)
const buffer = Buffer.allocUnsafe(CHUNK)
const attempts = workerData.attempts

function same(a, b) {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino
}

function hashOnce(fd) {
  const before = fs.fstatSync(fd, { bigint: true })
  const hasher = blake3.createHash()
  let position = 0
  let read = 0
  for (;;) {
    read = fs.readSync(fd, buffer, 0, CHUNK, position)
    if (read === 0) break
    hasher.update(read === CHUNK ? buffer : buffer.subarray(0, read))
    position += read
  }
  const after = fs.fstatSync(fd, { bigint: true })
  return { before, after, bytes: position, hash: hasher.digest("hex") }
}

function hashJob(job) {
  let fd
  try {
    fd = fs.openSync(job.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch (e) {
    return { state: e.code === "ENOENT" ? "vanished" : "unreadable", error: e.code || String(e) }
  }
  try {
    let bytesRead = 0
    for (let i = 0; i < attempts; i++) {
      const r = hashOnce(fd)
      bytesRead += r.bytes
      if (same(r.before, r.after) && BigInt(r.bytes) === r.after.size) {
        const st = r.after
        return {
          state: "ok",
          hash: r.hash,
          size: Number(st.size),
          mtimeS: Number(st.mtimeNs / 1000000000n),
          mtimeNs: Number(st.mtimeNs % 1000000000n),
          ino: Number(st.ino),
          mode: Number(st.mode),
          bytesRead
        }
      }
    }
    return { state: "unstable", bytesRead }
  } catch (e) {
    return { state: "unreadable", error: e.code || String(e) }
  } finally {
    fs.closeSync(fd)
  }
}

parentPort.postMessage({ ready: true })
parentPort.on("message", (msg) => {
  const results = new Array(msg.jobs.length)
  for (let i = 0; i < msg.jobs.length; i++) results[i] = hashJob(msg.jobs[i])
  parentPort.postMessage({ batch: msg.batch, results })
})
`
