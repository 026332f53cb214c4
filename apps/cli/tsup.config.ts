import { defineConfig } from "tsup"

/**
 * Builds two files:
 *
 * - `dist/cli.cjs`: one CommonJS bundle holding the CLI and everything it uses, so start-up
 *   reads one file instead of hundreds. CommonJS because V8 code caches (see launcher) can be
 *   made for a script, not for an ES module on Node 20.
 * - `dist/main.js`: the executable, a small launcher that runs `cli.cjs` with a code cache.
 *
 * Three packages stay in `node_modules` (and are therefore dependencies of this package):
 * `better-sqlite3` and `@parcel/watcher` load native `.node` files relative to themselves, and
 * the hashing workers of @conduit/index `require` `blake3` by the path
 * `createRequire(import.meta.url).resolve("blake3")` gives at run time.
 */
export default defineConfig([
  {
    entry: { cli: "src/main.ts" },
    format: ["cjs"],
    platform: "node",
    target: "node20",
    clean: true,
    splitting: false,
    // `import.meta.url` of the bundled modules becomes the bundle's own file URL.
    shims: true,
    // tsup lets `noExternal` win over `external`, so this pattern itself leaves the three out.
    noExternal: [/^(?!(?:better-sqlite3|blake3|@parcel\/watcher)(?:\/|$))/],
    external: ["better-sqlite3", "blake3", "@parcel/watcher"]
  },
  {
    entry: { main: "src/launcher.ts" },
    format: ["esm"],
    platform: "node",
    target: "node20",
    splitting: false
  }
])
