import { defineConfig } from "tsup"

/**
 * Builds two things:
 *
 * - `dist/main.js`, the `conduitd` executable: one ES module holding the daemon and everything
 *   it uses. An ES module (not the CLI's code-cached CommonJS script) because
 *   `@conduit/transport` loads libp2p, which is ESM-only, with dynamic `import()`.
 *   Four packages stay in `node_modules` (and are therefore dependencies of this package):
 *   `better-sqlite3`, `@parcel/watcher` and `@chainsafe/libp2p-quic` load native `.node`
 *   files relative to themselves, and the hashing workers of @conduit/index `require` `blake3`
 *   by the path `createRequire(import.meta.url).resolve("blake3")` gives at run time.
 * - `dist/api.js`, `@conduit/daemon/api` (the control API's contract, a client, the daemon's
 *   files) for clients such as the CLI, which bundle it themselves: its dependencies stay
 *   external. Its `.d.ts` files come from `tsc -p tsconfig.build.json`.
 */
export default defineConfig([
  {
    entry: { main: "src/main.ts" },
    format: ["esm"],
    platform: "node",
    target: "node20",
    clean: true,
    splitting: false,
    sourcemap: true,
    // tsup lets `noExternal` win over `external`, so this pattern itself leaves the four out.
    noExternal: [/^(?!(?:better-sqlite3|blake3|@parcel\/watcher|@chainsafe\/libp2p-quic)(?:\/|$))/],
    external: ["better-sqlite3", "blake3", "@parcel/watcher", "@chainsafe/libp2p-quic"],
    // Bundled CommonJS code calls `require` (for Node built-ins); an ES module has none.
    banner: {
      js: `import { createRequire as __conduitCreateRequire } from "node:module"; const require = __conduitCreateRequire(import.meta.url);`
    }
  },
  {
    entry: { api: "src/api.ts" },
    format: ["esm"],
    platform: "node",
    target: "node20",
    splitting: false,
    sourcemap: true
  }
])
