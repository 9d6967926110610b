import { defineConfig } from "vitest/config";

// The harness's own unit tests (parsing, aggregation, GC attribution, window
// latency): pnpm exec vitest run --config bench/vitest.config.ts
export default defineConfig({
  test: {
    include: ["bench/**/*.test.ts"],
    exclude: ["bench/dist/**", "**/node_modules/**"],
  },
});
