import { type Memory, TpdkError } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { castQuad, countFrame, linkRxSegment, sizeBinOf, sizeRun, sizeRun4, sizeRunEnd, touchDescLines } from "./frame-steps.js";
import * as L from "./layout.js";
import { QueueBase } from "./queue-base.js";
import { isPackedQueue } from "./packed-check.js";
import { ParkDrop } from "./park-drop.js";
import { USED_EVENT_LAG, USED_EVENT_REFRESH } from "./txq.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  M_BUF_ADDR, M_BUF_LEN, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_PORT, M_REFCNT, M_OL_FLAGS,
  M_OL_FLAGS_HI, MBUF_HDR, PKTMBUF_HEADROOM,
} = MB;
const { ETH_HDR_LEN, NET_HDR_NUM_BUFFERS, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_WRITE } = V;
const {
  QF_MRG_RXBUF, Q_POOL_ID, Q_POOL_NAME, Q_POOL_NAME_BYTES, S_BAD_NUM_BUFFERS, S_BAD_USED_ID, S_BAD_USED_IDX,
  S_BAD_USED_LEN, S_BROADCAST, S_BYTES, S_ERRORS, S_INTERRUPTS, S_MULTICAST, S_NOMBUF, S_PACKETS, S_RESET_DROPPED,
  S_RUNTS, S_TRUNCATED,
} = L;

/** Most packets one rxBurst call returns (DPDK's VIRTIO_MBUF_BURST_SZ). */
export const RX_BURST_MAX = 64;
const REFILL_CHUNK = 64;
/** Used entries past the burst whose lines rxInOrder keeps touched ahead of time (at least). */
const TOUCH_AHEAD = 8;
/**
 * When the touched lead falls below TOUCH_AHEAD, this many more are touched at once: their
 * misses overlap, so at burst 1 one wait covers TOUCH_BATCH frames instead of one per frame.
 */
const TOUCH_BATCH = 16;

/**
 * The lcore side of a receive queue: attach once per thread, then call
 * rxBurst in the poll loop. Hot path: no allocation, no exceptions; one
 * Atomics.load of used.idx per burst (only when the cached copy is used up),
 * one Atomics.store of avail.idx per burst that refilled.
 *
 * RX buffers are posted as addr = buf + headroom - hdr, len = buf_len -
 * headroom + hdr (WRITE): the device writes the virtio-net header into the
 * end of the headroom and the frame lands at data_off = headroom. No copy.
 *
 * The device is not trusted: a used id out of range or not outstanding, a
 * used len beyond the posted buffer, a used.idx ahead of what was made
 * available, a num_buffers the ring cannot satisfy: each is counted
 * (bad_used_*, errors) and skipped. The owner table (one mbuf handle per
 * descriptor, cleared when taken back) guarantees an mbuf is handed out at
 * most once and never lost: whatever a descriptor still owns is freed by the
 * port's stop().
 */
export class RxQueue extends QueueBase {
  private pool: Mempool | null = null;
  private poolId = 0;
  private readonly refill = new Uint32Array(REFILL_CHUNK);
  private refillThresh = 1;
  /** The WRITE length each posted buffer gets: the pool's data room past the headroom, plus the header in it. */
  private postLen = 0;
  private mrg = false;
  private interrupts = false;
  /** What rxInOrder's touch loop read (kept so the loads are not dropped as unused). */
  touched = 0;
  /** descCons-space index up to which rxInOrder has touched the frames' lines. */
  private touchEnd = 0;
  /** usedSeen when used_event was last moved while polling (EVENT_IDX; see moveUsedEvent). */
  private usedEventAt = 0;

  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, false);
  }

  /** This thread's handle on rx queue `q` of port `portId` (cold; keep it). Throws ESTATE if not set up. */
  static attach(mem: Memory, portId: number, q: number): RxQueue {
    if (isPackedQueue(mem, portId, q, false)) {
      throw new TpdkError("EINVAL", `virtio-pmd: rx queue ${q} of port ${portId} is a packed ring: attach it with PackedRxQueue.attach or rxQueue()`);
    }
    return new RxQueue(mem, portId, q);
  }

  protected resizeLocal(): void {}

  protected onResync(): void {
    this.mrg = (this.flags & QF_MRG_RXBUF) !== 0;
    // Half the ring on rings of 256 and more (@tpdk/virtio rx-refill.ts says why; the device's
    // on-demand window relies on it).
    this.refillThresh = V.rxRefillThreshold(this.size);
    const id = this.u32[(this.zone + Q_POOL_ID) >>> 2]!;
    if (this.pool === null || this.poolId !== id) {
      const b = this.zone + Q_POOL_NAME;
      let end = b;
      while (end < b + Q_POOL_NAME_BYTES && this.u8[end] !== 0) end++;
      const name = new TextDecoder().decode(this.u8.slice(b, end));
      this.pool = Mempool.lookup(this.mem, name);
      this.poolId = id;
    }
    // Every mbuf of the pool has buf_len = its data room (mbuf layout.ts: fixed at pool creation).
    this.postLen = this.pool.dataRoomSize - PKTMBUF_HEADROOM + this.hdr;
    this.interrupts = false;
    this.touchEnd = this.descCons;
    // The first burst that receives moves used_event (polling: far behind).
    this.moveUsedEventNext();
  }

  /**
   * rte_eth_rx_burst: up to `n` (at most 64) received packets into
   * mbufs[off..]. Returns how many; the caller owns those mbufs (it sends or
   * frees each). Each is a chain of nbSegs mbufs under MRG_RXBUF, with port
   * set and data at the default headroom. 0 when the port is stopped.
   */
  rxBurst(mbufs: Uint32Array, n: number, off = 0): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    if (n > RX_BURST_MAX) n = RX_BURST_MAX;
    let avail = (this.usedCached - this.usedSeen) & 0xffff;
    if (avail === 0) {
      // The one poll of used.idx per burst; pairs with the device's
      // Atomics.store of used.idx after it wrote the used entries and buffers.
      avail = this.loadUsed();
    }
    let nrx = 0;
    if (avail > 0) {
      // In order, one-buffer frames take the batched path; it stops at the first
      // entry that is anything else, which the general walk below then validates.
      if (this.inOrder) {
        nrx = this.rxInOrder(mbufs, n < avail ? n : avail, off, avail);
        avail = (this.usedCached - this.usedSeen) & 0xffff;
      }
      if (nrx < n && avail > 0) nrx = this.rxGeneral(mbufs, n, off, nrx, avail);
    }
    if (this.nfree >= this.refillThresh) this.refillRing();
    if (this.eventIdx && !this.interrupts && ((this.usedSeen - this.usedEventAt) & 0xffff) >= USED_EVENT_REFRESH) {
      this.moveUsedEvent();
    }
    return nrx;
  }

  /**
   * The IN_ORDER fast path (DPDK's virtio_recv_pkts_inorder): up to `n` used
   * entries, each a one-buffer frame, into mbufs[off..]. Shadow indices are
   * kept in locals and written back once; statistics are added once per call
   * (the same totals as per packet). Stops before the first entry that is not
   * a plain one-buffer frame of a valid length (a too-long or too-short len, a
   * num_buffers other than 1, a descriptor that owns no mbuf): rxGeneral
   * counts or assembles it. A used id that disagrees with the position is
   * counted and ignored, as in rxGeneral.
   */
  private rxInOrder(mbufs: Uint32Array, n: number, off: number, avail: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const usedRingW = this.usedRingW;
    const mask = this.mask;
    const hdr = this.hdr;
    const mrg = this.mrg;
    const port = this.portId;
    const portHi = (port << 16) >>> 0;
    const minLen = hdr + ETH_HDR_LEN;
    // The refill posted every buffer at handle + MBUF_HDR + headroom - hdr, postLen long.
    const maxLen = this.postLen;
    let seen = this.usedSeen;
    let cons = this.descCons;
    let k = 0;
    let bytes = 0;
    let badId = 0;
    let bcast = 0;
    let mcast = 0;
    // Size bins: the burst's first bin is counted in a local (a burst is mostly one size; sizeRun).
    let sizes = 0;
    const f64 = this.f64;
    const st = this.st;
    // Touch the lines the loop below reads first, for the whole burst: each frame's last
    // header line (num_buffers) and first data line, which the device just wrote on the other
    // CPU. These touches do not depend on each other, so the CPU overlaps their misses; in the
    // loop, behind each packet's many instructions, they would mostly wait one at a time. Stores
    // where they can be, since session 15 (bench/notes/split-front-end.md, "Session 15: burst 1"): a load
    // fetched the line shared, and the TX header zeroing and the MAC rewrite then had to take it
    // from the device's CPU again, waited for by the TX publish's Atomics.store.
    // (JavaScript has no prefetch instruction; DPDK's C loop gets this overlap for free.)
    // The touch runs TOUCH_AHEAD entries past this burst when the device has published them,
    // so the next burst's first frames (and at burst 1, the next frame) are already on their
    // way; entries touched by an earlier call are not touched again.
    // Touching resumes only when the lead falls below TOUCH_AHEAD past this burst, and then
    // covers TOUCH_BATCH more: a burst of 1 would otherwise touch one new frame per call and
    // wait for that one miss every time (perf: 75 % of rxInOrder at burst 1 on that load).
    const done = (this.touchEnd - cons) & 0xffff;
    if (done > avail || done < n + TOUCH_AHEAD) {
      let touch = 0;
      // While the rare counters are primed (statPrimes), the loads below also run where a store
      // touched: a long frame first seen after 64 B traffic would otherwise find them without
      // type feedback and deoptimize rxInOrder (frame-size-deopt.test.ts).
      const primeLoads = this.statPrimes !== 0;
      const want = n + TOUCH_AHEAD + TOUCH_BATCH;
      const t1 = want < avail ? want : avail;
      for (let i = done <= avail ? done : 0; i < t1; i++) {
        const m = u32[ownerW + ((cons + i) & mask)]!;
        if (m !== 0) {
          // The mbuf's line (the loop below writes its fields) and the two lines the device wrote,
          // whose address comes from the handle (the refill posted buf_addr = handle + MBUF_HDR),
          // not from a load of buf_addr that they would wait on. Each of the two as a store where
          // it can be (as the packed ring's touchAhead): a byte the device did not write, so the
          // line comes for writing once, before the TX header zeroing and the MAC rewrite store
          // into it, rather than shared and then taken again by those stores.
          const b = m + (MBUF_HDR + PKTMBUF_HEADROOM);
          const h = b - hdr;
          // Header line: the headroom byte before the header (never posted to the device), under
          // MRG_RXBUF only, where the device has just stored num_buffers into it (virtio 1.2
          // §5.1.6.4). Without MRG_RXBUF a load: DPDK's vhost then writes nothing into the line,
          // and the TX header zeroing only compares (TxQueue.quietHeader), so nobody stores into
          // it and it stays shared (bench/notes/both-rings.md, "Session 26: the header line without MRG_RXBUF").
          const headStore = mrg && (h & 63) !== 0;
          if (headStore) u8[h - 1] = 0;
          if (!headStore || primeLoads) touch |= u8[h]!;
          // Data line: the byte past the frame when the frame ends inside its first data line.
          const len = u32[usedRingW + 2 * ((seen + i) & mask) + 1]!;
          const e = h + len;
          const dataStore = len > hdr && len < maxLen && e >>> 6 === b >>> 6;
          if (dataStore) u8[e] = 0;
          if (!dataStore || primeLoads) touch |= u8[b]!;
          touch |= u8[m]!;
        }
      }
      if (t1 > (done <= avail ? done : 0)) this.touchEnd = (cons + t1) & 0xffff;
      this.touched = touch;
    }
    // Four at a time while the used entries and the descriptors are 4-aligned (no wrap inside a
    // quad; DPDK's virtio_recv_pkts_inorder takes its batch the same way): the four lens and
    // owners, the checks of the four (any frame the loop below would stop at ends the quads),
    // then the four mbufs' stores and the statistics of the four.
    while (n - k >= 4 && ((seen | cons) & 3) === 0) {
      const e = usedRingW + 2 * (seen & mask);
      const d = cons & mask;
      const m0 = u32[ownerW + d]!;
      const m1 = u32[ownerW + d + 1]!;
      const m2 = u32[ownerW + d + 2]!;
      const m3 = u32[ownerW + d + 3]!;
      const len0 = u32[e + 1]!;
      const len1 = u32[e + 3]!;
      const len2 = u32[e + 5]!;
      const len3 = u32[e + 7]!;
      if (
        m0 === 0 || m1 === 0 || m2 === 0 || m3 === 0 ||
        len0 < minLen || len1 < minLen || len2 < minLen || len3 < minLen ||
        len0 > maxLen || len1 > maxLen || len2 > maxLen || len3 > maxLen
      ) break;
      if (mrg) {
        const h0 = m0 + (MBUF_HDR + PKTMBUF_HEADROOM + NET_HDR_NUM_BUFFERS) - hdr;
        const h1 = m1 + (MBUF_HDR + PKTMBUF_HEADROOM + NET_HDR_NUM_BUFFERS) - hdr;
        const h2 = m2 + (MBUF_HDR + PKTMBUF_HEADROOM + NET_HDR_NUM_BUFFERS) - hdr;
        const h3 = m3 + (MBUF_HDR + PKTMBUF_HEADROOM + NET_HDR_NUM_BUFFERS) - hdr;
        if (
          (u8[h0]! | (u8[h0 + 1]! << 8)) !== 1 || (u8[h1]! | (u8[h1 + 1]! << 8)) !== 1 ||
          (u8[h2]! | (u8[h2 + 1]! << 8)) !== 1 || (u8[h3]! | (u8[h3 + 1]! << 8)) !== 1
        ) break;
      }
      if (u32[e]! !== d) badId++;
      if (u32[e + 2]! !== d + 1) badId++;
      if (u32[e + 4]! !== d + 2) badId++;
      if (u32[e + 6]! !== d + 3) badId++;
      u32[ownerW + d] = 0;
      u32[ownerW + d + 1] = 0;
      u32[ownerW + d + 2] = 0;
      u32[ownerW + d + 3] = 0;
      seen = (seen + 4) & 0xffff;
      cons = (cons + 4) & 0xffff;
      const p0 = len0 - hdr;
      const p1 = len1 - hdr;
      const p2 = len2 - hdr;
      const p3 = len3 - hdr;
      // The reset state alloc() would hand out, with the frame's fields (as the loop below).
      // Written out at each site on purpose: one inlined helper for it (resetRxMbuf) measured 98 % vs
      // 99 % of DPDK at split b32, 120 % vs 124 % at b1 (bench README, "Session 14: GC and the RX reset").
      u32[(m0 + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
      u32[(m0 + M_NB_SEGS) >>> 2] = 1 | portHi;
      f64[(m0 + M_OL_FLAGS) >>> 3] = 0;
      u32[(m0 + M_PKT_LEN) >>> 2] = p0;
      u16[(m0 + M_DATA_LEN) >>> 1] = p0;
      u32[(m0 + M_NEXT) >>> 2] = 0;
      u32[(m1 + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
      u32[(m1 + M_NB_SEGS) >>> 2] = 1 | portHi;
      f64[(m1 + M_OL_FLAGS) >>> 3] = 0;
      u32[(m1 + M_PKT_LEN) >>> 2] = p1;
      u16[(m1 + M_DATA_LEN) >>> 1] = p1;
      u32[(m1 + M_NEXT) >>> 2] = 0;
      u32[(m2 + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
      u32[(m2 + M_NB_SEGS) >>> 2] = 1 | portHi;
      f64[(m2 + M_OL_FLAGS) >>> 3] = 0;
      u32[(m2 + M_PKT_LEN) >>> 2] = p2;
      u16[(m2 + M_DATA_LEN) >>> 1] = p2;
      u32[(m2 + M_NEXT) >>> 2] = 0;
      u32[(m3 + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
      u32[(m3 + M_NB_SEGS) >>> 2] = 1 | portHi;
      f64[(m3 + M_OL_FLAGS) >>> 3] = 0;
      u32[(m3 + M_PKT_LEN) >>> 2] = p3;
      u16[(m3 + M_DATA_LEN) >>> 1] = p3;
      u32[(m3 + M_NEXT) >>> 2] = 0;
      mbufs[off + k] = m0;
      mbufs[off + k + 1] = m1;
      mbufs[off + k + 2] = m2;
      mbufs[off + k + 3] = m3;
      k += 4;
      // ---- statistics of the four, summed per call (a burst is mostly one size and unicast)
      bytes += p0 + p1 + p2 + p3;
      sizes = sizeRun4(f64, st, sizes, p0, p1, p2, p3);
      const a0 = m0 + (MBUF_HDR + PKTMBUF_HEADROOM);
      const a1 = m1 + (MBUF_HDR + PKTMBUF_HEADROOM);
      const a2 = m2 + (MBUF_HDR + PKTMBUF_HEADROOM);
      const a3 = m3 + (MBUF_HDR + PKTMBUF_HEADROOM);
      if (((u8[a0]! | u8[a1]! | u8[a2]! | u8[a3]!) & 1) !== 0) {
        const c = castQuad(u8, a0, a1, a2, a3);
        bcast += c >>> 3;
        mcast += c & 7;
      }
    }
    for (; k < n; k++) {
      const e = usedRingW + 2 * (seen & mask);
      const d = cons & mask;
      const m = u32[ownerW + d]!;
      const len = u32[e + 1]!;
      if (m === 0 || len < minLen || len > maxLen) break;
      const bufAddr = m + MBUF_HDR;
      if (mrg) {
        const h = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
        if ((u8[h]! | (u8[h + 1]! << 8)) !== 1) break;
      }
      if (u32[e]! !== d) badId++;
      u32[ownerW + d] = 0;
      seen = (seen + 1) & 0xffff;
      cons = (cons + 1) & 0xffff;
      const pktLen = len - hdr;
      // The reset state alloc() would hand out, with the frame's fields (the refill did not touch
      // the mbuf): data_off and refcnt 1 in one word, nb_segs 1 and port in the next (M_DATA_OFF
      // 8, M_REFCNT 10, M_NB_SEGS 12, M_PORT 14), both ol_flags words as one 8-byte zero.
      u32[(m + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
      u32[(m + M_NB_SEGS) >>> 2] = 1 | portHi;
      f64[(m + M_OL_FLAGS) >>> 3] = 0;
      u32[(m + M_PKT_LEN) >>> 2] = pktLen;
      u16[(m + M_DATA_LEN) >>> 1] = pktLen;
      u32[(m + M_NEXT) >>> 2] = 0;
      mbufs[off + k] = m;
      // ---- per-packet statistics (DPDK's virtio_update_packet_stats), summed per call
      bytes += pktLen;
      sizes = sizeRun(f64, st, sizes, sizeBinOf(pktLen), 1);
      const a = bufAddr + PKTMBUF_HEADROOM;
      if ((u8[a]! & 1) !== 0) {
        if ((u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff) bcast++;
        else mcast++;
      }
    }
    if (k !== 0) {
      this.usedSeen = seen;
      this.descCons = cons;
      this.pending -= k;
      this.nfree += k;
      f64[st + S_PACKETS] += k;
      f64[st + S_BYTES] += bytes;
      sizeRunEnd(f64, st, sizes);
      // Usually all 0: added only when one is not, or while the branch is primed (QueueBase.statPrimes).
      if ((bcast | mcast | badId | this.statPrimes) !== 0) {
        f64[st + S_BROADCAST] += bcast;
        f64[st + S_MULTICAST] += mcast;
        f64[st + S_BAD_USED_ID] += badId;
        if (this.statPrimes !== 0) {
          this.statPrimes--;
          // rxBurst's moveUsedEvent call also runs while the branch is primed (moving used_event
          // to where we are is harmless at any time): it otherwise ran at the first burst, before
          // rxBurst had type feedback, and next after USED_EVENT_REFRESH entries, deoptimizing the
          // optimized rxBurst ("Insufficient type feedback"; bench README "Session 17: the lcore's
          // start-up allocation").
          this.moveUsedEventNext();
        }
      }
    }
    return k;
  }

  /** The general walk: any ring order, MRG_RXBUF chains, every hostile case counted. Continues at mbufs[off + nrx]. */
  private rxGeneral(mbufs: Uint32Array, n: number, off: number, nrx: number, avail: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const ownerW = this.ownerW;
    const usedRingW = this.usedRingW;
    const mask = this.mask;
    const size = this.size;
    const hdr = this.hdr;
    const inOrder = this.inOrder;
    const port = this.portId;
    const nrx0 = nrx;
    let bytes = 0;
    let errors = 0;
    while (nrx < n && avail > 0) {
      // ---- take one used entry: the frame's first buffer
      let e = usedRingW + 2 * (this.usedSeen & mask);
      let id = u32[e]!;
      let len = u32[e + 1]!;
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
      avail--;
      let d: number;
      if (inOrder) {
        // In order, the position identifies the buffer; an id that disagrees is counted and ignored.
        d = this.descCons & mask;
        if (id !== d) f64[st + S_BAD_USED_ID] += 1;
      } else {
        d = id;
        if (id >= size || u32[ownerW + id] === 0) {
          f64[st + S_BAD_USED_ID] += 1;
          errors++;
          continue;
        }
      }
      const m = u32[ownerW + d]!;
      if (m === 0) {
        // Cannot happen in order (the position is always outstanding); kept so no 0 is ever handed out.
        f64[st + S_BAD_USED_ID] += 1;
        errors++;
        continue;
      }
      this.takeBack(d);
      const maxLen = u16[(m + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr;
      if (len > maxLen) {
        f64[st + S_BAD_USED_LEN] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      if (len < hdr + ETH_HDR_LEN) {
        f64[st + S_RUNTS] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      const bufAddr = u32[(m + M_BUF_ADDR) >>> 2]!;
      let nb = 1;
      if (this.mrg) {
        const h = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
        nb = u8[h]! | (u8[h + 1]! << 8);
        if (nb === 0 || nb > size) {
          f64[st + S_BAD_NUM_BUFFERS] += 1;
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      let pktLen = len - hdr;
      // refcnt and ol_flags as alloc() leaves them (the refill did not touch the mbuf).
      u16[(m + M_REFCNT) >>> 1] = 1;
      u32[(m + M_OL_FLAGS) >>> 2] = 0;
      u32[(m + M_OL_FLAGS_HI) >>> 2] = 0;
      u16[(m + M_DATA_OFF) >>> 1] = PKTMBUF_HEADROOM;
      u16[(m + M_DATA_LEN) >>> 1] = pktLen;
      u16[(m + M_NB_SEGS) >>> 1] = nb;
      u16[(m + M_PORT) >>> 1] = port;
      u32[(m + M_NEXT) >>> 2] = 0;
      if (nb > 1) {
        // ---- mergeable: the rest of the frame is in the next nb-1 used entries
        if (avail < nb - 1) avail = this.loadUsedMore(avail);
        if (avail < nb - 1) {
          // The device must publish a frame's buffers together (§5.1.6.4.2): cut short, drop it.
          f64[st + S_TRUNCATED] += 1;
          errors++;
          this.mbufs.free(m);
          continue;
        }
        let prev = m;
        let ok = true;
        for (let k = 1; k < nb; k++) {
          e = usedRingW + 2 * (this.usedSeen & mask);
          id = u32[e]!;
          len = u32[e + 1]!;
          this.usedSeen = (this.usedSeen + 1) & 0xffff;
          avail--;
          if (inOrder) {
            d = this.descCons & mask;
            if (id !== d) f64[st + S_BAD_USED_ID] += 1;
          } else {
            d = id;
            if (id >= size || u32[ownerW + id] === 0) {
              f64[st + S_BAD_USED_ID] += 1;
              ok = false;
              continue;
            }
          }
          const s = u32[ownerW + d]!;
          if (s === 0) {
            f64[st + S_BAD_USED_ID] += 1;
            ok = false;
            continue;
          }
          this.takeBack(d);
          if (len > u16[(s + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr) {
            f64[st + S_BAD_USED_LEN] += 1;
            ok = false;
            this.mbufs.free(s);
            continue;
          }
          // Later buffers carry no header: their data starts where the header would be.
          linkRxSegment(u16, u32, prev, s, len, hdr);
          u16[(s + M_REFCNT) >>> 1] = 1;
          u32[(s + M_OL_FLAGS) >>> 2] = 0;
          u32[(s + M_OL_FLAGS_HI) >>> 2] = 0;
          prev = s;
          pktLen += len;
        }
        if (!ok) {
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      u32[(m + M_PKT_LEN) >>> 2] = pktLen;
      mbufs[off + nrx++] = m;
      // ---- per-packet statistics (DPDK's virtio_update_packet_stats)
      bytes += pktLen;
      countFrame(u8, f64, st, pktLen, bufAddr + PKTMBUF_HEADROOM);
    }
    if (nrx !== nrx0) {
      f64[st + S_PACKETS] += nrx - nrx0;
      f64[st + S_BYTES] += bytes;
      if (this.statPrimes !== 0) {
        // rxBurst's moveUsedEvent call primed here too, as rxInOrder's rare-counter branch does: a
        // queue without IN_ORDER never runs that branch, and its first refresh after USED_EVENT_REFRESH
        // entries deoptimized rxBurst in every in_order=0 pipeline run (bench README "Session 21: GC").
        this.statPrimes--;
        this.moveUsedEventNext();
      }
    }
    if (errors !== 0) f64[st + S_ERRORS] += errors;
    return nrx;
  }

  /**
   * Parking for a ring reset (PortQueues.resetRings; a split ring's transport does not ask for one
   * today, its back-end resumes at used.idx, but the reset is layout-blind): the used entries the
   * device published and no burst received (used.idx past our position, §2.7.8) are taken back,
   * freed once and their frames counted (rx_qN_reset_dropped_packets, ParkDrop); what the ring
   * still owns afterwards the device never used, and the main thread frees it. Untrusted as in
   * rxGeneral: a used.idx ahead of what was made available is counted and nothing is taken; an id
   * out of range or not outstanding is counted and owns nothing.
   */
  protected override onPark(): void {
    const u32 = this.u32;
    const drop = new ParkDrop(this.mbufs, this.u8, u32, this.hdr, this.mrg, this.size);
    for (let avail = this.loadUsed(); avail > 0; avail--) {
      const id = u32[this.usedRingW + 2 * (this.usedSeen & this.mask)]!;
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
      const d = this.inOrder ? this.descCons & this.mask : id;
      const m = d < this.size ? u32[this.ownerW + d]! : 0;
      if (m === 0) {
        this.f64[this.st + S_BAD_USED_ID] += 1;
        continue;
      }
      this.takeBack(d);
      drop.drop(m);
    }
    if (drop.frames !== 0) this.f64[this.st + S_RESET_DROPPED] += drop.frames;
  }

  /**
   * Makes the next burst that receives move used_event (its refresh looks due): at attach, and
   * while the rare-counter branches are primed, so that rxBurst's moveUsedEvent call has type
   * feedback before rxBurst is optimized (moving used_event to where we are is harmless at any time).
   */
  private moveUsedEventNext(): void {
    this.usedEventAt = (this.usedSeen - USED_EVENT_REFRESH) & 0xffff;
  }

  /**
   * Poll mode under EVENT_IDX: the device notifies when used.idx passes used_event (§2.7.10), and
   * there is no flag to say "never". used_event is kept USED_EVENT_LAG behind what we received,
   * moved once every USED_EVENT_REFRESH entries, as TX keeps it (TxQueue.moveUsedEvent has the
   * argument: at most a device burst behind anything it published, moved before the device can
   * come round to it). Written per burst ("just behind" us) it was a store into a line the device
   * reads at every used-ring publish (DPDK's vhost_vring_call_split): one cross-CPU transfer per
   * burst each way, waited for by the next Atomics.store (an xchg).
   */
  private moveUsedEvent(): void {
    this.usedEventAt = this.usedSeen;
    // The device reads it when it decides to notify; a plain store: no ordering needed.
    this.u16[this.usedEventH] = (this.usedSeen - USED_EVENT_LAG) & 0xffff;
  }

  /** Load used.idx; a value ahead of what we made available is counted and skipped whole. */
  private loadUsed(): number {
    this.usedCached = Atomics.load(this.u16, this.usedIdxH);
    const avail = (this.usedCached - this.usedSeen) & 0xffff;
    if (avail > this.pending) {
      this.f64[this.st + S_BAD_USED_IDX] += 1;
      this.f64[this.st + S_ERRORS] += 1;
      this.usedSeen = this.usedCached;
      return 0;
    }
    return avail;
  }

  /** A frame's buffers go past the cached used.idx: look once more (rare: only under MRG_RXBUF). */
  private loadUsedMore(avail: number): number {
    const idx = Atomics.load(this.u16, this.usedIdxH);
    const more = (idx - this.usedSeen) & 0xffff;
    if (more > this.pending) return avail;
    this.usedCached = idx;
    return more;
  }

  /** Descriptor `d` is back from the device: clear its owner, free it, one fewer pending. */
  private takeBack(d: number): void {
    this.u32[this.ownerW + d] = 0;
    this.pending--;
    if (this.inOrder) {
      this.descCons = (this.descCons + 1) & 0xffff;
      this.nfree++;
    } else this.freeDesc(d);
  }

  /** Post fresh mbufs on every free descriptor, in bulk; count rx_nombuf when the pool is short. */
  private refillRing(): void {
    const u16 = this.u16;
    const u32 = this.u32;
    const pool = this.pool!;
    const arr = this.refill;
    // The buffer's address from its handle, its length from the pool (mbuf layout.ts: buf_addr =
    // handle + MBUF_HDR, buf_len = the pool's data room, both fixed at pool creation): the refill
    // reads and writes no mbuf line; rxBurst writes the mbuf's fields when the frame arrives.
    const addrOff = MBUF_HDR + PKTMBUF_HEADROOM - this.hdr;
    const postLen = this.postLen;
    const old = this.availIdx;
    let idx = old;
    while (this.nfree > 0) {
      // One load of nfree: a second read, run only when fewer than a chunk are free (never at steady
      // burst 32), had no type feedback and deoptimized the refill (rx-refill-deopt.test.ts).
      const free = this.nfree;
      let c = free < REFILL_CHUNK ? free : REFILL_CHUNK;
      // A bulk is all or nothing: when the pool runs short, smaller bulks post
      // whatever it still has (only a dry pool pays these retries). Raw objects
      // (rte_mempool_get_bulk, as DPDK's rearm): every field of the reset state
      // is written by rxBurst when the frame arrives.
      while (c > 0 && pool.getBulk(arr, c) === 0) c >>>= 1;
      if (c === 0) {
        // Retried next burst (DPDK's rx_mbuf_alloc_failed counts what could not be posted).
        this.f64[this.st + S_NOMBUF] += this.nfree;
        break;
      }
      // IN_ORDER: the chunk's descriptors are the next c in table order. Each of their lines is
      // taken for writing first, all at once (a store of the high address word, 0 as the loop
      // writes it; the device reads none of them before the publish below), so the lines' transfers
      // from the device's CPU overlap instead of each waiting behind the last line's 16 stores.
      if (this.inOrder) touchDescLines(u32, this.desc, this.descHead & this.mask, c, this.size);
      for (let i = 0; i < c; i++) {
        const m = arr[i]!;
        const d = this.allocDesc();
        const a = this.desc + 16 * d;
        u32[a >>> 2] = m + addrOff;
        u32[(a + 4) >>> 2] = 0;
        u32[(a + 8) >>> 2] = postLen;
        u16[(a + 12) >>> 1] = VRING_DESC_F_WRITE;
        u32[this.ownerW + d] = m;
        const slot = this.availRingH + (idx & this.mask);
        // In order the slot already names descriptor d (written at setup): skip the store.
        if (u16[slot] !== d) u16[slot] = d;
        idx = (idx + 1) & 0xffff;
      }
      this.pending += c;
    }
    if (idx !== old) {
      this.availIdx = idx;
      // The one publish per burst: makes the descriptors and ring entries above visible to the device.
      Atomics.store(u16, this.availIdxH, idx);
      this.kickIfNeeded(old, idx);
    }
  }

  // ---------------------------------------------------------------- interrupt mode

  /**
   * rte_eth_dev_rx_intr_enable: ask the device for a used-buffer interrupt
   * (clears NO_INTERRUPT; under EVENT_IDX sets used_event to our position).
   * For apps that would rather sleep (waitInterrupt) than spin when idle.
   */
  enableInterrupt(): void {
    if (!this.running) throw new TpdkError("ESTATE", `virtio-pmd: port ${this.portId} rx queue ${this.queueId} is not started`);
    this.interrupts = true;
    // Under EVENT_IDX used_event alone asks for the interrupt (the flags stay 0, §2.7.7).
    if (this.eventIdx) Atomics.store(this.u16, this.usedEventH, this.usedSeen);
    else Atomics.store(this.u16, this.availFlagsH, 0);
  }

  /** rte_eth_dev_rx_intr_disable: back to pure polling. */
  disableInterrupt(): void {
    if (!this.running) return;
    this.interrupts = false;
    if (this.eventIdx) this.moveUsedEvent();
    else Atomics.store(this.u16, this.availFlagsH, VRING_AVAIL_F_NO_INTERRUPT);
  }

  /**
   * Sleep until the device signals a used buffer on this queue, or
   * `timeoutMs` passes. Returns true when there is (probably) work: an
   * interrupt arrived, or used entries were already waiting. Call after
   * enableInterrupt() and after an rxBurst that returned 0.
   */
  waitInterrupt(timeoutMs: number): boolean {
    if (!this.running) return false;
    const v = Atomics.load(this.i32, this.interruptI);
    if (this.eventIdx) Atomics.store(this.u16, this.usedEventH, this.usedSeen);
    // Checked after reading the interrupt word: a device publishing after this
    // check bumps the word, so the wait below returns at once.
    if (Atomics.load(this.u16, this.usedIdxH) !== this.usedSeen) return true;
    const r = Atomics.wait(this.i32, this.interruptI, v, timeoutMs);
    if (r === "timed-out") return false;
    this.f64[this.st + S_INTERRUPTS] += 1;
    return true;
  }

  /** Descriptors currently posted to the device (diagnostics). */
  get posted(): number {
    return this.pending;
  }
}

/** DPDK's size bin (see stats.ts sizeBin), inlined here for the hot path. */