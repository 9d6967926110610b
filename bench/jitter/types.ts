/**
 * The machine-jitter probe's data (plain data: it crosses a process
 * boundary as one JSON line). See jitter/probe.ts and bench/README.md.
 */

/** What the parent asks the probe child for. */
export interface JitterConfig {
  /** Measured seconds of busy loop per CPU, ms (after a warm-up of warmupMs). */
  readonly durationMs: number;
  /** Unmeasured loop first, so the measured one runs optimised code, ms. */
  readonly warmupMs: number;
  /** CPUs to spin on, one pinned thread each, all at the same time. */
  readonly cpus: readonly number[];
  /** A gap between two loop iterations longer than this is a stall and is recorded, µs. */
  readonly thresholdUs: number;
}

/** One CPU's loop over one run. */
export interface JitterCpu {
  cpu: number;
  /** pinCurrentThread succeeded (false: the figures are of an unpinned thread). */
  pinned: boolean;
  pinNote: string;
  /** Measured time, ms. */
  durationMs: number;
  /** Loop iterations: durationMs / loops is the clock-read period, the probe's resolution. */
  loops: number;
  /** Gaps longer than thresholdUs. */
  gaps: number;
  /** Gaps not stored because the buffer was full (their time still counts in lostPct). */
  gapsDropped: number;
  /** Time lost in gaps > threshold (5 µs), and in gaps ≥ 20 µs, % of durationMs. */
  lostPct: number;
  lost20Pct: number;
  /** Gaps per second of durationMs in each JITTER_BUCKETS range. */
  perSecond: number[];
  /** Gaps ≥ 20 µs per second. */
  stalls20PerSecond: number;
  /** Longest gap, µs. */
  maxUs: number;
  /**
   * Delay a frame arriving at a uniformly random instant would see before
   * this loop runs again (the rest of the gap it lands in), µs: p99, p99.9,
   * and the probability (%) that it exceeds 20 µs. A quantile below the
   * threshold reads as the threshold (it is "≤ 5 µs").
   */
  delayP99Us: number;
  delayP999Us: number;
  delayOver20Pct: number;
  /** Involuntary context switches of the thread (the guest kernel preempted it; the host's preemption is invisible here). */
  involuntarySwitches: number;
  /** Interrupts this CPU took per second of the window (all of /proc/interrupts: timer, IPIs, devices); null off Linux. */
  interruptsPerSecond: number | null;
  /** Steal time of this CPU over the window (/proc/stat), %; null off Linux. */
  stealPct: number | null;
  /** GCs of the thread's isolate during the measured loop (v8.GCProfiler): 0 when the loop allocates nothing. */
  gcs: number;
}

/** One probe run: every CPU at the same time. */
export interface JitterRun {
  config: JitterConfig;
  cpus: JitterCpu[];
  /**
   * The CPUs' stalls merged (at least one CPU stalled), summarised like one
   * CPU (cpu -1): what a frame that needs every CPU's thread in turn is
   * exposed to, before any backlog. Null with a single CPU.
   */
  either: JitterCpu | null;
  /** Time at least one CPU / all CPUs were stalled (> threshold) at once, % of the window. */
  eitherLostPct: number;
  allLostPct: number;
  /** CPU time of the probe process during the window over (CPUs x window): ~1 when no other process took turns. */
  cpuShare: number;
  /** 1-minute load average at the start. */
  load: number;
}

/** Stall ranges, µs, [lo, hi): 5–10, 10–20, 20–50, 50–100, 100–1000, 1–10 ms, ≥ 10 ms. */
export const JITTER_BUCKETS: readonly (readonly [number, number])[] = [
  [5, 10],
  [10, 20],
  [20, 50],
  [50, 100],
  [100, 1000],
  [1000, 10_000],
  [10_000, Infinity],
];

export const JITTER_RESULT_PREFIX = "TPDK-JITTER-RESULT ";
