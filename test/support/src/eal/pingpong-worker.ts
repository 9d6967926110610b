// One side of a ping-pong through a shared word (see pingpong.ts).
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { Backoff } from "@tpdk/eal";
import { pinCurrentThread } from "@tpdk/eal";

export interface PingPongSide {
  sab: SharedArrayBuffer;
  side: 0 | 1;
  rounds: number;
  cpu: number;
  busyPoll: boolean;
  wake: boolean;
  deadline: number;
}

/** Int32 words: [0] turn counter (side 0 moves on even, side 1 on odd), [16] side 0's wake word, [32] side 1's. */
export const TURN = 0;
export const WAKE = [16, 32] as const;

// Importable from the main thread for the constants above; runs only as a worker.
if (!isMainThread) run();

function run(): void {
  const d = workerData as PingPongSide;
  const pin = pinCurrentThread(d.cpu);
  const i32 = new Int32Array(d.sab);
  const backoff = new Backoff(i32, WAKE[d.side], d.busyPoll);
  const peerWake = WAKE[d.side ^ 1];
  const end = 2 * d.rounds;
  let moves = 0;
  let passes = 0;
  let timedOut = false;
  for (;;) {
    // Pairs with the peer's Atomics.store below: the peer hands us the turn.
    const v = Atomics.load(i32, TURN);
    if (v >= end) break;
    if ((v & 1) === d.side) {
      Atomics.store(i32, TURN, v + 1);
      if (d.wake) Backoff.wake(i32, peerWake);
      moves++;
      backoff.reset();
    } else {
      backoff.idle();
      if ((++passes & 1023) === 0 && Date.now() > d.deadline) {
        timedOut = true;
        break;
      }
    }
  }
  parentPort!.postMessage({ moves, sleeps: backoff.sleeps, timedOut, pinned: pin.pinned, affinity: pin.affinity });
}
