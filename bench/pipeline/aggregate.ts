import { type Agg, agg } from "../lib/summary.js";
import { configKey } from "./plan.js";
import type { RunFailure } from "./spawn.js";
import type { RunConfig, RunResult } from "./types.js";

/** One configuration over its repetitions: median and range of each figure. */
export interface CaseSummary {
  key: string;
  config: RunConfig;
  runs: number;
  /** Attempts over all runs (more than runs when some were retried for lack of CPU). */
  attempts: number;
  failures: string[];
  mpps: Agg;
  gbps: Agg;
  nsPerPacket: Agg;
  cpuShare: Agg;
  kicksPerPacket: Agg;
  trapsPerPacket: Agg;
  interruptsPerPacket: Agg;
  lossPct: Agg;
  rxMissPct: Agg;
  e2eLossPct: Agg;
  pktsPerPass: Agg;
  /** GCs inside the measurement window, per thread, and the longest pause. */
  gcLcore: Agg;
  gcDevice: Agg;
  gcMain: Agg;
  gcMaxPauseMs: Agg;
  /** Some run's GCs could not all be attributed to threads (counts are a lower bound). */
  gcIncomplete: boolean;
  latency: { mean: Agg; p50: Agg; p99: Agg; p999: Agg; max: Agg } | null;
  /** How the TX queue actually sent (share of each path over all runs), e.g. "push". */
  txPathSeen: string;
  features: string[];
  loadavg: Agg;
}

export function summarize(key: string, results: readonly RunResult[], failures: readonly RunFailure[], config: RunConfig): CaseSummary {
  const pick = (f: (r: RunResult) => number): Agg => agg(results.map(f));
  const lat = results.filter((r) => r.latency !== null && r.latency.count > 0);
  let push = 0;
  let ind = 0;
  let ch = 0;
  for (const r of results) {
    push += r.w.txPush;
    ind += r.w.txIndirect;
    ch += r.w.txChained;
  }
  const tot = push + ind + ch;
  const shares = (
    [
      ["push", push],
      ["indirect", ind],
      ["chained", ch],
    ] as const
  )
    .filter(([, n]) => n > 0)
    .map(([p, n]) => (n === tot ? p : `${p} ${((100 * n) / tot).toFixed(0)}%`));
  return {
    key,
    config,
    runs: results.length,
    attempts: results.reduce((a, r) => a + (r.attempts ?? 1), 0),
    failures: failures.map((f) => f.error),
    mpps: pick((r) => r.mpps),
    gbps: pick((r) => r.gbps),
    nsPerPacket: pick((r) => r.nsPerPacket),
    cpuShare: pick((r) => r.cpuShare),
    kicksPerPacket: pick((r) => r.kicksPerPacket),
    trapsPerPacket: pick((r) => r.trapsPerPacket),
    interruptsPerPacket: pick((r) => r.interruptsPerPacket),
    lossPct: pick((r) => r.lossPct),
    rxMissPct: pick((r) => r.rxMissPct),
    e2eLossPct: pick((r) => r.e2eLossPct),
    pktsPerPass: pick((r) => r.pktsPerPass),
    gcLcore: pick((r) => r.gcWindow.lcore),
    gcDevice: pick((r) => r.gcWindow.device),
    gcMain: pick((r) => r.gcWindow.main),
    gcMaxPauseMs: pick((r) => r.gcWindow.maxPauseMs),
    gcIncomplete: results.some((r) => !r.gcComplete),
    latency:
      lat.length === 0
        ? null
        : {
            mean: agg(lat.map((r) => r.latency!.mean)),
            p50: agg(lat.map((r) => r.latency!.p50)),
            p99: agg(lat.map((r) => r.latency!.p99)),
            p999: agg(lat.map((r) => r.latency!.p999)),
            max: agg(lat.map((r) => r.latency!.max)),
          },
    txPathSeen: shares.join(", ") || "–",
    features: results[0]?.features ?? [],
    loadavg: pick((r) => r.loadavg),
  };
}

/** Group raw results by configuration and summarize the given keys (in order). */
export function summarizeKeys(
  keys: readonly string[],
  configs: ReadonlyMap<string, RunConfig>,
  results: readonly RunResult[],
  failures: readonly RunFailure[],
): CaseSummary[] {
  return keys.map((k) =>
    summarize(
      k,
      results.filter((r) => configKey(r.config) === k),
      failures.filter((f) => configKey(f.config) === k),
      configs.get(k)!,
    ),
  );
}
