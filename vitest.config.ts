import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * `@tpdk/<name>[/<subpath>]` resolves to the package's src/ (its exports map
 * with dist/*.js read as src/*.ts), so the test process loads ONE copy of
 * each module, from source, whether a test imports it by name or a helper
 * in @tpdk/testing does. Worker threads and child processes are plain Node:
 * they load dist/ through the same exports maps (build first).
 */
function sourceAliases(): { find: RegExp; replacement: string }[] {
  const dirs = ["packages", "apps"].flatMap((d) => fs.readdirSync(path.join(root, d)).map((n) => path.join(root, d, n)));
  dirs.push(path.join(root, "scripts"), path.join(root, "test/support"));
  const out: { find: RegExp; replacement: string }[] = [];
  for (const dir of dirs) {
    const pkgFile = path.join(dir, "package.json");
    if (!fs.existsSync(pkgFile)) continue;
    const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { name: string; exports?: Record<string, { default: string }> };
    for (const [key, target] of Object.entries(pkg.exports ?? {})) {
      const src = target.default.replace(/^\.\/dist\//, "./src/").replace(/\.js$/, ".ts");
      if (!fs.existsSync(path.join(dir, src))) continue;
      const spec = pkg.name + key.slice(1);
      out.push({ find: new RegExp(`^${spec.replace(/[/.]/g, "\\$&")}$`), replacement: path.join(dir, src) });
    }
  }
  return out;
}

// Unit tests sit beside the code (packages/*/src, apps/*/src); cross-thread and
// end-to-end tests live in test/. Worker threads always load compiled dist/,
// so the test command builds first.
export default defineConfig({
  resolve: { alias: sourceAliases() },
  test: {
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "scripts/src/**/*.test.ts", "test/**/*.test.ts", "bench/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Removes what killed test processes left (owned folders of dead owners; test/support/README.md
    // "Cleanup: what a test starts outside its process").
    globalSetup: ["test/support/src/global-setup.ts"],
    // Two CPUs: running test files in parallel would starve the busy-polling threads.
    fileParallelism: false,
  },
});
