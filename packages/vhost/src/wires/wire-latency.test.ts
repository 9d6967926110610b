import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HIST_BUCKETS, LatencyHistogram, SUB, bucketLow, bucketOf, bucketWidth } from "./latency-histogram.js";
import { assertProperty } from "@tpdk/testing/property";

/** Nearest-rank percentile of a sorted array: the value of rank ceil(q * n). */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe("latency histogram buckets", () => {
  it("tile 0 .. 2^32-1 without gaps or overlaps", () => {
    let next = 0;
    for (let b = 0; b < HIST_BUCKETS; b++) {
      expect(bucketLow(b)).toBe(next);
      expect(bucketOf(bucketLow(b))).toBe(b);
      expect(bucketOf(bucketLow(b) + bucketWidth(b) - 1)).toBe(b);
      if (b >= 2 * SUB) expect(bucketWidth(b) * SUB).toBeLessThanOrEqual(bucketLow(b)); // width <= 1/SUB of the value
      else expect(bucketWidth(b)).toBe(1);
      next = bucketLow(b) + bucketWidth(b);
    }
    expect(next).toBe(2 ** 32);
  });
});

describe("LatencyHistogram percentiles", () => {
  const qs = [0.5, 0.9, 0.99, 0.999, 1];

  it("match a sorted-array computation within the bucket resolution", () => {
    // Bounded (@tpdk/testing/property): a case ~0.16 ms alone, ~3 ms with two CPU hogs at autogroup -10
    // (session 29); all 100 cases required (~16 ms of CPU alone).
    assertProperty(
      fc.property(
        fc.array(fc.double({ min: -2, max: 7, noNaN: true }), { minLength: 1, maxLength: 3000 }),
        (exps) => {
          const values = exps.map((e) => 10 ** e); // 0.01 µs .. 10 s, log-uniform
          const h = new LatencyHistogram();
          for (const v of values) h.record(v);
          const sorted = values.slice().sort((a, b) => a - b);
          for (const q of qs) {
            const want = Math.min(exact(sorted, q), 0xffffffff / 1000); // beyond 4.29 s: last bucket
            const got = h.percentile(q);
            expect(Math.abs(got - want)).toBeLessThanOrEqual(want / (2 * SUB) + 0.0005);
          }
          const s = h.summary();
          expect(s.count).toBe(values.length);
          expect(Math.abs(s.max - sorted[sorted.length - 1]!)).toBeLessThanOrEqual(0.0005); // recorded to the ns
          expect(Math.abs(s.mean - values.reduce((a, b) => a + b, 0) / values.length)).toBeLessThanOrEqual(0.0005);
        },
      ),
      { numRuns: 100, seed: 2906, limitMs: 20_000, minCases: 100 },
    );
  }, 60_000);

  it("is exact for whole nanoseconds below 64 ns and for a single value", () => {
    const h = new LatencyHistogram();
    for (let ns = 0; ns < 64; ns++) h.record(ns / 1000);
    expect(h.percentile(0.5)).toBe(0.031); // rank 32 of 0..63 ns
    expect(h.percentile(1)).toBe(0.063);
    const one = new LatencyHistogram();
    one.record(123.4);
    expect(one.summary()).toMatchObject({ count: 1, p50: 123.4, p99: 123.4, p999: 123.4, max: 123.4 });
  });

  it("counts negative and NaN latencies (clock skew) as 0 and reports 0 when empty", () => {
    const h = new LatencyHistogram();
    expect(h.summary()).toMatchObject({ count: 0, p50: 0, max: 0, mean: 0 });
    h.record(-5);
    h.record(NaN);
    expect(h.summary()).toMatchObject({ count: 2, p50: 0, max: 0 });
  });

  it("reports the exact max for values beyond the last bucket", () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(20e6); // 20 s
    expect(h.summary().max).toBe(20e6);
    expect(h.percentile(1)).toBeGreaterThan(4.2e6);
    h.reset();
    expect(h.summary().count).toBe(0);
  });
});
