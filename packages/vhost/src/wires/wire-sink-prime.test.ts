import { describe, expect, it, vi } from "vitest";
import { FrameChecker } from "./wire-sink.js";
import { S_DUPLICATED, S_LOST, S_RECEIVED, S_REORDERED } from "./wire-stats.js";

// Its own file: the priming runs once per module instance (thread), at the first checker made.
describe("FrameChecker.sequence priming", () => {
  type Internals = { sequence(id: number, seq: number): void; f64: Float64Array };
  it("the first checker of a thread runs sequence()'s gap, late and duplicate branches on a scratch block, more than 8 times each; later checkers do not", () => {
    const proto = FrameChecker.prototype as unknown as Internals;
    const seq = vi.spyOn(proto, "sequence");
    try {
      const f64 = new Float64Array(64);
      new FrameChecker(f64, 8, { check: false, latency: false });
      expect(seq.mock.calls.length).toBeGreaterThan(8 * 8);
      const scratch = seq.mock.contexts[0] as Internals;
      expect(scratch.f64).not.toBe(f64);
      // Lost (gaps), reordered (late frames) and duplicated all counted on the scratch block.
      expect(scratch.f64[S_LOST]).toBeGreaterThan(0);
      expect(scratch.f64[S_REORDERED]).toBeGreaterThan(8);
      expect(scratch.f64[S_DUPLICATED]).toBeGreaterThan(8);
      // The real block: untouched.
      expect(Array.from(f64.subarray(8 + S_RECEIVED, 8 + S_DUPLICATED + 1))).toEqual([0, 0, 0, 0, 0]);
      const n = seq.mock.calls.length;
      new FrameChecker(new Float64Array(64), 0, { check: false, latency: false });
      expect(seq.mock.calls.length).toBe(n);
    } finally {
      seq.mockRestore();
    }
  });
});
