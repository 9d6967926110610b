import { describe, expect, it } from "vitest";
import { deoptsOf, tracePhases } from "@tpdk/testing/child";

// The built ring (dist/, as worker threads load it): the test command builds first.
const ringUrl = new URL("../dist/index.js", import.meta.url).href;
const ealUrl = new URL("../../eal/dist/index.js", import.meta.url).href;

/** Bursts of 32 on a 1024-slot ring (never crossing its end) until optimized, then one of 7: later copies cross the end. */
const script = `
const { Memory } = await import(${JSON.stringify(ealUrl)});
const { Ring } = await import(${JSON.stringify(ringUrl)});
const r = Ring.create(Memory.create(4 << 20), "r", 1024, { sp: true, sc: true });
const a = new Uint32Array(64).fill(7);
const b = new Uint32Array(64);
const burst = (n) => r.dequeueBurst(b, r.enqueueBurst(a, n));
for (let i = 0; i < 100000; i++) burst(32);
console.log("=== crossing");
burst(7);
for (let i = 0; i < 100000; i++) burst(32);
console.log("=== done");
`;

describe("Ring copies across the slots' end", () => {
  it("the first copy that crosses the end deoptimizes nothing (--trace-deopt: the wrap loop has type feedback from the module's priming)", async () => {
    const { after } = await tracePhases(script, ["--trace-deopt"], "crossing");
    expect(after).toContain("=== done");
    expect(deoptsOf(after, /deoptimizing .*(enqueueN|dequeueN|enqueueBurst|dequeueBurst|copyIn|copyOut|burst)/)).toEqual([]);
  });
});
