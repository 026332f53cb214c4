import { defineConfig } from "tsup"

/**
 * How every library package builds: one ESM bundle of `src/index.ts` (dependencies stay
 * external); the `.d.ts` files come from `tsc -p tsconfig.build.json`, one per module.
 */
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node20"
})
