import { conduitProjects } from "@conduit/vitest-preset"
import { defineConfig } from "vitest/config"

export default defineConfig(conduitProjects())
