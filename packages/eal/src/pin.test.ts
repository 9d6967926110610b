// Pinning without a fork. The `taskset` fallback forks the process, and a fork leaves every private
// page the process wrote copy-on-write: the next write to each takes a page fault (on a VM ~10 us a
// page; apps/l2fwd README, "Start"). With the addon the pin is one sched_setaffinity. Each case pins
// a worker thread of its own (never the test runner's thread); workers load dist/ (build first).
import { native, nativeMissingReason } from "@tpdk/native";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

const PIN_URL = new URL("../dist/pin.js", import.meta.url).href;
const PAGES = 4096;

interface Outcome {
  pin: { pinned: boolean; affinity: string; reason?: string };
  /** Minor faults writing one word of each of PAGES pages: first touch, again, after the pin. */
  first: number;
  again: number;
  afterPin: number;
}

/** Pin a new worker thread to `cpu` (with or without the addon) and measure page faults around it. */
function pinInWorker(cpu: number, withAddon: boolean): Promise<Outcome> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    import(workerData.url).then(({ pinCurrentThread }) => {
      const u32 = new Int32Array(new SharedArrayBuffer(${PAGES} * 4096));
      const faults = () => {
        const before = process.resourceUsage().minorPageFault;
        for (let p = 0; p < ${PAGES}; p++) u32[p * 1024] = p;
        return process.resourceUsage().minorPageFault - before;
      };
      const first = faults();
      const again = faults();
      const r = pinCurrentThread(workerData.cpu);
      const afterPin = faults();
      parentPort.postMessage({ pin: { pinned: r.pinned, affinity: r.affinity, reason: r.reason }, first, again, afterPin });
    });`;
  const env = { ...process.env, TPDK_NATIVE_DISABLE: withAddon ? "" : "1" };
  const w = new Worker(code, { eval: true, workerData: { url: PIN_URL, cpu }, env });
  return new Promise((resolve, reject) => {
    w.once("message", (m: Outcome) => void w.terminate().then(() => resolve(m)));
    w.once("error", reject);
  });
}

describe.skipIf(native === null)(`pinCurrentThread${native === null ? ` (skipped: the addon is missing: ${nativeMissingReason})` : ""}`, () => {
  it("with the addon: pinned to the CPU asked, and no page written before the pin faults after it", async () => {
    const r = await pinInWorker(0, true);
    expect(r.pin, JSON.stringify(r)).toMatchObject({ pinned: true, affinity: "0" });
    expect(r.first).toBeGreaterThanOrEqual(PAGES / 2); // the measure sees first-touch faults
    expect(r.afterPin, JSON.stringify(r)).toBeLessThan(PAGES / 8);
  });

  it("without it (taskset, a fork): pinned too, and every page faults again (why the addon pins)", async () => {
    const r = await pinInWorker(0, false);
    if (!r.pin.pinned) expect(r.pin.reason).toMatch(/taskset/);
    else expect(r.afterPin, JSON.stringify(r)).toBeGreaterThanOrEqual(PAGES / 2);
  });

  it("a CPU this process may not use: unpinned, with the reason", async () => {
    const r = await pinInWorker(4095, true);
    expect(r.pin.pinned).toBe(false);
    expect(r.pin.reason).toMatch(/4095/);
  });
});
