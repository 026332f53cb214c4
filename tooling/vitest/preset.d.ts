import type { UserConfig } from "vitest/config"
export declare const conduitProjects: (options?: { unitTimeout?: number; e2eTimeout?: number }) => UserConfig
