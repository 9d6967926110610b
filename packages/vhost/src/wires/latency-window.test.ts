import { describe, expect, it } from "vitest";
import { HIST_SLOTS, histRecord, histWindow } from "./latency-histogram.js";

function record(h: Float64Array, ns: number, times = 1): void {
  for (let i = 0; i < times; i++) histRecord(h, 0, ns);
}

describe("histWindow (a window's latency from two histogram copies)", () => {
  it("keeps only what was recorded between the snapshots", () => {
    const h = new Float64Array(HIST_SLOTS);
    record(h, 500_000, 1000); // warm-up: 500 µs each
    const before = h.slice();
    record(h, 2_000, 980); // window: 2 µs
    record(h, 10_000, 19); // 10 µs
    record(h, 40_000, 1); // 40 µs
    const w = histWindow(before, h);
    expect(w.count).toBe(1000);
    expect(w.p50).toBeGreaterThan(1.96);
    expect(w.p50).toBeLessThan(2.04);
    expect(w.p99).toBeGreaterThan(9.8);
    expect(w.p99).toBeLessThan(10.2);
    expect(w.max).toBeGreaterThan(39.4);
    expect(w.max).toBeLessThanOrEqual(40.96); // the top bucket's upper edge (buckets are 1/32 of their power of two)
    expect(w.mean).toBeCloseTo((980 * 2 + 19 * 10 + 40) / 1000, 6);
  });

  it("is all zero for an empty window", () => {
    const h = new Float64Array(HIST_SLOTS);
    record(h, 1000, 5);
    expect(histWindow(h, h.slice())).toEqual({ count: 0, mean: 0, p50: 0, p99: 0, p999: 0, max: 0 });
  });
});
