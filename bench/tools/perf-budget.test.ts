import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The built tool as a user runs it (pnpm test builds first). Its parsing and attribution are tested
// in lib/perf-budget.test.ts; here, the order of its checks: every --col is checked before any perf
// text is read, so a malformed column is one line at once, not after minutes of `perf script`.
const TOOL = fileURLToPath(new URL("../dist/tools/perf-budget.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [TOOL, ...args], { encoding: "utf8", timeout: 30_000 });

describe("perf-budget's command line", () => {
  it("names a malformed --col before it reads the perf text (here a --script that does not exist)", () => {
    const bad = run("--script", "/nonexistent/perf.txt", "--col", "tpdk,1..2");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual(["perf-budget: option --col must be LABEL,WINDOW,MPPS[,pid=PID] (got 'tpdk,1..2')"]);
    const rate = run("--script", "/nonexistent/perf.txt", "--col", "tpdk,1..2,0");
    expect(rate.stderr.trim().split("\n")).toEqual([
      "perf-budget: option --col must be a rate in Mpps > 0 as the third field of LABEL,WINDOW,MPPS in 'tpdk,1..2,0' (got '0')",
    ]);
  });

  it("with well-formed columns, goes on to the perf text", () => {
    const r = run("--script", "/nonexistent/perf.txt", "--col", "tpdk,1..2,9.5");
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual(["perf-budget: --script /nonexistent/perf.txt: no such file"]);
  });

  it("takes --steps front-end or net-vhost (the back-end's step map), checked before the perf text", () => {
    const bad = run("--script", "/nonexistent/perf.txt", "--steps", "back-end", "--col", "tpdk,1..2,9.5");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual(["perf-budget: option --steps must be front-end or net-vhost (got 'back-end')"]);
    const ok = run("--script", "/nonexistent/perf.txt", "--steps", "net-vhost", "--col", "tpdk,1..2,9.5");
    expect(ok.stderr.trim().split("\n")).toEqual(["perf-budget: --script /nonexistent/perf.txt: no such file"]);
  });

  it("names an unknown option (bench/tools/args.ts checkArgs, shared with the other tools)", () => {
    const r = run("--script", "/nonexistent/perf.txt", "--colum", "tpdk,1..2,9.5");
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual(["perf-budget: unknown argument '--colum' (--help lists the options)"]);
  });
});
