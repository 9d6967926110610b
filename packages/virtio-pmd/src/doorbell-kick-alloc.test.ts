import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild } from "@tpdk/testing/child";
import { RIG_URL } from "@tpdk/testing/virtio-pmd";

/**
 * QueueBase.kick through the built-in device's doorbell (no kick-fd words: the pipeline's device
 * thread): 200k kicks (EVENT_IDX off: every publish kicks) after 50k that optimize the kick, measured
 * with a GC observer and the heap's growth, as kick-fd.test.ts measures the eventfd path; up to three
 * windows, so that a scavenge the bookkeeping around a window happens to trigger does not count,
 * while a kick that allocates fails all three. Prints { gcs, grown, rung } of the last window.
 */
const script = `
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
const { txBoundRig } = await import(${JSON.stringify(RIG_URL)});
const r = txBoundRig({ pmd: { eventIdx: false } });
const q = r.txq;
const bell = () => Atomics.load(r.mem.i32, r.dev.doorbell >>> 2);
const run = (k) => { for (let i = 0; i < k; i++) q.kick(1); };
run(50_000);
let rung = -1;
${GC_WINDOW_JS}
const { gcs, value: grown } = await gcWindow(() => {
  const b0 = bell();
  const before = getHeapStatistics().used_heap_size;
  run(200_000);
  const grown = getHeapStatistics().used_heap_size - before;
  rung = (bell() - b0) | 0;
  return grown;
}, (grown) => grown < 256 * 1024, 3, false); // used_heap_size: no full collection first (gcWindow)
r.port.stop();
console.log(JSON.stringify({ gcs, grown, rung }));
`;

/**
 * The GC target (no collection in any measured window on any thread). The built-in device's doorbell
 * kick notified with an Atomics.notify count of Infinity: optimized code boxes a double it passes to
 * the builtin in a new HeapNumber, at every kick (~2,000 a second on the pipeline's lcore, its steady
 * garbage: bench README "Session 22: GC"); the count is now undefined (every waiter, as Infinity).
 * 200k kicks allocating one 16-byte number each would be 3.2 MB and at least one scavenge.
 */
describe("kicks through the built-in device's doorbell", () => {
  it("the kick path allocates nothing: 200k kicks, no GC and no heap growth (a child process)", async () => {
    const r = await runChild(script);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; grown: number; rung: number };
    expect(out.rung).toBe(200_000);
    expect(out.gcs).toBe(0);
    expect(out.grown).toBeLessThan(256 * 1024);
  }, 90_000);
});
