import { type Agg, fmt, fmtAgg } from "../lib/summary.js";
import type { Table } from "../report/table.js";
import type { JitterCpuSummary, JitterSummary } from "./stats.js";
import { JITTER_BUCKETS, type JitterCpu, type JitterRun } from "./types.js";

/** Tables and lines of the jitter probe for the terminal and the markdown report. */

/** "5–10 µs", "0.1–1 ms", "≥ 10 ms" */
export function bucketLabel(lo: number, hi: number): string {
  if (!Number.isFinite(hi)) return lo >= 1000 ? `≥ ${lo / 1000} ms` : `≥ ${lo} µs`;
  if (hi <= 100) return `${lo}–${hi} µs`;
  return `${lo / 1000}–${hi / 1000} ms`;
}

/** A delay quantile: at the recording threshold it only says "at most the threshold". */
function delayCell(a: Agg, thresholdUs: number): string {
  if (a.n === 0) return "–";
  if (a.max <= thresholdUs) return `≤ ${thresholdUs}`;
  return fmtAgg(a);
}

const usToMs = (a: Agg): Agg => ({ median: a.median / 1000, min: a.min / 1000, max: a.max / 1000, n: a.n });

export function jitterTable(s: JitterSummary): Table {
  return {
    header: [
      "CPU",
      `lost % (> ${s.thresholdUs} µs)`,
      "lost % (≥ 20 µs)",
      ...JITTER_BUCKETS.map(([lo, hi]) => `${bucketLabel(lo, hi)} /s`),
      "max ms",
      "wait p99 µs",
      "wait p99.9 µs",
      "wait > 20 µs %",
      "invol. switches",
      "IRQ /s",
      "steal %",
      "GC",
      "runs",
    ],
    align: ["r", "r", "r", ...JITTER_BUCKETS.map(() => "r" as const), "r", "r", "r", "r", "r", "r", "r", "r", "r"],
    rows: [...s.cpus, ...(s.either ? [s.either] : [])].map((c) => [
      `${c.cpu < 0 ? "either" : c.cpu}${c.pinned ? "" : " (unpinned)"}`,
      fmtAgg(c.lostPct, 2),
      fmtAgg(c.lost20Pct, 2),
      ...c.perSecond.map((a) => fmtAgg(a)),
      fmtAgg(usToMs(c.maxUs), 2),
      delayCell(c.delayP99Us, s.thresholdUs),
      delayCell(c.delayP999Us, s.thresholdUs),
      fmtAgg(c.delayOver20Pct, 2),
      c.involuntarySwitches.n === 0 ? "–" : fmtAgg(c.involuntarySwitches),
      c.interruptsPerSecond.n === 0 ? "–" : fmtAgg(c.interruptsPerSecond),
      c.stealPct.n === 0 ? "–" : fmtAgg(c.stealPct, 2),
      String(c.gcsMax),
      String(c.runs),
    ]),
  };
}

/** The line under the table: both CPUs together, the probe's CPU share, its resolution. */
export function jitterNote(s: JitterSummary): string {
  const loop = s.cpus.map((c) => fmt(c.loopNs, 2)).join("/");
  return (
    `${s.runs} run(s) of ${fmt(s.durationMs / 1000)} s on CPUs ${s.cpus.map((c) => c.cpu).join(" and ")} at once. ` +
    `At least one CPU stalled (> ${s.thresholdUs} µs) ${fmtAgg(s.eitherLostPct, 2)} % of the time, all at once ${fmtAgg(s.allLostPct, 2)} %. ` +
    `Probe CPU share ${fmtAgg(pctAgg(s.cpuShare), 3)} % (below ~90: other processes ran on these CPUs, and their time counts as stalls). ` +
    `One loop pass (a clock read) takes ${loop} ns: the probe's resolution.`
  );
}

const pctAgg = (a: Agg): Agg => ({ median: 100 * a.median, min: 100 * a.min, max: 100 * a.max, n: a.n });

/**
 * The Targets line: what the bare loop loses to stalls of 20 µs and more on
 * each CPU, and how often a frame arriving at a random instant finds one of
 * the CPUs stalled for more than 20 µs yet (the merged stalls: a frame needs
 * both threads). met: below 1 %; at or above it, the machine's stalls alone
 * put such frames' p99 over 20 µs, before any backlog they leave.
 */
export function jitterTarget(s: JitterSummary | null): { target: string; measured: string; met: boolean | null } {
  const target = "machine: p99 ≤ 20 µs possible on the pipeline's CPUs (bare pinned loop: < 1 % of random instants wait > 20 µs)";
  if (!s || s.cpus.length === 0) return { target, measured: "not measured", met: null };
  const per = (f: (c: JitterCpuSummary) => string): string => s.cpus.map(f).join(" / ");
  const cpus = s.cpus.map((c) => c.cpu).join("/");
  const all = s.either ?? s.cpus[0]!;
  const which = s.either ? `CPU ${s.cpus.map((c) => c.cpu).join(" or ")}` : `CPU ${s.cpus[0]!.cpu}`;
  const p99 = all.delayP99Us.median <= s.thresholdUs ? `≤ ${s.thresholdUs}` : fmt(all.delayP99Us.median);
  const measured =
    `a bare pinned loop on CPU ${cpus} loses ${per((c) => fmt(c.lost20Pct.median, 2))} % of its time to stalls ≥ 20 µs ` +
    `(${per((c) => fmt(c.stalls20PerSecond.median))} per s, max ${per((c) => fmt(c.maxUs.median / 1000, 2))} ms); ` +
    `a frame arriving at a random instant finds ${which} stalled for > 20 µs more ${fmt(all.delayOver20Pct.median, 2)} % of the time (p99 wait ${p99} µs); ` +
    `p99 ≤ 20 µs needs that below 1 %`;
  return { target, measured, met: all.delayOver20Pct.median < 1 };
}

/** One progress line per probe run. */
export function jitterProgress(r: JitterRun): string {
  const cpus = r.cpus
    .map(
      (c) =>
        `CPU ${c.cpu}${c.pinned ? "" : " (unpinned)"}: lost ${fmt(c.lostPct, 2)} % (≥ 20 µs: ${fmt(c.lost20Pct, 2)} %, ${fmt(c.stalls20PerSecond)}/s), max ${fmt(c.maxUs / 1000, 2)} ms, wait > 20 µs ${fmt(c.delayOver20Pct, 2)} %${c.gcs > 0 ? `, ${c.gcs} GC!` : ""}`,
    )
    .join("; ");
  const e = r.either ? `; either: wait > 20 µs ${fmt(r.either.delayOver20Pct, 2)} %` : "";
  return `${cpus}${e}  cpu ${(100 * r.cpuShare).toFixed(0)}%`;
}

/** Synthetic probe run for --fake (nothing measured): a few stalls per bucket, deterministic. */
export function fakeJitterRun(cpus: readonly number[], durationMs: number, rep: number): JitterRun {
  const s = durationMs / 1000;
  const fake = (cpu: number, k: number): JitterCpu => {
    const perSecond = [3000, 800, 300, 18, 10, 3, 0].map((x) => x * k);
    return {
      cpu,
      pinned: true,
      pinNote: "synthetic",
      durationMs,
      loops: Math.round(durationMs * 25_000),
      gaps: Math.round(perSecond.reduce((a, b) => a + b, 0) * s),
      gapsDropped: 0,
      lostPct: 2.1 * k,
      lost20Pct: 1.7 * k,
      perSecond,
      stalls20PerSecond: 331 * k,
      maxUs: 4200 * k,
      delayP99Us: 28 * k,
      delayP999Us: 900 * k,
      delayOver20Pct: 1.3 * k,
      involuntarySwitches: Math.round(2 * s),
      interruptsPerSecond: 300 * k,
      stealPct: 0,
      gcs: 0,
    };
  };
  return {
    config: { durationMs, warmupMs: 0, cpus, thresholdUs: 5 },
    cpus: cpus.map((cpu) => fake(cpu, 1 + 0.1 * Math.sin(cpu * 3.1 + rep * 1.7))),
    either: cpus.length > 1 ? { ...fake(-1, 1.8), interruptsPerSecond: null, stealPct: null } : null,
    eitherLostPct: 3.9,
    allLostPct: 0.3,
    cpuShare: 0.99,
    load: 0,
  };
}
