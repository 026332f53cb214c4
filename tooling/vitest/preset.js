/**
 * The shared vitest setup: unit tests (`test/**\/*.test.ts`) and slow or multi-process tests
 * (`test/**\/*.e2e.test.ts`) as two projects of one run, so `vitest run` (and CI) runs both and
 * `vitest run --project unit` runs the fast ones.
 */
export const conduitProjects = (options = {}) => ({
  test: {
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/**/*.e2e.test.ts"], testTimeout: options.unitTimeout ?? 30_000 }
      },
      {
        extends: true,
        test: { name: "e2e", include: ["test/**/*.e2e.test.ts"], testTimeout: options.e2eTimeout ?? 180_000, hookTimeout: 60_000 }
      }
    ]
  }
})
