import { Worker } from "node:worker_threads";
import type { FuzzFailure, FuzzOptions, FuzzResult, FuzzSide, FuzzStats } from "./fuzz.js";
import { FUZZ_SIDES, newFuzzStats, noRuns } from "./fuzz.js";

// The compiled worker: the same relative path from src/lib and dist/lib.
const WORKER = new URL("../../dist/lib/fuzz-worker.js", import.meta.url);

export interface SupervisedFuzzOptions extends FuzzOptions {
  /** A run silent this long is a hang (ms, default 30 s; a run normally takes well under 100 ms). */
  hangMs?: number;
  /** Shrinking budget for a failure (ms, default 60 s). */
  shrinkMs?: number;
}

/**
 * runFuzz with hang detection: the batches run in a worker thread that
 * reports every scenario before running it; a run that does not return
 * within hangMs is a failure ("hang"), reported with the batch seed and the
 * scenario that hung, and the worker is terminated.
 */
export async function superviseFuzz(o: SupervisedFuzzOptions): Promise<FuzzResult> {
  const log = o.log ?? (() => {});
  const runsPer = o.runsPerBatch ?? 25;
  const hangMs = o.hangMs ?? 30_000;
  const end = performance.now() + o.seconds * 1000;
  const runs = noRuns();
  const stats = newFuzzStats();
  const worker = new Worker(WORKER);
  let b = 0;
  let nextLog = performance.now() + 5000;
  try {
    const minBatches = o.minBatches ?? 1;
    while ((b < minBatches || performance.now() < end) && (o.maxBatches === undefined || b < o.maxBatches)) {
      const side = o.sides[b % o.sides.length]!;
      const seed = (o.seed + b) >>> 0;
      const r = await oneBatch(worker, { side, seed, runs: runsPer, shrinkMs: o.shrinkMs ?? 60_000 }, hangMs);
      b++;
      runs[side] += r.numRuns;
      addStats(stats, r.stats);
      if (r.failure) return { batches: b, runs, seeds: [o.seed >>> 0, seed], failure: r.failure, stats };
      if (performance.now() >= nextLog) {
        nextLog += 5000;
        log(`fuzz: ${b} batches, ${o.sides.map((sd) => `${runs[sd]} ${sd} runs`).join(", ")}, no failure`);
      }
    }
    return { batches: b, runs, seeds: [o.seed >>> 0, (o.seed + b - 1) >>> 0], failure: null, stats };
  } finally {
    await worker.terminate();
  }
}

interface Done {
  numRuns: number;
  failure: FuzzFailure | null;
  stats: FuzzStats;
}

function oneBatch(worker: Worker, req: { side: FuzzSide; seed: number; runs: number; shrinkMs: number }, hangMs: number): Promise<Done> {
  return new Promise((resolve, reject) => {
    let last: unknown = null;
    let runsSeen = 0;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cleanup();
        resolve({
          numRuns: runsSeen,
          stats: newFuzzStats(),
          failure: {
            side: req.side,
            seed: req.seed,
            runs: req.runs,
            report: `hang: run ${runsSeen} of the batch did not return within ${hangMs} ms (the scenario below)`,
            counterexample: last,
          },
        });
      }, hangMs);
    };
    const onMessage = (m: { type: "run"; scenario: unknown } | ({ type: "done" } & Done)): void => {
      if (m.type === "run") {
        last = m.scenario;
        runsSeen++;
        arm();
      } else {
        cleanup();
        resolve(m);
      }
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("error", onError);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    arm();
    worker.postMessage(req);
  });
}

function addStats(into: FuzzStats, s: FuzzStats): void {
  for (const side of FUZZ_SIDES) {
    const a = into[side] as unknown as Record<string, number>;
    const b = s[side] as unknown as Record<string, number>;
    for (const k of Object.keys(b)) a[k] = (a[k] ?? 0) + b[k]!;
  }
}
