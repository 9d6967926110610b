import { describe, expect, it } from "vitest";
import { GC_WINDOW_JS, runChild, V8_TIERS_JS, YOUNG_HEAP_JS } from "@tpdk/testing/child";
import { RIG_URL } from "@tpdk/testing/virtio-pmd";

/**
 * The kick path as a loaded lcore runs it for its first ~10 s: the publish that decides to kick is
 * optimized and inlines kickOrPrime, while kick() itself, called once per 2^16 entries of a ring,
 * is neither inlined (V8 leaves out calls that rare) nor optimized yet (it runs in baseline code).
 * Here kick() is kept unoptimized with natives syntax and kickOrPrime(true) is called from an
 * optimized loop (EVENT_IDX off, the built-in device's doorbell). The young generation's growth
 * (YOUNG_HEAP_JS) is read over 2,000 kicks and over 20,000; the 18,000 more must add under 4 KB. Not
 * used_heap_size: under Node 26 on a loaded machine it moved by a compile's code (12-18 KB) and once by
 * 320,192 B (CI, 2026-12-07 05:29 UTC), with no kick allocating: the old spaces' figure moves by hundreds
 * of KB inside a window without a GC (session 35: -440,744 B in a loaded run whose young generation grew
 * 208 B). A window with a GC or over the limit is read again (up to three tries): a scavenge the
 * bookkeeping triggers would hide an allocation, and a kick that allocates fails all three. Prints { gcs, extra, optimized, counted }.
 */
const script = `
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
const { txBoundRig } = await import(${JSON.stringify(RIG_URL)});
const r = txBoundRig({ pmd: { eventIdx: false } });
const q = r.txq;
let proto = Object.getPrototypeOf(q);
while (!Object.prototype.hasOwnProperty.call(proto, "kick")) proto = Object.getPrototypeOf(proto);
%NeverOptimizeFunction(proto.kick);
function publishKicks(k) { for (let i = 0; i < k; i++) q.kickOrPrime(true); }
%PrepareFunctionForOptimization(publishKicks);
publishKicks(200); publishKicks(200);
%OptimizeFunctionOnNextCall(publishKicks);
publishKicks(10);
const kicks = () => r.port.xstats().find((s) => s.name === "tx_q0_kicks").value;
${YOUNG_HEAP_JS}
youngGrownBy(publishKicks, 2_000); // the first read's own one-time allocation is not the kicks'
const k0 = kicks();
${GC_WINDOW_JS}
${V8_TIERS_JS}
const { gcs, value: extra } = await gcWindow(() => youngGrownBy(publishKicks, 20_000) - youngGrownBy(publishKicks, 2_000), (v) => v < 4096);
const counted = kicks() - k0;
const optimized = isTurboFanned(publishKicks) && !isOptimized(proto.kick);
r.port.stop();
console.log(JSON.stringify({ gcs, extra, optimized, counted }));
`;

/**
 * The GC target (no collection in any measured window on any thread). kick() added to the queue's
 * kick counter (a Float64Array element): in baseline code a Float64Array read-modify-write allocates
 * two HeapNumbers (32 B) whatever the value, and the pipeline's lcore kicks a few hundred times a
 * second in kick()'s baseline code (bench README "Session 23: GC"). The count is now kickOrPrime's,
 * in the caller's optimized code. 18,000 kicks at 32 B would be 576 KB.
 */
describe("the kick count", () => {
  it("is added in the optimized caller: 18,000 kicks through an unoptimized kick(), under 4 KB more young generation and no GC (a child process)", async () => {
    const r = await runChild(script, ["--allow-natives-syntax", "--expose-gc"], 90_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gcs: number; extra: number; optimized: boolean; counted: number };
    expect(out.optimized).toBe(true);
    expect(out.counted).toBeGreaterThan(0);
    expect(out.counted % 22_000).toBe(0); // every kick counted: 22,000 per window read (at most 3)
    expect(out.gcs).toBe(0);
    expect(out.extra).toBeLessThan(4096);
  }, 90_000);
});
