import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild, YOUNG_HEAP_JS, YOUNG_WINDOW_LIMIT } from "@tpdk/testing/child";
import { clockMs, NEVER_INLINED_BYTECODE, storeClockMs } from "./clock.js";

/**
 * Source for the child scripts below (after warmStoreClockMs(cell, ...), with youngHeapUsed defined):
 * the young generation's growth over the first 20,000 storeClockMs(cell) calls after the warm-up, in one
 * GC-watched window (attempts 1: a second would measure calls past the first 20,000), after a full
 * collection and a settle (gcWindow's, the children run with --expose-gc) so the window starts from an
 * empty young space and an old space with room for a background compile's allocations (see vhost's
 * device-clock-warm.test.ts). Defines `gcs` and `grown`.
 */
const FIRST_CALLS_WINDOW_JS = `
${GC_WINDOW_JS}
const { gcs, value: grown } = await gcWindow(() => {
  const before = youngHeapUsed();
  for (let i = 0; i < 20_000; i++) storeClockMs(cell);
  return youngHeapUsed() - before;
}, () => true, 1);
`;

describe("storeClockMs", () => {
  it("writes clockMs()'s reading into the cell", () => {
    const cell = new Float64Array(1);
    const before = clockMs();
    storeClockMs(cell);
    expect(cell[0]).toBeGreaterThanOrEqual(before);
    expect(cell[0]).toBeLessThanOrEqual(clockMs());
  });

  it("stays longer than V8 inlines (its point: see clock.ts), read from --print-bytecode in a child process", async () => {
    const script = `import { storeClockMs } from "@tpdk/eal"; storeClockMs(new Float64Array(1));`;
    const r = await runChild(script, ["--print-bytecode", "--print-bytecode-filter=storeClockMs"], 30_000);
    expect(r.status, r.stderr).toBe(0);
    const m = /Bytecode length: (\d+)/.exec(r.stdout);
    expect(m, r.stdout.slice(0, 2000)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(NEVER_INLINED_BYTECODE);
  }, 30_000);

  it("warmStoreClockMs: true once the calls allocate nothing, also past its deadline; false at its deadline when V8 cannot optimize (child processes)", async () => {
    // The young generation right after the warm-up: the first 20,000 calls (a storeClockMs that runs in
    // baseline code boxes clockMs()'s reading: 16 B or more a call; see vhost's device-clock-warm.test.ts).
    // Not the whole heap: under Node 26 the loop below is compiled on-stack within the 20,000 (YOUNG_HEAP_JS);
    // and no GC in the window (a scavenge empties the young space: 32 B a call would be 640 KB).
    const script = `
      import { PerformanceObserver } from "node:perf_hooks";
      import { getHeapSpaceStatistics } from "node:v8";
      import { storeClockMs, warmStoreClockMs } from "@tpdk/eal";
      ${YOUNG_HEAP_JS}
      const cell = new Float64Array(1);
      const warmed = warmStoreClockMs(cell, Number(process.argv[1]));
      ${FIRST_CALLS_WINDOW_JS}
      console.log(JSON.stringify({ warmed, grown, gcs }));`;
    const run = async (flags: string[], maxMs: number): Promise<{ warmed: boolean; grown: number; gcs: number }> => {
      const r = await runChild(script.replace("process.argv[1]", String(maxMs)), ["--expose-gc", ...flags], 30_000);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as { warmed: boolean; grown: number; gcs: number };
    };
    const warm = await run([], 5_000);
    expect(warm.warmed).toBe(true);
    expect(warm.gcs).toBe(0);
    expect(warm.grown).toBeLessThan(YOUNG_WINDOW_LIMIT);
    // A deadline already passed does not end it before the calls V8 needs (WARM_MIN_BATCHES): the
    // tier-up is a count of calls, and a loaded machine's 500 ms may hold only a few of them. The compile
    // synchronous here (--no-concurrent-recompilation): V8 queues it for a background thread, whose wait
    // is time, not calls (Node 26: 7 batches synchronous, 18-21 concurrent on an idle machine, over 32 in
    // a loaded CI run), which the deadline is for.
    const late = await run(["--no-concurrent-recompilation"], 0);
    expect(late.warmed).toBe(true);
    expect(late.gcs).toBe(0);
    expect(late.grown).toBeLessThan(YOUNG_WINDOW_LIMIT);
    expect((await run(["--no-opt"], 100)).warmed).toBe(false);
    // Three children one after another, each bounded at 30 s: the test's bound is their sum (at 30 s it
    // ended the test at 30.5 s in a Node 20 run at 1-3 % of a CPU, bench/notes/gc.md "Session 38: tests on a loaded machine").
  }, 90_000);

  it("warmStoreClockMs judges a batch by the young generation: a batch that only grew old space (what a compile adds) is clean (a child process, V8's heap readings offset)", async () => {
    // Under Node 24 and 26 V8 tiers warmStoreClockMs's own loop up with on-stack compiles whose code (2-16 KB
    // in old, code and trusted space) lands in whichever batch is running. Here every reading of old space and
    // of used_heap_size is offset by 8 KB more than the one before, as if each batch held such a compile; the
    // young generation is read as it is. A warm-up that judged by the whole heap would find no clean batch and
    // return false at its deadline (main before session 35: false); judged by what the calls allocate, it
    // returns true, and the next 20,000 calls grow the young generation by under the window limit.
    const script = `
      import { syncBuiltinESMExports } from "node:module";
      import { PerformanceObserver } from "node:perf_hooks";
      import v8 from "node:v8";
      const real = { stats: v8.getHeapStatistics, spaces: v8.getHeapSpaceStatistics };
      let reads = 0;
      v8.getHeapStatistics = () => { const s = real.stats(); s.used_heap_size += ++reads * 8192; return s; };
      v8.getHeapSpaceStatistics = () => {
        const spaces = real.spaces();
        reads++;
        for (const s of spaces) if (s.space_name === "old_space") s.space_used_size += reads * 8192;
        return spaces;
      };
      syncBuiltinESMExports();
      const { storeClockMs, warmStoreClockMs } = await import("@tpdk/eal");
      const getHeapSpaceStatistics = real.spaces; // YOUNG_HEAP_JS's reads: the young generation as it is
      ${YOUNG_HEAP_JS}
      const cell = new Float64Array(1);
      const warmed = warmStoreClockMs(cell, 100);
      const offsetReads = reads;
      ${FIRST_CALLS_WINDOW_JS}
      console.log(JSON.stringify({ warmed, offsetReads, grown, gcs }));`;
    const r = await runChild(script, ["--expose-gc"], 30_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { warmed: boolean; offsetReads: number; grown: number; gcs: number };
    // The offset readings were the ones it made (not vacuous: two or more a batch, at least two batches).
    expect(out.offsetReads, JSON.stringify(out)).toBeGreaterThanOrEqual(4);
    expect(out.warmed, JSON.stringify(out)).toBe(true);
    expect(out.gcs, JSON.stringify(out)).toBe(0);
    expect(out.grown, JSON.stringify(out)).toBeLessThan(YOUNG_WINDOW_LIMIT);
  }, 30_000);
});
