import type { Memory } from "@tpdk/eal";
import * as L from "./layout.js";
import { Mempool } from "./mempool.js";
import { MEMPOOL_ID_MAX, lastPoolId, poolOffsetById } from "./pool-ids.js";
import { resetMbuf } from "./reset.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  MBUF_MAX_NB_SEGS, M_BUF_ADDR, M_BUF_LEN, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_OL_FLAGS, M_OL_FLAGS_HI, M_PKT_LEN,
  M_POOL_ID, M_PORT, M_REFCNT, M_STATE, PKTMBUF_HEADROOM,
} = L;

/** Mbufs gathered per pool by freeBulk before one putBulk. */
const FREE_BATCH = 64;

/**
 * Per-thread accessor for mbufs of any pool (the rte_pktmbuf_* helpers). An
 * mbuf is an integer handle: the byte offset of its 64-byte header in EAL
 * memory (0 = none). Packet bytes are `u8[dataAddr(m) .. dataAddr(m) + dataLen(m))`.
 *
 * Ownership: whoever holds a handle either passes it on (ring, TX queue,
 * another lcore) or frees it, exactly once. After free the handle is dead.
 *
 * Length fields are not validated by the setters (hot path); the
 * prepend/append/adj/trim helpers keep them consistent.
 */
export class Mbufs {
  /** The whole EAL memory, for packet bytes (index with bus addresses). */
  readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly mem: Memory;
  /** Pool views by pool id, attached on first use in this thread. */
  private readonly pools: Array<Mempool | null>;
  private readonly batch = new Uint32Array(FREE_BATCH);

  constructor(mem: Memory) {
    this.mem = mem;
    this.u8 = mem.u8;
    this.u16 = mem.u16;
    this.u32 = mem.u32;
    this.pools = new Array<Mempool | null>(MEMPOOL_ID_MAX + 1).fill(null);
    // Every pool built so far is attached now (cold), so pool()'s attach runs only for a pool made
    // after this view: an Mbufs made at queue attach (QueueBase) or by an lcore loop frees first
    // whenever its first free comes, often long after the function that inlines pool() was optimized
    // with only the hit seen; that first miss deoptimized it ("Insufficient type feedback", a
    // generic named access at the store of the new view: bench README "Session 20: GC").
    const last = lastPoolId(mem);
    for (let id = 1; id <= last; id++) {
      const off = poolOffsetById(mem, id);
      if (off !== 0) this.pools[id] = Mempool.attach(mem, off);
    }
  }

  // ---- fields -------------------------------------------------------------

  /** Bus address of the data room (buf_addr, low half; the high half is 0). */
  bufAddr(m: number): number {
    return this.u32[(m + M_BUF_ADDR) >>> 2]!;
  }
  bufLen(m: number): number {
    return this.u16[(m + M_BUF_LEN) >>> 1]!;
  }
  dataOff(m: number): number {
    return this.u16[(m + M_DATA_OFF) >>> 1]!;
  }
  setDataOff(m: number, v: number): void {
    this.u16[(m + M_DATA_OFF) >>> 1] = v;
  }
  /** Bytes in this segment. */
  dataLen(m: number): number {
    return this.u16[(m + M_DATA_LEN) >>> 1]!;
  }
  setDataLen(m: number, v: number): void {
    this.u16[(m + M_DATA_LEN) >>> 1] = v;
  }
  /** Bytes in the whole chain (meaningful in the first segment). */
  pktLen(m: number): number {
    return this.u32[(m + M_PKT_LEN) >>> 2]!;
  }
  setPktLen(m: number, v: number): void {
    this.u32[(m + M_PKT_LEN) >>> 2] = v;
  }
  nbSegs(m: number): number {
    return this.u16[(m + M_NB_SEGS) >>> 1]!;
  }
  setNbSegs(m: number, v: number): void {
    this.u16[(m + M_NB_SEGS) >>> 1] = v;
  }
  /** Next segment's handle, 0 for the last segment. */
  next(m: number): number {
    return this.u32[(m + M_NEXT) >>> 2]!;
  }
  setNext(m: number, v: number): void {
    this.u32[(m + M_NEXT) >>> 2] = v;
  }
  /** Input port, 0xffff when none. */
  port(m: number): number {
    return this.u16[(m + M_PORT) >>> 1]!;
  }
  setPort(m: number, v: number): void {
    this.u16[(m + M_PORT) >>> 1] = v;
  }
  refcnt(m: number): number {
    return Atomics.load(this.u16, (m + M_REFCNT) >>> 1);
  }
  /** Set the reference count; only while you are the sole owner. */
  setRefcnt(m: number, v: number): void {
    Atomics.store(this.u16, (m + M_REFCNT) >>> 1, v);
  }
  /** rte_mbuf_refcnt_update: atomically add `delta` (may be negative); returns the new count. */
  refcntUpdate(m: number, delta: number): number {
    return (Atomics.add(this.u16, (m + M_REFCNT) >>> 1, delta) + delta) & 0xffff;
  }
  /** Offload flags, low 32 bits only: tpdk defines no flag above bit 31 and keeps the high half 0. */
  olFlags(m: number): number {
    return this.u32[(m + M_OL_FLAGS) >>> 2]!;
  }
  setOlFlags(m: number, v: number): void {
    this.u32[(m + M_OL_FLAGS) >>> 2] = v;
  }
  /** Id of the pool this mbuf belongs to (Mempool.attachById resolves it). */
  poolId(m: number): number {
    return this.u16[(m + M_POOL_ID) >>> 1]!;
  }
  /** Debug pools: MBUF_FREE or MBUF_IN_USE; 0 means the pool does not track state. */
  state(m: number): number {
    return this.u8[m + M_STATE]!;
  }

  // ---- data room helpers -----------------------------------------------------

  /** rte_pktmbuf_mtod as a bus address: buf_addr + data_off, the first data byte. */
  dataAddr(m: number): number {
    return this.u32[(m + M_BUF_ADDR) >>> 2]! + this.u16[(m + M_DATA_OFF) >>> 1]!;
  }
  /** Bytes free before the data. */
  headroom(m: number): number {
    return this.u16[(m + M_DATA_OFF) >>> 1]!;
  }
  /** Bytes free after this segment's data. */
  tailroom(m: number): number {
    return this.u16[(m + M_BUF_LEN) >>> 1]! - this.u16[(m + M_DATA_OFF) >>> 1]! - this.u16[(m + M_DATA_LEN) >>> 1]!;
  }
  /**
   * A raw object just taken from its pool (Mempool.getBulk) made a packet of one segment holding `len`
   * bytes at the default headroom, from port `port`: what Mempool.allocBulk's reset (refcnt 1) and then
   * setDataLen, setPktLen and setPort leave, in one pass over the header with the neighbouring 16-bit
   * fields stored as one word (data_off with refcnt, nb_segs with port: layout.ts, little-endian) and
   * nothing stored twice (RX paths that fill fresh mbufs from a run: net_vhost's copyRun). Returns the
   * data address (rte_pktmbuf_mtod); or, when `len` does not fit after the headroom, -1 with the mbuf
   * as allocBulk leaves it (reset, refcnt 1, no data), for the caller to gather the frame over a chain.
   */
  initSegment(m: number, len: number, port: number): number {
    const u32 = this.u32;
    const bufLen = this.u16[(m + M_BUF_LEN) >>> 1]!;
    const off = bufLen < PKTMBUF_HEADROOM ? bufLen : PKTMBUF_HEADROOM;
    if (len > bufLen - off) {
      resetMbuf(this.u16, u32, m);
      this.u16[(m + M_REFCNT) >>> 1] = 1;
      return -1;
    }
    // data_off (bytes 8-9) and refcnt 1 (10-11); nb_segs 1 (12-13) and port (14-15).
    u32[(m + M_DATA_OFF) >>> 2] = off | 0x10000;
    u32[(m + M_NB_SEGS) >>> 2] = 1 | (port << 16);
    u32[(m + M_OL_FLAGS) >>> 2] = 0;
    u32[(m + M_OL_FLAGS_HI) >>> 2] = 0;
    u32[(m + M_PKT_LEN) >>> 2] = len;
    this.u16[(m + M_DATA_LEN) >>> 1] = len;
    u32[(m + M_NEXT) >>> 2] = 0;
    return u32[(m + M_BUF_ADDR) >>> 2]! + off;
  }

  /** rte_pktmbuf_reset: lengths 0, one segment, no next, default headroom, port none, flags 0 (refcnt untouched). */
  reset(m: number): void {
    resetMbuf(this.u16, this.u32, m);
  }
  /** Last segment of the chain starting at m. */
  lastSeg(m: number): number {
    let n: number;
    while ((n = this.u32[(m + M_NEXT) >>> 2]!) !== 0) m = n;
    return m;
  }

  /**
   * rte_pktmbuf_prepend: grow the first segment's data by `len` bytes at the
   * front. Returns the new data address, or -1 (nothing changed) when the
   * headroom is smaller than len.
   */
  prepend(m: number, len: number): number {
    const off = this.u16[(m + M_DATA_OFF) >>> 1]!;
    if (len > off || len < 0) return -1;
    this.u16[(m + M_DATA_OFF) >>> 1] = off - len;
    this.u16[(m + M_DATA_LEN) >>> 1] += len;
    this.u32[(m + M_PKT_LEN) >>> 2] += len;
    return this.u32[(m + M_BUF_ADDR) >>> 2]! + off - len;
  }

  /**
   * rte_pktmbuf_append: grow the last segment's data by `len` bytes at the
   * end. Returns the bus address of the appended bytes, or -1 (nothing
   * changed) when that segment's tailroom is smaller than len.
   */
  append(m: number, len: number): number {
    const last = this.lastSeg(m);
    if (len > this.tailroom(last) || len < 0) return -1;
    const addr = this.dataAddr(last) + this.u16[(last + M_DATA_LEN) >>> 1]!;
    this.u16[(last + M_DATA_LEN) >>> 1] += len;
    this.u32[(m + M_PKT_LEN) >>> 2] += len;
    return addr;
  }

  /**
   * rte_pktmbuf_adj: drop `len` bytes from the front of the first segment.
   * Returns the new data address, or -1 (nothing changed) when the segment
   * holds fewer than len bytes.
   */
  adj(m: number, len: number): number {
    const dl = this.u16[(m + M_DATA_LEN) >>> 1]!;
    if (len > dl || len < 0) return -1;
    const off = this.u16[(m + M_DATA_OFF) >>> 1]! + len;
    this.u16[(m + M_DATA_OFF) >>> 1] = off;
    this.u16[(m + M_DATA_LEN) >>> 1] = dl - len;
    this.u32[(m + M_PKT_LEN) >>> 2] -= len;
    return this.u32[(m + M_BUF_ADDR) >>> 2]! + off;
  }

  /**
   * rte_pktmbuf_trim: drop `len` bytes from the end of the last segment.
   * Returns 0, or -1 (nothing changed) when that segment holds fewer than len bytes.
   */
  trim(m: number, len: number): number {
    const last = this.lastSeg(m);
    const dl = this.u16[(last + M_DATA_LEN) >>> 1]!;
    if (len > dl || len < 0) return -1;
    this.u16[(last + M_DATA_LEN) >>> 1] = dl - len;
    this.u32[(m + M_PKT_LEN) >>> 2] -= len;
    return 0;
  }

  /**
   * rte_pktmbuf_chain: append chain `tail` to chain `head`. Returns 0, or -1
   * (nothing changed) when the result would exceed 65535 segments. The caller
   * gives up `tail`: it is now part of `head` and freed with it.
   */
  chain(head: number, tail: number): number {
    const hs = this.u16[(head + M_NB_SEGS) >>> 1]!;
    const ts = this.u16[(tail + M_NB_SEGS) >>> 1]!;
    if (hs + ts > MBUF_MAX_NB_SEGS) return -1;
    this.u32[(this.lastSeg(head) + M_NEXT) >>> 2] = tail;
    this.u16[(head + M_NB_SEGS) >>> 1] = hs + ts;
    this.u32[(head + M_PKT_LEN) >>> 2] += this.u32[(tail + M_PKT_LEN) >>> 2]!;
    // pkt_len is only meaningful in the first segment; keep the inner one self-consistent.
    this.u32[(tail + M_PKT_LEN) >>> 2] = this.u16[(tail + M_DATA_LEN) >>> 1]!;
    return 0;
  }

  // ---- freeing --------------------------------------------------------------

  /**
   * rte_pktmbuf_free: for every segment of the chain, drop one reference and
   * return the segment to its own pool (through this thread's lcore cache)
   * when that was the last one. m = 0 is a no-op. The caller gives up m.
   */
  free(m: number): void {
    while (m !== 0) {
      const next = this.u32[(m + M_NEXT) >>> 2]!;
      if (this.prefree(m)) this.pool(this.u16[(m + M_POOL_ID) >>> 1]!).put(m);
      m = next;
    }
  }

  /**
   * rte_pktmbuf_free_seg: drop one reference to this segment only (its next
   * link is ignored and cleared) and return it to its pool if it was the last.
   */
  freeSeg(m: number): void {
    if (this.prefree(m)) this.pool(this.u16[(m + M_POOL_ID) >>> 1]!).put(m);
  }

  /** rte_pktmbuf_free_bulk: free the n chains src[off..off+n); segments go back in per-pool batches. */
  freeBulk(src: Uint32Array, n: number, off = 0): void {
    const batch = this.batch;
    let pending = 0;
    let poolId = 0;
    for (let i = 0; i < n; i++) {
      let m = src[off + i]!;
      while (m !== 0) {
        const next = this.u32[(m + M_NEXT) >>> 2]!;
        if (this.prefree(m)) {
          const id = this.u16[(m + M_POOL_ID) >>> 1]!;
          if (id !== poolId || pending === FREE_BATCH) {
            if (pending !== 0) this.pool(poolId).putBulk(batch, pending);
            pending = 0;
            poolId = id;
          }
          batch[pending++] = m;
        }
        m = next;
      }
    }
    if (pending !== 0) this.pool(poolId).putBulk(batch, pending);
  }

  /**
   * Fast free (DPDK's RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE, an rte_mempool_put_bulk
   * straight to the pool): return the n mbufs src[off..off+n) to pool `poolId`
   * without reading or writing them. Only for mbufs the caller has proved are
   * in the state the pool keeps its objects in, which is what freeBulk would
   * leave them in after its per-mbuf work: each from pool `poolId`, refcnt 1
   * (the caller holds the only reference), one segment, next 0. (The packed TX
   * queue checks this when it takes the frame, on the mbuf line it reads then;
   * its reclaim, ~a ring later, then need not load each mbuf's line again.)
   * Anything else goes through freeBulk. A debug pool still marks each free and
   * throws on a double free.
   */
  fastFreeBulk(poolId: number, src: Uint32Array, n: number, off = 0): void {
    // n 0 frees nothing and names no pool (FreeBatcher's primed flushes: pool id 0 is none).
    if (n !== 0) this.pool(poolId).putBulk(src, n, off);
  }

  /**
   * rte_pktmbuf_prefree_seg: drop our reference; true when it was the last,
   * in which case the segment is made ready for its pool (refcnt back to 1,
   * unlinked, one segment).
   */
  private prefree(m: number): boolean {
    const w = (m + M_REFCNT) >>> 1;
    // Sole owner (the common case): nobody else can change refcnt, skip the atomic.
    if (this.u16[w] !== 1) {
      if (((Atomics.sub(this.u16, w, 1) - 1) & 0xffff) !== 0) return false;
      // Last reference gone; pool objects keep refcnt 1 (as rte_mbuf does).
      Atomics.store(this.u16, w, 1);
    }
    const nw = (m + M_NEXT) >>> 2;
    if (this.u32[nw] !== 0) {
      this.u32[nw] = 0;
      this.u16[(m + M_NB_SEGS) >>> 1] = 1;
    }
    return true;
  }

  /** This thread's view of pool `id`; attaching allocates once per pool id, later calls do not. */
  private pool(id: number): Mempool {
    const p = this.pools[id];
    return p ?? (this.pools[id] = Mempool.attachById(this.mem, id));
  }
}
