/**
 * The progress bar of a scan (`cli-progress`), on stderr. Shown only to a person: when stderr
 * is a terminal and `--json` is not set. Otherwise scans are quiet, so pipes and logs only
 * get results.
 *
 * @since 0.1.0
 */
import type { Indexer } from "@conduit/index"
import CliProgress from "cli-progress"
import { Effect } from "effect"
import * as Format from "./Format.js"

/** Whether a progress bar may be drawn: a terminal on stderr and no `--json`. */
export const enabled = (options: { readonly json: boolean }): boolean => !options.json && process.stderr.isTTY === true

/**
 * Runs a scan with a progress bar labelled `label` (when `show`): `scan` receives the
 * `onProgress` callback to pass to `Indexer.scan`. The bar is cleared when the scan ends,
 * however it ends, so the summary that follows starts on a clean line.
 */
export const track = <A, E, R>(
  label: string,
  show: boolean,
  scan: (onProgress: ((progress: Indexer.ScanProgress) => void) | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (!show) return scan(undefined)
  return Effect.acquireUseRelease(
    Effect.sync(() => new Bar(label)),
    (bar) => scan((progress) => bar.update(progress)),
    (bar) => Effect.sync(() => bar.stop())
  )
}

/** A bar over the bytes to hash, with the entries seen, files hashed and hashing rate. */
class Bar {
  private readonly bar: CliProgress.SingleBar
  private readonly started = performance.now()
  private running = false

  constructor(label: string) {
    this.bar = new CliProgress.SingleBar({
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {entries} entries | {files} files | {bytes} | {rate}/s`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10
    }, CliProgress.Presets.shades_classic)
  }

  update(p: Indexer.ScanProgress): void {
    const seconds = (performance.now() - this.started) / 1000
    const payload = {
      entries: p.entriesSeen,
      files: `${p.filesHashed}/${p.filesToHash}`,
      bytes: `${Format.bytes(p.bytesHashed)}/${Format.bytes(p.bytesToHash)}`,
      rate: Format.bytes(seconds > 0 ? Math.round(p.bytesHashed / seconds) : 0)
    }
    // The total grows while the walk finds files; nothing to hash yet reads as 0 %.
    const total = Math.max(p.bytesToHash, 1)
    if (!this.running) {
      this.running = true
      this.bar.start(total, p.bytesHashed, payload)
    } else {
      this.bar.setTotal(total)
      this.bar.update(p.bytesHashed, payload)
    }
  }

  stop(): void {
    if (this.running) this.bar.stop()
  }
}
