import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild, YOUNG_HEAP_JS } from "@tpdk/testing/child";
import { PACED_LATENCY_LOOP_PREAMBLE } from "@tpdk/testing/vhost";

/**
 * The device thread's per-pass clock read (DeviceLoop.readClock, every pass when a wire needs the
 * time: the latency runs' paced timestamping generator and latency sink) from code whose inlining
 * budget is spent before the clock: the case that gave a few latency runs 10-18 MB/s of device-thread
 * garbage (bench/notes/gc.md "Session 24: GC"). Forced here: compiles run synchronously
 * (--no-concurrent-recompilation, so which calls are inlined does not depend on when a background
 * compile finishes) with a cumulative inlining budget of 400 bytes of bytecode, which the compile of
 * the driving loop spends on pass() and the devices' polls; readClock() is inlined and the clock call
 * left out of line. With readClock() calling clockMs() that call returned a boxed double, 16 B a pass
 * (5 of 5 children); eal's storeClockMs() is never inlined, returns nothing and is compiled on its
 * own with clockMs() and process.hrtime() inlined. The young generation's growth (YOUNG_HEAP_JS: not
 * used_heap_size, which compiles and V8's old-space accounting move) is read over 10,000 passes and over
 * 100,000; the 90,000 more must add under 4 KB and see no GC (main: ~1.4 MB). Prints { gcs, extra, passes }.
 */
const script = `${PACED_LATENCY_LOOP_PREAMBLE}
let passes = 0;
function drive(n) { for (let i = 0; i < n; i++) loop.pass(); passes += n; }
// Optimized (pass, readClock and the polls inlined into drive) before the windows.
for (let r = 0; r < 50; r++) drive(2_000);
${YOUNG_HEAP_JS}
youngGrownBy(drive, 10_000);
${GC_WINDOW_JS}
const { gcs, value: extra } = await gcWindow(() => youngGrownBy(drive, 100_000) - youngGrownBy(drive, 10_000), (v) => v < 4096);
loop.close();
console.log(JSON.stringify({ gcs, extra, passes }));
`;

describe("the device loop's per-pass clock read", () => {
  it("allocates nothing when the caller's compile leaves the clock call out of line: 90,000 passes under 4 KB, no GC (a child process)", async () => {
    const r = await runChild(script, ["--no-concurrent-recompilation", "--max-inlined-bytecode-size-cumulative=400", "--expose-gc"], 90_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; extra: number; passes: number };
    expect(out.passes).toBeGreaterThan(100_000);
    expect(out.gcs).toBe(0);
    expect(out.extra).toBeLessThan(4096);
  }, 90_000);
});
