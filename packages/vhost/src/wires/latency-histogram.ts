/**
 * A log-linear latency histogram (HdrHistogram's bucketing) over a Float64
 * region, so it can live in shared memory: the device thread records, the
 * main thread reads percentiles while traffic flows.
 *
 * Values are recorded in whole nanoseconds v (0 .. 2^32-1, about 4.29 s; larger
 * values land in the last bucket, `max` stays exact to the ns). Buckets:
 *  - v < 2*SUB (64): one bucket per nanosecond (exact);
 *  - otherwise, with m = floor(log2 v) - SUB_BITS, bucket m*SUB + (v >> m):
 *    SUB buckets per power of two, each 2^m ns wide.
 * A bucket's width is at most 1/SUB of its lower bound, and percentiles report
 * the bucket's midpoint, so a reported value is within 1/(2*SUB) (1.6 %) of
 * some recorded value of the same rank.
 *
 * Region layout (Float64 slots from `base`):
 *   [0] count  [1] sum (µs)  [2] max (µs)  [3] reserved  [4 ..] HIST_BUCKETS counts
 */

export const SUB_BITS = 5;
export const SUB = 1 << SUB_BITS; // 32
/** Bucket count: m runs 0 .. 31 - SUB_BITS, each band after the first adds SUB buckets. */
export const HIST_BUCKETS = (32 - SUB_BITS + 1) * SUB; // 896
export const HIST_SLOTS = 4 + HIST_BUCKETS;
export const HIST_BYTES = HIST_SLOTS * 8;

const H_COUNT = 0;
const H_SUM = 1;
const H_MAX = 2;
const H_BUCKETS = 4;
const MAX_NS = 0xffffffff;

/** Bucket index of a value in whole nanoseconds (0 .. 2^32-1). */
export function bucketOf(ns: number): number {
  if (ns < 2 * SUB) return ns;
  const m = 31 - Math.clz32(ns) - SUB_BITS;
  return (m << SUB_BITS) + (ns >>> m);
}

/** Smallest value (ns) in bucket b. */
export function bucketLow(b: number): number {
  if (b < 2 * SUB) return b;
  const m = (b >>> SUB_BITS) - 1;
  return (b - (m << SUB_BITS)) * 2 ** m;
}

/** Width (ns) of bucket b. */
export function bucketWidth(b: number): number {
  return b < 2 * SUB ? 1 : 2 ** ((b >>> SUB_BITS) - 1);
}

/**
 * Record one latency of `ns` nanoseconds (any number; rounded, negatives and
 * NaN count as 0 = clock skew between threads) into the histogram at
 * f64[base ..]. Hot path: no allocation. Callers pass nanoseconds so the
 * argument is usually a small integer (a Smi), not a boxed double.
 */
export function histRecord(f64: Float64Array, base: number, ns: number): void {
  let v = Math.round(ns);
  if (!(v > 0)) v = 0; // also catches NaN
  const clamped = v > MAX_NS ? MAX_NS : v;
  f64[base + H_BUCKETS + bucketOf(clamped)]! += 1;
  f64[base + H_COUNT]! += 1;
  const us = v / 1000;
  f64[base + H_SUM]! += us;
  if (us > f64[base + H_MAX]!) f64[base + H_MAX] = us;
}

export interface LatencySummary {
  /** Frames whose latency was recorded. */
  count: number;
  /** Percentiles and extremes in µs (0 when count is 0). */
  mean: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The q-quantile (0 < q <= 1) in µs, by nearest rank: the value of rank
 * ceil(q * count) in sorted order, reported as its bucket's midpoint (exact
 * below 64 ns) and never above the recorded max. 0 when empty. Cold path.
 */
export function histPercentile(f64: Float64Array, base: number, q: number): number {
  const count = f64[base + H_COUNT]!;
  if (count === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let b = 0; b < HIST_BUCKETS; b++) {
    seen += f64[base + H_BUCKETS + b]!;
    if (seen >= rank) {
      const mid = bucketLow(b) + (bucketWidth(b) - 1) / 2;
      return Math.min(mid / 1000, f64[base + H_MAX]!);
    }
  }
  return f64[base + H_MAX]!; // counts raced ahead of the buckets (read while recording)
}

/** Summary of the histogram at f64[base ..]. Cold path (main thread). */
export function histSummary(f64: Float64Array, base: number): LatencySummary {
  const count = f64[base + H_COUNT]!;
  return {
    count,
    mean: count > 0 ? f64[base + H_SUM]! / count : 0,
    p50: histPercentile(f64, base, 0.5),
    p99: histPercentile(f64, base, 0.99),
    p999: histPercentile(f64, base, 0.999),
    max: f64[base + H_MAX]!,
  };
}

/**
 * Latency of the frames recorded between two copies of a histogram region
 * (`before`, `after`: HIST_SLOTS values each, e.g. WireStatsSnapshot.hist),
 * bucket counts subtracted: a measurement window without its warm-up.
 * Percentiles by nearest rank at the bucket midpoint (within 1.6 %); max is
 * the top non-empty bucket's upper edge, capped by the all-time max. Cold.
 */
export function histWindow(before: Float64Array, after: Float64Array): LatencySummary {
  const count = after[H_COUNT]! - before[H_COUNT]!;
  if (count <= 0) return { count: 0, mean: 0, p50: 0, p99: 0, p999: 0, max: 0 };
  const mean = (after[H_SUM]! - before[H_SUM]!) / count;
  const allMax = after[H_MAX]!;
  const diff = new Float64Array(HIST_BUCKETS);
  let top = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const d = after[H_BUCKETS + i]! - before[H_BUCKETS + i]!;
    diff[i] = d;
    if (d > 0) top = i;
  }
  const topEdge = Math.min((bucketLow(top) + bucketWidth(top) - 1) / 1000, allMax);
  const pct = (q: number): number => {
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += diff[i]!;
      if (seen >= rank) return Math.min((bucketLow(i) + (bucketWidth(i) - 1) / 2) / 1000, allMax);
    }
    return topEdge;
  };
  return { count, mean, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), max: topEdge };
}

/** Zero the histogram at f64[base ..]. */
export function histReset(f64: Float64Array, base: number): void {
  f64.fill(0, base, base + HIST_SLOTS);
}

/** A private histogram (tests, apps measuring their own latencies). */
export class LatencyHistogram {
  readonly f64: Float64Array;
  constructor() {
    this.f64 = new Float64Array(HIST_SLOTS);
  }
  /** Record a latency in µs. */
  record(us: number): void {
    histRecord(this.f64, 0, us * 1000);
  }
  percentile(q: number): number {
    return histPercentile(this.f64, 0, q);
  }
  summary(): LatencySummary {
    return histSummary(this.f64, 0);
  }
  reset(): void {
    histReset(this.f64, 0);
  }
}
