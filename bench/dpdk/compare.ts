import { type Agg, agg } from "../lib/summary.js";
import type { BestOptions, RunFailure } from "../pipeline/spawn.js";
import { isFailure, maybeWaitIdle, runBest } from "../pipeline/spawn.js";
import type { GcAttribution } from "../pipeline/trace-gc.js";
import type { RunConfig, RunResult } from "../pipeline/types.js";
import { fileURLToPath } from "node:url";
import { type PairOptions, backEndCommand, frontEndCommand } from "./commands.js";
import { type DpdkEnv, type DpdkRun, type DpdkRunOptions, INSTALL_HINT, TESTPMD, detectDpdk, runVhostPair } from "./testpmd.js";

export interface DpdkRow {
  burst: number;
  /** vhost-user section: the ring layout both front-ends used (absent: split). */
  ring?: "split" | "packed";
  /** Delivered Mpps per run. */
  dpdk: Agg;
  tpdk: Agg;
  /**
   * tpdk median / DPDK median; in the vhost-user section (one back-end
   * instance faced in turn) the median of pairRatios instead.
   */
  ratio: number;
  /** Each tpdk run over the mean of the DPDK runs just before and after it on the same back-end instance (shared-back-end.ts). */
  pairRatios?: number[];
  /** CPU share of the DPDK and tpdk runs (see RunResult.cpuShare). */
  dpdkCpu: Agg;
  tpdkCpu: Agg;
  dpdkRuns: number[];
  tpdkRuns: number[];
  failures: string[];
  /** tpdk's GCs inside each run's window per thread (vhost-user section: l2fwd traced), when measured. */
  tpdkGc?: RowGc;
}

/** GCs inside the measured windows of a row's tpdk runs, per thread. */
export interface RowGc {
  lcore: Agg;
  main: Agg;
  maxPauseMs: Agg;
  /** Some run's GCs could not all be attributed to a thread (the counts are a lower bound). */
  incomplete: boolean;
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
  const shown = displayPair(o.bursts, env.hugepages);
  const commands = { vhost: backEndCommand(shown, SHOWN_SOCK).join(" "), virtio: frontEndCommand("dpdk", shown, SHOWN_SOCK).join(" ") };
  const testpmd = env.testpmd;
  const tpdkResults: RunResult[] = [];
  const rows = await alternate(o, "dpdk", {
    dpdk: (burst) => bestPair(() => runVhostPair({ ...pairOptions(o, env.hugepages, testpmd), burst }, "dpdk"), o.spawn),
    tpdk: async (burst) => {
      const r: RunResult | RunFailure = await runBest(tpdkConfig(burst, o), o.spawn);
      if (isFailure(r)) throw new Error(r.error);
      tpdkResults.push(r);
      return { mpps: r.mpps, cpuShare: r.cpuShare };
    },
  });
  return { skipped: null, env, commands, tpdkShape, rows, tpdkResults };
}

/** The socket path shown in the reports' command lines. */
export const SHOWN_SOCK = "/tmp/tpdk-bench.sock";

/** The pair's options as shown in the report (burst 32 or the first burst compared). */
export function displayPair(bursts: readonly number[], hugepages: boolean): PairOptions {
  return { burst: bursts.includes(32) ? 32 : bursts[0]!, hugepages, testpmd: TESTPMD, l2fwd: ["node", "apps/l2fwd/bin/tpdk-l2fwd.js"], tag: "PID" };
}

/** The options of a real pair (burst set per run). */
export function pairOptions(o: CompareOptions, hugepages: boolean, testpmd: string): Omit<DpdkRunOptions, "burst"> {
  return { warmupS: o.warmupS, durationS: o.durationS, hugepages, testpmd, l2fwd: [process.execPath, L2FWD_MAIN], tag: String(process.pid) };
}

/** l2fwd's entry point (what its bin, tpdk-l2fwd, imports). */
export const L2FWD_MAIN = fileURLToPath(new URL("./main.js", import.meta.resolve("@tpdk/l2fwd")));

/** One measurement of a contender at one burst. Throws when the run failed. */
export type Contender = (burst: number) => Promise<{ mpps: number; cpuShare: number; gc?: GcAttribution }>;

/**
 * Repetitions x bursts, DPDK's run then tpdk's at each step (so drift in the
 * machine's load hits both), into one row per burst. A failed run is noted
 * in its row and the comparison goes on.
 */
export async function alternate(o: CompareOptions, section: string, run: { dpdk: Contender; tpdk: Contender }): Promise<DpdkRow[]> {
  const mpps = { dpdk: new Map<number, number[]>(), tpdk: new Map<number, number[]>() };
  const cpu = { dpdk: new Map<number, number[]>(), tpdk: new Map<number, number[]>() };
  const fails = new Map<number, string[]>();
  const gcs = new Map<number, GcAttribution[]>();
  const total = o.repeat * o.bursts.length;
  let i = 0;
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const burst of o.bursts) {
      i++;
      const tag = `[${section} ${i}/${total}] rep ${rep + 1}/${o.repeat} burst=${burst}`;
      for (const who of ["dpdk", "tpdk"] as const) {
        const name = who === "dpdk" ? "DPDK" : "tpdk";
        try {
          const r = await run[who](burst);
          push(mpps[who], burst, r.mpps);
          push(cpu[who], burst, r.cpuShare);
          if (who === "tpdk" && r.gc) push(gcs, burst, r.gc);
          o.progress(`${tag} ${name} ${r.mpps.toFixed(2)} Mpps  cpu ${(100 * r.cpuShare).toFixed(0)}%${r.gc ? `  GC lcore/main ${gcText(r.gc)}` : ""}`);
        } catch (e) {
          push(fails, burst, `${name}: ${(e as Error).message}`);
          o.progress(`${tag} ${name} FAILED: ${(e as Error).message.split("\n")[0]}`);
        }
      }
    }
  }
  return o.bursts.map((burst): DpdkRow => {
    const dr = mpps.dpdk.get(burst) ?? [];
    const tr = mpps.tpdk.get(burst) ?? [];
    const da = agg(dr);
    const ta = agg(tr);
    const g = gcs.get(burst);
    return {
      ...(g ? { tpdkGc: rowGc(g) } : {}),
      burst,
      dpdk: da,
      tpdk: ta,
      ratio: ta.median / da.median,
      dpdkCpu: agg(cpu.dpdk.get(burst) ?? []),
      tpdkCpu: agg(cpu.tpdk.get(burst) ?? []),
      dpdkRuns: dr,
      tpdkRuns: tr,
      failures: fails.get(burst) ?? [],
    };
  });
}

/**
 * A pair gets the same retry rule as tpdk's pipeline runs: after a wait for
 * idle CPUs, up to 1 + retries attempts while the CPU share is below the
 * minimum, the best share kept. A failure is not retried.
 */
export async function bestPair(run: () => Promise<DpdkRun>, o: BestOptions): Promise<{ mpps: number; cpuShare: number; gc?: GcAttribution }> {
  let best: DpdkRun | null = null;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    await maybeWaitIdle(o);
    const r = await run();
    if (best === null || r.cpuShare > best.cpuShare) best = r;
    if (r.cpuShare >= o.minCpuShare) break;
  }
  return { mpps: best!.pps / 1e6, cpuShare: best!.cpuShare, ...(best!.gc ? { gc: best!.gc } : {}) };
}

/** "0/0" (lcore/main GCs in the window), "?" when some could not be attributed. */
export function gcText(g: GcAttribution): string {
  return `${g.window.lcore}/${g.window.main}${g.complete ? "" : "?"}`;
}

/** A row's GCs from its tpdk runs' attributions. */
export function rowGc(g: readonly GcAttribution[]): RowGc {
  return {
    lcore: agg(g.map((x) => x.window.lcore)),
    main: agg(g.map((x) => x.window.main)),
    maxPauseMs: agg(g.map((x) => x.window.maxPauseMs)),
    incomplete: g.some((x) => !x.complete),
  };
}

function push<T>(m: Map<number, T[]>, k: number, v: T): void {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}
