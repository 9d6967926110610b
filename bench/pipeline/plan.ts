import type { BenchOptions } from "../options.js";
import type { RunConfig, TxPath } from "./types.js";

/** The pipeline sections of a sweep and the configurations each needs (shared ones run once). */
export type PipelineSection = "throughput" | "features" | "latency";

export interface Plan {
  /** Unique configurations, in run order. */
  configs: RunConfig[];
  /** Keys (configKey) of each section's configurations, in report order. */
  sections: Record<PipelineSection, string[]>;
}

/** Identity of a configuration (everything that changes what is measured). */
export function configKey(c: RunConfig): string {
  return [
    c.kind,
    `b${c.burst}`,
    c.txPath,
    `s${c.frameSize}`,
    `io${+c.inOrder}`,
    `mrg${+c.mrgRxbuf}`,
    `ev${c.eventIdx === null ? "-" : +c.eventIdx}`,
    `q${c.queueSize}`,
    `r${c.rate ?? "-"}`,
    `w${c.warmupMs}`,
    `d${c.durationMs}`,
  ].join(" ");
}

export function buildPlan(o: BenchOptions): Plan {
  const byKey = new Map<string, RunConfig>();
  const sections: Record<PipelineSection, string[]> = { throughput: [], features: [], latency: [] };
  const add = (section: PipelineSection, c: RunConfig): void => {
    const k = configKey(c);
    if (!byKey.has(k)) byKey.set(k, c);
    if (!sections[section].includes(k)) sections[section].push(k);
  };
  const base = (burst: number, txPath: TxPath, frameSize: number, inOrder: boolean, mrgRxbuf: boolean): RunConfig => ({
    kind: "throughput",
    burst,
    txPath,
    frameSize,
    inOrder,
    mrgRxbuf,
    eventIdx: null,
    queueSize: o.queueSize,
    rate: null,
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    memoryMb: 256,
  });
  if (o.only.includes("throughput")) {
    for (const size of o.sizes) for (const p of o.txPaths) for (const b of o.bursts) add("throughput", base(b, p, size, true, true));
  }
  if (o.only.includes("features")) {
    for (const io of o.inOrder) {
      for (const mrg of o.mrgRxbuf) for (const p of o.txPaths) for (const b of o.featureBursts) add("features", base(b, p, 64, io, mrg));
    }
  }
  if (o.only.includes("latency")) {
    for (const b of o.latencyBursts) {
      for (const p of o.txPaths) {
        add("latency", { ...base(b, p, 64, true, true), kind: "latency", rate: o.latencyRate, durationMs: o.latencyDurationMs });
      }
    }
  }
  return { configs: [...byKey.values()], sections };
}

/** "b32 push 64B io1 mrg1" for progress lines and tables. */
export function describe(c: RunConfig): string {
  return `${c.kind === "latency" ? `latency@${fmtRate(c.rate ?? 0)} ` : ""}burst=${c.burst} tx=${c.txPath} size=${c.frameSize} in_order=${+c.inOrder} mrg_rxbuf=${+c.mrgRxbuf}`;
}

export function fmtRate(pps: number): string {
  return pps >= 1e6 ? `${pps / 1e6}Mpps` : `${pps / 1e3}kpps`;
}
