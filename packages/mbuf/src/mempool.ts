// Over 400 lines on purpose: the pool and its per-lcore caches are one concept (rte_mempool), and the
// alloc/free fast paths must see the cache fields directly; cold validation sits beside them.
import { MAX_LCORE, TpdkError, align, lcoreId, type Memory } from "@tpdk/eal";
import { RING_F_EXACT_SZ, Ring } from "@tpdk/ring";
import * as L from "./layout.js";
import { allocPoolId, poolOffsetById, publishPoolId } from "./pool-ids.js";
import { resetMbuf } from "./reset.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  CACHE_OBJS, MBUF_DEFAULT_BUF_SIZE, MBUF_FREE, MBUF_HDR, MBUF_IN_USE, MEMPOOL_CACHE_MAX_SIZE, M_BUF_ADDR,
  M_BUF_LEN, M_POOL_ID, M_REFCNT, M_STATE, POOL_F_DEBUG, POOL_HDR, POOL_MAGIC, POOL_NAME_MAX,
  POOL_ZONE_PREFIX, P_CACHES_OFF, P_CACHE_CAP, P_CACHE_SIZE, P_CACHE_STRIDE, P_DATA_ROOM, P_ELT_SIZE,
  P_FLAGS, P_FLUSH_THRESH, P_ID, P_MAGIC, P_MBUFS_OFF, P_NAME, P_NAME_BYTES, P_RING_OFF, P_SIZE,
  flushThreshold,
} = L;

/** warmCache's drain-refill-flush rounds: more than the calls after which V8 gives a function its feedback vector (8). */
export const WARM_CACHE_ROUNDS = 16;

export interface MempoolOptions {
  /** Number of mbufs (>= 1). */
  n: number;
  /** Per-lcore cache size, 0..512 (RTE_MEMPOOL_CACHE_MAX_SIZE); 1.5 x cacheSize must not exceed n. Default 256. */
  cacheSize?: number;
  /** Data room bytes per mbuf (buf_len), 0..65535, headroom included. Default 2176. */
  dataRoomSize?: number;
  /** Track a free/in-use byte per mbuf and throw EDOUBLEFREE on double free. Costs a branch per op. */
  debug?: boolean;
}

/**
 * An element's size: whole cache lines, and an odd number of them. Consecutive elements then start in
 * different cache sets rather than in a fraction of them: with an even line
 * count the same line of every mbuf in a burst falls into half the sets or fewer (36 lines: a quarter;
 * the lcore's RX touch loop took 30 -> 45 ns per frame, bench README "Session 22: pipeline"). DPDK's
 * mempool pads its objects for the same reason (rte_mempool.c, optimize_object_size: the line count
 * made coprime with channels x ranks, 4 x 1 by default, i.e. odd). The default mbuf, 64 + 2176 bytes,
 * is 35 lines and is not padded; the padding lies after the data room (buf_len stays dataRoomSize).
 */
export function spreadEltSize(bytes: number): number {
  const lines = Math.max(1, Math.ceil(bytes / 64));
  return (lines | 1) * 64;
}

/**
 * rte_mempool of packet mbufs (rte_pktmbuf_pool_create). The free mbufs sit
 * in an MP/MC ring; each lcore has a LIFO cache in shared memory in front of
 * it. A `Mempool` object is a per-thread view: the cache it uses is the one of
 * the calling thread's lcoreId() (LCORE_ID_ANY: no cache, straight to the
 * ring), so a view must never be shared between threads.
 *
 * Ownership: get/alloc transfers the mbufs to the caller; put/free transfers
 * them back. A handle must not be used after it was put.
 */
export class Mempool {
  readonly id: number;
  readonly name: string;
  /** Number of mbufs in the pool. */
  readonly size: number;
  readonly cacheSize: number;
  readonly dataRoomSize: number;
  /** Bytes from one mbuf header to the next (64-byte multiple). */
  readonly eltSize: number;
  /** Byte offset of the pool's zone. */
  readonly offset: number;
  /** Handle of the pool's first mbuf; mbuf i is firstMbuf + i * eltSize. */
  readonly firstMbuf: number;
  readonly debug: boolean;

  private readonly flushThresh: number;
  private readonly ring: Ring;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  /** Word index of lcore 0's cache length word, -1 when the pool has no caches. */
  private readonly cachesW: number;
  private readonly strideW: number;
  /** The lcore id this view last ran on, and the word index of that lcore's cache (-1 = none). */
  private lcore = -1;
  private cacheW = -1;
  /** Scratch for single-object slow paths. */
  private readonly one = new Uint32Array(1);

  private constructor(mem: Memory, offset: number) {
    const u32 = mem.u32;
    const w = offset >>> 2;
    this.offset = offset;
    this.u8 = mem.u8;
    this.u16 = mem.u16;
    this.u32 = u32;
    this.id = u32[w + (P_ID >>> 2)]!;
    this.size = u32[w + (P_SIZE >>> 2)]!;
    this.cacheSize = u32[w + (P_CACHE_SIZE >>> 2)]!;
    this.flushThresh = u32[w + (P_FLUSH_THRESH >>> 2)]!;
    this.dataRoomSize = u32[w + (P_DATA_ROOM >>> 2)]!;
    this.eltSize = u32[w + (P_ELT_SIZE >>> 2)]!;
    this.debug = (u32[w + (P_FLAGS >>> 2)]! & POOL_F_DEBUG) !== 0;
    this.firstMbuf = u32[w + (P_MBUFS_OFF >>> 2)]!;
    const caches = u32[w + (P_CACHES_OFF >>> 2)]!;
    this.cachesW = caches === 0 ? -1 : caches >>> 2;
    this.strideW = u32[w + (P_CACHE_STRIDE >>> 2)]! >>> 2;
    this.ring = Ring.attach(mem, u32[w + (P_RING_OFF >>> 2)]!);
    let end = offset + P_NAME;
    while (end < offset + P_NAME + P_NAME_BYTES && mem.u8[end] !== 0) end++;
    this.name = new TextDecoder().decode(mem.u8.slice(offset + P_NAME, end));
  }

  /**
   * Create a pool of `n` packet mbufs in one zone named "MP_<name>" (main
   * thread, cold). Every mbuf starts free, reset, refcnt 1.
   * Throws EINVAL (naming the bad option), EEXIST, ENOMEM, ENOSPC.
   */
  static create(mem: Memory, name: string, opts: MempoolOptions): Mempool {
    const { n, cacheSize = 256, dataRoomSize = MBUF_DEFAULT_BUF_SIZE, debug = false } = opts;
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length === 0 || nameBytes.length > POOL_NAME_MAX) {
      throw new TpdkError("EINVAL", `mempool name "${name}" must be 1..${POOL_NAME_MAX} bytes`);
    }
    if (!Number.isInteger(n) || n < 1 || n >= 1 << 30) {
      throw new TpdkError("EINVAL", `mempool "${name}": option n = ${n} must be an integer in 1..${(1 << 30) - 1}`);
    }
    if (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > MEMPOOL_CACHE_MAX_SIZE) {
      throw new TpdkError("EINVAL", `mempool "${name}": option cacheSize = ${cacheSize} must be an integer in 0..${MEMPOOL_CACHE_MAX_SIZE}`);
    }
    const flushThresh = flushThreshold(cacheSize);
    if (flushThresh > n) {
      throw new TpdkError("EINVAL", `mempool "${name}": option cacheSize = ${cacheSize} is too large for n = ${n} (1.5 x cacheSize must be <= n)`);
    }
    if (!Number.isInteger(dataRoomSize) || dataRoomSize < 0 || dataRoomSize > 0xffff) {
      throw new TpdkError("EINVAL", `mempool "${name}": option dataRoomSize = ${dataRoomSize} must be an integer in 0..65535`);
    }
    if (typeof debug !== "boolean") {
      throw new TpdkError("EINVAL", `mempool "${name}": option debug must be a boolean`);
    }

    // Zone layout (see layout.ts): header, ring, caches, mbufs.
    const ringRel = POOL_HDR;
    const cachesRel = align(ringRel + Ring.bytesFor(n, RING_F_EXACT_SZ), 64);
    // A cache holds at most cacheSize + flushThresh objects: a put of up to
    // cacheSize objects on a cache just below the threshold, or a refill of
    // cacheSize + request objects.
    const cacheCap = cacheSize === 0 ? 0 : cacheSize + flushThresh;
    const stride = cacheSize === 0 ? 0 : align(CACHE_OBJS + 4 * cacheCap, 64);
    const mbufsRel = align(cachesRel + MAX_LCORE * stride, 64);
    const eltSize = spreadEltSize(MBUF_HDR + dataRoomSize);
    const zone = mem.reserve(POOL_ZONE_PREFIX + name, mbufsRel + n * eltSize, 128);
    const base = zone.offset;
    const id = allocPoolId(mem);

    const u32 = mem.u32;
    const u16 = mem.u16;
    const w = base >>> 2;
    u32[w + (P_ID >>> 2)] = id;
    u32[w + (P_SIZE >>> 2)] = n;
    u32[w + (P_CACHE_SIZE >>> 2)] = cacheSize;
    u32[w + (P_FLUSH_THRESH >>> 2)] = flushThresh;
    u32[w + (P_DATA_ROOM >>> 2)] = dataRoomSize;
    u32[w + (P_ELT_SIZE >>> 2)] = eltSize;
    u32[w + (P_FLAGS >>> 2)] = debug ? POOL_F_DEBUG : 0;
    u32[w + (P_RING_OFF >>> 2)] = base + ringRel;
    u32[w + (P_CACHES_OFF >>> 2)] = cacheSize === 0 ? 0 : base + cachesRel;
    u32[w + (P_CACHE_STRIDE >>> 2)] = stride;
    u32[w + (P_MBUFS_OFF >>> 2)] = base + mbufsRel;
    u32[w + (P_CACHE_CAP >>> 2)] = cacheCap;
    mem.u8.set(nameBytes, base + P_NAME);

    const ring = Ring.init(mem, base + ringRel, n, RING_F_EXACT_SZ);
    const batch = new Uint32Array(Math.min(n, 4096));
    let k = 0;
    for (let i = 0; i < n; i++) {
      const m = base + mbufsRel + i * eltSize;
      u32[(m + M_BUF_ADDR) >>> 2] = m + MBUF_HDR;
      u16[(m + M_BUF_LEN) >>> 1] = dataRoomSize;
      u16[(m + M_POOL_ID) >>> 1] = id;
      u16[(m + M_REFCNT) >>> 1] = 1;
      resetMbuf(u16, u32, m);
      mem.u8[m + M_STATE] = MBUF_FREE;
      batch[k++] = m;
      if (k === batch.length || i === n - 1) {
        ring.enqueueBulk(batch, k);
        k = 0;
      }
    }
    // The magic goes last, then the id: a thread that finds either sees a built pool.
    Atomics.store(u32, w + (P_MAGIC >>> 2), POOL_MAGIC);
    publishPoolId(mem, id, base);
    return new Mempool(mem, base);
  }

  /** A per-thread view of the pool whose zone starts at `offset`. Throws EINVAL. */
  static attach(mem: Memory, offset: number): Mempool {
    if (!Number.isInteger(offset) || offset <= 0 || offset % 64 !== 0 || !mem.contains(offset, POOL_HDR)) {
      throw new TpdkError("EINVAL", `no mempool at offset ${offset}`);
    }
    if (Atomics.load(mem.u32, (offset + P_MAGIC) >>> 2) !== POOL_MAGIC) {
      throw new TpdkError("EINVAL", `no mempool at offset ${offset}: bad magic`);
    }
    return new Mempool(mem, offset);
  }

  /** A per-thread view of the pool created as `name`. Throws ENOENT. */
  static lookup(mem: Memory, name: string): Mempool {
    const z = mem.lookup(POOL_ZONE_PREFIX + name);
    if (!z) throw new TpdkError("ENOENT", `no mempool named "${name}"`);
    return Mempool.attach(mem, z.offset);
  }

  /** A per-thread view of pool `id` (the id stored in its mbufs). Throws ENOENT. */
  static attachById(mem: Memory, id: number): Mempool {
    const off = poolOffsetById(mem, id);
    if (off === 0) throw new TpdkError("ENOENT", `no mempool with id ${id}`);
    return Mempool.attach(mem, off);
  }

  // ---- packet mbuf allocation ---------------------------------------------

  /**
   * rte_pktmbuf_alloc: one reset mbuf (refcnt 1, nb_segs 1, next 0, lengths 0,
   * data_off = min(128, buf_len), port 0xffff, ol_flags 0), or 0 when the
   * pool (ring plus this lcore's cache) is empty. The caller owns it.
   */
  alloc(): number {
    const m = this.get();
    if (m !== 0) {
      resetMbuf(this.u16, this.u32, m);
      this.u16[(m + M_REFCNT) >>> 1] = 1;
    }
    return m;
  }

  /** rte_pktmbuf_alloc_bulk: n reset mbufs into dst[off..], all or nothing. Returns n or 0. */
  allocBulk(dst: Uint32Array, n: number, off = 0): number {
    if (this.getBulk(dst, n, off) === 0) return 0;
    const u16 = this.u16;
    const u32 = this.u32;
    for (let i = 0; i < n; i++) {
      const m = dst[off + i]!;
      resetMbuf(u16, u32, m);
      u16[(m + M_REFCNT) >>> 1] = 1;
    }
    return n;
  }

  // ---- raw objects (rte_mempool_get/put): no reset -------------------------

  /** One object (no reset), or 0 when empty. */
  get(): number {
    const cw = this.cache();
    if (cw >= 0) {
      const u32 = this.u32;
      const len = u32[cw]!;
      if (len !== 0) {
        const m = u32[cw + (CACHE_OBJS >>> 2) + len - 1]!;
        u32[cw] = len - 1;
        if (this.debug) {
          this.one[0] = m;
          this.markInUse(this.one, 0, 1);
        }
        return m;
      }
    }
    return this.getBulk(this.one, 1) === 0 ? 0 : this.one[0]!;
  }

  /**
   * rte_mempool_get_bulk: n objects into dst[off..], all or nothing (no
   * reset). Returns n, or 0 when fewer than n are available to this lcore.
   */
  getBulk(dst: Uint32Array, n: number, off = 0): number {
    if (n <= 0) return 0;
    const cw = this.cache();
    const got = cw < 0 || n > this.cacheSize ? this.ring.dequeueBulk(dst, n, off) : this.cacheGet(cw, dst, n, off);
    if (got !== 0 && this.debug) this.markInUse(dst, off, n);
    return got;
  }

  /**
   * rte_mempool_get_bulk without the copy (hot path: the RX refill): takes n objects from this
   * lcore's cache and returns the word index w in the pool's memory (`mem.u32`) where they lie,
   * u32[w..w+n). Read them before this lcore puts any object back into this pool (a put reuses
   * those slots). Returns -1, taking nothing, when getBulk must serve instead: no lcore cache,
   * n above the cache size or below 1, a debug pool (getBulk marks the objects in use), or too few
   * objects left (the cache is refilled from the ring first, as getBulk does).
   */
  takeCached(n: number): number {
    const cw = this.cache();
    if (cw < 0 || n > this.cacheSize || n <= 0 || this.debug) return -1;
    const u32 = this.u32;
    const objs = cw + (CACHE_OBJS >>> 2);
    let len = u32[cw]!;
    if (len < n) {
      len = this.cacheRefill(cw, len, n);
      if (len < 0) return -1;
    }
    // The top n: the most recently freed (cache-hot) objects, as getBulk hands out.
    len -= n;
    u32[cw] = len;
    return objs + len;
  }

  /** Return one object to the pool. The caller must not use it afterwards. */
  put(m: number): void {
    if (this.debug) this.markFree1(m);
    const cw = this.cache();
    if (cw >= 0) {
      const u32 = this.u32;
      const len = u32[cw]!;
      if (len + 1 < this.flushThresh) {
        u32[cw + (CACHE_OBJS >>> 2) + len] = m;
        u32[cw] = len + 1;
        return;
      }
    }
    this.one[0] = m;
    this.putRaw(this.one, 1, 0);
  }

  /** rte_mempool_put_bulk: return src[off..off+n) to the pool. */
  putBulk(src: Uint32Array, n: number, off = 0): void {
    if (n <= 0) return;
    if (this.debug) this.markFree(src, off, n);
    this.putRaw(src, n, off);
  }

  /**
   * Give this lcore cache's two rare paths type feedback before the calling
   * thread's hot functions are optimized (cold: once, before an lcore's loop):
   * the refill from the ring when the cache runs short (cacheGet, and takeCached's
   * for the RX refill) and the flush to the ring when it passes its threshold
   * (putRaw). In steady state the
   * cache's length can stay between the two for seconds; the first time it
   * left, the optimized code that inlined the untried path was deoptimized
   * ("insufficient type feedback"), and the bursts interpreted until it was
   * optimized again boxed their Float64 counters: garbage, a scavenge on the
   * lcore (bench/notes/gc.md, "Session 11: GC (what still allocated on the lcore: deopts
   * mid-run)", "Session 12: mechanisms and GC").
   *
   * Each round empties the cache into a scratch array (served by the cache),
   * takes one more object (the refill), repeats until it holds twice the cache
   * size, then puts everything back in chunks of at most the cache size (the
   * cache passes 1.5 x its size: the flush). At the end the cache holds as many
   * objects as before (the ring the rest): every count is as it was. A thread
   * without an lcore cache, a pool without caches or with too few free objects
   * is left as it is. Returns the rounds in which both paths ran.
   */
  warmCache(rounds = WARM_CACHE_ROUNDS): number {
    const cw = this.cache();
    const cs = this.cacheSize;
    if (cw < 0 || cs === 0) return 0;
    const u32 = this.u32;
    const start = u32[cw]!;
    const held = new Uint32Array(3 * cs);
    let both = 0;
    for (let r = 0; r < rounds; r++) {
      // cache()'s lcore change too: every round's first call takes it, as the first call through
      // each other view of this pool on this thread will (Mbufs' views, attached by id). Taken
      // once only (this view's first call) it ran before cache() had a feedback vector (V8
      // allocates it after ~8 calls) and the optimized callers deoptimized at another view's
      // first call ("Insufficient type feedback for generic named access" at the store below,
      // inlined into putRaw: traced vhost-user runs, session 14).
      this.lcore = -1;
      let nh = 0;
      let refills = 0;
      while (nh < 2 * cs) {
        // Empty the cache, in chunks it serves by itself.
        for (let c = u32[cw]!; c > 0 && nh + c <= held.length; ) {
          const k = c < cs ? c : cs;
          if (this.getBulk(held, k, nh) === 0) break;
          nh += k;
          c -= k;
        }
        if (u32[cw] !== 0 || nh >= held.length) break;
        // The cache is empty: one more object comes through the refill (nothing comes: the pool is nearly empty),
        // getBulk's (cacheGet) in even rounds, takeCached's (the RX refill's) in odd ones.
        const w = (r & 1) !== 0 ? this.takeCached(1) : -1;
        if (w >= 0) held[nh] = u32[w]!;
        else if (this.getBulk(held, 1, nh) === 0) break;
        nh++;
        if (u32[cw] === 0) break;
        refills++;
      }
      const flushed = nh >= 2 * cs;
      for (let off = 0; off < nh; ) {
        const k = nh - off < cs ? nh - off : cs;
        this.putBulk(held, k, off);
        off += k;
      }
      if (refills !== 0 && flushed) both++;
    }
    // Back to the count it started with: the cache's excess to the ring, or its shortfall from it.
    const objs = cw + (CACHE_OBJS >>> 2);
    const len = u32[cw]!;
    if (len > start) {
      if (this.ring.enqueueBulk(u32, len - start, objs + start) === 0) throw this.overflow(len - start);
      u32[cw] = start;
    } else if (len < start && this.ring.dequeueBulk(u32, start - len, objs + len) !== 0) u32[cw] = start;
    return both;
  }

  // ---- counts (snapshots; exact only when no operation is in flight) -------

  /** Free objects: in the ring plus in every lcore's cache (rte_mempool_avail_count). */
  available(): number {
    let c = this.ring.count();
    if (this.cachesW >= 0) for (let l = 0; l < MAX_LCORE; l++) c += Atomics.load(this.u32, this.cachesW + l * this.strideW);
    return c;
  }

  /** Objects handed out and not yet returned (rte_mempool_in_use_count). */
  inUse(): number {
    return this.size - this.available();
  }

  /** Objects in lcore `lcore`'s cache (0 when the pool has no caches). */
  cacheCount(lcore: number): number {
    if (this.cachesW < 0 || !(lcore >= 0 && lcore < MAX_LCORE)) return 0;
    return Atomics.load(this.u32, this.cachesW + lcore * this.strideW);
  }

  /** Objects in the shared ring (not in any cache). */
  ringCount(): number {
    return this.ring.count();
  }

  /** Index 0..size-1 of mbuf `m` in this pool, or -1 when `m` is not one of its mbufs. */
  indexOf(m: number): number {
    const d = m - this.firstMbuf;
    if (d < 0 || d % this.eltSize !== 0) return -1;
    const i = d / this.eltSize;
    return i < this.size ? i : -1;
  }

  // ---- internals ------------------------------------------------------------

  /** Word index of the calling thread's cache length, -1 when it has none. */
  private cache(): number {
    const lc = lcoreId();
    if (lc !== this.lcore) {
      this.lcore = lc;
      this.cacheW = this.cachesW >= 0 && lc < MAX_LCORE ? this.cachesW + lc * this.strideW : -1;
    }
    return this.cacheW;
  }

  /**
   * The cache at word cw holds len < n objects: refill it from the ring with enough for the request
   * plus a full cache, as rte_mempool does, or (a nearly empty pool) just what the request lacks.
   * Returns the cache's new length, -1 when the ring cannot give even that (nothing taken). The rare
   * path of cacheGet and takeCached (warmCache gives it type feedback through both).
   */
  private cacheRefill(cw: number, len: number, n: number): number {
    const objs = cw + (CACHE_OBJS >>> 2);
    if (this.ring.dequeueBulk(this.u32, n - len + this.cacheSize, objs + len) !== 0) return n + this.cacheSize;
    if (this.ring.dequeueBulk(this.u32, n - len, objs + len) !== 0) return n;
    return -1;
  }

  /** Serve n <= cacheSize objects from the cache at word cw, refilling from the ring first if short. */
  private cacheGet(cw: number, dst: Uint32Array, n: number, off: number): number {
    const u32 = this.u32;
    const objs = cw + (CACHE_OBJS >>> 2);
    let len = u32[cw]!;
    if (len < n) {
      len = this.cacheRefill(cw, len, n);
      if (len < 0) return 0;
    }
    // LIFO: the most recently freed (cache-hot) objects go out first.
    let top = objs + len;
    for (let i = 0; i < n; i++) dst[off + i] = u32[--top]!;
    u32[cw] = len - n;
    return n;
  }

  private putRaw(src: Uint32Array, n: number, off: number): void {
    const cw = this.cache();
    if (cw < 0 || n > this.cacheSize) {
      if (this.ring.enqueueBulk(src, n, off) === 0) throw this.overflow(n);
      return;
    }
    const u32 = this.u32;
    const objs = cw + (CACHE_OBJS >>> 2);
    let len = u32[cw]!;
    const base = objs + len;
    for (let i = 0; i < n; i++) u32[base + i] = src[off + i]!;
    len += n;
    if (len >= this.flushThresh && len > this.cacheSize) {
      // Flush down to cacheSize: the objects above it go back to the ring.
      const k = len - this.cacheSize;
      if (this.ring.enqueueBulk(u32, k, objs + this.cacheSize) === 0) throw this.overflow(k);
      len = this.cacheSize;
    }
    u32[cw] = len;
  }

  /** The ring holds exactly `size` objects: it can only overflow if more were put than exist. */
  private overflow(n: number): TpdkError {
    return new TpdkError(
      "EOVERFLOW",
      `mempool "${this.name}": ring full while putting ${n} objects: objects were freed twice or do not belong to this pool (create it with debug: true to find out)`,
    );
  }

  /** Debug: flip FREE -> IN_USE for handles just taken from the pool. */
  private markInUse(arr: Uint32Array, off: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const m = arr[off + i]!;
      const prev = Atomics.compareExchange(this.u8, m + M_STATE, MBUF_FREE, MBUF_IN_USE);
      if (prev !== MBUF_FREE) {
        throw new TpdkError("ECORRUPT", `mempool "${this.name}": mbuf ${m} came out of the pool in state ${prev}, not free`);
      }
    }
  }

  private markFree1(m: number): void {
    this.one[0] = m;
    this.markFree(this.one, 0, 1);
  }

  /** Debug: flip IN_USE -> FREE for handles being returned; on any failure undo and throw. */
  private markFree(arr: Uint32Array, off: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const m = arr[off + i]!;
      const idx = this.indexOf(m);
      const prev = idx < 0 ? -1 : Atomics.compareExchange(this.u8, m + M_STATE, MBUF_IN_USE, MBUF_FREE);
      if (prev !== MBUF_IN_USE) {
        for (let j = 0; j < i; j++) Atomics.store(this.u8, arr[off + j]! + M_STATE, MBUF_IN_USE);
        if (idx < 0) throw new TpdkError("EINVAL", `mempool "${this.name}": ${m} is not one of its mbufs`);
        throw new TpdkError("EDOUBLEFREE", `mempool "${this.name}": mbuf ${m} freed while already free (double free or use after free)`);
      }
    }
  }
}
