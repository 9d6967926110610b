import { type Memory, TpdkError } from "@tpdk/eal";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { FreeBatcher, castQuad, countFrame, pushHeader12, sizeBinOf, sizeRun, sizeRun4, sizeRunEnd, touchDescLines, zeroHeader, zeroHeader12 } from "./frame-steps.js";
import * as L from "./layout.js";
import { QueueBase } from "./queue-base.js";
import { isPackedQueue } from "./packed-check.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { M_BUF_ADDR, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_POOL_ID, M_REFCNT } = MB;
const { VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT } = V;
const {
  QF_ANY_LAYOUT, QF_INDIRECT, QF_MRG_RXBUF, Q_FREE_THRESH, Q_TX_MODE, Q_TX_REGION, S_BAD_USED_ID, S_BAD_USED_IDX,
  S_BYTES, S_ERRORS, S_PACKETS, S_TX_CHAINED,
  S_TX_INDIRECT, P_MAX_FRAME, S_TX_PUSH, TXM_AUTO, TXM_CHAINED, TXM_INDIRECT, TXM_PUSH,
  TX_INDIRECT_MAX, TX_REGION, TX_REGION_HDR, TX_REGION_TABLE,
} = L;

/** Most packets one txBurst call takes. */
export const TX_BURST_MAX = 64;
const FREE_BATCH = 64;

/**
 * How far behind the used.idx it loaded a polling queue keeps used_event, and how often it moves
 * it (entries): TX here (see moveUsedEvent), RX too (rxq.ts).
 */
export const USED_EVENT_LAG = 0x100;
export const USED_EVENT_REFRESH = 0x4000;

/**
 * The lcore side of a transmit queue. Per packet, DPDK's choice (or the
 * port's forced tx_mode):
 *
 *  push      one descriptor over header + frame; the header is written into
 *            the mbuf's headroom (VERSION_1 or ANY_LAYOUT, refcnt 1, one
 *            segment, headroom >= header)
 *  indirect  one ring descriptor (INDIRECT) -> this slot's table:
 *            [0] the slot's zero header, [1..] the segments (< 8 segments)
 *  chained   the slot's header descriptor, then one per segment (NEXT)
 *
 * Hot path: no allocation, no exceptions. One Atomics.store of avail.idx per
 * burst; used.idx is loaded only when descriptors run short (fewer free than
 * tx_free_thresh, or not enough for the next packet).
 *
 * Ownership: txBurst takes mbufs[off..off+k) and returns k; those belong to
 * the driver, which frees them once the device has used them. The caller
 * still owns the rest (retry or free them).
 */
export class TxQueue extends QueueBase {
  /** Descriptors in the chain headed by each descriptor (0 = not a head). */
  private ndesc = new Uint16Array(0);
  /** Our own copy of each chain's next links (the device cannot corrupt it). */
  private nextLocal = new Uint16Array(0);
  /**
   * IN_ORDER: per chain head, the pool id of an mbuf the push path proved
   * fast-freeable when it took it (one segment, next 0, refcnt 1: the caller
   * gave up its only reference), 0 for any other. Nobody else holds such an
   * mbuf while the ring does, so it is still in that state at reclaim, which
   * returns it to that pool without loading its line again (fastFreeBulk; as
   * PackedTxQueue).
   */
  private fastPool = new Uint16Array(0);
  private readonly freeArr = new Uint32Array(FREE_BATCH);
  /** IN_ORDER reclaim's free batches (fast and general; frame-steps.ts). */
  private readonly batcher = new FreeBatcher(this.mbufs);
  private freeThresh = 32;
  private region = 0;
  private mode = TXM_AUTO;
  private anyLayout = false;
  private indirectOk = false;
  /** Push is allowed by the mode and the layout (the per-packet conditions are checked per packet). */
  private pushOk = false;
  /** Longest frame the device takes (P_MAX_FRAME: MTU + Ethernet header + one VLAN tag). */
  private maxFrame = 1518;
  /**
   * MRG_RXBUF not negotiated: the push batch stores a header only where it is not all zero
   * (zeroHeader12), so the header line of a recycled mbuf stays quiet facing a device that writes
   * nothing into it then (DPDK's vhost). Under MRG_RXBUF the device stores `num_buffers` there on
   * every RX (virtio 1.2 §5.1.6.4), and the batch's three stores stay (frame-steps.ts says why).
   */
  private quietHeader = false;
  /** usedSeen when used_event was last moved (EVENT_IDX; see reclaim()). */
  private usedEventAt = 0;

  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, true);
  }

  /** This thread's handle on tx queue `q` of port `portId` (cold; keep it). Throws ESTATE if not set up. */
  static attach(mem: Memory, portId: number, q: number): TxQueue {
    if (isPackedQueue(mem, portId, q, true)) {
      throw new TpdkError("EINVAL", `virtio-pmd: tx queue ${q} of port ${portId} is a packed ring: attach it with PackedTxQueue.attach or txQueue()`);
    }
    return new TxQueue(mem, portId, q);
  }

  protected resizeLocal(size: number): void {
    if (this.ndesc.length !== size) {
      this.ndesc = new Uint16Array(size);
      this.nextLocal = new Uint16Array(size);
      this.fastPool = new Uint16Array(size);
    } else {
      this.ndesc.fill(0);
      this.fastPool.fill(0);
    }
  }

  protected onResync(): void {
    const w = this.zone >>> 2;
    this.freeThresh = this.u32[w + (Q_FREE_THRESH >>> 2)]!;
    this.region = this.u32[w + (Q_TX_REGION >>> 2)]!;
    this.mode = this.u32[w + (Q_TX_MODE >>> 2)]!;
    this.anyLayout = (this.flags & QF_ANY_LAYOUT) !== 0;
    this.indirectOk = (this.flags & QF_INDIRECT) !== 0;
    this.pushOk = (this.mode === TXM_AUTO || this.mode === TXM_PUSH) && this.anyLayout && this.hdr === 12;
    this.maxFrame = this.u32[(this.portEntry + P_MAX_FRAME) >>> 2]! || 1518;
    this.quietHeader = (this.flags & QF_MRG_RXBUF) === 0;
    // The first reclaim moves used_event (the ring starts with it at 0).
    this.usedEventAt = (this.usedCached - USED_EVENT_REFRESH) & 0xffff;
  }

  /**
   * rte_eth_tx_burst: enqueue mbufs[off..off+n) (at most 64), in order, until
   * one does not fit. Returns k: the first k now belong to the driver (freed
   * once the device has used them); the caller keeps the rest. 0 when stopped.
   */
  txBurst(mbufs: Uint32Array, n: number, off = 0): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    if (n > TX_BURST_MAX) n = TX_BURST_MAX;
    // Below the threshold, or short of room for the burst (DPDK's cleanup when nb_pkts > vq_free_cnt).
    if (this.nfree < this.freeThresh || this.nfree < n) this.reclaim();
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const hdr = this.hdr;
    const mode = this.mode;
    const old = this.availIdx;
    let idx = old;
    const maxFrame = this.maxFrame;
    let bytes = 0;
    let sent = 0;
    let full = 0;
    let over = 0;
    // Broadcast and multicast frames of the push batch (the general loop counts its own per frame).
    let bcast = 0;
    let mcast = 0;
    if (this.inOrder && this.pushOk) {
      // ---- IN_ORDER push batch (DPDK's virtio_xmit_pkts_inorder with can_push): one
      // descriptor per packet, taken in table order; indices in locals, counters summed
      // per burst. Stops before the first packet that is not push-eligible or does not
      // fit; the general loop below takes it from there (and reclaims if needed).
      const mask = this.mask;
      const ownerW = this.ownerW;
      const ndesc = this.ndesc;
      const fastPool = this.fastPool;
      const desc = this.desc;
      const availRingH = this.availRingH;
      // The queue's header zeroing (zeroHeader12): compare first without MRG_RXBUF.
      const compare = this.quietHeader;
      let dh = this.descHead;
      // One load: a second `this.nfree` in the false arm first ran when the ring had fewer free than
      // the burst, at a random moment of a run, and deoptimized txBurst there (no type feedback;
      // tx-short-ring-deopt.test.ts, bench README "Session 17: GC").
      const nfree = this.nfree;
      const k = n < nfree ? n : nfree;
      // Size bins: the burst's first bin is counted in a local (a burst is mostly one size; sizeRun).
      let sizes = 0;
      // The burst's descriptor lines taken for writing at once, before the loops below write them
      // (free descriptors: the device reads none before publishTx; frame-steps.ts says why).
      if (k !== 0) touchDescLines(u32, desc, dh & mask, k, this.size);
      // SPLIT_HIGH_ZERO: the push batch stores a descriptor's address, len, and flags with next (0)
      // as one word, not the address's high word: every path here writes 0 there (32-bit guest
      // addresses; touchDescLines too), the table starts zeroed (queue-zone.ts), and the device
      // only reads descriptors (virtio 1.2 §2.7.5): one that wrote one would mislead only its own
      // reads. Three stores per frame, as DPDK's in-order push (addr, len, flags).
      // Four at a time while four descriptors fill one line (the head 4-aligned; DPDK's
      // virtio_xmit_pkts_inorder / packed_vec batch): the four mbufs' fields loaded first, the
      // push test for the four, then their descriptors and the statistics of the four. A quad
      // with any frame the test refuses is left to the one-frame step below.
      while (sent < k) {
        while (k - sent >= 4 && (dh & 3) === 0) {
          const m0 = mbufs[off + sent]!;
          const m1 = mbufs[off + sent + 1]!;
          const m2 = mbufs[off + sent + 2]!;
          const m3 = mbufs[off + sent + 3]!;
          // data_off (low half) and refcnt (high half) in one word (M_DATA_OFF 8, M_REFCNT 10).
          const w0 = u32[(m0 + M_DATA_OFF) >>> 2]!;
          const w1 = u32[(m1 + M_DATA_OFF) >>> 2]!;
          const w2 = u32[(m2 + M_DATA_OFF) >>> 2]!;
          const w3 = u32[(m3 + M_DATA_OFF) >>> 2]!;
          const l0 = u32[(m0 + M_PKT_LEN) >>> 2]!;
          const l1 = u32[(m1 + M_PKT_LEN) >>> 2]!;
          const l2 = u32[(m2 + M_PKT_LEN) >>> 2]!;
          const l3 = u32[(m3 + M_PKT_LEN) >>> 2]!;
          const h0 = u32[m0 >>> 2]! + (w0 & 0xffff) - hdr;
          const h1 = u32[m1 >>> 2]! + (w1 & 0xffff) - hdr;
          const h2 = u32[m2 >>> 2]! + (w2 & 0xffff) - hdr;
          const h3 = u32[m3 >>> 2]! + (w3 & 0xffff) - hdr;
          // pushHeader12's test, for four: refcnt 1, one segment, headroom >= header, not too long, header 4-aligned.
          if (
            w0 >>> 16 !== 1 || w1 >>> 16 !== 1 || w2 >>> 16 !== 1 || w3 >>> 16 !== 1 ||
            (w0 & 0xffff) < hdr || (w1 & 0xffff) < hdr || (w2 & 0xffff) < hdr || (w3 & 0xffff) < hdr ||
            u16[(m0 + M_NB_SEGS) >>> 1] !== 1 || u16[(m1 + M_NB_SEGS) >>> 1] !== 1 ||
            u16[(m2 + M_NB_SEGS) >>> 1] !== 1 || u16[(m3 + M_NB_SEGS) >>> 1] !== 1 ||
            l0 > maxFrame || l1 > maxFrame || l2 > maxFrame || l3 > maxFrame || ((h0 | h1 | h2 | h3) & 3) !== 0
          ) break;
          zeroHeader12(u32, h0 >>> 2, compare);
          zeroHeader12(u32, h1 >>> 2, compare);
          zeroHeader12(u32, h2 >>> 2, compare);
          zeroHeader12(u32, h3 >>> 2, compare);
          const head = dh & mask;
          dh = (dh + 4) & 0xffff;
          const a = desc + 16 * head;
          const aw = a >>> 2;
          // Three stores per descriptor (addr, len, flags and next as one word, 0); the address's
          // high word is 0 already (SPLIT_HIGH_ZERO).
          u32[aw] = h0;
          u32[aw + 2] = u16[(m0 + M_DATA_LEN) >>> 1]! + hdr;
          u32[aw + 3] = 0;
          u32[aw + 4] = h1;
          u32[aw + 6] = u16[(m1 + M_DATA_LEN) >>> 1]! + hdr;
          u32[aw + 7] = 0;
          u32[aw + 8] = h2;
          u32[aw + 10] = u16[(m2 + M_DATA_LEN) >>> 1]! + hdr;
          u32[aw + 11] = 0;
          u32[aw + 12] = h3;
          u32[aw + 14] = u16[(m3 + M_DATA_LEN) >>> 1]! + hdr;
          u32[aw + 15] = 0;
          ndesc[head] = 1;
          ndesc[head + 1] = 1;
          ndesc[head + 2] = 1;
          ndesc[head + 3] = 1;
          // The test saw one segment and refcnt 1; next 0 makes each the pool's state (fastPool).
          fastPool[head] = u32[(m0 + M_NEXT) >>> 2] === 0 ? u16[(m0 + M_POOL_ID) >>> 1]! : 0;
          fastPool[head + 1] = u32[(m1 + M_NEXT) >>> 2] === 0 ? u16[(m1 + M_POOL_ID) >>> 1]! : 0;
          fastPool[head + 2] = u32[(m2 + M_NEXT) >>> 2] === 0 ? u16[(m2 + M_POOL_ID) >>> 1]! : 0;
          fastPool[head + 3] = u32[(m3 + M_NEXT) >>> 2] === 0 ? u16[(m3 + M_POOL_ID) >>> 1]! : 0;
          const ow = ownerW + head;
          u32[ow] = m0;
          u32[ow + 1] = m1;
          u32[ow + 2] = m2;
          u32[ow + 3] = m3;
          // In order with one descriptor per packet each slot already names its head (written at setup).
          for (let j = 0; j < 4; j++) {
            const slot = availRingH + ((idx + j) & mask);
            if (u16[slot] !== head + j) u16[slot] = head + j;
          }
          idx = (idx + 4) & 0xffff;
          sent += 4;
          // ---- statistics of the four (a burst is mostly one size and unicast)
          bytes += l0 + l1 + l2 + l3;
          sizes = sizeRun4(f64, st, sizes, l0, l1, l2, l3);
          const d0 = h0 + hdr;
          const d1 = h1 + hdr;
          const d2 = h2 + hdr;
          const d3 = h3 + hdr;
          if (((u8[d0]! | u8[d1]! | u8[d2]! | u8[d3]!) & 1) !== 0) {
            const c = castQuad(u8, d0, d1, d2, d3);
            bcast += c >>> 3;
            mcast += c & 7;
          }
        }
        if (sent === k) break;
        // One frame: up to the next 4-aligned head (a burst that ended off a line boundary left the
        // next one there), the burst's last one to three, or a quad's first frame the test refused
        // (the next refused frame ends the batch here). Before, a head off the boundary sent every
        // later burst down this path frame by frame.
        const m = mbufs[off + sent]!;
        const h = pushHeader12(u16, u32, m, maxFrame, compare);
        if (h < 0) break;
        const len = u32[(m + M_PKT_LEN) >>> 2]!;
        const data = h + hdr;
        const head = dh & mask;
        dh = (dh + 1) & 0xffff;
        const aw = (desc >>> 2) + 4 * head;
        // As the quad's: addr, len, flags and next (SPLIT_HIGH_ZERO).
        u32[aw] = h;
        u32[aw + 2] = u16[(m + M_DATA_LEN) >>> 1]! + hdr;
        u32[aw + 3] = 0;
        ndesc[head] = 1;
        // pushHeader12 checked one segment and refcnt 1 on this line; next 0 makes it the pool's state.
        fastPool[head] = u32[(m + M_NEXT) >>> 2] === 0 ? u16[(m + M_POOL_ID) >>> 1]! : 0;
        u32[ownerW + head] = m;
        const slot = availRingH + (idx & mask);
        // In order with one descriptor per packet the slot already names `head` (written at setup).
        if (u16[slot] !== head) u16[slot] = head;
        idx = (idx + 1) & 0xffff;
        // ---- statistics, summed per burst (same totals as per packet)
        bytes += len;
        sizes = sizeRun(f64, st, sizes, sizeBinOf(len), 1);
        if ((u8[data]! & 1) !== 0) {
          if ((u8[data]! & u8[data + 1]! & u8[data + 2]! & u8[data + 3]! & u8[data + 4]! & u8[data + 5]!) === 0xff) bcast++;
          else mcast++;
        }
        sent++;
      }
      if (sent !== 0) {
        this.descHead = dh;
        this.nfree -= sent;
        this.pending += sent;
        f64[st + S_TX_PUSH] += sent;
        sizeRunEnd(f64, st, sizes);
      }
      // Stopped for room (not at a frame it does not take): the ring is full as of the reclaim
      // above, and the burst ends here as the general loop's reclaim-and-break would end it. That
      // loop, never run for push frames, has no type feedback: entered at the first full ring
      // long after txBurst was optimized, it deoptimized it (as PackedTxQueue; bench/notes/gc.md,
      // "Session 11: GC (what still allocated on the lcore: deopts mid-run)").
      if (sent === k && k < n) {
        full = 1;
        n = sent;
      }
    }
    // Read once per burst (countRareTx, after the loop, is what changes it): the general loop's reclaim
    // check below runs on every chained / indirect frame.
    const priming = this.statPrimes !== 0;
    for (; sent < n; sent++) {
      const m = mbufs[off + sent]!;
      const len = u32[(m + M_PKT_LEN) >>> 2]!;
      if (len > maxFrame) {
        // Longer than the device accepts (the negotiated MTU, §5.1.4.1; else 1500): not sent,
        // handed back to the caller, which drops and counts it (l2fwd's dropped; here
        // oversize_packets and errors, DPDK's oerrors). Kept at the front of the range
        // processed (whose sent handles nobody needs), moved behind the sent ones at the end.
        mbufs[off + sent] = mbufs[off + over]!;
        mbufs[off + over] = m;
        over++;
        continue;
      }
      const nseg = u16[(m + M_NB_SEGS) >>> 1]!;
      const dataOff = u16[(m + M_DATA_OFF) >>> 1]!;
      // DPDK's order: push if possible, else indirect, else chained (tx_mode may force one).
      let path = TXM_CHAINED;
      let fp = 0;
      if (
        (mode === TXM_AUTO || mode === TXM_PUSH) &&
        this.anyLayout &&
        nseg === 1 &&
        dataOff >= hdr &&
        u16[(m + M_REFCNT) >>> 1] === 1
      ) {
        path = TXM_PUSH;
        // One segment, refcnt 1, and next 0: the pool's state (fastPool).
        if (u32[(m + M_NEXT) >>> 2] === 0) fp = u16[(m + M_POOL_ID) >>> 1]!;
      } else if ((mode === TXM_AUTO || mode === TXM_INDIRECT) && this.indirectOk && nseg < TX_INDIRECT_MAX) {
        path = TXM_INDIRECT;
      }
      const need = path === TXM_CHAINED ? nseg + 1 : 1;
      // Also while statPrimes lasts (a reclaim is harmless at any time): this call first ran when the
      // ring was short for the first time, at a random moment of a run, and deoptimized txBurst there
      // (no type feedback; tx-short-ring-deopt.test.ts, bench README "Session 17: GC").
      if (need > this.nfree || priming) {
        this.reclaim();
        if (need > this.nfree) {
          full = 1;
          break;
        }
      }
      let head: number;
      if (path === TXM_PUSH) {
        head = this.allocDesc();
        const data = u32[(m + M_BUF_ADDR) >>> 2]! + dataOff;
        const h = data - hdr;
        zeroHeader(u8, u32, h, hdr);
        const a = this.desc + 16 * head;
        u32[a >>> 2] = h;
        u32[(a + 4) >>> 2] = 0;
        u32[(a + 8) >>> 2] = u16[(m + M_DATA_LEN) >>> 1]! + hdr;
        u16[(a + 12) >>> 1] = 0;
        this.ndesc[head] = 1;
        f64[st + S_TX_PUSH] += 1;
      } else if (path === TXM_INDIRECT) {
        head = this.allocDesc();
        // The slot's table: [0] (header, NEXT, next=1) and the next links were written at setup.
        const table = this.region + TX_REGION * head + TX_REGION_TABLE;
        let s = m;
        for (let k = 1; k <= nseg; k++) {
          const t = table + 16 * k;
          u32[t >>> 2] = u32[(s + M_BUF_ADDR) >>> 2]! + u16[(s + M_DATA_OFF) >>> 1]!;
          u32[(t + 4) >>> 2] = 0;
          u32[(t + 8) >>> 2] = u16[(s + M_DATA_LEN) >>> 1]!;
          u16[(t + 12) >>> 1] = k < nseg ? VRING_DESC_F_NEXT : 0;
          s = u32[(s + M_NEXT) >>> 2]!;
        }
        const a = this.desc + 16 * head;
        u32[a >>> 2] = table;
        u32[(a + 4) >>> 2] = 0;
        u32[(a + 8) >>> 2] = 16 * (nseg + 1);
        u16[(a + 12) >>> 1] = VRING_DESC_F_INDIRECT;
        this.ndesc[head] = 1;
        f64[st + S_TX_INDIRECT] += 1;
      } else {
        head = this.allocDesc();
        // Header descriptor from the slot's region (zeroed at setup, stays zero).
        let a = this.desc + 16 * head;
        u32[a >>> 2] = this.region + TX_REGION * head + TX_REGION_HDR;
        u32[(a + 4) >>> 2] = 0;
        u32[(a + 8) >>> 2] = hdr;
        u16[(a + 12) >>> 1] = VRING_DESC_F_NEXT;
        let prev = head;
        let s = m;
        for (let k = 0; k < nseg; k++) {
          const d = this.allocDesc();
          u16[(a + 14) >>> 1] = d;
          this.nextLocal[prev] = d;
          a = this.desc + 16 * d;
          u32[a >>> 2] = u32[(s + M_BUF_ADDR) >>> 2]! + u16[(s + M_DATA_OFF) >>> 1]!;
          u32[(a + 4) >>> 2] = 0;
          u32[(a + 8) >>> 2] = u16[(s + M_DATA_LEN) >>> 1]!;
          u16[(a + 12) >>> 1] = k + 1 < nseg ? VRING_DESC_F_NEXT : 0;
          prev = d;
          s = u32[(s + M_NEXT) >>> 2]!;
        }
        this.ndesc[head] = nseg + 1;
        f64[st + S_TX_CHAINED] += 1;
      }
      // (Only IN_ORDER reclaim reads fastPool; the other frees by freeBulk, which checks each mbuf.)
      this.fastPool[head] = fp;
      u32[this.ownerW + head] = m;
      const slot = this.availRingH + (idx & this.mask);
      // In order with one descriptor per packet the slot already names `head` (written at setup).
      if (u16[slot] !== head) u16[slot] = head;
      idx = (idx + 1) & 0xffff;
      this.pending++;
      // ---- statistics
      bytes += len;
      countFrame(u8, f64, st, len, u32[(m + M_BUF_ADDR) >>> 2]! + dataOff);
    }
    if (idx !== old) {
      this.availIdx = idx;
      // The one publish per burst: makes the descriptors, tables and ring entries above visible
      // (on x86 a plain store, its kick check fenced once per TX_FENCE_FRAMES: QueueBase.publishTx).
      this.publishTx(old, idx);
      f64[st + S_PACKETS] += sent - over;
      f64[st + S_BYTES] += bytes;
    }
    // Usually all 0: added only when one is not (QueueBase.countRareTx).
    this.countRareTx(bcast, mcast, full, over);
    // The oversize frames to [sent - over, sent): the caller keeps everything from there on.
    if (over !== 0) mbufs.copyWithin(off + sent - over, off, off + over);
    return sent - over;
  }

  /**
   * Run the fenced kick check now over what was published unfenced (publishTx), kicking if the
   * device asks: call when the TX queue goes idle (tpdk's own: txFence in registry.ts). Nothing
   * when all is fenced, or while the queue is stopped or not yet in sync (its next burst resyncs).
   */
  fence(): void {
    const run = this.u32[this.runW]!;
    if (run !== this.run || run === 0) return;
    const from = this.fencedIdx;
    const idx = this.availIdx;
    if (idx === from) return;
    if (this.fencedCheck(idx, from)) this.kickOrPrime(true);
  }

  /** Parking for a ring reset (PortQueues.resetRings): take back what the device used first. */
  protected override onPark(): void {
    this.reclaim();
  }

  /**
   * Take back what the device has used: return each chain's descriptors to
   * the free list and free its mbuf (batched). Loads used.idx only when the
   * cached copy is used up.
   */
  private reclaim(): void {
    let avail = (this.usedCached - this.usedSeen) & 0xffff;
    if (avail === 0) {
      // Pairs with the device's Atomics.store of used.idx after it wrote the used entries.
      this.usedCached = Atomics.load(this.u16, this.usedIdxH);
      avail = (this.usedCached - this.usedSeen) & 0xffff;
      if (avail > this.pending) {
        this.f64[this.st + S_BAD_USED_IDX] += 1;
        this.f64[this.st + S_ERRORS] += 1;
        this.usedSeen = this.usedCached;
        return;
      }
    }
    if (this.eventIdx && ((this.usedCached - this.usedEventAt) & 0xffff) >= USED_EVENT_REFRESH) this.moveUsedEvent();
    if (this.inOrder) {
      this.reclaimInOrder(avail);
      return;
    }
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const mask = this.mask;
    const size = this.size;
    const arr = this.freeArr;
    let nf = 0;
    let errors = 0;
    for (; avail > 0; avail--) {
      const ue = this.usedRingW + 2 * (this.usedSeen & mask);
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
      const head = u32[ue]!;
      if (head >= size || u32[ownerW + head] === 0) {
        this.f64[this.st + S_BAD_USED_ID] += 1;
        errors++;
        continue;
      }
      const m = u32[ownerW + head]!;
      u32[ownerW + head] = 0;
      const k = this.ndesc[head]!;
      this.ndesc[head] = 0;
      this.pending--;
      let d = head;
      for (let i = 0; i < k; i++) {
        this.freeDesc(d);
        d = this.nextLocal[d]!;
      }
      arr[nf++] = m;
      if (nf === FREE_BATCH) {
        this.mbufs.freeBulk(arr, nf);
        nf = 0;
      }
    }
    if (nf !== 0) this.mbufs.freeBulk(arr, nf);
    if (errors !== 0) this.f64[this.st + S_ERRORS] += errors;
  }

  /**
   * TX wants no used-buffer notifications (it reclaims by polling), but under
   * EVENT_IDX there is no flag to say so (§2.7.10): the device notifies when
   * used.idx passes used_event. Left at 0, it passed it every 2^16 entries:
   * DPDK's vhost wrote the call eventfd ~210 times a second at 14 Mpps, each
   * a main-thread wake (the transport's call watch) and its garbage. So
   * used_event is kept USED_EVENT_LAG behind the used.idx we last loaded (the
   * device notifies when used_event lies in [its used.idx at its previous
   * check, its new one): at most a device burst behind any used.idx it has
   * published, never that far back; "just behind", as RX keeps it, can still
   * be hit when the device checks right after publishing what we just read),
   * moved once every USED_EVENT_REFRESH entries: before the device can come
   * round to it, since it runs at most a ring (<= 32768) ahead of what we
   * loaded and 2^14 + 32768 + the lag < 2^16. One store per 16384 frames, not
   * per burst, so the device's read of it finds the line unchanged.
   */
  private moveUsedEvent(): void {
    this.usedEventAt = this.usedCached;
    // The device reads it when it decides to notify (vhost_vring_call_split); a plain store: no ordering needed.
    this.u16[this.usedEventH] = (this.usedCached - USED_EVENT_LAG) & 0xffff;
  }

  /**
   * While statPrimes lasts the next reclaim moves used_event too (harmless at any time): its call
   * otherwise first ran USED_EVENT_REFRESH entries into traffic, after reclaim was optimized
   * without it (bench README "Session 17: the lcore's start-up allocation").
   */
  protected override primeTx(): void {
    this.usedEventAt = (this.usedCached - USED_EVENT_REFRESH) & 0xffff;
  }

  /**
   * reclaim() under IN_ORDER (DPDK's virtio_xmit_cleanup_inorder): `avail`
   * used entries, each naming the chain at the consumer position (a device
   * may write one entry per batch and skip the rest, §2.7.9, so the entries
   * are not read); positions and counters in locals, written back once, the
   * mbufs freed in bulk. A position that owns no mbuf (cannot happen unless
   * the shadow state is broken) is counted as a bad used id, as before.
   */
  private reclaimInOrder(avail: number): void {
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const ndesc = this.ndesc;
    const fastPool = this.fastPool;
    const mask = this.mask;
    const batcher = this.batcher;
    let seen = this.usedSeen;
    let cons = this.descCons;
    let pending = this.pending;
    let freed = 0;
    let errors = 0;
    for (; avail > 0; avail--) {
      seen = (seen + 1) & 0xffff;
      const head = cons & mask;
      const m = u32[ownerW + head]!;
      if (m === 0) {
        errors++;
        continue;
      }
      u32[ownerW + head] = 0;
      const k = ndesc[head]!;
      ndesc[head] = 0;
      pending--;
      cons = (cons + k) & 0xffff;
      freed += k;
      batcher.add(m, fastPool[head]!);
    }
    this.usedSeen = seen;
    this.descCons = cons;
    this.pending = pending;
    this.nfree += freed;
    batcher.flush();
    if (errors !== 0) {
      this.f64[this.st + S_BAD_USED_ID] += errors;
      this.f64[this.st + S_ERRORS] += errors;
    }
  }

  /** Take back everything the device has used now (e.g. before an lcore parks). Returns free descriptors. */
  cleanup(): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    this.usedCached = this.usedSeen; // force a fresh load
    this.reclaim();
    return this.nfree;
  }

  /** Free descriptors (diagnostics). */
  get free(): number {
    return this.nfree;
  }
  /** Packets handed to the device and not yet reclaimed (diagnostics). */
  get inFlight(): number {
    return this.pending;
  }
}
