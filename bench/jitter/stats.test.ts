import { describe, expect, it } from "vitest";
import { aggregateJitter, bucketIndex, delayOverPct, delayQuantile, stalledUnion, summarizeCpu, type LoopRecord } from "./stats.js";
import { JITTER_BUCKETS, type JitterRun } from "./types.js";

const record = (gapsUs: number[], durationMs: number, extra: Partial<LoopRecord> = {}): LoopRecord => ({
  cpu: 0,
  pinned: true,
  pinNote: "",
  durationMs,
  loops: durationMs * 25_000,
  gapsUs,
  dropped: 0,
  droppedUs: 0,
  involuntarySwitches: 0,
  interruptsPerSecond: 250,
  stealPct: 0,
  gcs: 0,
  ...extra,
});

describe("bucketIndex", () => {
  it("puts each gap in its [lo, hi) range", () => {
    expect(bucketIndex(4.99)).toBe(-1);
    expect(bucketIndex(5)).toBe(0);
    expect(bucketIndex(9.99)).toBe(0);
    expect(bucketIndex(10)).toBe(1);
    expect(bucketIndex(20)).toBe(2);
    expect(bucketIndex(99)).toBe(3);
    expect(bucketIndex(100)).toBe(4);
    expect(bucketIndex(999)).toBe(4);
    expect(bucketIndex(1000)).toBe(5);
    expect(bucketIndex(10_000)).toBe(6);
    expect(bucketIndex(5e6)).toBe(JITTER_BUCKETS.length - 1);
  });
});

describe("delayQuantile / delayOverPct", () => {
  it("one gap of g in T: P(delay > d) = (g - d) / T", () => {
    // 1 s, one 50 ms stall: 5 % of random instants fall in it, their wait uniform on [0, 50 ms].
    const T = 1e6;
    expect(delayOverPct([50_000], T, 0)).toBeCloseTo(5, 10);
    expect(delayOverPct([50_000], T, 20)).toBeCloseTo(4.998, 10);
    // P(delay > d) = 1 % at d = 50 ms - 10 ms = 40 ms; 0.1 % at 49 ms.
    expect(delayQuantile([50_000], T, 0.99, 5)).toBeCloseTo(40_000, 6);
    expect(delayQuantile([50_000], T, 0.999, 5)).toBeCloseTo(49_000, 6);
  });

  it("several gaps: crosses into the segment where fewer gaps exceed d", () => {
    // T = 1000 µs, gaps of 30 and 10 µs: the budget Σ max(0, g - d) is (1 - q) T.
    const T = 1000;
    // budget for q = 0.98 is 20 µs: between 10 and 30 only the 30 µs gap counts: 30 - d = 20 -> d = 10.
    expect(delayQuantile([10, 30], T, 0.98, 1)).toBeCloseTo(10, 10);
    // budget 30 (q = 0.97): both gaps count: 40 - 2d = 30 -> d = 5.
    expect(delayQuantile([30, 10], T, 0.97, 1)).toBeCloseTo(5, 10);
    // budget 10 (q = 0.99): 30 - d = 10 -> d = 20.
    expect(delayQuantile([10, 30], T, 0.99, 1)).toBeCloseTo(20, 10);
    // consistent with delayOverPct
    expect(delayOverPct([10, 30], T, 20)).toBeCloseTo(1, 10);
  });

  it("below the recording threshold it answers the threshold", () => {
    expect(delayQuantile([], 1e6, 0.99, 5)).toBe(5);
    expect(delayQuantile([6, 7, 8], 1e6, 0.99, 5)).toBe(5);
    expect(delayQuantile([1], 0, 0.99, 5)).toBeNaN();
  });
});

describe("summarizeCpu", () => {
  it("counts per bucket per second, lost time, ≥ 20 µs share and max", () => {
    // 2 s: gaps 6, 12, 25, 60, 500, 2000, 15000 µs (one per bucket), plus two 7 µs ones.
    const s = summarizeCpu(record([6, 7, 7, 12, 25, 60, 500, 2000, 15_000], 2000, { dropped: 1, droppedUs: 400 }));
    expect(s.perSecond).toEqual([1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(s.gaps).toBe(10);
    expect(s.gapsDropped).toBe(1);
    const total = 6 + 7 + 7 + 12 + 25 + 60 + 500 + 2000 + 15_000;
    expect(s.lostPct).toBeCloseTo((100 * (total + 400)) / 2e6, 10);
    expect(s.lost20Pct).toBeCloseTo((100 * (25 + 60 + 500 + 2000 + 15_000)) / 2e6, 10);
    expect(s.stalls20PerSecond).toBe(2.5);
    expect(s.maxUs).toBe(15_000);
    expect(s.delayOver20Pct).toBeCloseTo(delayOverPct([6, 7, 7, 12, 25, 60, 500, 2000, 15_000], 2e6, 20), 10);
    // 0.88 % of the time is lost in all: a random instant waits more than 5 µs less than 1 % of the time.
    expect(s.delayP99Us).toBe(5);
    // 0.1 % of 2 s = 2000 µs of waiting allowed above d: only the 15 ms gap exceeds d, 15000 - d = 2000.
    expect(s.delayP999Us).toBeCloseTo(13_000, 6);
  });

  it("a clean loop: nothing lost, quantiles at the threshold", () => {
    const s = summarizeCpu(record([], 1000));
    expect(s.lostPct).toBe(0);
    expect(s.perSecond.every((x) => x === 0)).toBe(true);
    expect(s.delayP99Us).toBe(5);
    expect(s.maxUs).toBe(0);
  });
});

describe("stalledUnion", () => {
  const iv = (pairs: [number, number][]) => ({ starts: pairs.map((p) => p[0]), lens: pairs.map((p) => p[1]), n: pairs.length });

  it("either and all of two threads, clipped to the window", () => {
    const a = iv([
      [0, 2],
      [10, 5],
    ]);
    const b = iv([
      [1, 2],
      [20, 1],
      [99, 5],
    ]);
    // either: [0,3) + [10,15) + [20,21) + [99,100) = 3 + 5 + 1 + 1; all: [1,2) = 1
    expect(stalledUnion([a, b], 0, 100)).toEqual({ eitherMs: 10, allMs: 1, mergedMs: [3, 5, 1, 1] });
  });

  it("touching intervals do not count as overlap; one thread: all = either", () => {
    const a = iv([[0, 1]]);
    const b = iv([[1, 1]]);
    // [0,1) and [1,2) touch: one merged stall of 2
    expect(stalledUnion([a, b], 0, 10)).toEqual({ eitherMs: 2, allMs: 0, mergedMs: [2] });
    expect(stalledUnion([a], 0, 10)).toEqual({ eitherMs: 1, allMs: 1, mergedMs: [1] });
    expect(stalledUnion([], 0, 10)).toEqual({ eitherMs: 0, allMs: 0, mergedMs: [] });
  });
});

describe("aggregateJitter", () => {
  const run = (lost: number[], over20: number[], gcs = 0, share = 1): JitterRun => ({
    config: { durationMs: 1000, warmupMs: 0, cpus: [0, 1], thresholdUs: 5 },
    cpus: lost.map((l, i) => ({
      ...summarizeCpu(record([], 1000, { cpu: i, gcs })),
      lostPct: l,
      delayOver20Pct: over20[i]!,
    })),
    either: { ...summarizeCpu(record([], 1000, { cpu: -1 })), lostPct: lost[0]! + lost[1]! },
    eitherLostPct: lost[0]! + lost[1]!,
    allLostPct: 0,
    cpuShare: share,
    load: 0,
  });

  it("median and range per CPU over repetitions, most GCs", () => {
    const s = aggregateJitter([run([1, 2], [0.5, 1.5]), run([3, 4], [0.7, 1.1], 2, 0.8), run([2, 3], [0.6, 1.2])])!;
    expect(s.runs).toBe(3);
    expect(s.cpus.map((c) => c.cpu)).toEqual([0, 1]);
    expect(s.cpus[0]!.lostPct).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(s.cpus[1]!.lostPct).toEqual({ median: 3, min: 2, max: 4, n: 3 });
    expect(s.cpus[1]!.delayOver20Pct.median).toBe(1.2);
    expect(s.cpus[0]!.gcsMax).toBe(2);
    expect(s.cpus[0]!.loopNs).toBeCloseTo(40, 10);
    expect(s.eitherLostPct.median).toBe(5);
    expect(s.either!.cpu).toBe(-1);
    expect(s.either!.lostPct).toEqual({ median: 5, min: 3, max: 7, n: 3 });
    expect(s.cpuShare.min).toBe(0.8);
  });

  it("no runs: null", () => {
    expect(aggregateJitter([])).toBeNull();
  });
});
