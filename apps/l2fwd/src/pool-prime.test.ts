import { afterEach, describe, expect, it, vi } from "vitest";
import { LCORE_ID_ANY, Memory, setLcoreId } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import { POOL_PRIME_ROUNDS, primePoolCache } from "./pool-prime.js";

afterEach(() => setLcoreId(LCORE_ID_ANY));

// The lcore cache's refill (cacheGet with the cache short) and flush (putRaw past the threshold)
// both run in every round, and every object comes back: the pool is as full as before.
describe("primePoolCache", () => {
  const mem = Memory.create(32 << 20);
  let seq = 0;
  type Internals = { cacheGet(...a: unknown[]): number; putRaw(...a: unknown[]): void };
  const proto = Mempool.prototype as unknown as Internals;

  it.each([0, 5, 40])("runs the refill and the flush in every round, cache starting with %i objects; nothing kept, nothing lost (debug pool)", (start) => {
    const p = Mempool.create(mem, `pp${seq++}`, { n: 1024, cacheSize: 32, dataRoomSize: 64, debug: true });
    setLcoreId(2);
    // Some objects in this lcore's cache to begin with (a put of `start` in one go stays cached up to the threshold).
    const a = new Uint32Array(64);
    if (start !== 0) {
      expect(p.getBulk(a, start)).toBe(start);
      p.putBulk(a, start);
    }
    const inUse = p.inUse();
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
      expect(primePoolCache(p, 2)).toBe(POOL_PRIME_ROUNDS);
      // Refills of 1 + cacheSize and flushes down to cacheSize, at least one of each per round.
      expect(ringDequeues.filter((k) => k === 33).length).toBeGreaterThanOrEqual(POOL_PRIME_ROUNDS);
      expect(ringEnqueues.length).toBeGreaterThanOrEqual(POOL_PRIME_ROUNDS);
      expect(get).toHaveBeenCalled();
      expect(put).toHaveBeenCalled();
    } finally {
      get.mockRestore();
      put.mockRestore();
    }
    expect(p.inUse()).toBe(inUse);
    expect(p.ringCount() + p.cacheCount(2)).toBe(1024);
  });

  it("leaves a pool without caches, or a thread without an lcore cache, as it is", () => {
    const p = Mempool.create(mem, `pp${seq++}`, { n: 256, cacheSize: 0, dataRoomSize: 64 });
    setLcoreId(1);
    expect(primePoolCache(p, 1)).toBe(0);
    expect(p.ringCount()).toBe(256);
    const q = Mempool.create(mem, `pp${seq++}`, { n: 256, cacheSize: 32, dataRoomSize: 64 });
    setLcoreId(LCORE_ID_ANY);
    expect(primePoolCache(q, 0)).toBe(0);
    expect(q.ringCount()).toBe(256);
  });
});
