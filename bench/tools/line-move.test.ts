import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built tool as a user runs it (pnpm test builds first); a child process, so its two spinning
// threads and pinning stay out of the test process.
const TOOL = fileURLToPath(new URL("../dist/tools/line-move.js", import.meta.url));

describe("line-move", () => {
  it("bounces a line between two CPUs and prints the round trip", () => {
    const out = execFileSync(process.execPath, [TOOL, "--ms", "200"], { encoding: "utf8", timeout: 30_000 });
    const m = /^line move: round trip (\d+) ns \(p10 (\d+), p90 (\d+)\), (\d+) batches, CPUs 0,1/.exec(out);
    expect(m, out).not.toBeNull();
    const [med, p10, p90, batches] = m!.slice(1).map(Number) as [number, number, number, number];
    expect(batches).toBeGreaterThan(0);
    expect(med).toBeGreaterThan(0);
    expect(p10).toBeLessThanOrEqual(med);
    expect(med).toBeLessThanOrEqual(p90);
  });

  it("refuses a bad --cpus in one line, exit 2", () => {
    const r = spawnSync(process.execPath, [TOOL, "--cpus", "1,1"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual(["line-move: option --cpus must be two different CPU numbers, e.g. --cpus 0,1 (got '1,1')"]);
  });
});
