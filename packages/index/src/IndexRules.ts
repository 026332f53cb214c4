/**
 * Index rules: which paths under a location are not indexed (and so never sync).
 *
 * In `Standard` mode: system files, temporary files and dev directories (the built-in lists
 * below), every `.gitignore` and `.conduitignore` in the tree (gitignore syntax, each applying
 * to its own directory and below, deeper files overriding shallower ones as in git), and the
 * location's own extra patterns. `SyncComplete` drops the built-in lists and the rule files:
 * only the patterns the user gave the location explicitly (and Conduit's own partial files)
 * stay excluded. Matching is done by the `ignore` package, which implements git's rules.
 *
 * @since 0.1.0
 */
import type { Modes } from "@conduit/domain"
import ignore, { type Ignore } from "ignore"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Operating-system metadata files. */
export const systemPatterns: ReadonlyArray<string> = [
  ".DS_Store",
  "._*",
  ".AppleDouble/",
  ".Spotlight-V100/",
  ".Trashes/",
  ".fseventsd/",
  ".TemporaryItems/",
  "Icon\r",
  "Thumbs.db",
  "ehthumbs.db",
  "desktop.ini",
  "$RECYCLE.BIN/",
  "System Volume Information/",
  ".Trash-*/",
  "lost+found/"
]

/** Temporary, lock and partial-download files of editors and browsers. */
export const tempPatterns: ReadonlyArray<string> = [
  "*.tmp",
  "*.temp",
  "~$*",
  "*.swp",
  "*.swo",
  "*~",
  ".#*",
  "*.crdownload",
  "*.part"
]

/** Directories that tools regenerate: dependencies, VCS internals, caches. */
export const devPatterns: ReadonlyArray<string> = [
  "node_modules/",
  "bower_components/",
  ".git/",
  ".hg/",
  ".svn/",
  "__pycache__/",
  ".pytest_cache/",
  ".mypy_cache/",
  ".tox/",
  ".venv/",
  ".gradle/",
  ".turbo/",
  ".next/"
]

/**
 * Conduit's own files, never indexed whatever the mode: in-flight copies (`.conduit-tmp-*`)
 * and the per-location store of previous versions (`.conduit/` at the location root).
 */
export const internalPatterns: ReadonlyArray<string> = [".conduit-tmp-*", "/.conduit"]

/** The per-directory rule files, in gitignore syntax. */
export const ruleFileNames: ReadonlyArray<string> = [".gitignore", ".conduitignore"]

/** Settings of one location's rules. */
export interface RuleSettings {
  readonly mode: Modes.IndexingMode
  /** Extra gitignore-syntax patterns, relative to the location root. */
  readonly extraPatterns: ReadonlyArray<string>
}

/** A rule file that could not be read; the scan reports it and goes on without it. */
export interface RuleFileProblem {
  readonly path: string
  readonly error: string
}

interface Level {
  /** Relative directory (POSIX, on-disk spelling) the rule file sits in; "" for the root. */
  readonly base: string
  readonly matcher: Ignore
}

/**
 * The rules in force in one directory: the chain of matchers from the root down. Immutable;
 * `enter` returns the rules for a child directory.
 */
export class DirectoryRules {
  private constructor(
    private readonly levels: ReadonlyArray<Level>,
    private readonly complete: boolean
  ) {}

  /** The rules at the location root. */
  static root(settings: RuleSettings): DirectoryRules {
    const base = ignore().add(internalPatterns as Array<string>).add(settings.extraPatterns as Array<string>)
    if (settings.mode === "SyncComplete") return new DirectoryRules([{ base: "", matcher: base }], true)
    base.add(systemPatterns as Array<string>).add(tempPatterns as Array<string>).add(devPatterns as Array<string>)
    return new DirectoryRules([{ base: "", matcher: base }], false)
  }

  /**
   * The rules for directory `dir` (relative, on-disk spelling) given the names it contains:
   * reads its `.gitignore` / `.conduitignore` when present.
   */
  enter(absDir: string, dir: string, names: ReadonlySet<string> | ReadonlyArray<string>, problems?: Array<RuleFileProblem>): DirectoryRules {
    if (this.complete) return this
    const has = (n: string) => (Array.isArray(names) ? names.includes(n) : (names as ReadonlySet<string>).has(n))
    let matcher: Ignore | undefined
    for (const file of ruleFileNames) {
      if (!has(file)) continue
      try {
        const text = Fs.readFileSync(Path.join(absDir, file), "utf8")
        matcher = (matcher ?? ignore()).add(text)
      } catch (e) {
        problems?.push({ path: dir === "" ? file : `${dir}/${file}`, error: (e as NodeJS.ErrnoException).code ?? String(e) })
      }
    }
    return matcher === undefined ? this : new DirectoryRules([...this.levels, { base: dir, matcher }], false)
  }

  /** Whether the entry `path` (relative to the location, on-disk spelling) is excluded. */
  ignores(path: string, isDirectory: boolean): boolean {
    let ignored = false
    for (const level of this.levels) {
      const rel = level.base === "" ? path : path.slice(level.base.length + 1)
      const result = level.matcher.test(isDirectory ? `${rel}/` : rel)
      if (result.ignored) ignored = true
      else if (result.unignored) ignored = false
    }
    return ignored
  }
}

/**
 * The rules that decide about directory `dir` itself (relative): the root's built-ins plus the
 * rule files of every ancestor, from the root down, not `dir`'s own (`enter` adds those). Used
 * when a scan starts below the root.
 */
export const rulesFor = (absRoot: string, settings: RuleSettings, dir: string, problems?: Array<RuleFileProblem>): DirectoryRules => {
  let rules = DirectoryRules.root(settings)
  const segments = dir === "" ? [] : dir.split("/")
  let current = ""
  for (let i = 0; i < segments.length; i++) {
    const abs = current === "" ? absRoot : Path.join(absRoot, current)
    let names: Array<string> = []
    try {
      names = ruleFileNames.filter((n) => Fs.existsSync(Path.join(abs, n)))
    } catch {
      names = []
    }
    rules = rules.enter(abs, current, names, problems)
    if (i < segments.length) current = current === "" ? segments[i]! : `${current}/${segments[i]}`
  }
  return rules
}

/**
 * `rulesFor` for many directories of one location: each directory's rule files are looked
 * for and read once, and the root's patterns compiled once, however many paths a scan starts
 * from (a sync re-indexes hundreds of touched directories).
 */
export const rulesCache = (absRoot: string, settings: RuleSettings): ((dir: string, problems?: Array<RuleFileProblem>) => DirectoryRules) => {
  const base = DirectoryRules.root(settings)
  const entered = new Map<string, DirectoryRules>()
  const forDir = (dir: string, problems?: Array<RuleFileProblem>): DirectoryRules => {
    if (dir === "") return base
    const slash = dir.lastIndexOf("/")
    return enteredDir(slash < 0 ? "" : dir.slice(0, slash), problems)
  }
  const enteredDir = (dir: string, problems?: Array<RuleFileProblem>): DirectoryRules => {
    const hit = entered.get(dir)
    if (hit !== undefined) return hit
    const abs = dir === "" ? absRoot : Path.join(absRoot, dir)
    let names: Array<string>
    try {
      names = ruleFileNames.filter((n) => Fs.existsSync(Path.join(abs, n)))
    } catch {
      names = []
    }
    const rules = forDir(dir, problems).enter(abs, dir, names, problems)
    entered.set(dir, rules)
    return rules
  }
  return forDir
}
