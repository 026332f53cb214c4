import { defineConfig } from "vitest/config"

// The end-to-end tests spawn the built CLI (`dist/main.js`); `turbo run test` builds it first.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000
  }
})
