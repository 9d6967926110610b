import type { Memory } from "@tpdk/eal";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { FreeBatcher, countFrame, pushHeader, sizeBinOf, sizeRun, sizeRunEnd, touchDescLines, zeroHeader } from "./frame-steps.js";
import * as L from "./layout.js";
import { STORE_FENCES as HOST_STORE_FENCES, packedKickNeeded, packedRangeAsks } from "./packed-queue.js";
import { QueueBase, TX_FENCE_FRAMES } from "./queue-base.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  VRING_DESC_F_NEXT: F_NEXT, VRING_DESC_F_INDIRECT: F_INDIRECT, VRING_PACKED_DESC_F_AVAIL: F_AVAIL,
  VRING_PACKED_DESC_F_USED: F_USED,
} = V;
const { M_BUF_ADDR, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_POOL_ID, M_REFCNT } = MB;
const {
  QF_ANY_LAYOUT, QF_INDIRECT, Q_FREE_THRESH, Q_PACKED_FENCED, Q_PACKED_PUBLISHED, Q_TX_MODE, Q_TX_REGION, S_BAD_USED_ID, S_BYTES,
  S_ERRORS, S_PACKETS, S_TX_CHAINED, S_TX_INDIRECT,
  S_TX_PUSH, P_MAX_FRAME, TXM_AUTO, TXM_CHAINED, TXM_INDIRECT, TXM_PUSH, TX_INDIRECT_MAX, TX_REGION,
  TX_REGION_HDR, TX_REGION_TABLE,
} = L;

const TX_BURST_MAX = 64;
const FREE_BATCH = 64;
/** Both wrap bits of a descriptor's flags: equal to the wrap counter (both set or both clear) when used (§2.8.1). */
const F_WRAP_BITS = F_AVAIL | F_USED;
/** x86 (see PackedTxQueue.publish): the head's flags stored plainly, the kick check fenced once per batch. */
const STORE_FENCES = HOST_STORE_FENCES;
/** The ring's start position, pos | wrap << 15: position 0, wrap counter 1 (§2.8.1). */
const START_POS = 0x8000;

/**
 * TxQueue (txq.ts) for a packed ring (virtio 1.2 §2.8): the same per-packet
 * choice of push, indirect or chained, written as consecutive ring
 * descriptors from the avail position (a chain's descriptors in ring order,
 * NEXT on all but the last, the buffer id in each; §2.8.6), and published
 * with one Atomics.store of the burst's first descriptor's flags.
 *
 * Two resources: ring descriptors (nfreeDesc; a chained packet takes
 * nseg + 1) and buffer ids (the free-id stack; under IN_ORDER the id is the
 * head's ring position instead, DPDK's choice, so a batched used descriptor
 * names the batch's last head). Reclaim reads used descriptors at the used
 * position and skips as many positions as the id's buffer took (§2.8.6), or
 * under IN_ORDER every buffer up to the named one (§2.8.8).
 */
export class PackedTxQueue extends QueueBase {
  /** Ring descriptors each buffer id took (0 = not outstanding). */
  private ndesc = new Uint16Array(0);
  /**
   * IN_ORDER: per ring position, the pool id of a buffer the push batch proved
   * fast-freeable when it took it (one segment, next 0, refcnt 1: the caller
   * gave up its only reference), 0 for any other. Nobody else holds such an
   * mbuf while the ring does, so it is still in that state at reclaim, which
   * returns it to that pool without loading its line again (fastFreeBulk).
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
  /** Push possible for one-segment packets (tx_mode auto or push, ANY_LAYOUT, the 12-byte header). */
  private pushOk = false;
  private maxFrame = 1518;
  private availPos = 0;
  private availWrap = 1;
  private usedPos = 0;
  private usedWrap = 1;
  private nfreeDesc = 0;
  private descH = 0;
  private devEvtH = 0;
  /** x86 publish: descriptors made available since the last fenced kick check or kick. */
  private unfenced = 0;
  /** x86 publish: the avail position (pos | wrap << 15) at the last fenced kick check or kick. */
  private fencedAt = START_POS;
  /** x86 publish: a range of this many descriptors goes to the fenced check (TX_FENCE_FRAMES, at most the ring). */
  private fenceAt = TX_FENCE_FRAMES;
  /** u32 indices of the zone's Q_PACKED_FENCED and Q_PACKED_PUBLISHED words (the main thread's backstop). */
  private fencedPosW = 0;
  private publishedW = 0;

  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, true);
  }

  /** This thread's handle on packed tx queue `q` of port `portId` (cold; keep it). */
  static attach(mem: Memory, portId: number, q: number): PackedTxQueue {
    return new PackedTxQueue(mem, portId, q);
  }

  protected resizeLocal(size: number): void {
    if (this.ndesc.length !== size) {
      this.ndesc = new Uint16Array(size);
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
    // A TX ring starts empty at every start (queue-zone.ts resetRing).
    this.availPos = this.usedPos = 0;
    this.availWrap = this.usedWrap = 1;
    this.pending = 0;
    this.nfreeDesc = this.size;
    this.descH = this.desc >>> 1;
    this.devEvtH = this.usedFlagsH; // Q_USED is the device event suppression structure
    this.fenceAt = TX_FENCE_FRAMES < this.size ? TX_FENCE_FRAMES : this.size;
    this.fencedPosW = w + (Q_PACKED_FENCED >>> 2);
    this.publishedW = w + (Q_PACKED_PUBLISHED >>> 2);
    this.unfenced = 0;
    this.fencedAt = START_POS;
    this.u32[this.fencedPosW] = START_POS;
    this.u32[this.publishedW] = START_POS;
  }

  /**
   * Parking for a ring reset (the back-end went, a new one comes): take back what the old device
   * used, so the frames the ring still owns are the ones it never used (PortQueues.resetRings
   * frees and counts them).
   */
  protected override onPark(): void {
    this.reclaim();
  }

  /**
   * Run the fenced kick check now over what was published unfenced (publish), kicking if the
   * device asks: call when the TX queue goes idle (txFence in registry.ts). Nothing when all is
   * fenced (always, elsewhere than x86), or while the queue is stopped or not yet in sync.
   */
  fence(): void {
    const run = this.u32[this.runW]!;
    if (run !== this.run || run === 0 || this.unfenced === 0) return;
    if (this.fencedRangeCheck()) this.kickOrPrime(true);
  }

  /**
   * The burst's publish: the head descriptor's flags (every other descriptor of the burst was
   * written before, §2.8.6), then the kick check over the `posted` descriptors from (oldPos,
   * oldWrap); the ring's avail position (availPos, availWrap) is already past them.
   *
   * Elsewhere than x86 (STORE_FENCES false): Atomics.store of the flags and packedKickNeeded, a
   * fenced check per burst (virtio 1.2 §2.8.21.2: make the descriptors available, a barrier, then
   * read the event suppression structure of §2.8.10).
   *
   * On x86 Linux virtio-net's way (xmit_more: the barrier and the check once per batch), as the
   * split ring's QueueBase.publishTx: the flags are stored plainly (x86-TSO does not reorder a store
   * with the stores before it, and V8 keeps the order of typed-array stores, so the device sees the
   * head available after the burst's other descriptor stores), then the published position for the
   * main thread (Q_PACKED_PUBLISHED, after the flags by the same order), then a plain read of the
   * device event suppression structure over the whole range since the last fenced check. When it
   * asks for a kick, kick: kick() starts with an Atomics.add (a full barrier), so the device sees the
   * descriptors. When it does not, the answer may be stale: a device that re-enabled notifications
   * while our flags store still sat in the store buffer read the old flags and may sleep (the store
   * -> load race §2.8.21.2's barrier closes). So the range stays unfenced until a fenced check
   * (fencedRangeCheck: a full barrier, then the read) runs: once it reaches fenceAt descriptors
   * (TX_FENCE_FRAMES, at most the ring: a burst of 32 goes there at once, one barrier per burst as
   * before), at txFence() (fence() above), and as the last backstop on the main thread
   * (txKickBackstop, from Q_PACKED_FENCED and Q_PACKED_PUBLISHED).
   */
  private publish(firstH: number, firstFlags: number, oldPos: number, oldWrap: number, posted: number): void {
    const u16 = this.u16;
    if (!STORE_FENCES) {
      Atomics.store(u16, firstH, firstFlags);
      this.kickOrPrime(packedKickNeeded(u16, this.devEvtH, this.eventIdx, oldPos, oldWrap, posted, this.size));
      return;
    }
    // Plain stores, kept after the burst's descriptor stores by x86-TSO (see above).
    u16[firstH] = firstFlags;
    this.u32[this.publishedW] = this.availPos | (this.availWrap << 15);
    const range = this.unfenced + posted;
    // Both branches below run in each publish while the kick path is primed (see
    // QueueBase.kickIfNeeded): a device that polls asks for its first kick long after the burst was
    // optimized, and one that wants every kick never lets the fenced check run; code never run there
    // has no type feedback and would deoptimize the burst. Primed, the fenced check fences a publish
    // that needed none: harmless.
    const primed = this.kickPrimesLeft !== 0;
    let kick = false;
    this.unfenced = range;
    if (range < this.fenceAt || primed) {
      kick = this.deviceAsks(this.fencedAt, range);
      // The kick is the barrier (kick() starts with an Atomics.add): everything published is fenced.
      if (kick) this.fenceAll();
    }
    if ((!kick && range >= this.fenceAt) || primed) {
      if (this.fencedRangeCheck()) kick = true;
    }
    this.kickOrPrime(kick);
  }

  /** Record the avail position as fenced, for this object and the main thread's backstop (Q_PACKED_FENCED). */
  private fenceAll(): void {
    const at = this.availPos | (this.availWrap << 15);
    this.fencedAt = at;
    this.unfenced = 0;
    this.u32[this.fencedPosW] = at;
  }

  /**
   * The fenced kick check over the unfenced range: the avail position stored into Q_PACKED_FENCED
   * with Atomics.store (an xchg: a full barrier, §2.8.21.2's; not the head's flags again, which the
   * device may already have made used), then the device event suppression structure read, so a
   * device that re-enabled notifications either sees the descriptors or has its new flags read here.
   */
  private fencedRangeCheck(): boolean {
    const from = this.fencedAt;
    const n = this.unfenced;
    const at = this.availPos | (this.availWrap << 15);
    Atomics.store(this.u32, this.fencedPosW, at);
    this.fencedAt = at;
    this.unfenced = 0;
    return this.deviceAsks(from, n);
  }

  /**
   * The device event suppression structure (§2.8.10) read with plain loads (x86 only: publish's
   * cheap check, and fencedRangeCheck after its barrier): does the device want a kick for the `n`
   * descriptors made available from `from` (pos | wrap << 15)?
   */
  private deviceAsks(from: number, n: number): boolean {
    const u16 = this.u16;
    const evH = this.devEvtH;
    return packedRangeAsks(u16[evH + 1]!, u16[evH]!, this.eventIdx, from, n, this.size);
  }

  /** rte_eth_tx_burst on a packed ring: see TxQueue.txBurst (same contract). */
  txBurst(mbufs: Uint32Array, n: number, off = 0): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    if (n > TX_BURST_MAX) n = TX_BURST_MAX;
    // Below the threshold, or short of room for the burst (DPDK's cleanup when nb_pkts > vq_free_cnt).
    if (this.nfreeDesc < this.freeThresh || this.nfreeDesc < n) this.reclaim();
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const hdr = this.hdr;
    const mode = this.mode;
    const size = this.size;
    const maxFrame = this.maxFrame;
    const oldPos = this.availPos;
    const oldWrap = this.availWrap;
    let firstH = -1;
    let firstFlags = 0;
    let posted = 0;
    let bytes = 0;
    let sent = 0;
    let full = 0;
    let over = 0;
    // Broadcast and multicast frames of the push batch (the general loop counts its own per frame).
    let bcast = 0;
    let mcast = 0;
    if (this.inOrder && this.pushOk) {
      // ---- IN_ORDER push batch (DPDK's virtio_xmit_pkts_packed with can_push, in order): one
      // descriptor per packet at consecutive ring positions, the id its position; positions and
      // counters in locals, written back once. Stops before the first packet that is not
      // push-eligible or does not fit; the general loop below takes it from there.
      const descH = this.descH;
      const ownerW = this.ownerW;
      const ndesc = this.ndesc;
      const fastPool = this.fastPool;
      let pos = this.availPos;
      let wrap = this.availWrap;
      // One load: a second read of the field in the ring-short case only had no type feedback when that case
      // first came, seconds into traffic (a deopt, then a scavenge; tx-short-ring-deopt.test.ts).
      const nfreeDesc = this.nfreeDesc;
      const k = n < nfreeDesc ? n : nfreeDesc;
      // Size bins: the burst's first bin is counted in a local (a burst is mostly one size; sizeRun).
      let sizes = 0;
      // The burst's descriptor lines after its first taken for writing at once, before the loop
      // writes them (free positions: the device reads none but the flags before the head's flags
      // store; frame-steps.ts). Not the first line: the device polls the flags at our first position
      // (§2.8.2), so a store there ahead of the descriptor's own took the line from it once more per
      // burst, at burst 1 per frame (bench/notes/both-rings.md, "Session 20: burst 32 on the AMD
      // host": packed b1 lower).
      // Descriptors in the burst's first line (to the table's end when it ends mid-line).
      let inFirst = 4 - (((descH << 1) + 16 * pos) >>> 4 & 3);
      if (inFirst > size - pos) inFirst = size - pos;
      if (k > inFirst) touchDescLines(u32, descH << 1, pos + inFirst === size ? 0 : pos + inFirst, k - inFirst, size);
      // The burst's head (its flags are the publish): fixed before the loop, which stores every other
      // descriptor's flags, so the loop carries no head state. The loop keeps few values live (one
      // index into mbufs, the header size a literal: pushOk means 12, the group-address frames in one
      // counter) and loads the mbuf's fields once each: TurboFan's code for it spilled ~15 values
      // to the stack per frame, stores that queue in the store buffer behind the descriptor stores
      // waiting for their lines (bench/notes/both-rings.md, "Session 32: TX line by line").
      const headH = descH + (pos << 3) + 7;
      const headFlags = wrap !== 0 ? F_AVAIL : F_USED;
      // Broadcast frames (high half) and multicast ones (low half) of the batch.
      let casts = 0;
      const end = off + k;
      let i = off;
      for (; i < end; i++) {
        const m = mbufs[i]!;
        const a = pushHeader(u8, u16, u32, m, 12, maxFrame);
        if (a < 0) break;
        const len = u32[(m + M_PKT_LEN) >>> 2]!;
        const h = descH + (pos << 3);
        u32[h >>> 1] = a;
        u32[(h >>> 1) + 1] = 0;
        u32[(h >>> 1) + 2] = u16[(m + M_DATA_LEN) >>> 1]! + 12;
        u16[h + 6] = pos;
        if (h + 7 !== headH) u16[h + 7] = wrap !== 0 ? F_AVAIL : F_USED;
        ndesc[pos] = 1;
        // pushHeader checked one segment and refcnt 1 on this line; next 0 makes it the pool's state.
        fastPool[pos] = u32[(m + M_NEXT) >>> 2] === 0 ? u16[(m + M_POOL_ID) >>> 1]! : 0;
        u32[ownerW + pos] = m;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
        }
        // ---- statistics, summed per burst (the same totals as per packet)
        bytes += len;
        sizes = sizeRun(f64, st, sizes, sizeBinOf(len), 1);
        const data = a + 12;
        if ((u8[data]! & 1) !== 0) {
          casts += (u8[data]! & u8[data + 1]! & u8[data + 2]! & u8[data + 3]! & u8[data + 4]! & u8[data + 5]!) === 0xff ? 0x10000 : 1;
        }
      }
      sent = i - off;
      bcast = casts >>> 16;
      mcast = casts & 0xffff;
      if (sent !== 0) {
        firstH = headH;
        firstFlags = headFlags;
        this.availPos = pos;
        this.availWrap = wrap;
        this.nfreeDesc -= sent;
        this.pending += sent;
        posted += sent;
        f64[st + S_TX_PUSH] += sent;
        sizeRunEnd(f64, st, sizes);
      }
      // Stopped for room (not at a frame it does not take): the ring is full, as of the reclaim
      // above. The burst ends here, as the general loop's own reclaim-and-break would end it:
      // that loop, never run for push frames, has no type feedback, and the first full ring long
      // after txBurst was optimized deoptimized it (insufficient type feedback): interpreted
      // bursts box the Float64 counters, a scavenge on the lcore (bench/notes/gc.md, "Session 11:
      // GC (what still allocated on the lcore: deopts mid-run)").
      if (sent === k && k < n) {
        full = 1;
        n = sent;
      }
    }
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
      let path = TXM_CHAINED;
      let fp = 0;
      if ((mode === TXM_AUTO || mode === TXM_PUSH) && this.anyLayout && nseg === 1 && dataOff >= hdr && u16[(m + M_REFCNT) >>> 1] === 1) {
        path = TXM_PUSH;
        // One segment, refcnt 1, and next 0: the pool's state (fastPool).
        if (u32[(m + M_NEXT) >>> 2] === 0) fp = u16[(m + M_POOL_ID) >>> 1]!;
      } else if ((mode === TXM_AUTO || mode === TXM_INDIRECT) && this.indirectOk && nseg < TX_INDIRECT_MAX) {
        path = TXM_INDIRECT;
      }
      const need = path === TXM_CHAINED ? nseg + 1 : 1;
      if (need > this.nfreeDesc || (!this.inOrder && this.freeTop === 0)) {
        this.reclaim();
        if (need > this.nfreeDesc || (!this.inOrder && this.freeTop === 0)) {
          full = 1;
          break;
        }
      }
      const headPos = this.availPos;
      const id = this.inOrder ? headPos : this.freeStack[--this.freeTop]!;
      const avail = this.availWrap !== 0 ? F_AVAIL : F_USED;
      const h = this.descH + (headPos << 3);
      let flags: number;
      if (path === TXM_PUSH) {
        const data = u32[(m + M_BUF_ADDR) >>> 2]! + dataOff;
        const a = data - hdr;
        // Zero the header in the headroom where it is not already zero (frame-steps.ts).
        zeroHeader(u8, u32, a, hdr);
        u32[h >>> 1] = a;
        u32[(h >>> 1) + 1] = 0;
        u32[(h >>> 1) + 2] = u16[(m + M_DATA_LEN) >>> 1]! + hdr;
        u16[h + 6] = id;
        flags = avail;
        f64[st + S_TX_PUSH] += 1;
      } else if (path === TXM_INDIRECT) {
        // The id's table: [0] its zero header (written at setup), [1..] the segments, read in order (§2.8.7).
        const table = this.region + TX_REGION * id + TX_REGION_TABLE;
        let s = m;
        for (let k = 1; k <= nseg; k++) {
          const t = table + 16 * k;
          u32[t >>> 2] = u32[(s + M_BUF_ADDR) >>> 2]! + u16[(s + M_DATA_OFF) >>> 1]!;
          u32[(t + 4) >>> 2] = 0;
          u32[(t + 8) >>> 2] = u16[(s + M_DATA_LEN) >>> 1]!;
          u16[(t + 12) >>> 1] = 0;
          s = u32[(s + M_NEXT) >>> 2]!;
        }
        u32[h >>> 1] = table;
        u32[(h >>> 1) + 1] = 0;
        u32[(h >>> 1) + 2] = 16 * (nseg + 1);
        u16[h + 6] = id;
        flags = F_INDIRECT | avail;
        f64[st + S_TX_INDIRECT] += 1;
      } else {
        // Header descriptor from the id's region, then one per segment, consecutive in the ring.
        u32[h >>> 1] = this.region + TX_REGION * id + TX_REGION_HDR;
        u32[(h >>> 1) + 1] = 0;
        u32[(h >>> 1) + 2] = hdr;
        u16[h + 6] = id;
        flags = F_NEXT | avail;
        let pos = headPos;
        let wrap = this.availWrap;
        let s = m;
        for (let k = 0; k < nseg; k++) {
          if (++pos === size) {
            pos = 0;
            wrap ^= 1;
          }
          const d = this.descH + (pos << 3);
          u32[d >>> 1] = u32[(s + M_BUF_ADDR) >>> 2]! + u16[(s + M_DATA_OFF) >>> 1]!;
          u32[(d >>> 1) + 1] = 0;
          u32[(d >>> 1) + 2] = u16[(s + M_DATA_LEN) >>> 1]!;
          u16[d + 6] = id;
          // Every descriptor but the head is written now: the head's flags publish the list (§2.8.6).
          u16[d + 7] = (k + 1 < nseg ? F_NEXT : 0) | (wrap !== 0 ? F_AVAIL : F_USED);
          s = u32[(s + M_NEXT) >>> 2]!;
        }
        f64[st + S_TX_CHAINED] += 1;
      }
      if (firstH < 0) {
        firstH = h + 7;
        firstFlags = flags;
      } else u16[h + 7] = flags;
      let p = headPos + need;
      if (p >= size) {
        p -= size;
        this.availWrap ^= 1;
      }
      this.availPos = p;
      this.nfreeDesc -= need;
      posted += need;
      this.ndesc[id] = need;
      // (Only IN_ORDER reclaim reads fastPool; the other frees by freeBulk, which checks each mbuf.)
      this.fastPool[id] = fp;
      u32[this.ownerW + id] = m;
      this.pending++;
      bytes += len;
      countFrame(u8, f64, st, len, u32[(m + M_BUF_ADDR) >>> 2]! + dataOff);
    }
    if (firstH >= 0) {
      // The one publish per burst: pairs with the device's Atomics.load of the flags at its avail
      // position; every other descriptor of the burst was written before (§2.8.6). On x86 a plain
      // store, its kick check fenced once per TX_FENCE_FRAMES descriptors (publish).
      this.publish(firstH, firstFlags, oldPos, oldWrap, posted);
      f64[st + S_PACKETS] += sent - over;
      f64[st + S_BYTES] += bytes;
    }
    // Usually all 0: added only when one is not (QueueBase.countRareTx).
    this.countRareTx(bcast, mcast, full, over);
    // The oversize frames to [sent - over, sent): the caller keeps everything from there on.
    if (over !== 0) mbufs.copyWithin(off + sent - over, off, off + over);
    return sent - over;
  }

  /** Is the descriptor at the used position used (§2.8.1)? */
  private usedReady(): boolean {
    // Pairs with the device's Atomics.store of the first used descriptor's flags of its batch.
    const f = Atomics.load(this.u16, this.descH + (this.usedPos << 3) + 7);
    const w = this.usedWrap !== 0;
    return ((f & F_USED) !== 0) === w && ((f & F_AVAIL) !== 0) === w;
  }

  private skip(k: number): void {
    let p = this.usedPos + k;
    if (p >= this.size) {
      p -= this.size;
      this.usedWrap ^= 1;
    }
    this.usedPos = p;
  }

  /**
   * Take back what the device has used: free the mbufs (batched), return the
   * ids and ring descriptors. A used id that names no outstanding buffer is
   * counted and its position skipped (the ring may then stall: the device is broken).
   */
  private reclaim(): void {
    if (this.inOrder) {
      this.reclaimInOrder();
      return;
    }
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const size = this.size;
    const arr = this.freeArr;
    let nf = 0;
    let errors = 0;
    for (let guard = 0; this.pending > 0 && guard < size && this.usedReady(); guard++) {
      const id = this.u16[this.descH + (this.usedPos << 3) + 6]!;
      if (id >= size || u32[ownerW + id] === 0) {
        this.f64[this.st + S_BAD_USED_ID] += 1;
        errors++;
        this.skip(1);
        continue;
      }
      const m = u32[ownerW + id]!;
      const k = this.ndesc[id]!;
      u32[ownerW + id] = 0;
      this.ndesc[id] = 0;
      this.freeStack[this.freeTop++] = id;
      this.pending--;
      this.nfreeDesc += k;
      this.skip(k);
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
   * reclaim() under IN_ORDER (DPDK's virtio_xmit_cleanup_inorder_packed): one
   * Atomics.load per used descriptor, which names the last buffer of a batch
   * (§2.8.8: every buffer from the used position up to it is used; DPDK's
   * vhost writes one per batch, and lets up to the ring size less a burst
   * wait), then the buffers up to it freed in bulk; positions and counters in
   * locals, written back once. A used id that names no outstanding buffer is
   * counted and the position wins (as on RX): only the buffer at the used
   * position is taken back, so the used position stays on a buffer's first
   * descriptor. Skipping one descriptor instead would leave that buffer behind
   * while later ones are freed, and the ring position it holds would be handed
   * out again over its mbuf (lost).
   */
  private reclaimInOrder(): void {
    const u16 = this.u16;
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const ndesc = this.ndesc;
    const fastPool = this.fastPool;
    const descH = this.descH;
    const size = this.size;
    const batcher = this.batcher;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let wbits = wrap !== 0 ? F_WRAP_BITS : 0;
    let pending = this.pending;
    let freed = 0;
    let errors = 0;
    for (let guard = 0; pending > 0 && guard < size; guard++) {
      // Pairs with the device's Atomics.store of the used descriptor's flags (written after its id).
      const h = descH + (pos << 3);
      if ((Atomics.load(u16, h + 7) & F_WRAP_BITS) !== wbits) break;
      let id = u16[h + 6]!;
      if (id >= size || u32[ownerW + id] === 0) {
        errors++;
        if (u32[ownerW + pos] === 0) {
          if (++pos === size) {
            pos = 0;
            wrap ^= 1;
            wbits ^= F_WRAP_BITS;
          }
          continue;
        }
        id = pos;
      }
      for (;;) {
        const b = pos;
        const m = u32[ownerW + b]!;
        const k = ndesc[b]!;
        if (m === 0 || k === 0) {
          errors++;
          if (++pos === size) {
            pos = 0;
            wrap ^= 1;
            wbits ^= F_WRAP_BITS;
          }
          break;
        }
        u32[ownerW + b] = 0;
        ndesc[b] = 0;
        pending--;
        freed += k;
        pos += k;
        if (pos >= size) {
          pos -= size;
          wrap ^= 1;
          wbits ^= F_WRAP_BITS;
        }
        batcher.add(m, fastPool[b]!);
        if (b === id || pending === 0) break;
      }
    }
    batcher.flush();
    this.usedPos = pos;
    this.usedWrap = wrap;
    this.pending = pending;
    this.nfreeDesc += freed;
    if (errors !== 0) {
      this.f64[this.st + S_BAD_USED_ID] += errors;
      this.f64[this.st + S_ERRORS] += errors;
    }
  }

  /** Take back everything the device has used now. Returns free ring descriptors. */
  cleanup(): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    this.reclaim();
    return this.nfreeDesc;
  }

  get free(): number {
    return this.nfreeDesc;
  }
  get inFlight(): number {
    return this.pending;
  }
}
