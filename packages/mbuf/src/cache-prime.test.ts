import { describe, expect, it } from "vitest";
import { deoptsOf, tracePhases } from "@tpdk/testing/child";

// The built packages (dist/, as worker threads load them): the test command builds first.
const mbufUrl = new URL("../dist/index.js", import.meta.url).href;
const ealUrl = new URL("../../eal/dist/index.js", import.meta.url).href;

/** Both scripts' start: lcore 0's pool (cache 256) warmed by warmCache, and a burst array. */
const warmedPool = `
const { Memory, setLcoreId } = await import(${JSON.stringify(ealUrl)});
const { Mempool } = await import(${JSON.stringify(mbufUrl)});
const mem = Memory.create(32 << 20);
setLcoreId(0);
const a = Mempool.create(mem, "p", { n: 4096, cacheSize: 256 });
a.warmCache();
const m = new Uint32Array(64);
`;

/**
 * An lcore's pool warmed (warmCache) on one view, bursts through that view until optimized, then
 * through a second view of the same pool (as Mbufs attaches its own, by id): its first call's
 * cache() takes the lcore change.
 */
const script = `
${warmedPool}function burst(p) {
  if (p.getBulk(m, 32, 0) === 0) throw new Error("empty");
  p.putBulk(m, 32, 0);
}
for (let i = 0; i < 200000; i++) burst(a);
console.log("=== other view");
const b = Mempool.attachById(mem, a.id);
for (let i = 0; i < 200000; i++) burst(b);
console.log("=== done " + a.available());
`;

describe("Mempool.warmCache: the lcore change of another view", () => {
  it("a second view's first burst deoptimizes nothing (--trace-deopt: cache()'s lcore change has type feedback)", async () => {
    const { after } = await tracePhases(script, ["--trace-deopt"], "other view");
    expect(after).toContain("=== done 4096");
    expect(deoptsOf(after, /deoptimizing .*(cache|getBulk|putBulk|cacheGet|putRaw|burst)/)).toEqual([]);
  });
});

/**
 * The RX refill's takeCached (the objects read where they lie in the cache) after warmCache: steady
 * takes and puts of 32 keep the cache between its refill and its flush until optimized, then the
 * cache is emptied so the next take refills from the ring, the path steady traffic never reaches.
 */
const takeScript = `
${warmedPool}function burst(p) {
  const w = p.takeCached(32);
  if (w < 0) throw new Error("empty");
  for (let i = 0; i < 32; i++) m[i] = mem.u32[w + i];
  p.putBulk(m, 32, 0);
}
for (let i = 0; i < 200000; i++) burst(a);
console.log("=== short");
const held = new Uint32Array(1024);
let nh = 0;
while (a.cacheCount(0) >= 32) { a.getBulk(held, 32, nh); nh += 32; }
for (let i = 0; i < 1000; i++) burst(a);
// Back in bursts, as an lcore frees (one put of more than the cache size goes to the ring
// directly, a path no lcore loop takes: its own deopt, not the take's).
for (let o = 0; o < nh; o += 32) a.putBulk(held, 32, o);
console.log("=== done " + a.available());
`;

describe("Mempool.warmCache: takeCached's refill from the ring", () => {
  it("the first take that refills the cache deoptimizes nothing (--trace-deopt)", async () => {
    const { after } = await tracePhases(takeScript, ["--trace-deopt"], "short");
    expect(after).toContain("=== done 4096");
    expect(deoptsOf(after, /deoptimizing .*(cache|takeCached|getBulk|putBulk|cacheGet|putRaw|burst)/)).toEqual([]);
  });
});
