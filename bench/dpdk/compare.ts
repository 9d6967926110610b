import { type Agg, agg } from "../lib/summary.js";
import type { BestOptions, RunFailure } from "../pipeline/spawn.js";
import { isFailure, maybeWaitIdle, runBest } from "../pipeline/spawn.js";
import type { RunConfig, RunResult } from "../pipeline/types.js";
import { type DpdkEnv, type DpdkRun, INSTALL_HINT, detectDpdk, dpdkCommands, runDpdkPair } from "./testpmd.js";

export interface DpdkRow {
  burst: number;
  /** Delivered Mpps per run. */
  dpdk: Agg;
  tpdk: Agg;
  /** tpdk median / DPDK median. */
  ratio: number;
  /** CPU share of the DPDK and tpdk runs (see RunResult.cpuShare). */
  dpdkCpu: Agg;
  tpdkCpu: Agg;
  dpdkRuns: number[];
  tpdkRuns: number[];
  failures: string[];
}

export interface DpdkSection {
  /** Why the comparison did not run (null: it ran). */
  skipped: string | null;
  env: DpdkEnv | null;
  /** The two command lines (burst 32 or the first burst compared). */
  commands: { vhost: string; virtio: string } | null;
  /** The tpdk configuration compared (burst varies). */
  tpdkShape: string;
  rows: DpdkRow[];
  /** tpdk raw results of the comparison runs. */
  tpdkResults: RunResult[];
}

export interface CompareOptions {
  bursts: number[];
  repeat: number;
  warmupS: number;
  durationS: number;
  queueSize: number;
  spawn: BestOptions;
  progress: (line: string) => void;
}

export const TPDK_SHAPE = "64 B, tx_mode=push, in_order=1, mrg_rxbuf=1 (DPDK's virtio-user defaults; DPDK pushes the header too)";

function tpdkConfig(burst: number, o: CompareOptions): RunConfig {
  return {
    kind: "throughput",
    burst,
    txPath: "push",
    frameSize: 64,
    inOrder: true,
    mrgRxbuf: true,
    eventIdx: null,
    queueSize: o.queueSize,
    rate: null,
    warmupMs: o.warmupS * 1000,
    durationMs: o.durationS * 1000,
    memoryMb: 256,
  };
}

/** DPDK and tpdk runs alternate (DPDK b1, tpdk b1, DPDK b32, ...), repeated, so drift in the machine's load hits both. */
export async function compareWithDpdk(o: CompareOptions): Promise<DpdkSection> {
  const env = detectDpdk();
  const tpdkShape = TPDK_SHAPE;
  if (!env.testpmd) return { skipped: INSTALL_HINT, env, commands: null, tpdkShape, rows: [], tpdkResults: [] };
  const sample = dpdkCommands({ burst: o.bursts.includes(32) ? 32 : o.bursts[0]!, warmupS: 0, durationS: 0, hugepages: env.hugepages, testpmd: "dpdk-testpmd" }, "/tmp/tpdk-bench.sock");
  const commands = { vhost: sample.vhost.join(" "), virtio: sample.virtio.join(" ") };
  const d = new Map<number, number[]>();
  const t = new Map<number, number[]>();
  const fails = new Map<number, string[]>();
  const dCpu = new Map<number, number[]>();
  const tCpu = new Map<number, number[]>();
  const tpdkResults: RunResult[] = [];
  const total = o.repeat * o.bursts.length;
  let i = 0;
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const burst of o.bursts) {
      i++;
      const tag = `[dpdk ${i}/${total}] rep ${rep + 1}/${o.repeat} burst=${burst}`;
      // The DPDK run gets the same retry rule as tpdk's: best CPU share of up to 1 + retries attempts.
      let best: DpdkRun | null = null;
      for (let attempt = 0; attempt <= o.spawn.retries; attempt++) {
        try {
          await maybeWaitIdle(o.spawn);
          const r = await runDpdkPair({ burst, warmupS: o.warmupS, durationS: o.durationS, hugepages: env.hugepages, testpmd: env.testpmd });
          if (best === null || r.cpuShare > best.cpuShare) best = r;
          if (r.cpuShare >= o.spawn.minCpuShare) break;
        } catch (e) {
          push(fails, burst, `DPDK: ${(e as Error).message}`);
          o.progress(`${tag} DPDK FAILED: ${(e as Error).message.split("\n")[0]}`);
          break;
        }
      }
      if (best) {
        push(d, burst, best.pps / 1e6);
        push(dCpu, burst, best.cpuShare);
        o.progress(`${tag} DPDK ${(best.pps / 1e6).toFixed(2)} Mpps  cpu ${(100 * best.cpuShare).toFixed(0)}%`);
      }
      const r: RunResult | RunFailure = await runBest(tpdkConfig(burst, o), o.spawn);
      if (isFailure(r)) {
        push(fails, burst, `tpdk: ${r.error}`);
        o.progress(`${tag} tpdk FAILED: ${r.error.split("\n")[0]}`);
      } else {
        tpdkResults.push(r);
        push(t, burst, r.mpps);
        push(tCpu, burst, r.cpuShare);
        o.progress(`${tag} tpdk ${r.mpps.toFixed(2)} Mpps  cpu ${(100 * r.cpuShare).toFixed(0)}%`);
      }
    }
  }
  const rows = o.bursts.map((burst): DpdkRow => {
    const dr = d.get(burst) ?? [];
    const tr = t.get(burst) ?? [];
    const da = agg(dr);
    const ta = agg(tr);
    return {
      burst,
      dpdk: da,
      tpdk: ta,
      ratio: ta.median / da.median,
      dpdkCpu: agg(dCpu.get(burst) ?? []),
      tpdkCpu: agg(tCpu.get(burst) ?? []),
      dpdkRuns: dr,
      tpdkRuns: tr,
      failures: fails.get(burst) ?? [],
    };
  });
  return { skipped: null, env, commands, tpdkShape, rows, tpdkResults };
}

function push<T>(m: Map<number, T[]>, k: number, v: T): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}
