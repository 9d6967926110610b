import type { BenchOptions } from "../options.js";
import type { CaseSummary } from "../pipeline/aggregate.js";
import type { RunFailure } from "../pipeline/spawn.js";
import type { RunResult } from "../pipeline/types.js";
import type { DpdkSection } from "../dpdk/compare.js";
import type { NetVhostSection } from "../dpdk/net-vhost.js";
import type { VhostUserSection } from "../dpdk/vhost-user.js";
import type { JitterSummary } from "../jitter/stats.js";
import type { JitterRun } from "../jitter/types.js";

/** The machine-jitter probe's runs (one per repetition) and their summary. */
export interface JitterSection {
  runs: JitterRun[];
  summary: JitterSummary | null;
  failures: string[];
}

/** Everything one `pnpm bench` produced: written as <out>/<name>.json, rendered to .md and .svg. */
export interface BenchResults {
  meta: Meta;
  throughput: CaseSummary[];
  features: CaseSummary[];
  latency: CaseSummary[];
  /** Absent in results written before the probe existed; null when not run. */
  jitter?: JitterSection | null;
  dpdk: DpdkSection | null;
  /** Absent in results written before the section existed; null when not run. */
  vhostUser?: VhostUserSection | null;
  /** Absent in results written before the section existed; null when not run. */
  netVhost?: NetVhostSection | null;
  failures: RunFailure[];
  /** Every pipeline run's raw result. */
  runs: RunResult[];
}

export interface Meta {
  /** ISO date of the start. */
  date: string;
  cpu: string;
  cpus: number;
  node: string;
  v8: string;
  os: string;
  /** git HEAD of the checkout (and "+dirty"), or "". */
  commit: string;
  /** 1/5/15-minute load averages at the start and the end. */
  loadavgStart: number[];
  loadavgEnd: number[];
  /** Wall time of the whole benchmark, s. */
  elapsedS: number;
  /** Synthetic numbers (--fake): nothing was measured. */
  fake: boolean;
  quick: boolean;
  options: BenchOptions;
}
