/**
 * The host's line-move cost: one cache line bounced between two pinned threads (this one and an echo
 * worker), the round trip per bounce, medians over batches. On this 2-vCPU guest it names the host's
 * level without a DPDK run (bench README "Session 30: packed burst 32, the host's speed in the slow
 * seconds": ~150 ns at the fast level, 420-480 ns at the usual one). Cold tool code, not a hot path:
 * it spins both CPUs for `ms`.
 */
import { Worker } from "node:worker_threads";
import { pinCurrentThread } from "@tpdk/eal";

/** Bounces per timed batch (pp.c's 200). */
const BATCH = 200;

export interface LineMove {
  /** Round trip per bounce, ns: median, 10th and 90th percentile of the batches. */
  medianNs: number;
  p10Ns: number;
  p90Ns: number;
  batches: number;
  /** Whether both threads ran pinned (else the figure mixes in scheduling). */
  pinned: boolean;
}

/** Words of the shared line: [0] the ball (odd: with the echo, even: back), [1] stop. */
const BALL = 0;
const STOP = 1;

/** Bounce for `ms` between this thread on `cpus[0]` and an echo worker on `cpus[1]`. */
export async function measureLineMove(ms: number, cpus: readonly [number, number] = [0, 1]): Promise<LineMove> {
  const line = new Int32Array(new SharedArrayBuffer(64));
  const echo = new Worker(new URL("./line-move-echo.js", import.meta.url), { workerData: { line, cpu: cpus[1] } });
  try {
    const echoPinned = await new Promise<boolean>((resolve, reject) => {
      echo.once("message", (m: { pinned: boolean }) => resolve(m.pinned));
      echo.once("error", reject);
    });
    const here = pinCurrentThread(cpus[0]);
    const perBounce: number[] = [];
    let v = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t0 = performance.now();
      for (let i = 0; i < BATCH; i++) {
        Atomics.store(line, BALL, v + 1); // to the echo (line-move-echo.ts answers v + 2)
        while (Atomics.load(line, BALL) !== v + 2);
        v = (v + 2) & 0x3fffffff;
      }
      perBounce.push(((performance.now() - t0) * 1e6) / BATCH);
    }
    perBounce.sort((a, b) => a - b);
    const at = (q: number): number => perBounce[Math.min(perBounce.length - 1, Math.floor(perBounce.length * q))] ?? Number.NaN;
    return { medianNs: at(0.5), p10Ns: at(0.1), p90Ns: at(0.9), batches: perBounce.length, pinned: here.pinned && echoPinned };
  } finally {
    Atomics.store(line, STOP, 1);
    await echo.terminate();
  }
}
