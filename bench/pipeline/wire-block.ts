import type { Memory } from "@tpdk/eal";
import type { LatencyStats } from "./types.js";

/**
 * Reads a wire's statistics block (written by the device thread) straight
 * from shared memory: the harness needs raw snapshots, including the latency
 * histogram's buckets, so it can subtract the warm-up and keep only the
 * measurement window. The layout mirrors packages/vhost/src/wire-stats.ts and
 * latency-histogram.ts (not exported by @tpdk/vhost); checkKind() catches a
 * layout change by checking the kind slot.
 */
const S_KIND = 0;
const S_GENERATED = 1;
const S_MISSED = 3;
const S_RECEIVED = 4;
const S_LOST = 6;
const S_REORDERED = 7;
const S_DUPLICATED = 8;
const S_BAD_CHECKSUM = 9;
const S_LATENCY_ON = 14;
const S_HIST = 16;
const KIND_GEN = 1;
const KIND_SINK = 2;
// Histogram: [0] count [1] sum µs [2] max µs [3] reserved [4..] buckets.
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;
const HIST_BUCKETS = (32 - SUB_BITS + 1) * SUB;
const H_BUCKETS = 4;

export interface WireSnapshot {
  generated: number;
  missed: number;
  received: number;
  lost: number;
  reordered: number;
  duplicated: number;
  badChecksum: number;
  /** Histogram count, sum (µs) and buckets; null when the wire records no latency. */
  hist: Float64Array | null;
}

export function checkKind(mem: Memory, statsOffset: number, kind: "gen" | "sink"): void {
  const v = mem.f64[(statsOffset >>> 3) + S_KIND]!;
  const want = kind === "gen" ? KIND_GEN : KIND_SINK;
  if (v !== want) {
    throw new Error(`bench: wire stats block at ${statsOffset} has kind ${v}, expected ${want} (${kind}); has @tpdk/vhost's wire-stats layout changed?`);
  }
}

/** Snapshot a wire's counters (and histogram, when `withHist` and latency=1). */
export function snapshotWire(mem: Memory, statsOffset: number, withHist: boolean): WireSnapshot {
  const b = statsOffset >>> 3;
  const f = mem.f64;
  let hist: Float64Array | null = null;
  if (withHist) {
    if (f[b + S_LATENCY_ON] === 0) throw new Error("bench: the sink records no latency (latency=1 not applied?)");
    hist = f.slice(b + S_HIST, b + S_HIST + H_BUCKETS + HIST_BUCKETS);
  }
  return {
    generated: f[b + S_GENERATED]!,
    missed: f[b + S_MISSED]!,
    received: f[b + S_RECEIVED]!,
    lost: f[b + S_LOST]!,
    reordered: f[b + S_REORDERED]!,
    duplicated: f[b + S_DUPLICATED]!,
    badChecksum: f[b + S_BAD_CHECKSUM]!,
    hist,
  };
}

function bucketLow(b: number): number {
  if (b < 2 * SUB) return b;
  const m = (b >>> SUB_BITS) - 1;
  return (b - (m << SUB_BITS)) * 2 ** m;
}

function bucketWidth(b: number): number {
  return b < 2 * SUB ? 1 : 2 ** ((b >>> SUB_BITS) - 1);
}

/**
 * Latency of the frames recorded between two histogram snapshots (bucket
 * counts subtracted). Percentiles by nearest rank at the bucket midpoint
 * (within 1.6 %); max is the top non-empty bucket's upper edge, capped by the
 * histogram's all-time max.
 */
export function windowLatency(before: Float64Array, after: Float64Array): LatencyStats {
  const count = after[0]! - before[0]!;
  if (count <= 0) return { count: 0, mean: 0, p50: 0, p99: 0, p999: 0, max: 0 };
  const mean = (after[1]! - before[1]!) / count;
  const allMax = after[2]!;
  const diff = new Float64Array(HIST_BUCKETS);
  let top = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const d = after[H_BUCKETS + i]! - before[H_BUCKETS + i]!;
    diff[i] = d;
    if (d > 0) top = i;
  }
  const pct = (q: number): number => {
    const rank = Math.max(1, Math.ceil(q * count));
    let seen = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      seen += diff[i]!;
      if (seen >= rank) return Math.min((bucketLow(i) + (bucketWidth(i) - 1) / 2) / 1000, allMax);
    }
    return Math.min((bucketLow(top) + bucketWidth(top) - 1) / 1000, allMax);
  };
  return {
    count,
    mean,
    p50: pct(0.5),
    p99: pct(0.99),
    p999: pct(0.999),
    max: Math.min((bucketLow(top) + bucketWidth(top) - 1) / 1000, allMax),
  };
}
