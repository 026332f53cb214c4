import { defineConfig } from "tsup"

/**
 * Builds `dist/main.js`: one ES module holding the CLI and everything it uses, so start-up
 * reads one file instead of hundreds.
 *
 * Three packages stay in `node_modules` (and are therefore dependencies of this package):
 * `better-sqlite3` and `@parcel/watcher` load native `.node` files relative to themselves, and
 * the hashing workers of @conduit/index `require` `blake3` by the path
 * `createRequire(import.meta.url).resolve("blake3")` gives at run time.
 */
export default defineConfig({
  entry: ["src/main.ts"],
  format: ["esm"],
  platform: "node",
  target: "node20",
  clean: true,
  splitting: false,
  // tsup lets `noExternal` win over `external`, so this pattern itself leaves the three out.
  noExternal: [/^(?!(?:better-sqlite3|blake3|@parcel\/watcher)(?:\/|$))/],
  external: ["better-sqlite3", "blake3", "@parcel/watcher"],
  // Bundled CommonJS code calls `require` (for Node built-ins); an ES module has none.
  banner: {
    js: `import { createRequire as __conduitCreateRequire } from "node:module"; const require = __conduitCreateRequire(import.meta.url);`
  }
})
