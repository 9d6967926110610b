import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Memory } from "@tpdk/eal";
import { PAYLOAD_OFF, writeUdpFrame } from "./frame.js";
import { MAX_STREAMS } from "./wire-sink.js";
import { WIRE_STATS_BYTES, createWire, readWireStats, type WireSpec } from "./wires.js";
import { assertProperty } from "@tpdk/testing/property";

/** One frame of a generated run: ours (stream, seq, length) or foreign (kind). */
type Step =
  | { ours: true; stream: number; op: number; dist: number; length: number; seq?: number }
  | { ours: false; kind: number };

const FRAME_ROOM = 256;

/**
 * Two wires of one kind over one memory, each with its stats block: frames
 * written once, handed to one by consume() one at a time and to the other by
 * consumeRun() in runs of the given lengths.
 */
function twoWires(kind: "sink" | "gen", check: boolean, frames: number) {
  const mem = Memory.create(1 << 20);
  const statsA = mem.reserve("a", WIRE_STATS_BYTES);
  const statsB = mem.reserve("b", WIRE_STATS_BYTES);
  const buf = mem.reserve("frames", frames * FRAME_ROOM + 8);
  const spec: WireSpec =
    kind === "sink"
      ? { kind: "sink", check, latency: false }
      : {
        kind: "gen", frameLengths: [60], count: null, rate: null, flows: 1, srcMac: null,
        dstMac: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], timestamp: false, seed: null, check, latency: false,
      };
  const a = createWire(spec, mem, statsA.offset, 0);
  const b = createWire(spec, mem, statsB.offset, 0);
  return { mem, a, b, base: buf.offset, statsA: statsA.offset, statsB: statsB.offset };
}

/** Write the frames of `steps`; each stream's sequence numbers follow its ops (int32 arithmetic). */
function writeFrames(u8: Uint8Array, base: number, steps: Step[], addrs: Uint32Array, lens: Uint32Array): void {
  const cursor = new Map<number, number>();
  steps.forEach((st, k) => {
    // Odd offsets, as a driver's buffer might be; the in-order fast case does not depend on alignment.
    const at = base + k * FRAME_ROOM + (k % 5);
    addrs[k] = at;
    if (!st.ours) {
      writeUdpFrame(u8, at, { length: 60, stream: 1, seq: k });
      if (st.kind === 0) u8[at + 13] = 0x06; // ARP
      else if (st.kind === 1) u8[at + PAYLOAD_OFF] = 0; // no magic
      lens[k] = st.kind === 2 ? PAYLOAD_OFF + 10 : 60; // kind 2: too short for the payload header
      return;
    }
    const prev = cursor.get(st.stream) ?? -1;
    // op: 0..4 next in order (the commonest case), 5 gap, 6 duplicate, 7 late, 8 far jump.
    let seq = prev + 1;
    if (st.op === 5) seq = prev + 2 + st.dist;
    else if (st.op === 6) seq = prev;
    else if (st.op === 7) seq = prev - 1 - st.dist;
    else if (st.op === 8) seq = prev + 0x40000000 + st.dist * 4099;
    if (st.seq !== undefined) seq = st.seq;
    seq |= 0;
    if (seq - prev > 0 || st.op < 5) cursor.set(st.stream, seq);
    writeUdpFrame(u8, at, { length: st.length, stream: st.stream, seq: seq >>> 0 });
    lens[k] = st.length;
  });
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    ours: fc.constant(true as const),
    stream: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX_STREAMS + 3 }) }),
    op: fc.nat(8),
    dist: fc.oneof(fc.nat(8), fc.nat(3000)),
    length: fc.integer({ min: 60, max: FRAME_ROOM - 8 }),
  }) },
  { weight: 1, arbitrary: fc.record({ ours: fc.constant(false as const), kind: fc.nat(2) }) },
);

describe("FrameChecker.consumeRun (the device's TX fast run)", () => {
  it.each(["sink", "gen"] as const)("wire=%s: counts as consume() one frame at a time does, on random streams, gaps, duplicates, late and foreign frames, in runs of any length", (kind) => {
    // Bounded (@tpdk/testing/property): a case ~1.4 ms (sink) / ~0.7 ms (gen) alone, ~25 / ~13 ms with two
    // CPU hogs at autogroup -10 (session 29); at least 50 cases (~70 ms of CPU alone).
    assertProperty(
      fc.property(
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 300 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (manyStreams, steps0, runs, check) => {
          // manyStreams: first streams 0 .. MAX_STREAMS-1 once each, so the later ones from MAX_STREAMS on are untracked.
          const lead: Step[] = manyStreams
            ? Array.from({ length: MAX_STREAMS }, (_, s) => ({ ours: true as const, stream: s, op: 0, dist: 0, length: 60 }))
            : [];
          const steps = [...lead, ...steps0];
          const w = twoWires(kind, check, steps.length);
          const addrs = new Uint32Array(steps.length);
          const lens = new Uint32Array(steps.length);
          writeFrames(w.mem.u8, w.base, steps, addrs, lens);
          for (let k = 0; k < steps.length; k++) w.a.consume(w.mem.u8, addrs[k]!, lens[k]!);
          // The runs, cycled, cut the frames; consumeRun reads entries [0, n) of its arrays.
          const ra = new Uint32Array(40);
          const rl = new Uint32Array(40);
          let k = 0;
          for (let r = 0; k < steps.length; r++) {
            let n = runs[r % runs.length]!;
            if (n > steps.length - k) n = steps.length - k;
            ra.set(addrs.subarray(k, k + n));
            rl.set(lens.subarray(k, k + n));
            w.b.consumeRun!(w.mem.u8, ra, rl, n);
            k += n;
          }
          const a = readWireStats(w.mem, w.statsA);
          const b = readWireStats(w.mem, w.statsB);
          expect(b).toEqual(a);
          expect(a.received).toBe(steps.length);
          // The raw blocks too (every slot, the latency histogram's included).
          const fa = Array.from(w.mem.f64.subarray(w.statsA / 8, (w.statsA + WIRE_STATS_BYTES) / 8));
          const fb = Array.from(w.mem.f64.subarray(w.statsB / 8, (w.statsB + WIRE_STATS_BYTES) / 8));
          expect(fb).toEqual(fa);
        },
      ),
      { numRuns: 150, seed: 2907, limitMs: 20_000, minCases: 50 },
    );
  }, 60_000);

  it("crafted: in order, a gap, another stream and back, duplicates of the highest and of in-order frames of both streams, a late frame, all in one run", () => {
    // [stream, seq]: stream 1 0 1 2, 6 (3..5 lost), stream 2 0 1 2, stream 1 7, 7 (dup), 1 (dup: in order
    // before), stream 2 1 (dup: in order before, in its own window), stream 1 4 (late: one lost back), 8.
    const seqs = [[1, 0], [1, 1], [1, 2], [1, 6], [2, 0], [2, 1], [2, 2], [1, 7], [1, 7], [1, 1], [2, 1], [1, 4], [1, 8]] as const;
    const steps: Step[] = seqs.map(([stream, seq]) => ({ ours: true, stream, op: 0, dist: 0, length: 60, seq }));
    const w = twoWires("sink", false, steps.length);
    const addrs = new Uint32Array(steps.length);
    const lens = new Uint32Array(steps.length);
    writeFrames(w.mem.u8, w.base, steps, addrs, lens);
    w.b.consumeRun!(w.mem.u8, addrs, lens, steps.length);
    expect(readWireStats(w.mem, w.statsB)).toMatchObject({ received: 13, lost: 2, duplicated: 3, reordered: 1, untracked: 0, foreign: 0 });
  });
});
