/**
 * line-move.ts's two threads: each pins itself to its CPU; the echo answers each odd ball v + 1 with
 * v + 2 until told to stop, the pitcher throws for `ms` and posts the round trip of each batch.
 */
import { parentPort, workerData } from "node:worker_threads";
import { pinCurrentThread } from "@tpdk/eal";

/** Words of the shared line: the ball (odd: with the echo, even: back), stop, and ready (the echo is spinning). */
export const BALL = 0;
export const STOP = 1;
export const READY = 2;
/** Bounces per timed batch (pp.c's 200). */
export const BATCH = 200;

export interface LineMoveWork {
  role: "pitch" | "echo";
  line: Int32Array;
  cpu: number;
  ms: number;
}

function echo(line: Int32Array): void {
  Atomics.store(line, READY, 1);
  while (Atomics.load(line, STOP) === 0) {
    const v = Atomics.load(line, BALL);
    if ((v & 1) === 1) Atomics.store(line, BALL, (v + 1) & 0x3fffffff);
  }
}

function pitch(line: Int32Array, ms: number): number[] {
  while (Atomics.load(line, READY) === 0);
  const perBounce: number[] = [];
  let v = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) {
      Atomics.store(line, BALL, v + 1); // to the echo, which answers v + 2
      while (Atomics.load(line, BALL) !== v + 2);
      v = (v + 2) & 0x3fffffff;
    }
    perBounce.push(((performance.now() - t0) * 1e6) / BATCH);
  }
  Atomics.store(line, STOP, 1);
  return perBounce;
}

const w = workerData as LineMoveWork | undefined;
if (w !== undefined && parentPort !== null) {
  const pinned = pinCurrentThread(w.cpu).pinned;
  if (w.role === "echo") {
    parentPort.postMessage({ pinned });
    echo(w.line);
  } else {
    parentPort.postMessage({ pinned, perBounce: pitch(w.line, w.ms) });
  }
}
