import { describe, expect, it } from "vitest";
import { deoptsOf, tracePhases } from "@tpdk/testing/child";

// The built packages (dist/, as worker threads load them): the test command builds first.
const ealUrl = new URL("../../eal/dist/index.js", import.meta.url).href;
const mbufUrl = new URL("../../mbuf/dist/index.js", import.meta.url).href;
const stepsUrl = new URL("../dist/frame-steps.js", import.meta.url).href;

/**
 * A reclaim as the IN_ORDER TX queues run it (txq.ts reclaimInOrder, packed-txq.ts): a FreeBatcher
 * add per reclaimed mbuf, then one flush. 100,000 reclaims that each leave one kind held at the
 * flush (`first`), then reclaims that leave the other (`then`): flush's other branch runs for the
 * first time in the optimized reclaim. Each adds 64 slow mbufs (add frees them itself at the 64th),
 * then 16 fast ones ("both": flush holds only fast ones) or 16 slow ones ("slow": only slow ones).
 * Before slow-only reclaims a second batcher takes 1,600 fast mbufs through add alone (add's fast
 * branch and its fastFreeBulk fed, flush's not), its last batch flushed at the end.
 */
const script = (first: string, then: string): string => `
const { Memory, setLcoreId } = await import(${JSON.stringify(ealUrl)});
const { Mempool, Mbufs } = await import(${JSON.stringify(mbufUrl)});
const { FreeBatcher } = await import(${JSON.stringify(stepsUrl)});
const mem = Memory.create(32 << 20);
setLcoreId(0);
const pool = Mempool.create(mem, "p", { n: 4096, cacheSize: 256 });
pool.warmCache();
const mbufs = new Mbufs(mem);
const batcher = new FreeBatcher(mbufs);
const arr = new Uint32Array(128);
let id = 0;
// 64 slow mbufs (add frees them itself at the 64th), then 16 more: slow ones ("slow") or fast ones ("both").
function reclaim(held) {
  if (pool.getBulk(arr, 80, 0) === 0) throw new Error("empty");
  if (id === 0) id = mbufs.poolId(arr[0]);
  const fp = held === "slow" ? 0 : id;
  for (let i = 0; i < 64; i++) batcher.add(arr[i], 0);
  for (let i = 64; i < 80; i++) batcher.add(arr[i], fp);
  batcher.flush();
}
const side = new FreeBatcher(mbufs);
if (${JSON.stringify(first)} === "slow") {
  for (let i = 0; i < 100; i++) {
    if (pool.getBulk(arr, 16, 0) === 0) throw new Error("empty");
    id = mbufs.poolId(arr[0]);
    for (let j = 0; j < 16; j++) side.add(arr[j], id);
  }
}
for (let i = 0; i < 100000; i++) reclaim(${JSON.stringify(first)});
console.log("=== other");
for (let i = 0; i < 1000; i++) reclaim(${JSON.stringify(then)});
side.flush();
console.log("=== done " + pool.available());
`;

/**
 * FreeBatcher.flush frees what a reclaim left in its two batches, each branch run only when that
 * batch is not empty. A run whose reclaims left one kind until the reclaim was optimized, then the
 * other, deoptimized it ("Insufficient type feedback for generic named access", frame-steps.js
 * flush inlined in txq.js reclaimInOrder, ~0.1 s after traffic start in pipeline runs: bench README
 * "Session 20: GC", "Session 21: GC"). Its first flushes now run both branches (FREE_PRIMES).
 */
describe("FreeBatcher.flush: the batch kind first held late", () => {
  it.each([
    ["the slow batch after reclaims that held only fast ones", "both", "slow"],
    ["the fast batch after reclaims that held only slow ones", "slow", "both"],
  ])("%s deoptimizes nothing (--trace-deopt), every mbuf back", async (_name, first, then) => {
    const { after } = await tracePhases(script(first, then), ["--trace-opt", "--trace-deopt"], "other");
    expect(after).toContain("=== done 4096");
    expect(deoptsOf(after, /deoptimizing .*<JSFunction (reclaim|flush|add|freeBulk|fastFreeBulk)\b/)).toEqual([]);
  }, 60_000);
});
