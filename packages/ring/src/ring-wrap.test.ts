import { describe, expect, it } from "vitest";
import { deoptsOf, doneLine, gcsOf, tracePhases } from "@tpdk/testing/child";

// The built ring (dist/, as worker threads load it): the test command builds first.
const ringUrl = new URL("../dist/index.js", import.meta.url).href;
const ealUrl = new URL("../../eal/dist/index.js", import.meta.url).href;

/**
 * Bursts of 32 until the ring's functions are optimized (indices from 0), then the four index words moved to
 * 500 bursts below `start` and 100000 bursts more: the indices cross `start` with optimized code. Every value
 * is a sequence number and must come out in order; the child prints the entries left and the sequence errors.
 */
const script = (start: number, sp: boolean): string => `
const { Memory } = await import(${JSON.stringify(ealUrl)});
const { Ring, PROD_HEAD, PROD_TAIL, CONS_HEAD, CONS_TAIL } = await import(${JSON.stringify(ringUrl)});
const mem = Memory.create(4 << 20);
const r = Ring.create(mem, "r", 1024, ${JSON.stringify(sp ? { sp: true, sc: true } : {})});
const off = mem.zone("r").offset;
const a = new Uint32Array(32);
const b = new Uint32Array(32);
let seq = 0, next = 0, bad = 0;
function burst() {
  for (let i = 0; i < 32; i++) a[i] = seq++;
  const n = r.enqueueBurst(a, 32);
  seq -= 32 - n;
  const m = r.dequeueBurst(b, n);
  for (let i = 0; i < m; i++) if (b[i] !== next++) bad++;
}
for (let i = 0; i < 100000; i++) burst();
const s = (${start} - 32 * 500) | 0;
for (const w of [PROD_HEAD, PROD_TAIL, CONS_HEAD, CONS_TAIL]) mem.i32[(off + w) >>> 2] = s;
// An empty young generation: a scavenge in the window is then garbage made in it, not the warm-up's.
globalThis.gc();
console.log("=== crossing");
for (let i = 0; i < 100000; i++) burst();
console.log("=== done " + r.count() + " " + bad + " " + (seq === next) + " " + (Atomics.load(mem.u32, (off + PROD_TAIL) >>> 2) - (${start} >>> 0)));
`;

describe("Ring indices crossing 2^30, 2^31 and 2^32 (free-running 32-bit counters)", () => {
  for (const sp of [true, false]) {
    for (const start of [2 ** 30, 2 ** 31, 2 ** 32]) {
      it(`${sp ? "SP/SC" : "MP/MC"} at ${start.toString(16)}: no deopt, no GC, every value in order (--trace-deopt --trace-gc)`, async () => {
        const { after } = await tracePhases(script(start, sp), ["--trace-deopt", "--trace-gc", "--expose-gc"], "crossing");
        // 99500 bursts of 32 past the crossing point: prod.tail (a u32) sits 32 * 99500 past it, mod 2^32.
        expect(doneLine(after)).toBe(`=== done 0 0 true ${32 * 99500}`);
        // The ring's bursts, and the burst loop that inlines them; the script's own top level (its console.log
        // after the loop) may deoptimize on its first property access and is not the ring's.
        expect(deoptsOf(after, /deoptimizing .*(reserve|enqueue|dequeue|publish|copyIn|copyOut|ringFree|burst)/)).toEqual([]);
        expect(gcsOf(after)).toEqual([]);
      });
    }
  }
});
