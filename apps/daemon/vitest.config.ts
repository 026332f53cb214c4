import { conduitProjects } from "@conduit/vitest-preset"
import { defineConfig } from "vitest/config"

// The end-to-end tests spawn the built daemon (`dist/main.js`); `turbo run test` builds it first.
export default defineConfig(conduitProjects())
