import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RUN_MAIN_SCRIPT_URL } from "@tpdk/testing/eal";
import { ownedTempDir, runOwned } from "@tpdk/testing/owned";

const script = fileURLToPath(RUN_MAIN_SCRIPT_URL);

/** The script with `arg`, owned and bounded (20 s: it exits within a second or two, lcore threads included). */
async function run(arg: string, env: Record<string, string> = {}) {
  const r = await runOwned(process.execPath, [script, arg], { env: { ...process.env, ...env }, timeoutMs: 20_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe("runMain", () => {
  it("UsageError: one stderr line, exit 2", async () => {
    const r = await run("usage");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('run-main-script: -l: "0-x" is not a core list; use e.g. -l 0 or -l 0-1\n');
  });
  it("TpdkError: one line with the code, exit 1", async () => {
    const r = await run("tpdk");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("run-main-script: out of mbufs (ENOMEM)\n");
  });
  it("unexpected error: message only, stack with TPDK_DEBUG=1", async () => {
    const r = await run("plain");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("run-main-script: kaboom\n");
    const d = await run("plain", { TPDK_DEBUG: "1" });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/^run-main-script: Error: kaboom\n\s+at /);
  });
  it("an error while lcore threads still load their modules: the line at once, the exit once they have loaded", async () => {
    // Exiting under a loading worker can abort node (SIGABRT; threads-loading.ts).
    const dir = ownedTempDir("run-main");
    try {
      const mark = join(dir, "loaded");
      const r = await run("loading", { TPDK_TEST_LOADED_MARK: mark });
      expect(r.code).toBe(1);
      // The error's line first (the lcore's unpinned warning, --no-pin, may follow once it is ready).
      expect(r.stderr.startsWith("run-main-script: refused while the lcores load (EINVAL)\n")).toBe(true);
      expect(existsSync(mark)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("success and returned exit codes", async () => {
    expect(await run("ok")).toMatchObject({ code: 0, stdout: "ok\n", stderr: "" });
    expect((await run("code")).code).toBe(3);
  });
});
