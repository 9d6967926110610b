import { type Agg, agg } from "../lib/summary.js";
import { JITTER_BUCKETS, type JitterCpu, type JitterRun } from "./types.js";

/**
 * Pure arithmetic of the jitter probe: from the gaps one busy loop saw to
 * the figures of a CPU (JitterCpu), the union of several CPUs' stalls, and
 * the median over repetitions. No I/O, unit-tested in stats.test.ts.
 */

/** Index in JITTER_BUCKETS of a gap of `us` µs; -1 below the first bucket. */
export function bucketIndex(us: number): number {
  for (let i = JITTER_BUCKETS.length - 1; i >= 0; i--) if (us >= JITTER_BUCKETS[i]![0]) return i;
  return -1;
}

/**
 * The delay a frame arriving at a uniformly random instant of `totalUs`
 * waits for the loop: inside a gap of length g it waits the rest of the gap
 * (uniform on [0, g]), elsewhere ~0. So P(delay > d) = Σ max(0, g - d) / T.
 * Returns the smallest d with P(delay > d) ≤ 1 - q. Only gaps above the
 * recording threshold are known, so a result below `floorUs` is returned as
 * `floorUs` (read: "at most floorUs").
 */
export function delayQuantile(gapsUs: readonly number[], totalUs: number, q: number, floorUs: number): number {
  if (!(totalUs > 0)) return NaN;
  const g = [...gapsUs].sort((a, b) => b - a);
  const budget = (1 - q) * totalUs; // allowed Σ max(0, g - d)
  // On [g[k], g[k-1]] exactly the k longest gaps exceed d: Σ = S_k - k d.
  let s = 0;
  for (let k = 1; k <= g.length; k++) {
    s += g[k - 1]!;
    const d = (s - budget) / k;
    const next = k < g.length ? g[k]! : 0;
    if (d >= next) return Math.max(d, floorUs);
  }
  return floorUs; // no gaps at all
}

/** P(delay > dUs) for a frame arriving at a random instant, % (see delayQuantile). */
export function delayOverPct(gapsUs: readonly number[], totalUs: number, dUs: number): number {
  if (!(totalUs > 0)) return NaN;
  let s = 0;
  for (const g of gapsUs) if (g > dUs) s += g - dUs;
  return (100 * s) / totalUs;
}

/** What one thread's loop measured, before summarising. */
export interface LoopRecord {
  cpu: number;
  pinned: boolean;
  pinNote: string;
  durationMs: number;
  loops: number;
  /** Gap lengths, µs (the stored ones). */
  gapsUs: readonly number[];
  /** Gaps that did not fit in the buffer: how many, and their total, µs. */
  dropped: number;
  droppedUs: number;
  involuntarySwitches: number;
  interruptsPerSecond: number | null;
  stealPct: number | null;
  gcs: number;
}

export function summarizeCpu(r: LoopRecord): JitterCpu {
  const totalUs = r.durationMs * 1000;
  const seconds = r.durationMs / 1000;
  const counts = JITTER_BUCKETS.map(() => 0);
  let lost = r.droppedUs;
  let lost20 = 0;
  let n20 = 0;
  let max = 0;
  for (const g of r.gapsUs) {
    const b = bucketIndex(g);
    if (b >= 0) counts[b]!++;
    lost += g;
    if (g >= 20) {
      lost20 += g;
      n20++;
    }
    if (g > max) max = g;
  }
  return {
    cpu: r.cpu,
    pinned: r.pinned,
    pinNote: r.pinNote,
    durationMs: r.durationMs,
    loops: r.loops,
    gaps: r.gapsUs.length + r.dropped,
    gapsDropped: r.dropped,
    lostPct: (100 * lost) / totalUs,
    lost20Pct: (100 * lost20) / totalUs,
    perSecond: counts.map((c) => c / seconds),
    stalls20PerSecond: n20 / seconds,
    maxUs: max,
    delayP99Us: delayQuantile(r.gapsUs, totalUs, 0.99, JITTER_BUCKETS[0]![0]),
    delayP999Us: delayQuantile(r.gapsUs, totalUs, 0.999, JITTER_BUCKETS[0]![0]),
    delayOver20Pct: delayOverPct(r.gapsUs, totalUs, 20),
    involuntarySwitches: r.involuntarySwitches,
    interruptsPerSecond: r.interruptsPerSecond,
    stealPct: r.stealPct,
    gcs: r.gcs,
  };
}

/** Stalls of one thread as [start, length) intervals on a clock shared by all threads, ms. */
export interface Intervals {
  starts: ArrayLike<number>;
  lens: ArrayLike<number>;
  n: number;
}

/**
 * Time during which at least one / all of the threads were stalled, ms, over
 * [from, to), and the lengths of the merged "at least one stalled" intervals
 * (a frame that needs every thread waits through those). One thread's
 * intervals never overlap each other (its loop records them one after the
 * other), so a sweep counting open intervals counts stalled threads.
 */
export function stalledUnion(threads: readonly Intervals[], from: number, to: number): { eitherMs: number; allMs: number; mergedMs: number[] } {
  const ev: [number, number][] = [];
  for (const t of threads) {
    for (let i = 0; i < t.n; i++) {
      const a = Math.max(from, t.starts[i]!);
      const b = Math.min(to, t.starts[i]! + t.lens[i]!);
      if (b > a) ev.push([a, 1], [b, -1]);
    }
  }
  ev.sort((x, y) => x[0] - y[0] || y[1] - x[1]); // starts before ends at the same instant: back-to-back stalls merge
  let open = 0;
  let last = from;
  let either = 0;
  let all = 0;
  let mergedStart = from;
  const mergedMs: number[] = [];
  for (const [t, d] of ev) {
    if (open > 0) either += t - last;
    if (open === threads.length && threads.length > 0) all += t - last;
    if (open === 0 && d > 0) mergedStart = t;
    open += d;
    if (open === 0 && d < 0) mergedMs.push(t - mergedStart);
    last = t;
  }
  return { eitherMs: either, allMs: all, mergedMs };
}

/** One CPU over the repetitions: median (min–max) of every figure. */
export interface JitterCpuSummary {
  cpu: number;
  runs: number;
  /** Every repetition ran pinned. */
  pinned: boolean;
  lostPct: Agg;
  lost20Pct: Agg;
  perSecond: Agg[];
  stalls20PerSecond: Agg;
  maxUs: Agg;
  delayP99Us: Agg;
  delayP999Us: Agg;
  delayOver20Pct: Agg;
  involuntarySwitches: Agg;
  interruptsPerSecond: Agg;
  stealPct: Agg;
  /** Most GCs in any repetition (0: the loop allocated nothing). */
  gcsMax: number;
  /** Loop period (clock read and compare), ns, median. */
  loopNs: number;
}

export interface JitterSummary {
  runs: number;
  durationMs: number;
  thresholdUs: number;
  cpus: JitterCpuSummary[];
  /** The merged stalls of all CPUs (any one stalled) summarised like a CPU (cpu -1); null with one CPU. */
  either: JitterCpuSummary | null;
  eitherLostPct: Agg;
  allLostPct: Agg;
  cpuShare: Agg;
}

/** Aggregate repetitions (each a JitterRun over the same CPUs) per CPU. */
export function aggregateJitter(runs: readonly JitterRun[]): JitterSummary | null {
  if (runs.length === 0) return null;
  const cpuIds = [...new Set(runs.flatMap((r) => r.cpus.map((c) => c.cpu)))].sort((a, b) => a - b);
  const summarize = (cpu: number, rs: JitterCpu[]): JitterCpuSummary => {
    const a = (f: (c: JitterCpu) => number | null): Agg => agg(rs.map((c) => f(c) ?? NaN));
    return {
      cpu,
      runs: rs.length,
      pinned: rs.every((c) => c.pinned),
      lostPct: a((c) => c.lostPct),
      lost20Pct: a((c) => c.lost20Pct),
      perSecond: JITTER_BUCKETS.map((_, i) => a((c) => c.perSecond[i] ?? NaN)),
      stalls20PerSecond: a((c) => c.stalls20PerSecond),
      maxUs: a((c) => c.maxUs),
      delayP99Us: a((c) => c.delayP99Us),
      delayP999Us: a((c) => c.delayP999Us),
      delayOver20Pct: a((c) => c.delayOver20Pct),
      involuntarySwitches: a((c) => c.involuntarySwitches),
      interruptsPerSecond: a((c) => c.interruptsPerSecond),
      stealPct: a((c) => c.stealPct),
      gcsMax: Math.max(...rs.map((c) => c.gcs)),
      loopNs: agg(rs.map((c) => (c.loops > 0 ? (1e6 * c.durationMs) / c.loops : NaN))).median,
    };
  };
  const cpus = cpuIds.map((cpu) => summarize(cpu, runs.flatMap((r) => r.cpus.filter((c) => c.cpu === cpu))));
  const eitherRuns = runs.flatMap((r) => (r.either ? [r.either] : []));
  return {
    runs: runs.length,
    durationMs: runs[0]!.config.durationMs,
    thresholdUs: runs[0]!.config.thresholdUs,
    cpus,
    either: eitherRuns.length > 0 ? summarize(-1, eitherRuns) : null,
    eitherLostPct: agg(runs.map((r) => r.eitherLostPct)),
    allLostPct: agg(runs.map((r) => r.allLostPct)),
    cpuShare: agg(runs.map((r) => r.cpuShare)),
  };
}
