import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild, V8_TIERS_JS, YOUNG_HEAP_JS } from "@tpdk/testing/child";
import { PACED_LATENCY_LOOP_PREAMBLE } from "@tpdk/testing/vhost";

/**
 * The device thread's housekeeping as a pipeline run has it for its first 1.5-2 s: DeviceLoop.tick()
 * runs once per ms, too seldom to be optimized sooner, so it (and NetDevice.tick, the generator's
 * exhausted()) runs in baseline code, where a Float64Array read (`deviceClock[0]`, the generator's
 * `offered[0]`) or a double field load makes a HeapNumber. Here the three are kept unoptimized with
 * natives syntax, on a loop of two devices (a paced generator with timestamps, a latency sink: the
 * latency runs' wires). The young generation's growth (YOUNG_HEAP_JS: not used_heap_size, which compiles
 * and V8's old-space accounting move) is read over 2,000 ticks and over 20,000; the 18,000 more must add
 * under 4 KB (main: ~32-48 B a tick, 600-900 KB). A window with a GC or over the limit is read again (up
 * to three tries). Prints { gcs, extra, unoptimized, heartbeats }.
 */
const script = `${PACED_LATENCY_LOOP_PREAMBLE}
const dev = loop.devices[0];
const fns = [Object.getPrototypeOf(loop).tick, Object.getPrototypeOf(dev).tick, Object.getPrototypeOf(dev.wire).exhausted];
for (const f of fns) %NeverOptimizeFunction(f);
// Past the interpreter's first calls: baseline (Sparkplug) code, as the device thread runs it.
for (let i = 0; i < 2_000; i++) loop.tick();
${YOUNG_HEAP_JS}
function ticks(k) { for (let i = 0; i < k; i++) loop.tick(); }
youngGrownBy(ticks, 2_000);
${GC_WINDOW_JS}
${V8_TIERS_JS}
const { gcs, value: extra } = await gcWindow(() => youngGrownBy(ticks, 20_000) - youngGrownBy(ticks, 2_000), (v) => v < 4096);
const unoptimized = fns.every((f) => !isOptimized(f));
const exhausted = dev.wire.exhausted();
loop.close();
console.log(JSON.stringify({ gcs, extra, unoptimized, exhausted }));
`;

describe("the device loop's tick", () => {
  it("allocates nothing in unoptimized code: 18,000 ticks under 4 KB more young generation and no GC (a child process)", async () => {
    const r = await runChild(script, ["--allow-natives-syntax", "--expose-gc"], 90_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; extra: number; unoptimized: boolean; exhausted: boolean };
    expect(out.unoptimized).toBe(true);
    expect(out.exhausted).toBe(false); // an unlimited generator: tick() asked it every time
    expect(out.gcs).toBe(0);
    expect(out.extra).toBeLessThan(4096);
  }, 90_000);
});
