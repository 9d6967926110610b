import { describe, expect, it } from "vitest";
import { deoptsOf, doneLine, gcsOf, tracePhases } from "@tpdk/testing/child";

// The built wires (dist/, as the device thread loads them): the test command builds first.
const wiresUrl = (f: string): string => JSON.stringify(new URL(`../../dist/wires/${f}`, import.meta.url).href);
const ealUrl = JSON.stringify(new URL("../../../eal/dist/index.js", import.meta.url).href);

/**
 * wire=gen -> wire=sink, frame by frame through EAL memory, until both are optimized (sequence numbers
 * from 0); then the generator's sequence number is moved towards `start` in four steps of start/4 (each a
 * gap the sink counts as lost, none 2^31 or more, which it would take for a late frame) to 1000 below it,
 * and 300000 frames more cross it with optimized code. The child prints the sink's counts.
 */
const script = (start: number): string => `
const { Memory } = await import(${ealUrl});
const { WIRE_STATS_BYTES, createWire, readWireStats } = await import(${wiresUrl("wires.js")});
const { readyAt, consumeAt } = await import(${wiresUrl("at-time.js")});
const mem = Memory.create(1 << 20);
const gs = mem.reserve("gs", WIRE_STATS_BYTES), ss = mem.reserve("ss", WIRE_STATS_BYTES), buf = mem.reserve("buf", 2048);
const gen = createWire({ kind: "gen", frameLengths: [60], count: null, rate: null, flows: 1, srcMac: null,
  dstMac: [2, 0, 0, 0, 0, 1], timestamp: false, seed: null, check: false, latency: false }, mem, gs.offset, 1);
const sink = createWire({ kind: "sink", check: true, latency: false }, mem, ss.offset, 0);
const u8 = mem.u8, a = buf.offset;
function one() {
  const len = gen.frameLength();
  gen.produce(u8, a);
  consumeAt(sink, u8, a, len, 0);
}
readyAt(gen, 0);
for (let i = 0; i < 300000; i++) one();
for (let k = 1; k <= 4; k++) { gen.seq = (${start} / 4 * k - 1000) | 0; one(); }
for (let i = 0; i < 900; i++) one();
// An empty young generation: a scavenge in the window is then garbage made in it, not the warm-up's.
globalThis.gc();
console.log("=== crossing");
for (let i = 0; i < 300000; i++) one();
const s = readWireStats(mem, ss.offset);
console.log("=== done " + [s.received, s.lost, s.reordered, s.duplicated, s.badChecksum, s.foreign].join(" "));
`;

describe("wire sequence numbers crossing 2^30, 2^31 and 2^32 (u32 on the wire)", () => {
  for (const start of [2 ** 30, 2 ** 31, 2 ** 32]) {
    it(`gen -> sink at ${start.toString(16)}: no deopt, no GC, the counts exact (--trace-deopt --trace-gc)`, async () => {
      const { after } = await tracePhases(script(start), ["--trace-deopt", "--trace-gc", "--expose-gc"], "crossing");
      // 600904 frames, all distinct and in order; the highest is start + 299900 (mod 2^32), so the four
      // gaps lost start + 299901 - 600904 numbers; no bad checksum (check=1), none foreign.
      expect(doneLine(after)).toBe(`=== done 600904 ${start - 301003} 0 0 0 0`);
      // The script's own top level (its property accesses after the loop) may deoptimize; not a wire's.
      expect(deoptsOf(after, /deoptimizing .*(produce|consume|sequence|readI32|readU32|advance|one )/)).toEqual([]);
      expect(gcsOf(after)).toEqual([]);
    });
  }
});
