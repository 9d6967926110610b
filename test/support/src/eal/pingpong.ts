/**
 * Measure the idle policy: two threads pinned to the SAME CPU hand a turn back
 * and forth through a shared word. With Backoff they sleep when it is not
 * their turn, so the other one gets the CPU; with pure busy polling each burns
 * its time slice first. Run: node test/support/dist/eal/pingpong.js
 */
import { Worker } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { TURN, type PingPongSide } from "./pingpong-worker.js";

export interface PingPongResult {
  mode: string;
  /** Completed round trips (both sides moved once). */
  rounds: number;
  ms: number;
  sleeps: [number, number];
  pinned: boolean;
  affinity: string;
  timedOut: boolean;
}

export async function pingPong(opts: {
  rounds: number;
  /** CPU of each side; default both on CPU 0. */
  cpus?: readonly [number, number];
  busyPoll?: boolean;
  wake?: boolean;
  maxMs?: number;
}): Promise<PingPongResult> {
  const sab = new SharedArrayBuffer(256);
  const i32 = new Int32Array(sab);
  const t0 = performance.now();
  const deadline = Date.now() + (opts.maxMs ?? 30_000);
  const url = new URL("../../dist/eal/pingpong-worker.js", import.meta.url) // same file from src/ or dist/;
  const sides = ([0, 1] as const).map((side) => {
    const data: PingPongSide = {
      sab, side, rounds: opts.rounds, cpu: opts.cpus?.[side] ?? 0, busyPoll: !!opts.busyPoll, wake: opts.wake ?? true, deadline,
    };
    const w = new Worker(url, { workerData: data });
    return new Promise<{ sleeps: number; timedOut: boolean; pinned: boolean; affinity: string }>((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
  });
  const [a, b] = await Promise.all(sides);
  const ms = performance.now() - t0;
  const mode = (opts.busyPoll ? "busy-poll" : opts.wake === false ? "backoff, no wake" : "backoff + wake") +
    (opts.cpus && opts.cpus[0] !== opts.cpus[1] ? ", 2 cpus" : "");
  return {
    mode,
    rounds: Atomics.load(i32, TURN) >>> 1,
    ms,
    sleeps: [a!.sleeps, b!.sleeps],
    pinned: a!.pinned && b!.pinned,
    affinity: `${a!.affinity}/${b!.affinity}`,
    timedOut: a!.timedOut || b!.timedOut,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rounds = Number(process.argv[2] ?? 10_000);
  const modes = [
    { wake: true },
    { wake: false },
    { busyPoll: true, maxMs: 3000 },
    { wake: true, cpus: [0, 1] as const },
    { busyPoll: true, cpus: [0, 1] as const, maxMs: 3000 },
  ];
  for (const o of modes) {
    const r = await pingPong({ rounds, ...o });
    const rate = (r.rounds / r.ms) * 1000;
    console.log(
      `${r.mode.padEnd(24)} ${String(r.rounds).padStart(6)} rounds in ${r.ms.toFixed(0).padStart(5)} ms ` +
        `= ${rate.toFixed(0).padStart(7)} rounds/s, ${(r.ms * 1000 / Math.max(r.rounds, 1)).toFixed(1)} µs/round, ` +
        `sleeps ${r.sleeps.join("+")}, cpus ${r.affinity}${r.pinned ? " (pinned)" : " (unpinned)"}${r.timedOut ? ", stopped at time limit" : ""}`,
    );
  }
}
