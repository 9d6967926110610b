import type { Mempool } from "@tpdk/mbuf";

/** Drain-refill-flush rounds: more than the calls after which V8 gives a function its feedback vector (8). */
export const POOL_PRIME_ROUNDS = 16;

/**
 * Run the mempool cache's two rare paths on this lcore, so that they have
 * type feedback before the forwarding loop's hot functions (refillRing and
 * the TX reclaim, which inline them) are optimized: the refill from the
 * ring when the cache runs short (cacheGet) and the flush to the ring when
 * it passes its threshold (putRaw). In steady state the cache's length can
 * stay between the two for seconds; the first time it leaves, the optimized
 * code that inlined the untried path was deoptimized ("insufficient type
 * feedback", traced in the window of packed vhost-user runs), and the
 * bursts interpreted until it was optimized again boxed their Float64
 * counters: garbage, a scavenge on the lcore (bench/README.md, "Session
 * 11: GC").
 *
 * Each round empties this lcore's cache into `held` (served by the cache),
 * takes one more object (the refill: the ring's objects into the cache),
 * repeats until it holds twice the cache size, then puts everything back in
 * chunks of at most the cache size (the cache passes 1.5 x its size: the
 * flush). Every object taken is put back: the pool is as full as before,
 * only split differently between the ring and the cache. A pool without
 * caches, or with too few free objects, is left as it is (returns the
 * rounds in which both paths ran).
 */
export function primePoolCache(pool: Mempool, lcore: number, rounds = POOL_PRIME_ROUNDS): number {
  const cs = pool.cacheSize;
  if (cs === 0) return 0;
  const held = new Uint32Array(2 * cs + cs);
  let both = 0;
  for (let r = 0; r < rounds; r++) {
    let nh = 0;
    let refills = 0;
    while (nh < 2 * cs) {
      // Empty the cache, in chunks it serves by itself.
      for (let c = pool.cacheCount(lcore); c > 0 && nh + c <= held.length; ) {
        const k = c < cs ? c : cs;
        if (pool.getBulk(held, k, nh) === 0) break;
        nh += k;
        c -= k;
      }
      if (pool.cacheCount(lcore) !== 0 || nh >= held.length) break;
      // The cache is empty: one more object comes through the refill.
      if (pool.getBulk(held, 1, nh) === 0) break;
      nh++;
      // Nothing came into the cache: not this thread's lcore cache, or a pool nearly empty.
      if (pool.cacheCount(lcore) === 0) break;
      refills++;
    }
    const flushed = nh >= 2 * cs;
    for (let off = 0; off < nh; ) {
      const k = nh - off < cs ? nh - off : cs;
      pool.putBulk(held, k, off);
      off += k;
    }
    if (refills !== 0 && flushed) both++;
  }
  return both;
}
