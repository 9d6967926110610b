/**
 * The fuzz batches' thread (started by fuzz-supervisor.ts): runs one batch
 * per request, reporting each scenario before it runs, so that a run that
 * never returns (a hang) is caught by the supervisor and reported with its
 * scenario and seed.
 *   in:  { side, seed, runs, shrinkMs }
 *   out: { type: "run", scenario } per run; { type: "done", numRuns, failure, stats }
 */
import { parentPort } from "node:worker_threads";
import { type FuzzSide, newFuzzStats, runBatch } from "./fuzz.js";

const port = parentPort!;
port.on("message", (m: { side: FuzzSide; seed: number; runs: number; shrinkMs: number }) => {
  const stats = newFuzzStats();
  const r = runBatch(m.side, m.seed, m.runs, stats, m.shrinkMs, (scenario) => port.postMessage({ type: "run", scenario }));
  port.postMessage({ type: "done", numRuns: r.numRuns, failure: r.failure, stats });
});
