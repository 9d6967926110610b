import { describe, expect, it } from "vitest";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { deoptsOf, tracePhases } from "@tpdk/testing/child";
import { Mbufs } from "./mbufs.js";
import { Mempool } from "./mempool.js";

// The built packages (dist/, as worker threads load them): the test command builds first.
const mbufUrl = new URL("../dist/index.js", import.meta.url).href;
const ealUrl = new URL("../../eal/dist/index.js", import.meta.url).href;

/**
 * Two Mbufs views of one thread (as each queue and the lcore loop make their own), both made after
 * the pool: frees through the first until the freeing function is optimized, then the first free
 * through the second (l2fwd's own view frees first at the first full TX ring, seconds into a run).
 * Before, each view attached a pool at its first free of one of its mbufs, and that first miss,
 * in code optimized with only hits, deoptimized it.
 */
const script = `
const { Memory, setLcoreId } = await import(${JSON.stringify(ealUrl)});
const { Mempool, Mbufs } = await import(${JSON.stringify(mbufUrl)});
const mem = Memory.create(32 << 20);
setLcoreId(0);
const pool = Mempool.create(mem, "p", { n: 4096, cacheSize: 256 });
pool.warmCache();
const a = new Mbufs(mem);
const b = new Mbufs(mem);
const arr = new Uint32Array(64);
function burst(mb) {
  if (pool.getBulk(arr, 32, 0) === 0) throw new Error("empty");
  mb.freeBulk(arr, 32);
}
for (let i = 0; i < 200000; i++) burst(a);
console.log("=== other view");
for (let i = 0; i < 1000; i++) burst(b);
console.log("=== done " + pool.available());
`;

describe("Mbufs: the pools built before it", () => {
  it("are attached when it is made: a view's first free deoptimizes nothing (--trace-deopt)", async () => {
    const { after } = await tracePhases(script, ["--trace-opt", "--trace-deopt"], "other view");
    expect(after).toContain("=== done 4096");
    expect(deoptsOf(after, /deoptimizing .*(burst|freeBulk|pool|putBulk)/)).toEqual([]);
  });

  it("a pool built after the view is still attached at its first free", () => {
    setLcoreId(LCORE_ID_ANY);
    const mem = Memory.create(16 << 20);
    const early = Mempool.create(mem, "early", { n: 64, cacheSize: 0 });
    const mb = new Mbufs(mem);
    const late = Mempool.create(mem, "late", { n: 64, cacheSize: 0 });
    const arr = new Uint32Array(2);
    arr[0] = early.alloc();
    arr[1] = late.alloc();
    expect([early.available(), late.available()]).toEqual([63, 63]);
    mb.freeBulk(arr, 2);
    expect([early.available(), late.available()]).toEqual([64, 64]);
  });
});
