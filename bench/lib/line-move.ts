/**
 * The host's line-move cost: one cache line bounced between two pinned worker threads, the round
 * trip per bounce, medians over batches. On this 2-vCPU guest it names the host's level without a
 * DPDK run (bench/notes/levels.md "Session 30: packed burst 32, the host's speed in the slow seconds": ~150 ns
 * at the fast level, 420-480 ns at the usual one). Both threads are workers so that the calling
 * thread's CPU affinity, which the processes it spawns inherit, is left alone. Cold tool code, not a
 * hot path: it spins both CPUs for `ms`.
 */
import { Worker } from "node:worker_threads";
import type { GapMove } from "./host-level.js";
import { type LineMoveWork, STOP } from "./line-move-worker.js";

export interface LineMove {
  /** Round trip per bounce, ns: median, 10th and 90th percentile of the batches. */
  medianNs: number;
  p10Ns: number;
  p90Ns: number;
  batches: number;
  /** Whether both threads ran pinned (else the figure mixes in scheduling). */
  pinned: boolean;
}

const WORKER = new URL("./line-move-worker.js", import.meta.url);

/** Bounce for `ms` between a worker on `cpus[0]` and an echo worker on `cpus[1]`. */
export async function measureLineMove(ms: number, cpus: readonly [number, number] = [0, 1]): Promise<LineMove> {
  const line = new Int32Array(new SharedArrayBuffer(64));
  const start = (role: LineMoveWork["role"], cpu: number): Worker => new Worker(WORKER, { workerData: { role, line, cpu, ms } satisfies LineMoveWork });
  const echo = start("echo", cpus[1]);
  try {
    const echoPinned = await new Promise<boolean>((resolve, reject) => {
      echo.once("message", (m: { pinned: boolean }) => resolve(m.pinned));
      echo.once("error", reject);
    });
    const pitcher = start("pitch", cpus[0]);
    const r = await new Promise<{ pinned: boolean; perBounce: number[] }>((resolve, reject) => {
      pitcher.once("message", resolve);
      pitcher.once("error", reject);
    });
    await pitcher.terminate();
    const perBounce = r.perBounce.sort((a, b) => a - b);
    const at = (q: number): number => perBounce[Math.min(perBounce.length - 1, Math.floor(perBounce.length * q))] ?? Number.NaN;
    return { medianNs: at(0.5), p10Ns: at(0.1), p90Ns: at(0.9), batches: perBounce.length, pinned: r.pinned && echoPinned };
  } finally {
    Atomics.store(line, STOP, 1); // the echo's loop ends even when the pitcher failed
    await echo.terminate();
  }
}

/**
 * One gap's line move, as the DPDK comparisons measure it between runs (vu-shared.js, the vhost-user
 * section): prints "<at> round trip N ns (p10 .., p90 ..)" or "<at> failed: ... (the runs go on)" and
 * returns its median, p10 and p90 (whole ns), or null when the measurement failed: a label, not a result, it never ends a run.
 */
export async function gapLineMove(ms: number, at: string, print: (line: string) => void): Promise<GapMove | null> {
  try {
    const m = await measureLineMove(ms);
    print(`${at} round trip ${m.medianNs.toFixed(0)} ns (p10 ${m.p10Ns.toFixed(0)}, p90 ${m.p90Ns.toFixed(0)})${m.pinned ? "" : ", not pinned"}`);
    // Whole ns: the batches' spread is tens of ns.
    return { medianNs: Math.round(m.medianNs), p10Ns: Math.round(m.p10Ns), p90Ns: Math.round(m.p90Ns) };
  } catch (e) {
    print(`${at} failed: ${(e as Error).message} (the runs go on)`);
    return null;
  }
}
