/**
 * The progress bars of scans and syncs (`cli-progress`), on stderr. Shown only to a person:
 * when stderr is a terminal and `--json` is not set. Otherwise scans and syncs are quiet, so
 * pipes and logs only get results.
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
): Effect.Effect<A, E, R> =>
  withBar(
    show,
    `${label} [{bar}] {percentage}% | {entries} entries | {files} files | {bytes} | {rate}/s`,
    scan,
    (bar) => (p: Indexer.ScanProgress) =>
      // The total grows while the walk finds files; nothing to hash yet reads as 0 %.
      bar.update(p.bytesHashed, Math.max(p.bytesToHash, 1), {
        entries: p.entriesSeen,
        files: `${p.filesHashed}/${p.filesToHash}`,
        bytes: `${Format.bytes(p.bytesHashed)}/${Format.bytes(p.bytesToHash)}`,
        rate: Format.bytes(bar.rate(p.bytesHashed))
      })
  )

/**
 * Runs a sync with a progress bar over its operations (when `show`): `run` receives the
 * `onProgress` callback of `DirectorySync.sync` (operations done, operations in the plan,
 * bytes copied). Cleared when the sync ends, like a scan's.
 */
export const trackSync = <A, E, R>(
  label: string,
  show: boolean,
  run: (onProgress: ((done: number, total: number, bytes: number) => void) | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  withBar(
    show,
    `${label} [{bar}] {percentage}% | {operations} operations | {bytes} | {rate}/s`,
    run,
    (bar) => (done: number, total: number, bytes: number) =>
      bar.update(done, Math.max(total, 1), {
        operations: `${done}/${total}`,
        bytes: Format.bytes(bytes),
        rate: Format.bytes(bar.rate(bytes))
      })
  )

/** Runs `use` with the callback `callback` makes of a bar, or with none when `show` is false. */
const withBar = <C, A, E, R>(
  show: boolean,
  format: string,
  use: (callback: C | undefined) => Effect.Effect<A, E, R>,
  callback: (bar: Bar) => C
): Effect.Effect<A, E, R> => {
  if (!show) return use(undefined)
  return Effect.acquireUseRelease(
    Effect.sync(() => new Bar(format)),
    (bar) => use(callback(bar)),
    (bar) => Effect.sync(() => bar.stop())
  )
}

/** A bar whose total may change while it runs; started by its first update. */
class Bar {
  private readonly bar: CliProgress.SingleBar
  /** When the first update came (a sync's bar waits through the indexing before it). */
  private started = 0
  private running = false

  constructor(format: string) {
    this.bar = new CliProgress.SingleBar({
      stream: process.stderr,
      format,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10
    }, CliProgress.Presets.shades_classic)
  }

  /** Bytes per second since the first update. */
  rate(bytes: number): number {
    if (!this.running) return 0
    const seconds = (performance.now() - this.started) / 1000
    return seconds > 0 ? Math.round(bytes / seconds) : 0
  }

  update(value: number, total: number, payload: Record<string, string | number>): void {
    if (!this.running) {
      this.running = true
      this.started = performance.now()
      this.bar.start(total, value, payload)
    } else {
      this.bar.setTotal(total)
      this.bar.update(value, payload)
    }
  }

  stop(): void {
    if (this.running) this.bar.stop()
  }
}
