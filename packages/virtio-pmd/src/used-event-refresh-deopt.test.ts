import { describe, expect, it } from "vitest";
import { doneCounts, optimized, tracePhases } from "@tpdk/testing/child";
import { RIG_URL, dataPathDeopts } from "@tpdk/testing/virtio-pmd";

/**
 * Split ring, push, burst 1, EVENT_IDX (the rig's device offers it), IN_ORDER or not: one 60 B frame
 * received and sent per round, the device using every TX descriptor at once; 10,000 rounds (rxBurst
 * and txBurst optimized: 3,000 were not always enough for the concurrent compile to finish under a
 * loaded CI), then 40,000 more: past USED_EVENT_REFRESH (16,384) entries, where rxBurst moves
 * used_event again. Run with --no-turbo-inlining so a deopt names the driver's
 * function, as in the pipeline (l2fwdLoop calls rxBurst un-inlined).
 */
const script = (inOrder: boolean): string => `
const { rig, frame } = await import(${JSON.stringify(RIG_URL)});
const r = rig({ rxDesc: 256, txDesc: 256, poolSize: 4096, pmd: { mrgRxbuf: false, inOrder: ${inOrder}, txMode: "push" } });
const arr = new Uint32Array(64);
let sent = 0;
let dropped = 0;
function round(i) {
  if (!r.dev.deliver(r.rxVq, frame(60, i), r.hdr, false)) throw new Error("no RX buffer");
  r.dev.publishUsed(r.rxVq);
  const k = r.rxq.rxBurst(arr, 1);
  if (k !== 1) throw new Error("received " + k);
  const s = r.txq.txBurst(arr, 1, 0);
  sent += s;
  for (let j = s; j < k; j++) { r.mbufs.free(arr[j]); dropped++; }
  r.dev.drainTx(r.txVq);
}
for (let i = 0; i < 10000; i++) round(i);
console.log("=== refresh");
for (let i = 0; i < 40000; i++) round(i);
console.log("=== done sent " + sent + " dropped " + dropped);
`;

/**
 * rxBurst's moveUsedEvent call ran at the first burst (before rxBurst had type feedback) and next
 * after USED_EVENT_REFRESH entries, in the optimized rxBurst: --trace-deopt showed "Insufficient
 * type feedback for generic named access" in rxBurst, 72 times in 36 traced pipeline runs (bench
 * README "Session 17: GC"). It now also runs while statPrimes lasts (rxq.ts: the IN_ORDER batch's
 * rare-counter branch, and the general walk for a queue without IN_ORDER, where the batch never
 * runs: session 21 found the deopt in every in_order=0 pipeline configuration; txq.ts primes
 * reclaim's twin the same way).
 */
describe("used_event refreshed after steady traffic", () => {
  it.each([
    ["IN_ORDER", true],
    ["without IN_ORDER (the general walk)", false],
  ])("split %s push at burst 1: deoptimizes nothing on the data path, every frame sent", async (_name, inOrder) => {
    const { before, after } = await tracePhases(script(inOrder), ["--trace-opt", "--trace-deopt", "--no-turbo-inlining"], "refresh");
    expect(doneCounts(after)).toEqual({ sent: 50000, dropped: 0 });
    expect(optimized(before, "rxBurst")).toBe(true);
    expect(dataPathDeopts(after)).toEqual([]);
  }, 60_000);
});
