/** line-move.ts's echo: pinned to its CPU, answers each odd ball v + 1 with v + 2 until told to stop. */
import { parentPort, workerData } from "node:worker_threads";
import { pinCurrentThread } from "@tpdk/eal";

const { line, cpu } = workerData as { line: Int32Array; cpu: number };
const pinned = pinCurrentThread(cpu).pinned;
parentPort?.postMessage({ pinned });
while (Atomics.load(line, 1) === 0) {
  const v = Atomics.load(line, 0);
  if ((v & 1) === 1) Atomics.store(line, 0, (v + 1) & 0x3fffffff);
}
