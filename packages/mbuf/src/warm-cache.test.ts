import { afterEach, describe, expect, it, vi } from "vitest";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { Mempool, WARM_CACHE_ROUNDS } from "./mempool.js";

afterEach(() => setLcoreId(LCORE_ID_ANY));

// The lcore cache's refill (cacheGet with the cache short) and flush (putRaw past the threshold)
// both run in every round, and every count is as before: the cache's, the ring's, in use.
describe("Mempool.warmCache", () => {
  const mem = Memory.create(32 << 20);
  let seq = 0;
  type Internals = { cacheGet(...a: unknown[]): number; putRaw(...a: unknown[]): void };
  const proto = Mempool.prototype as unknown as Internals;

  it.each([0, 5, 31, 47])("runs the refill and the flush in every round, cache starting with %i objects; every count as before (debug pool)", (start) => {
    const p = Mempool.create(mem, `wc${seq++}`, { n: 1024, cacheSize: 32, dataRoomSize: 64, debug: true });
    setLcoreId(2);
    // 64 taken (more than the cache size: straight from the ring), `start` of them put back into the cache
    // (in puts of at most the cache size, below the flush threshold), the rest kept in use.
    const a = new Uint32Array(64);
    expect(p.getBulk(a, 64)).toBe(64);
    for (let off = 0; off < start; off += 32) p.putBulk(a, Math.min(32, start - off), off);
    const counts = [p.cacheCount(2), p.ringCount(), p.inUse()];
    expect(counts).toEqual([start, 1024 - 64, 64 - start]);
    const get = vi.spyOn(proto, "cacheGet");
    const put = vi.spyOn(proto, "putRaw");
    const ringDequeues: number[] = [];
    const ringEnqueues: number[] = [];
    try {
      const ring = (p as unknown as { ring: { dequeueBulk(...x: unknown[]): number; enqueueBulk(...x: unknown[]): number } }).ring;
      const deq = ring.dequeueBulk.bind(ring);
      const enq = ring.enqueueBulk.bind(ring);
      ring.dequeueBulk = (...x: unknown[]) => (ringDequeues.push(x[1] as number), deq(...x));
      ring.enqueueBulk = (...x: unknown[]) => (ringEnqueues.push(x[1] as number), enq(...x));
      expect(p.warmCache()).toBe(WARM_CACHE_ROUNDS);
      // Refills of 1 + cacheSize and flushes down to cacheSize, at least one of each per round.
      expect(ringDequeues.filter((k) => k === 33).length).toBeGreaterThanOrEqual(WARM_CACHE_ROUNDS);
      expect(ringEnqueues.length).toBeGreaterThanOrEqual(WARM_CACHE_ROUNDS);
      expect(get).toHaveBeenCalled();
      expect(put).toHaveBeenCalled();
    } finally {
      get.mockRestore();
      put.mockRestore();
    }
    expect([p.cacheCount(2), p.ringCount(), p.inUse()]).toEqual(counts);
    p.putBulk(a, 64 - start, start);
    expect(p.ringCount() + p.cacheCount(2)).toBe(1024);
  });

  it("leaves a pool without caches, or a thread without an lcore cache, as it is", () => {
    const p = Mempool.create(mem, `wc${seq++}`, { n: 256, cacheSize: 0, dataRoomSize: 64 });
    setLcoreId(1);
    expect(p.warmCache()).toBe(0);
    expect(p.ringCount()).toBe(256);
    const q = Mempool.create(mem, `wc${seq++}`, { n: 256, cacheSize: 32, dataRoomSize: 64 });
    setLcoreId(LCORE_ID_ANY);
    expect(q.warmCache()).toBe(0);
    expect(q.ringCount()).toBe(256);
  });

  it("a nearly empty pool: as many rounds as it can, counts as before", () => {
    const p = Mempool.create(mem, `wc${seq++}`, { n: 64, cacheSize: 32, dataRoomSize: 64, debug: true });
    setLcoreId(4);
    const a = new Uint32Array(64);
    expect(p.getBulk(a, 40)).toBe(40); // 40 out of the ring directly (more than the cache size)
    const counts = [p.cacheCount(4), p.ringCount(), p.inUse()];
    expect(p.warmCache()).toBe(0); // 24 free: never twice the cache size, so no flush
    expect([p.cacheCount(4), p.ringCount(), p.inUse()]).toEqual(counts);
  });
});
