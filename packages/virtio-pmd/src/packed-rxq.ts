import { type Memory, TpdkError } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { countFrame, linkRxSegment, sizeBinOf, sizeRun, sizeRunEnd, touchDescLines } from "./frame-steps.js";
import * as L from "./layout.js";
import { packedKickNeeded } from "./packed-queue.js";
import { ParkDrop } from "./park-drop.js";
import { QueueBase } from "./queue-base.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  M_BUF_ADDR, M_BUF_LEN, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_PORT, M_REFCNT, M_OL_FLAGS,
  M_OL_FLAGS_HI, MBUF_HDR, PKTMBUF_HEADROOM,
} = MB;
const {
  ETH_HDR_LEN, NET_HDR_NUM_BUFFERS, VRING_DESC_F_WRITE: F_WRITE, VRING_PACKED_DESC_F_AVAIL: F_AVAIL,
  VRING_PACKED_DESC_F_USED: F_USED, RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DISABLE: EV_DISABLE,
  RING_EVENT_FLAGS_DESC: EV_DESC,
} = V;
const {
  QF_MRG_RXBUF, Q_POOL_ID, Q_POOL_NAME, Q_POOL_NAME_BYTES, Q_START_AVAIL, S_BAD_NUM_BUFFERS, S_BAD_USED_ID,
  S_BAD_USED_LEN, S_BROADCAST, S_BYTES, S_ERRORS, S_INTERRUPTS, S_MULTICAST, S_NOMBUF, S_PACKETS, S_RESET_DROPPED,
  S_RUNTS, S_SIZE_BINS, S_TRUNCATED,
} = L;

const RX_BURST_MAX = 64;
/**
 * rxBurst's gate (smallBelow) under IN_ORDER on x86: bursts below it take rxSmall. SMALL_BURST while
 * no frame is ahead (bursts of fewer than a group of four), GATE_OPEN while one is (every burst: the
 * frames ahead go first, in ring order), 0 elsewhere (never).
 */
const SMALL_BURST = 4;
const GATE_OPEN = RX_BURST_MAX + 1;
/** aheadStat's group-address bits above the frame's pkt_len (at most a buffer's, under 1 << 16). */
const AHEAD_MCAST = 1 << 16;
const AHEAD_BCAST = 1 << 17;
/** takeAhead takes at most n + 3 (a burst of up to three, the last group's rest). */
const AHEAD_MAX = 8;
/** rxSmall's primes after a resync (aheadPrimes): calls with nothing ahead that keep the gate open. */
const AHEAD_PRIMES = 64;
const REFILL_CHUNK = 64;
/** Both wrap bits of a descriptor's flags: equal to the wrap counter (both set or both clear) when used (§2.8.1). */
const F_WRAP_BITS = F_AVAIL | F_USED;
/**
 * rxInOrder takes one Atomics.load per call (its first flags check) and reads the other flags
 * plainly, relying on the host keeping loads in program order (x86-TSO); elsewhere every
 * descriptor gets its own.
 */
const LOADS_IN_ORDER = process.arch === "x64" || process.arch === "ia32";
/** Used descriptors past the burst whose lines touchAhead keeps touched ahead of time (at least)... */
const TOUCH_AHEAD = 8;
/** ...and how many more it touches at once when the lead falls below that (as RxQueue's). */
const TOUCH_BATCH = 16;

/**
 * RxQueue (rxq.ts) for a packed ring (virtio 1.2 §2.8), chosen when the port
 * negotiated VIRTIO_F_RING_PACKED (attach with rxQueue() or
 * PackedRxQueue.attach). Each posted buffer is one WRITE descriptor carrying
 * a buffer id (its mbuf in owner[id]; under IN_ORDER the id is the buffer's
 * ring position, DPDK's choice, so no table maps positions to ids and the
 * refill takes no id from a stack); the device writes one used descriptor
 * per buffer at our used position. Polling is one Atomics.load of the flags
 * at the used position per buffer (IN_ORDER on x86: per rxBurst); refill writes descriptors at the avail
 * position and publishes them with one Atomics.store of the first one's
 * flags per burst (§2.8.6: the device sees none before all).
 *
 * The device is not trusted: an id out of range or not outstanding, a len
 * beyond the buffer, a num_buffers the ring cannot satisfy are counted and
 * skipped, as on the split ring. Under IN_ORDER a used id other than the
 * expected one is counted and the position wins.
 */
export class PackedRxQueue extends QueueBase {
  private pool: Mempool | null = null;
  private poolId = 0;
  private readonly refill = new Uint32Array(REFILL_CHUNK);
  private refillThresh = 1;
  /** The WRITE length each posted buffer gets: the pool's data room past the headroom, plus the header in it. */
  private postLen = 0;
  private mrg = false;
  private interrupts = false;
  /** Next descriptor to make available, and the driver ring wrap counter (§2.8.1). */
  private availPos = 0;
  private availWrap = 1;
  /** Next descriptor the device writes used, and the wrap counter it will be used with. */
  private usedPos = 0;
  private usedWrap = 1;
  /** u16 index of descriptor 0, of the driver and device event suppression structures. */
  private descH = 0;
  private drvEvtH = 0;
  private devEvtH = 0;

  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, false);
  }

  /** This thread's handle on packed rx queue `q` of port `portId` (cold; keep it). */
  static attach(mem: Memory, portId: number, q: number): PackedRxQueue {
    return new PackedRxQueue(mem, portId, q);
  }

  /**
   * IN_ORDER: a buffer's id is its ring position (DPDK's choice, as on TX), so the id the device
   * must return at a position is the position; the free-id stack is not used (the free ids are the
   * positions from availPos on). No side table.
   */
  protected resizeLocal(_size: number): void {}

  protected onResync(): void {
    this.mrg = (this.flags & QF_MRG_RXBUF) !== 0;
    // As split rings (@tpdk/virtio rx-refill.ts; the device's on-demand window relies on it).
    this.refillThresh = V.rxRefillThreshold(this.size);
    const id = this.u32[(this.zone + Q_POOL_ID) >>> 2]!;
    if (this.pool === null || this.poolId !== id) {
      const b = this.zone + Q_POOL_NAME;
      let end = b;
      while (end < b + Q_POOL_NAME_BYTES && this.u8[end] !== 0) end++;
      this.pool = Mempool.lookup(this.mem, new TextDecoder().decode(this.u8.slice(b, end)));
      this.poolId = id;
    }
    // Every mbuf of the pool has buf_len = its data room (mbuf layout.ts: fixed at pool creation).
    this.postLen = this.pool.dataRoomSize - PKTMBUF_HEADROOM + this.hdr;
    this.interrupts = false;
    // The main thread posted ids 0..n-1 at positions 0..n-1 (queue-zone.ts fillRxPacked).
    const n = this.u32[(this.zone + Q_START_AVAIL) >>> 2]!;
    this.availPos = n === this.size ? 0 : n;
    this.availWrap = n === this.size ? 0 : 1;
    this.usedPos = 0;
    this.usedWrap = 1;
    this.touchLead = 0;
    this.usedAhead = 0;
    // Frames ahead of a closed run: a park freed them (onPark), a stop freed them from their owner slots.
    this.aheadI = this.aheadN = 0;
    const small = this.inOrder && LOADS_IN_ORDER;
    this.aheadPrimes = small ? AHEAD_PRIMES : 0;
    this.smallBelow = small ? GATE_OPEN : 0;
    this.pending = n;
    this.descH = this.desc >>> 1;
    this.drvEvtH = this.availFlagsH; // Q_AVAIL is the driver event suppression structure: off_wrap at +0, flags at +2
    this.devEvtH = this.usedFlagsH;
  }

  /**
   * Parking for a ring reset (the back-end went, a new one comes: PortQueues.resetRings). The
   * buffers the old device made used and no burst received, from our used position while the
   * descriptor there is used (§2.8.1: AVAIL and USED equal to our used wrap counter), are taken
   * back, freed once and their frames counted (rx_qN_reset_dropped_packets, ParkDrop); what the
   * ring still owns afterwards the device never used, and the main thread frees it (empty
   * buffers: no frame lost). takeUsed validates each id (a bad one is counted and owns nothing);
   * at most a ring's worth, whatever the device wrote.
   */
  protected override onPark(): void {
    const drop = new ParkDrop(this.mbufs, this.u8, this.u32, this.hdr, this.mrg, this.size);
    // Frames taken ahead and not handed out (rxSmall): no burst received them (nor counted them: a
    // frame ahead is counted when handed out), so dropped and counted as the used ones below. Still
    // in their owner slots: released here, as takeUsed releases the others.
    for (let i = this.aheadI; i < this.aheadN; i++) {
      this.u32[this.ownerW + this.aheadPos[i]!] = 0;
      drop.drop(this.ahead[i]!);
    }
    this.aheadI = this.aheadN = 0;
    for (let guard = 0; guard < this.size && this.pending > 0 && this.usedReady(); guard++) {
      const m = this.takeUsed();
      if (m !== 0) drop.drop(m);
    }
    this.usedAhead = 0;
    if (drop.frames !== 0) this.f64[this.st + S_RESET_DROPPED] += drop.frames;
  }

  /** Is the descriptor at our used position used (§2.8.1: AVAIL and USED both equal to our used wrap counter)? */
  private usedReady(): boolean {
    // Pairs with the device's Atomics.store of the first used descriptor's flags of its batch, which
    // it issues after writing the batch (and the buffers): what it wrote before is visible now.
    const f = Atomics.load(this.u16, this.descH + (this.usedPos << 3) + 7);
    const w = this.usedWrap !== 0;
    return ((f & F_USED) !== 0) === w && ((f & F_AVAIL) !== 0) === w;
  }

  /** Take the used descriptor at usedPos: its mbuf (0 = bad id, counted), len in this.lastLen. */
  private lastLen = 0;
  private takeUsed(): number {
    const u16 = this.u16;
    const h = this.descH + (this.usedPos << 3);
    const id = u16[h + 6]!;
    this.lastLen = this.u32[(h >>> 1) + 2]!;
    let d = id;
    if (this.inOrder) {
      d = this.usedPos;
      if (id !== d) this.f64[this.st + S_BAD_USED_ID] += 1;
    }
    if (++this.usedPos === this.size) {
      this.usedPos = 0;
      this.usedWrap ^= 1;
    }
    if (d >= this.size) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    const m = this.u32[this.ownerW + d]!;
    if (m === 0) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    this.u32[this.ownerW + d] = 0;
    this.pending--;
    if (!this.inOrder) this.freeStack[this.freeTop++] = d;
    this.nfree++;
    return m;
  }

  /**
   * Touch the header line and the first data line of each frame this burst will take: lines
   * the device just wrote on the other CPU, whose misses overlap when touched together rather
   * than one per packet in the loop. Where it can, the touch is a store (a byte the device
   * did not write: the headroom byte before the header, under MRG_RXBUF only; the byte after a
   * frame that ends inside its first data line): a store retires without waiting for the line and fetches it
   * for writing at once, where a load waits for it and fetches it shared, so that the later
   * writes (the TX header, the application's MAC rewrite) fetch it a second time (A/B in
   * bench/notes/packed-front-end.md "Packed rings: budget against DPDK's front-end"). Elsewhere
   * (a frame longer than that line, a len out of bounds) it is
   * a load. A hint only: plain reads of the flags (the loop validates each descriptor with
   * its Atomics.load), ids and lens bounds-checked, stores only inside the buffer posted.
   *
   * The buffer's address comes from the mbuf's handle, its length from the pool (buf_addr =
   * handle + MBUF_HDR, buf_len = the pool's data room: what refillRing posted), so the two
   * lines' touches do not wait for the mbuf's own line. That line is loaded too, on its own:
   * its miss overlaps the others, and rxInOrder's stores into it find it here (without that
   * load they waited in the store buffer: bench/notes/packed-front-end.md, "Packed rings: budget
   * against DPDK's front-end", third pass).
   */
  private touchAhead(n: number): void {
    // Called (rxBurst) only when the lead (descriptors past the used position already touched)
    // falls below TOUCH_AHEAD past this burst; covers TOUCH_BATCH more, so their misses overlap
    // (at burst 1 one wait covers many frames; see RxQueue.rxInOrder).
    const lead = this.touchLead;
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const size = this.size;
    const hdr = this.hdr;
    const ownerW = this.ownerW;
    const addrOff = MBUF_HDR + PKTMBUF_HEADROOM - hdr;
    const postLen = this.postLen;
    const mrg = this.mrg;
    // Past the ring's end: one lap back, the other wrap counter. Computed on every call, not in a
    // branch: that branch ran only when a call began with the lead past the ring's end, first
    // long after touchAhead was optimized, whose arithmetic then had no type feedback and
    // deoptimized it (a scavenge on the lcore: bench/notes/gc.md, "Session 11: GC (what still
    // allocated on the lcore: deopts mid-run)").
    const past = this.usedPos + lead >= size ? 1 : 0;
    let pos = this.usedPos + lead - past * size;
    let wrap = (this.usedWrap ^ past) !== 0;
    let touch = 0;
    // While the rare counters are primed (statPrimes) the loads below also run where a store
    // touched (see RxQueue.rxInOrder's touch).
    const primeLoads = this.statPrimes !== 0;
    const want = n + TOUCH_AHEAD + TOUCH_BATCH;
    // One load (as the packed TX push batch's count: a second read in the rare case alone has no type feedback).
    const pending = this.pending;
    const k = want < pending ? want : pending;
    let i = lead;
    for (; i < k; i++) {
      const h = this.descH + (pos << 3);
      const f = u16[h + 7]!;
      if (((f & F_USED) !== 0) !== wrap || ((f & F_AVAIL) !== 0) !== wrap) break;
      const d = this.inOrder ? pos : u16[h + 6]!;
      if (d < size) {
        const m = u32[ownerW + d]!;
        if (m !== 0) {
          // The mbuf's line (any word of it), then the buffer's two lines, independent of it.
          touch |= u32[(m + M_BUF_ADDR) >>> 2]!;
          const a = m + addrOff;
          const len = u32[(h >>> 1) + 2]!;
          // Header line: a store into the headroom byte before the header (never the device's),
          // under MRG_RXBUF only; without it a load, the line left quiet (see RxQueue.rxInOrder).
          const headStore = mrg && (a & 63) !== 0;
          if (headStore) u8[a - 1] = 0;
          if (!headStore || primeLoads) touch |= u8[a]!;
          // Data line: a store past the frame's end when the frame ends inside that line.
          const e = a + len;
          const dataStore = len > hdr && len < postLen && (e >>> 6) === ((a + hdr) >>> 6);
          if (dataStore) u8[e] = 0;
          if (!dataStore || primeLoads) touch |= u8[a + hdr]!;
        }
      }
      if (++pos === size) {
        pos = 0;
        wrap = !wrap;
      }
    }
    this.touchLead = i;
    this.touched = touch;
  }

  /** What touchAhead read (kept so the loads are not dropped as unused). */
  touched = 0;
  /** Descriptors from the used position on whose lines touchAhead has touched. */
  private touchLead = 0;

  /** rxInOrder stopped at a used descriptor it does not take (for the validating loop), not at an unused one. */
  private inOrderStopped = false;
  /**
   * Descriptors from the used position that rxInOrder's last batch check saw used and has not
   * taken yet (0..3: a batch of four checked for a burst of fewer). Their flags, ids and lens
   * were ordered by that call's Atomics.load (rxInOrder), so the next bursts take them without another
   * (at burst 1: one Atomics.load per four frames, not per frame). 0 whenever the position
   * moves other than through rxInOrder's loop (resync, the validating loop after a stop).
   * (Bursts of fewer than four take the whole group instead, takeAhead: see ahead.)
   */
  private usedAhead = 0;
  /**
   * Taken ahead (takeAhead, bursts of fewer than four): the burst's frames and the rest of their group
   * of four, found used and completed (mbuf fields) in one pass, handed out from
   * ahead[aheadI..aheadN) by this burst and the next ones without another pass over the ring
   * (rxSmall). Until handed out a frame stays in its position's owner slot (aheadPos) and out of
   * nfree: the refill does not post there, and a stop frees it with the ring's buffers. The receive
   * counters count a frame when a burst returns it (DPDK's rx_burst): at its hand-out, from aheadStat
   * (its pkt_len, AHEAD_MCAST / AHEAD_BCAST when its destination is a group address).
   */
  private readonly ahead = new Uint32Array(AHEAD_MAX);
  private readonly aheadPos = new Uint16Array(AHEAD_MAX);
  private readonly aheadStat = new Uint32Array(AHEAD_MAX);
  private aheadI = 0;
  private aheadN = 0;
  /**
   * rxBurst's one added test: bursts of fewer than this take rxSmall (SMALL_BURST, GATE_OPEN while
   * frames are ahead, 0 without IN_ORDER or off x86). A burst of four or more with nothing ahead runs
   * rxInOrder exactly as before (bench/notes/packed-front-end.md "Session 36: batch-ahead beside
   * burst 32's path").
   */
  private smallBelow = 0;
  /**
   * rxSmall's calls with nothing ahead left, since the last resync, that keep the gate open: a burst of
   * four or more then goes through rxSmall, which calls rxBurst again with the gate shut (the same
   * path and behaviour), so that rxBurst's call of rxSmall has type feedback at burst 32 too (without
   * it a first burst of fewer than four after rxBurst was optimized deoptimized it:
   * packed-rx-poll-deopt.test.ts). (Not primed: rxBurst's longer-burst path at bursts of fewer than
   * four, which never run it, and whose refill call runs at the ring's threshold only; a switch from
   * bursts under four to longer ones deoptimizes rxBurst once, bench/notes/packed-front-end.md
   * "Session 36: batch-ahead beside burst 32's path".)
   */
  private aheadPrimes = 0;

  /**
   * The IN_ORDER path (DPDK's virtio_recv_pkts_packed_vec / the batch of
   * virtio_rxtx_packed): up to `n` used descriptors from the used position,
   * each a one-buffer frame, into mbufs[off..]; positions, ids and counters in
   * locals, written back once. At a position aligned to 4 with four
   * descriptors left before the ring's end it checks four at once, for a
   * burst of fewer too: those it does not take wait in usedAhead for the
   * next bursts, which take them without another check (at burst 1 one
   * Atomics.load per four frames; the order below covers them as well).
   * One Atomics.load per call: the first check's (the poll); the checks
   * after it read the flags plainly (the order below covers them too; at
   * burst 32 one load instead of eight, bench/notes/packed-front-end.md
   * "Session 21: packed burst 32"):
   *
   * Memory order (virtio 1.2 §2.8.22 "Receiving Used Buffers From The Device":
   * read the flags, then a read memory barrier, then id, len and the buffer;
   * DPDK's batch: four flag loads, then virtio_rmb). The device writes a
   * descriptor's id and len, and the buffer, before its flags (§2.8.1;
   * tpdk's device stores its batch's first flags last with Atomics.store,
   * DPDK's vhost writes a batch's flags after a release fence). Here a
   * check reads its first descriptor's flags (the call's first check: with
   * one Atomics.load), then, for a group, the other three's with plain
   * loads, and only then ids, lens and buffers. In the JavaScript memory
   * model that Atomics.load synchronizes with the device's store of those
   * flags only (tpdk's device: the Atomics.store of a batch's first flags,
   * made last): it orders what that store published, not what a later
   * check reads beyond it. For the rest the order comes from the host: V8
   * keeps typed-array loads on one effect chain and never moves them across
   * an Atomics operation (the compiler barrier DPDK's virtio_rmb is on x86),
   * and x86-TSO never lets a later load pass an earlier one, so a flags value
   * seen used implies the id, len and buffer written before it are seen too.
   * That second half holds only where loads stay in order (LOADS_IN_ORDER):
   * on other hosts every descriptor is read with its own Atomics.load. Whatever is read, every value is still
   * validated before use (owner, len against the buffer, num_buffers).
   *
   * Stops before the first descriptor that is not a plain one-buffer frame
   * of a valid length (inOrderStopped: the validating loop counts or
   * assembles it). A used id that disagrees with the position is counted and
   * the position wins, as in takeUsed().
   */
  private rxInOrder(mbufs: Uint32Array, n: number, off: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const size = this.size;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const hdr = this.hdr;
    const mrg = this.mrg;
    const port = this.portId;
    const portHi = (port << 16) >>> 0;
    const minLen = hdr + ETH_HDR_LEN;
    // What refillRing posted (buf_addr = handle + MBUF_HDR, buf_len = the pool's data room): the
    // loop loads nothing from the mbuf's line, only stores to it (touchAhead fetched it).
    const postLen = this.postLen;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let wbits = wrap !== 0 ? F_WRAP_BITS : 0;
    let pending = this.pending;
    let k = 0;
    let bytes = 0;
    let badId = 0;
    let bcast = 0;
    let mcast = 0;
    // Size bins: the burst's first bin is counted in a local (a burst is mostly one size; sizeRun).
    let sizes = 0;
    let stopped = false;
    // Seen used by an earlier batch check and not taken yet (see usedAhead).
    let known = this.usedAhead;
    // Where loads stay in order (LOADS_IN_ORDER): the call's first flags read that reaches a
    // descriptor the device may have just written is its one Atomics.load (the poll, as the split
    // ring's one load of used.idx per burst); every later check reads the flags plainly, in order
    // after that load and before what they guard, as the batch's other three are (see above).
    // Elsewhere every check is an Atomics.load.
    let polled = false;
    while (k < n && pending > 0) {
      const h0 = descH + (pos << 3);
      if (known === 0) {
        // The check, one shape for one descriptor and for a group of four, so that all of it runs
        // whatever the device's pace. (A group check and a one-descriptor block of its own: with a
        // device that keeps the ring full the group check always found four used, the block first
        // ran when the driver caught up, after TurboFan compiled rxInOrder, and deoptimized it: bench
        // README "Session 29: the packed RX poll deopt".) First this descriptor's flags: the plain
        // load on every check, the call's Atomics.load (the poll, pairing with the device's store of
        // the flags) when no check made it yet, elsewhere than x86 every time; one index for both
        // (as a ternary's arms the plain load ran only on a call's second check: Session 27).
        const at = h0 + 7;
        let f = u16[at]!;
        if (!(polled && LOADS_IN_ORDER)) f = Atomics.load(u16, at);
        polled = true;
        if ((f & F_WRAP_BITS) !== wbits) break;
        known = 1;
        // At a position aligned to 4 with four pending before the ring's end (x86): the group's
        // other three flags, plainly, in order after that load (see above); all three read and
        // tested in one expression, so no part of it waits for a pace to first run. Checked for a
        // burst of fewer than four too: the rest wait in usedAhead.
        if (LOADS_IN_ORDER && pending >= 4 && (pos & 3) === 0 && pos + 4 <= size) {
          const g = (u16[h0 + 15]! ^ wbits) | (u16[h0 + 23]! ^ wbits) | (u16[h0 + 31]! ^ wbits);
          if ((g & F_WRAP_BITS) === 0) known = 4;
        }
      }
      // room computed outside the ternary: an arm's arithmetic that never ran in the warm-up has no
      // type feedback, and its first run deoptimizes (a burst filled by a batch's tail).
      const room = n - k;
      const cnt = known < room ? known : room;
      known -= cnt;
      for (let i = 0; i < cnt; i++) {
        const h = h0 + (i << 3);
        const d = pos;
        const m = u32[ownerW + d]!;
        const len = u32[(h >>> 1) + 2]!;
        if (m === 0 || len < minLen || len > postLen) {
          stopped = true;
          break;
        }
        const bufAddr = m + MBUF_HDR;
        if (mrg) {
          const nb = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
          if ((u8[nb]! | (u8[nb + 1]! << 8)) !== 1) {
            stopped = true;
            break;
          }
        }
        if (u16[h + 6] !== d) badId++;
        u32[ownerW + d] = 0;
        pending--;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
          wbits ^= F_WRAP_BITS;
        }
        const pktLen = len - hdr;
        // The reset state alloc() would hand out, with the frame's fields (the refill did not touch
        // the mbuf): data_off and refcnt 1 in one word, nb_segs 1 and port in the next (M_DATA_OFF
        // 8, M_REFCNT 10, M_NB_SEGS 12, M_PORT 14), both ol_flags words as one 8-byte zero. The same
        // six stores as split rxInOrder's, written out (bench README, "Session 14: GC and the RX reset").
        u32[(m + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
        u32[(m + M_NB_SEGS) >>> 2] = 1 | portHi;
        f64[(m + M_OL_FLAGS) >>> 3] = 0;
        u32[(m + M_PKT_LEN) >>> 2] = pktLen;
        u16[(m + M_DATA_LEN) >>> 1] = pktLen;
        u32[(m + M_NEXT) >>> 2] = 0;
        mbufs[off + k++] = m;
        // ---- per-packet statistics, summed per call (the same totals)
        bytes += pktLen;
        sizes = sizeRun(f64, st, sizes, sizeBinOf(pktLen), 1);
        const a = bufAddr + PKTMBUF_HEADROOM;
        if ((u8[a]! & 1) !== 0) {
          if ((u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff) bcast++;
          else mcast++;
        }
      }
      if (stopped) break;
    }
    this.inOrderStopped = stopped;
    // After a stop the validating loop moves the position: nothing is known ahead of it then.
    this.usedAhead = stopped ? 0 : known;
    if (k !== 0) {
      this.usedPos = pos;
      this.usedWrap = wrap;
      this.pending = pending;
      this.nfree += k;
      f64[st + S_PACKETS] += k;
      f64[st + S_BYTES] += bytes;
      sizeRunEnd(f64, st, sizes);
      // Usually all 0: added only when one is not, or while the branch is primed (QueueBase.statPrimes).
      if ((bcast | mcast | badId | this.statPrimes) !== 0) {
        f64[st + S_BROADCAST] += bcast;
        f64[st + S_MULTICAST] += mcast;
        f64[st + S_BAD_USED_ID] += badId;
        if (this.statPrimes !== 0) this.statPrimes--;
      }
    }
    return k;
  }

  /** rte_eth_rx_burst on a packed ring: see RxQueue.rxBurst (same contract). */
  rxBurst(mbufs: Uint32Array, n: number, off = 0): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    if (n > RX_BURST_MAX) n = RX_BURST_MAX;
    // Bursts of fewer than four (IN_ORDER, x86), and every burst while frames taken ahead remain:
    // rxSmall. The one test a longer burst adds (a field and a compare), and as little bytecode as can
    // be: the lcore's loop inlines rxBurst near V8's cumulative budget (920 B).
    if (n < this.smallBelow) return this.rxSmall(mbufs, n, off);
    // The lead's test here rather than at touchAhead's start: at burst 1 it resumes once in 16
    // bursts, and the call is not made for nothing in the other 15.
    if (this.touchLead < n + TOUCH_AHEAD) this.touchAhead(n);
    let nrx = 0;
    if (this.inOrder) {
      // One-buffer frames in ring order take the batched path; it stops before anything else
      // (a bad len or owner, num_buffers > 1), which the validating loop below then takes.
      nrx = this.rxInOrder(mbufs, n, off);
      if (!this.inOrderStopped) {
        // It stopped at a descriptor not yet used: nothing for the loop below (no second poll).
        // The position moved by nrx (at most a lap): the touched lead moves back by as many.
        // The subtraction on every call: as a ternary's arm it ran only when the burst took fewer
        // than were touched, never for a driver that keeps up, and a first backlog then deoptimized
        // rxBurst (bench README "Session 29: the packed RX poll deopt").
        const lead = this.touchLead - nrx;
        this.touchLead = lead > 0 ? lead : 0;
        if (this.nfree >= this.refillThresh) this.refillRing();
        return nrx;
      }
    }
    return this.rxValidating(mbufs, n, off, nrx);
  }

  /**
   * rxBurst for a burst of fewer than four under IN_ORDER on x86, and for any burst while frames taken
   * ahead remain ("batch-ahead", bench/notes/packed-front-end.md "Session 35: packed burst 1 at DPDK's
   * fast level", "Session 36: batch-ahead beside burst 32's path"). With nothing ahead, takeAhead
   * first takes the burst's frames and the rest of their group into `ahead`; then every frame a burst
   * returns is handed out from there, in ring order, up to n, without touching the ring again: counted
   * now (one packet, its bytes, its size bin, its group-address counter when it has one), its owner
   * slot and its free count released now. One path for a frame whether a group or a lone descriptor
   * brought it, so no part of it first runs when the device's pace changes (a device that delivers
   * one frame at a time in the warm-up, groups later). One refill test for both ways (session 35's v2:
   * a hand-out's own refill call site first ran late and deoptimized rxBurst).
   *
   * A burst of four or more with nothing ahead (the gate open for aheadPrimes, so that rxBurst's call
   * of this one has type feedback at burst 32 too) goes back to rxBurst's own path, the gate shut.
   */
  private rxSmall(mbufs: Uint32Array, n: number, off: number): number {
    let i = this.aheadI;
    if (i === this.aheadN) {
      // Counted down by the calls that find nothing ahead; the gate stays open while they last.
      const left = this.aheadPrimes - 1;
      this.aheadPrimes = left > 0 ? left : 0;
      if (n >= SMALL_BURST) {
        // A longer burst, the gate open for the primes: rxBurst again with the gate shut (-1, below
        // any n), its own path; then the gate as the primes leave it (unless a resync inside set it).
        this.smallBelow = -1;
        const r = this.rxBurst(mbufs, n, off);
        if (this.smallBelow === -1) this.smallBelow = left > 0 ? GATE_OPEN : SMALL_BURST;
        return r;
      }
      // As rxBurst's longer bursts: the touched lead, then the pass (it stops before a descriptor
      // that is not a plain one-buffer frame, for the validating loop).
      if (this.touchLead < n + TOUCH_AHEAD) this.touchAhead(n);
      const took = this.takeAhead(n);
      // The position moved by what it took (at most a lap): the touched lead moves back by as many.
      const lead = this.touchLead - took;
      this.touchLead = lead > 0 ? lead : 0;
      // The flag first, read on every call (as rxBurst's): a take of nothing first ran when a driver
      // that found the ring full in the warm-up caught up.
      if (this.inOrderStopped && took === 0) {
        this.smallBelow = this.aheadPrimes !== 0 ? GATE_OPEN : SMALL_BURST;
        return this.rxValidating(mbufs, n, off, 0);
      }
      i = 0;
    }
    const end = this.aheadN;
    const ahead = this.ahead;
    const aheadPos = this.aheadPos;
    const aheadStat = this.aheadStat;
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const f64 = this.f64;
    const st = this.st;
    const have = end - i;
    // The arms plain locals (no arithmetic in an arm that may first run late).
    const last = i + (n < have ? n : have);
    let nrx = 0;
    let bytes = 0;
    let bcast = 0;
    let mcast = 0;
    for (; i < last; i++) {
      const stat = aheadStat[i]!;
      const pktLen = stat & 0xffff;
      mbufs[off + nrx++] = ahead[i]!;
      u32[ownerW + aheadPos[i]!] = 0;
      bytes += pktLen;
      f64[st + S_SIZE_BINS + sizeBinOf(pktLen)] += 1;
      bcast += stat >>> 17;
      mcast += (stat >>> 16) & 1;
    }
    this.aheadI = i;
    // Open while frames are ahead (a longer burst then takes them first) or primes last, else closed.
    this.smallBelow = ((end - i) | this.aheadPrimes) !== 0 ? GATE_OPEN : SMALL_BURST;
    this.nfree += nrx;
    f64[st + S_PACKETS] += nrx;
    f64[st + S_BYTES] += bytes;
    // Usually both 0: added only when one is not, or while the branch is primed (QueueBase.statPrimes),
    // so that a first group address late does not deoptimize it.
    if ((bcast | mcast | this.statPrimes) !== 0) {
      f64[st + S_BROADCAST] += bcast;
      f64[st + S_MULTICAST] += mcast;
      if (this.statPrimes !== 0) this.statPrimes--;
    }
    if (this.nfree >= this.refillThresh) this.refillRing();
    return nrx;
  }

  /**
   * rxInOrder's pass for a burst of fewer than four (rxSmall, nothing ahead): the same checks, order
   * and validation (one Atomics.load per call on x86, see there), but every frame it takes goes into
   * `ahead` (mbuf fields written, owner id checked, counted when handed out), and a check that finds a
   * group of four used takes the whole group: at burst 1 one pass over the ring per four frames. Takes
   * at least n when that many are used (n + 3 at most); returns how many it took (aheadN), none past
   * a descriptor that is not a plain one-buffer frame of a valid length (inOrderStopped). rxInOrder
   * itself is left as it is for longer bursts (its loop at burst 32 is issue #14's main path: session
   * 35's version with both in one loop cost it, 4 of 12 pairs).
   */
  private takeAhead(n: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const size = this.size;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const hdr = this.hdr;
    const mrg = this.mrg;
    const portHi = (this.portId << 16) >>> 0;
    const minLen = hdr + ETH_HDR_LEN;
    const postLen = this.postLen;
    const ahead = this.ahead;
    const aheadPos = this.aheadPos;
    const aheadStat = this.aheadStat;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let wbits = wrap !== 0 ? F_WRAP_BITS : 0;
    let pending = this.pending;
    let na = 0;
    let badId = 0;
    let stopped = false;
    // Seen used by a longer burst's batch check and not taken yet (see usedAhead): taken whole here.
    let known = this.usedAhead;
    let polled = false;
    while (na < n && pending > 0) {
      const h0 = descH + (pos << 3);
      if (known === 0) {
        // rxInOrder's check, the same shape (see there).
        const at = h0 + 7;
        let f = u16[at]!;
        if (!(polled && LOADS_IN_ORDER)) f = Atomics.load(u16, at);
        polled = true;
        if ((f & F_WRAP_BITS) !== wbits) break;
        known = 1;
        if (LOADS_IN_ORDER && pending >= 4 && (pos & 3) === 0 && pos + 4 <= size) {
          const g = (u16[h0 + 15]! ^ wbits) | (u16[h0 + 23]! ^ wbits) | (u16[h0 + 31]! ^ wbits);
          if ((g & F_WRAP_BITS) === 0) known = 4;
        }
      }
      // The whole group, whatever the burst's room: the rest is handed out by the next bursts.
      const cnt = known;
      known = 0;
      for (let i = 0; i < cnt; i++) {
        const h = h0 + (i << 3);
        const d = pos;
        const m = u32[ownerW + d]!;
        const len = u32[(h >>> 1) + 2]!;
        if (m === 0 || len < minLen || len > postLen) {
          stopped = true;
          break;
        }
        const bufAddr = m + MBUF_HDR;
        if (mrg) {
          const nb = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
          if ((u8[nb]! | (u8[nb + 1]! << 8)) !== 1) {
            stopped = true;
            break;
          }
        }
        if (u16[h + 6] !== d) badId++;
        pending--;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
          wbits ^= F_WRAP_BITS;
        }
        const pktLen = len - hdr;
        // rxInOrder's six stores (the reset state with the frame's fields).
        u32[(m + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
        u32[(m + M_NB_SEGS) >>> 2] = 1 | portHi;
        f64[(m + M_OL_FLAGS) >>> 3] = 0;
        u32[(m + M_PKT_LEN) >>> 2] = pktLen;
        u16[(m + M_DATA_LEN) >>> 1] = pktLen;
        u32[(m + M_NEXT) >>> 2] = 0;
        // What counting it at its hand-out needs: pkt_len, and whether its destination is a group address.
        const a = bufAddr + PKTMBUF_HEADROOM;
        let stat = pktLen;
        if ((u8[a]! & 1) !== 0) stat |= (u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff ? AHEAD_BCAST : AHEAD_MCAST;
        ahead[na] = m;
        aheadPos[na] = d;
        aheadStat[na++] = stat;
      }
      if (stopped) break;
    }
    this.inOrderStopped = stopped;
    // After a stop the validating loop moves the position: nothing is known ahead of it then.
    this.usedAhead = 0;
    this.aheadI = 0;
    this.aheadN = na;
    if (na !== 0) {
      this.usedPos = pos;
      this.usedWrap = wrap;
      this.pending = pending;
      // Usually 0: added only when not, or while the branch is primed (QueueBase.statPrimes).
      if ((badId | this.statPrimes) !== 0) f64[this.st + S_BAD_USED_ID] += badId;
    }
    return na;
  }

  /**
   * rxBurst's validating loop (no IN_ORDER, or after rxInOrder stopped before a descriptor
   * that is not a plain one-buffer frame of a valid length), from mbufs[off + nrx] on: the
   * first nrx (rxInOrder's) are counted already.
   */
  private rxValidating(mbufs: Uint32Array, n: number, off: number, nrx: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const hdr = this.hdr;
    const size = this.size;
    const port = this.portId;
    let bytes = 0;
    let errors = 0;
    // The lead is corrected below by what this call took from here on, plus rxInOrder's nrx.
    const pos0 = this.usedPos;
    const wrap0 = this.usedWrap;
    const nrx0 = nrx; // counted by rxInOrder
    // At most the ring per burst, whatever the device writes.
    for (let guard = 0; nrx < n && guard < size && this.pending > 0 && this.usedReady(); guard++) {
      const m = this.takeUsed();
      let len = this.lastLen;
      if (m === 0) {
        errors++;
        continue;
      }
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
        // §2.8.9: the device marked the first buffer used after the rest: they are all there.
        let prev = m;
        let ok = true;
        for (let k = 1; k < nb; k++) {
          if (this.pending === 0 || !this.usedReady()) {
            f64[st + S_TRUNCATED] += 1;
            ok = false;
            break;
          }
          const s = this.takeUsed();
          len = this.lastLen;
          if (s === 0) {
            ok = false;
            continue;
          }
          if (len > u16[(s + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr) {
            f64[st + S_BAD_USED_LEN] += 1;
            ok = false;
            this.mbufs.free(s);
            continue;
          }
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
      bytes += pktLen;
      countFrame(u8, f64, st, pktLen, bufAddr + PKTMBUF_HEADROOM);
    }
    if (nrx !== nrx0) {
      f64[st + S_PACKETS] += nrx - nrx0;
      f64[st + S_BYTES] += bytes;
    }
    if (errors !== 0) f64[st + S_ERRORS] += errors;
    // The touched lead moves back by the descriptors this burst took (a whole lap when the position came round).
    let took = this.usedPos - pos0;
    if (took < 0 || (took === 0 && this.usedWrap !== wrap0)) took += size;
    took += nrx0;
    const lead = this.touchLead - took; // on every call, as in rxBurst
    this.touchLead = lead > 0 ? lead : 0;
    if (this.nfree >= this.refillThresh) this.refillRing();
    return nrx;
  }

  /**
   * Post fresh mbufs on every free id: one WRITE descriptor each at the
   * avail position, flipping the wrap counter at the ring's end; the first
   * descriptor's flags are stored last with one Atomics.store (pairs with the
   * device's Atomics.load of the flags at its avail position).
   */
  private refillRing(): void {
    const u16 = this.u16;
    const u32 = this.u32;
    const pool = this.pool!;
    const arr = this.refill;
    const hdr = this.hdr;
    const size = this.size;
    const oldPos = this.availPos;
    const oldWrap = this.availWrap;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const freeStack = this.freeStack;
    const inOrder = this.inOrder;
    // The buffer's address from its handle, its length from the pool (mbuf layout.ts: buf_addr =
    // handle + MBUF_HDR, buf_len = the pool's data room, both fixed at pool creation): the refill
    // reads and writes no mbuf line; rxBurst writes the mbuf's fields when the frame arrives.
    const addrOff = MBUF_HDR + PKTMBUF_HEADROOM - hdr;
    const postLen = this.postLen;
    let firstH = -1;
    let firstFlags = 0;
    let posted = 0;
    while (this.nfree > 0) {
      // One load of nfree: a second read, run only when fewer than a chunk are free (never at steady
      // burst 32), had no type feedback and deoptimized the refill (rx-refill-deopt.test.ts).
      const free = this.nfree;
      let c = free < REFILL_CHUNK ? free : REFILL_CHUNK;
      // Raw objects: every field of the reset state is written by rxBurst.
      // The chunk's objects are read where they lie in this lcore's cache, u32[from..from+c) of the
      // pool's memory (the queue's: the pool was looked up in it), before anything is freed: no copy
      // into `arr` (Mempool.takeCached). getBulk when the cache cannot serve (no lcore cache, a debug
      // pool, the pool short).
      let src = u32;
      let from = pool.takeCached(c);
      if (from < 0) {
        while (c > 0 && pool.getBulk(arr, c) === 0) c >>>= 1;
        src = arr;
        from = 0;
      }
      if (c === 0) {
        this.f64[this.st + S_NOMBUF] += this.nfree;
        break;
      }
      // Positions and the id stack in locals, written back per chunk.
      let pos = this.availPos;
      let wrap = this.availWrap;
      let top = this.freeTop;
      // The chunk's descriptor lines taken for writing at once, before the loop writes them (free
      // positions: the device reads none but the flags before the first flags store; frame-steps.ts).
      // The first line too, though the device polls the flags there (§2.8.2): once per refill of at
      // least rxRefillThreshold, not per frame as the push batch's would be at burst 1.
      touchDescLines(u32, descH << 1, pos, c, size);
      for (let i = 0; i < c; i++) {
        const m = src[from + i]!;
        // IN_ORDER: the id is the position (the free ids are the positions from availPos on).
        const id = inOrder ? pos : freeStack[--top]!;
        const h = descH + (pos << 3);
        const w = h >>> 1;
        u32[w] = m + addrOff;
        u32[w + 1] = 0;
        u32[w + 2] = postLen;
        u16[h + 6] = id;
        const flags = F_WRITE | (wrap !== 0 ? F_AVAIL : F_USED);
        if (firstH < 0) {
          firstH = h + 7;
          firstFlags = flags;
        } else u16[h + 7] = flags;
        u32[ownerW + id] = m;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
        }
      }
      this.availPos = pos;
      this.availWrap = wrap;
      this.freeTop = top;
      this.nfree -= c;
      posted += c;
      this.pending += c;
    }
    if (firstH >= 0) {
      // The one publish per burst (§2.8.6: the first descriptor made available after the rest).
      Atomics.store(u16, firstH, firstFlags);
      this.kickOrPrime(packedKickNeeded(u16, this.devEvtH, this.eventIdx, oldPos, oldWrap, posted, size));
    }
  }

  // ---------------------------------------------------------------- interrupt mode

  /** Ask for a used-buffer notification (§2.8.10: ENABLE, or under EVENT_IDX the descriptor at our used position). */
  enableInterrupt(): void {
    if (!this.running) throw new TpdkError("ESTATE", `virtio-pmd: port ${this.portId} rx queue ${this.queueId} is not started`);
    this.interrupts = true;
    this.armEvent();
  }

  /** Back to pure polling (DISABLE). */
  disableInterrupt(): void {
    if (!this.running) return;
    this.interrupts = false;
    // Pairs with the device's Atomics.load of the flags after it publishes.
    Atomics.store(this.u16, this.drvEvtH + 1, EV_DISABLE);
  }

  private armEvent(): void {
    if (this.eventIdx) {
      // off_wrap first, then the flags the device reads first (its Atomics.load pairs with this store).
      Atomics.store(this.u16, this.drvEvtH, this.usedPos | (this.usedWrap << 15));
      Atomics.store(this.u16, this.drvEvtH + 1, EV_DESC);
    } else Atomics.store(this.u16, this.drvEvtH + 1, EV_ENABLE);
  }

  /** See RxQueue.waitInterrupt. */
  waitInterrupt(timeoutMs: number): boolean {
    if (!this.running) return false;
    const v = Atomics.load(this.i32, this.interruptI);
    if (this.interrupts) this.armEvent();
    // Frames taken ahead (rxSmall) are there for the next burst without the device.
    if (this.aheadI !== this.aheadN || (this.pending > 0 && this.usedReady())) return true;
    const r = Atomics.wait(this.i32, this.interruptI, v, timeoutMs);
    if (r === "timed-out") return false;
    this.f64[this.st + S_INTERRUPTS] += 1;
    return true;
  }

  /** Buffers currently posted to the device (diagnostics). */
  get posted(): number {
    return this.pending;
  }
}
