import { type GapMove, type LineMovesAround, runLevel } from "../lib/host-level.js";
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
  /**
   * The host's level around each tpdk run, when measured (--line-move): the line moves of the gaps
   * just before and after it and the level they name (lib/host-level.ts). vhost-user: one per
   * pairRatios entry, in its order; net-vhost: one per tpdkRuns entry.
   */
  lineMoves?: LineMovesAround[];
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
  /** vhost-user and net-vhost sections: ms of line move (lib/line-move.ts) after every run, naming the host's level; 0 or absent: none. */
  lineMoveMs?: number;
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
export type Contender = (burst: number) => Promise<ContenderRun>;

/** What one measured run of a contender gives (bestPair, the pipeline's runBest). */
export interface ContenderRun {
  mpps: number;
  cpuShare: number;
  gc?: GcAttribution;
}

/** A run's progress line after its tag: "9.61 Mpps  cpu 99%  GC lcore/main 0/0". */
export function runText(r: ContenderRun): string {
  return `${r.mpps.toFixed(2)} Mpps  cpu ${(100 * r.cpuShare).toFixed(0)}%${r.gc ? `  GC lcore/main ${gcText(r.gc)}` : ""}`;
}

/**
 * Repetitions x bursts, DPDK's run then tpdk's at each step (so drift in the
 * machine's load hits both), into one row per burst. A failed run is noted
 * in its row and the comparison goes on.
 */
export async function alternate(
  o: CompareOptions,
  section: string,
  run: { dpdk: Contender; tpdk: Contender },
  /**
   * After every run: the gap's line move (null: not measured), the
   * net-vhost section's --line-move; each measured tpdk run's row records the gaps just before
   * and after it (row.lineMoves, in tpdkRuns' order).
   */
  lineMove?: (at: string) => Promise<GapMove | null>,
): Promise<DpdkRow[]> {
  const acc = new Map(o.bursts.map((b) => [b, newBurstAcc()]));
  const total = o.repeat * o.bursts.length;
  let i = 0;
  let gap: GapMove | null = null;
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const burst of o.bursts) {
      i++;
      const tag = `[${section} ${i}/${total}] rep ${rep + 1}/${o.repeat} burst=${burst}`;
      for (const who of ["dpdk", "tpdk"] as const) {
        const name = who === "dpdk" ? "DPDK" : "tpdk";
        const before = gap;
        let measured = false;
        try {
          const r = await run[who](burst);
          addRun(acc.get(burst)!, who, r);
          o.progress(`${tag} ${name} ${runText(r)}`);
          measured = true;
        } catch (e) {
          acc.get(burst)!.failures.push(`${name}: ${(e as Error).message}`);
          o.progress(`${tag} ${name} FAILED: ${(e as Error).message.split("\n")[0]}`);
        }
        if (!lineMove) continue;
        gap = await lineMove(`${tag} after ${name}: line move`);
        if (who === "tpdk" && measured) acc.get(burst)!.lineMoves.push({ before, after: gap, level: runLevel(before, gap) });
      }
    }
  }
  return o.bursts.map((burst) => burstRow(burst, acc.get(burst)!));
}

/** One burst's runs of a comparison, as they come in (alternate(); the vhost-user section). */
export interface BurstAcc {
  mpps: { dpdk: number[]; tpdk: number[] };
  cpu: { dpdk: number[]; tpdk: number[] };
  /** tpdk's runs' GC attributions, when traced. */
  gcs: GcAttribution[];
  /** Per-run ratios (one back-end instance faced in turn), when measured. */
  ratios: number[];
  /** The host's level around each tpdk run, when measured (vhost-user: one per ratio). */
  lineMoves: LineMovesAround[];
  failures: string[];
}

export function newBurstAcc(): BurstAcc {
  return { mpps: { dpdk: [], tpdk: [] }, cpu: { dpdk: [], tpdk: [] }, gcs: [], ratios: [], lineMoves: [], failures: [] };
}

/** Record one measured run of `who`. */
export function addRun(a: BurstAcc, who: "dpdk" | "tpdk", r: ContenderRun): void {
  a.mpps[who].push(r.mpps);
  a.cpu[who].push(r.cpuShare);
  if (who === "tpdk" && r.gc) a.gcs.push(r.gc);
}

/** The row of one burst: ratio = the median per-run ratio when there are any, else tpdk's median over DPDK's. */
export function burstRow(burst: number, a: BurstAcc): DpdkRow {
  const da = agg(a.mpps.dpdk);
  const ta = agg(a.mpps.tpdk);
  return {
    ...(a.gcs.length > 0 ? { tpdkGc: rowGc(a.gcs) } : {}),
    ...(a.ratios.length > 0 ? { pairRatios: a.ratios } : {}),
    ...(a.lineMoves.length > 0 ? { lineMoves: a.lineMoves } : {}),
    burst,
    dpdk: da,
    tpdk: ta,
    ratio: a.ratios.length > 0 ? agg(a.ratios).median : ta.median / da.median,
    dpdkCpu: agg(a.cpu.dpdk),
    tpdkCpu: agg(a.cpu.tpdk),
    dpdkRuns: a.mpps.dpdk,
    tpdkRuns: a.mpps.tpdk,
    failures: a.failures,
  };
}

/**
 * A pair gets the same retry rule as tpdk's pipeline runs: after a wait for
 * idle CPUs, up to 1 + retries attempts while the CPU share is below the
 * minimum, the best share kept. A failure is not retried.
 */
export async function bestPair(run: () => Promise<DpdkRun>, o: BestOptions): Promise<ContenderRun> {
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

function rowGc(g: readonly GcAttribution[]): RowGc {
  return {
    lcore: agg(g.map((x) => x.window.lcore)),
    main: agg(g.map((x) => x.window.main)),
    maxPauseMs: agg(g.map((x) => x.window.maxPauseMs)),
    incomplete: g.some((x) => !x.complete),
  };
}
