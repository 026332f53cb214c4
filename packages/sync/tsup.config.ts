import { defineConfig } from "tsup"
import library from "../../tooling/tsup/library.ts"

/** The shared library build, with the second entry `@conduit/sync/peers` (the wire-facing part). */
export default defineConfig({ ...(library as object), entry: ["src/index.ts", "src/peers.ts"] })
