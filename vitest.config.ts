import { defineConfig } from "vitest/config";

// Unit tests sit beside the code (packages/*/src, apps/*/src); cross-thread and
// end-to-end tests live in test/. Worker threads always load compiled dist/,
// so the test command builds first.
export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two CPUs: running test files in parallel would starve the busy-polling threads.
    fileParallelism: false,
  },
});
