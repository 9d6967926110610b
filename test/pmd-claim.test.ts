// One queue object per queue, across threads: the driver's ring indices live
// in the object that drives the queue, so a second object (another thread
// taking the queue over) is refused with EBUSY until the first detaches; then
// the new owner drives the ring from where the old one left it.
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { distUrl } from "@tpdk/testing/e2e";
import { frame, rig } from "@tpdk/testing/virtio-pmd";

const EAL_URL = distUrl("@tpdk/eal");
const PMD_URL = distUrl("@tpdk/virtio-pmd");

/** A thread that attaches rx queue 0 of port 0 and bursts once: reports the error code or what it received. */
const LCORE = `
const { workerData, parentPort } = require("node:worker_threads");
(async () => {
  const { Memory } = await import(workerData.ealUrl);
  const { RxQueue } = await import(workerData.pmdUrl);
  const mem = Memory.attach(workerData.sab);
  try {
    const q = RxQueue.attach(mem, 0, 0);
    const arr = new Uint32Array(8);
    const n = q.rxBurst(arr, 8);
    q.detach();
    parentPort.postMessage({ n, mbufs: Array.from(arr.subarray(0, n)) });
  } catch (e) {
    parentPort.postMessage({ code: e.code, message: e.message });
  }
})();
`;

function inThread(sab: SharedArrayBuffer): Promise<{ code?: string; message?: string; n?: number; mbufs?: number[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LCORE, { eval: true, workerData: { ealUrl: EAL_URL, pmdUrl: PMD_URL, sab } });
    const timer = setTimeout(() => void w.terminate().then(() => reject(new Error("worker did not answer in 10 s"))), 10_000);
    w.once("message", (m) => {
      clearTimeout(timer);
      void w.terminate().then(() => resolve(m));
    });
    w.once("error", reject);
  });
}

describe("a queue taken over by another thread", () => {
  it("is refused (EBUSY) while this thread's object holds it; after detach() the other thread drives it", async () => {
    const r = rig();
    const busy = await inThread(r.mem.sab);
    expect(busy.code).toBe("EBUSY");
    expect(busy.message).toMatch(/rx queue 0 of port 0 is already driven by another queue object/);
    r.dev.deliver(r.rxVq, frame(64, 1), r.hdr, true);
    r.dev.publishUsed(r.rxVq);
    r.rxq.detach();
    const got = await inThread(r.mem.sab);
    expect(got.n).toBe(1);
    for (const m of got.mbufs!) r.mbufs.free(m);
    r.port.stop();
    expect(r.pool.available()).toBe(r.pool.size);
  });
});
