import { describe, expect, it } from "vitest";
import { runChild } from "@tpdk/testing/child";
import { clockMs, NEVER_INLINED_BYTECODE, storeClockMs } from "./clock.js";

describe("storeClockMs", () => {
  it("writes clockMs()'s reading into the cell", () => {
    const cell = new Float64Array(1);
    const before = clockMs();
    storeClockMs(cell);
    expect(cell[0]).toBeGreaterThanOrEqual(before);
    expect(cell[0]).toBeLessThanOrEqual(clockMs());
  });

  it("stays longer than V8 inlines (its point: see clock.ts), read from --print-bytecode in a child process", () => {
    const script = `import { storeClockMs } from "@tpdk/eal"; storeClockMs(new Float64Array(1));`;
    const r = runChild(script, ["--print-bytecode", "--print-bytecode-filter=storeClockMs"], 30_000);
    expect(r.status, r.stderr).toBe(0);
    const m = /Bytecode length: (\d+)/.exec(r.stdout);
    expect(m, r.stdout.slice(0, 2000)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(NEVER_INLINED_BYTECODE);
  }, 30_000);
});
