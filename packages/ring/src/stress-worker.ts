/**
 * Worker for the multi-thread ring stress test (loaded from dist/ by
 * stress.test.ts). A producer enqueues its own disjoint range of values with a
 * mix of bulk, burst and single calls; a consumer dequeues until every value
 * has been consumed, marks each in a shared "seen" byte array and checks
 * that values of one producer arrive in increasing order (FIFO).
 */
import { parentPort, workerData } from "node:worker_threads";
import { Memory } from "@tpdk/eal";
import { Ring } from "./ring.js";

export interface StressJob {
  sab: SharedArrayBuffer;
  ringOffset: number;
  role: "producer" | "consumer";
  id: number;
  producers: number;
  perProducer: number;
  maxBurst: number;
  /** Byte offset of producers*perProducer bytes, one per value. */
  seenOffset: number;
  /** Int32 word counting consumed values (consumers stop at the total). */
  consumedWord: number;
  /** Int32 word nobody writes: a place to sleep when backing off. */
  idleWord: number;
  /**
   * Fail ("stalled") when no value has been consumed by anyone for this long:
   * a lost wake-up or a livelock stops progress for good, while a loaded
   * machine only slows it (a total-time limit would fail there instead).
   */
  stallMs: number;
}

export interface StressResult {
  role: string;
  id: number;
  count: number;
  sum: number;
  fails: number;
  error?: string;
}

const job = workerData as StressJob;
const mem = Memory.attach(job.sab);
const ring = Ring.attach(mem, job.ringOffset);
const total = job.producers * job.perProducer;
const buf = new Uint32Array(job.maxBurst);
let idle = 0;
let progressSeen = -1;
let progressAt = Date.now();

/** True when nothing was consumed (by any consumer) for job.stallMs; cold: every 1024 steps. */
function stalled(): boolean {
  const consumed = Atomics.load(mem.i32, job.consumedWord);
  const now = Date.now();
  if (consumed !== progressSeen) {
    progressSeen = consumed;
    progressAt = now;
    return false;
  }
  return now - progressAt > job.stallMs;
}
let fails = 0;

/** Ring full/empty: spin a little, then sleep briefly so other threads on our CPU run. */
function backoff(): void {
  fails++;
  if (++idle > 16) Atomics.wait(mem.i32, job.idleWord, 0, 0.05);
}

function run(): StressResult {
  let count = 0;
  let sum = 0;
  let step = 0;
  if (job.role === "producer") {
    const base = job.id * job.perProducer;
    let next = 0;
    while (next < job.perProducer) {
      if ((++step & 1023) === 0 && stalled()) return { role: job.role, id: job.id, count, sum, fails, error: `stalled: nothing consumed for ${job.stallMs} ms` };
      const n = Math.min(1 + (step % job.maxBurst), job.perProducer - next);
      for (let i = 0; i < n; i++) buf[i] = base + next + i;
      let got: number;
      switch (step % 3) {
        case 0:
          got = ring.enqueueBulk(buf, n);
          break;
        case 1:
          got = ring.enqueueBurst(buf, n);
          break;
        default:
          got = ring.enqueue(buf[0]!) ? 1 : 0;
      }
      if (got === 0) {
        backoff();
        continue;
      }
      idle = 0;
      for (let i = 0; i < got; i++) sum += buf[i]!;
      next += got;
      count += got;
    }
    return { role: job.role, id: job.id, count, sum, fails };
  }

  const seen = mem.u8;
  const last = new Float64Array(job.producers).fill(-1);
  for (;;) {
    if ((++step & 1023) === 0 && stalled()) return { role: job.role, id: job.id, count, sum, fails, error: `stalled: nothing consumed for ${job.stallMs} ms` };
    const n = 1 + (step % job.maxBurst);
    let got: number;
    switch (step % 3) {
      case 0:
        got = ring.dequeueBulk(buf, n);
        break;
      case 1:
        got = ring.dequeueBurst(buf, n);
        break;
      default: {
        const v = ring.dequeue();
        got = v < 0 ? 0 : 1;
        buf[0] = v;
      }
    }
    if (got === 0) {
      if (Atomics.load(mem.i32, job.consumedWord) >= total) break;
      backoff();
      continue;
    }
    idle = 0;
    for (let i = 0; i < got; i++) {
      const v = buf[i]!;
      if (v >= total) return { role: job.role, id: job.id, count, sum, fails, error: `value ${v} was never enqueued` };
      const p = Math.floor(v / job.perProducer);
      if (v <= last[p]!) return { role: job.role, id: job.id, count, sum, fails, error: `producer ${p}: ${v} after ${last[p]}` };
      last[p] = v;
      Atomics.add(seen, job.seenOffset + v, 1);
      sum += v;
    }
    count += got;
    Atomics.add(mem.i32, job.consumedWord, got);
  }
  return { role: job.role, id: job.id, count, sum, fails };
}

parentPort!.postMessage(run());
