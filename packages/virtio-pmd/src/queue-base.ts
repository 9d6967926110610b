import { type Memory, TpdkError } from "@tpdk/eal";
import { Mbufs } from "@tpdk/mbuf";
import { availEventOffset, usedEventOffset } from "@tpdk/virtio";
import * as V from "@tpdk/virtio";
import { portEntry } from "./layout.js";
import * as L from "./layout.js";
import { kickFdIndex, notifyDevice } from "./notify-device.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, USED_FLAGS, USED_IDX, USED_RING, VRING_USED_F_NO_NOTIFY } = V;
const {
  PMD_MAX_PORTS, PMD_MAX_QUEUES, PORT_FREE, PORT_TABLE_ZONE, P_RXQ_ZONES, P_STATE, P_TXQ_ZONES, QF_EVENT_IDX,
  QF_IN_ORDER, Q_AVAIL, Q_DESC, Q_DOORBELL, Q_FLAGS, Q_HDR_SIZE, Q_INTERRUPT, Q_NOTIFY, Q_OWNER, Q_RUN,
  Q_SIZE, Q_STATS, Q_USED, S_KICKS, Q_RUN_RETIRED, Q_CLAIM, Q_PARKED, P_QUEUE_SEQ, PARK_ASKED, Q_LEFT_RUN,
  Q_FENCED_AVAIL,
  S_BROADCAST, S_MULTICAST, S_TX_FULL, S_TX_OVERSIZE, S_ERRORS,
} = L;
/** Publishes after a resync that run the kick path as a no-op (see kickIfNeeded). */
const KICK_PRIMES = 64;
/**
 * The host keeps a load after an Atomics.store (x86-TSO: that store is an xchg, a full barrier):
 * the split kick check's load of the device's avail_event / used.flags may then be a plain one
 * (kickIfNeeded; packed-queue.ts has the same for the packed rings).
 */
const STORE_FENCES = process.arch === "x64" || process.arch === "ia32";
/**
 * vring_need_event (virtio 1.2 §2.7.10): the device asked for a kick at `ev` (avail_event), and the
 * `range` entries published up to `idx` passed it.
 */
export function needEvent(idx: number, ev: number, range: number): boolean {
  return ((idx - ev - 1) & 0xffff) < range;
}
/**
 * Split TX on x86 (publishTx): frames published with a plain avail.idx store and an unfenced kick
 * check at most, before a fenced check runs (picked by A/B, bench/notes/split-front-end.md "Session 15: the TX
 * kick check per batch").
 */
export const TX_FENCE_FRAMES = 32;
/** Bursts after a resync that run the rare-counter branch with zeros (see statPrimes). */
export const STAT_PRIMES = 64;

/**
 * What RX and TX queues share on the lcore side: the views, the ring
 * addresses (as typed-array indices, computed once per binding), the
 * driver's shadow indices, the descriptor free list and the kick logic.
 *
 * Binding: the queue follows its zone through the port table. Each burst
 * reads the zone's run word (one plain load): when it differs from the run
 * this object last synced to, the port was stopped (0), restarted (a new
 * generation: start over from the state the main thread left) or the queue
 * moved to a new zone (retired: re-bind). That is the cold path.
 */
export abstract class QueueBase {
  readonly portId: number;
  readonly queueId: number;
  protected readonly mem: Memory;
  protected readonly u8: Uint8Array;
  protected readonly u16: Uint16Array;
  protected readonly u32: Uint32Array;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  protected readonly mbufs: Mbufs;
  private readonly tx: boolean;
  private readonly portTable: number;
  /** Byte offset of this port's entry in the port table. */
  protected readonly portEntry: number;

  protected zone = 0;
  /** u32 index of the zone's run word. */
  protected runW = 0;
  /** Run generation this object is synced to (0 = never). */
  protected run = 0;
  /** u32 index of the zone's claim word, and this object's token in it (claim()). */
  private claimW = 0;
  /** u32 index of the zone's parked word (Q_PARKED). */
  private parkedW = 0;
  private token = 0;
  private detached = false;

  // ring geometry (valid once synced)
  size = 0;
  protected mask = 0;
  protected flags = 0;
  protected hdr = 12;
  protected inOrder = false;
  protected eventIdx = false;
  /** Byte address of descriptor 0. */
  protected desc = 0;
  /** u16 indices. */
  protected availFlagsH = 0;
  protected availIdxH = 0;
  protected availRingH = 0;
  protected usedEventH = 0;
  protected usedFlagsH = 0;
  protected usedIdxH = 0;
  protected availEventH = 0;
  /** u32 index of used.ring[0]. */
  protected usedRingW = 0;
  /** u32 index of owner[0]: the mbuf each descriptor holds (0 = none). */
  protected ownerW = 0;
  /** i32 indices of the notify word, the device's doorbell, our interrupt word. */
  protected notifyI = 0;
  protected doorbellI = 0;
  /** i32 index of the transport's kick-fd word (Q_KICK_FD; the in-flight count follows it), 0 = none. */
  protected kickFdI = 0;
  protected interruptI = 0;
  /** f64 index of the statistics block. */
  protected st = 0;

  // driver-side shadow state (this thread only)
  /** avail.idx as we last published it (free-running u16). */
  protected availIdx = 0;
  /** Next used.ring entry to consume (free-running u16). */
  protected usedSeen = 0;
  /** used.idx as last loaded from the device. */
  protected usedCached = 0;
  /** Chains made available and not yet reclaimed (what used.idx may legitimately run ahead by). */
  protected pending = 0;
  /** Free descriptors. */
  protected nfree = 0;
  /** Free list (not IN_ORDER): a stack of descriptor indices. */
  protected freeStack = new Uint16Array(0);
  protected freeTop = 0;
  /** IN_ORDER: next descriptor to hand out / next expected back (free-running). */
  protected descHead = 0;
  protected descCons = 0;
  /** Publishes left that run the kick path as a no-op (see kickIfNeeded). */
  private kickPrimes = KICK_PRIMES;
  /** Split TX (publishTx): avail.idx as of the last fenced kick check or kick (free-running u16). */
  protected fencedIdx = 0;
  /** u32 index of the zone's Q_FENCED_AVAIL word (fencedIdx for the main thread's backstop). */
  private fencedW = 0;
  /**
   * Bursts left, since the last resync, that run the rare-counter branch with
   * zeros. The counters that are almost always 0 (broadcast, multicast, ring
   * full, oversize, bad ids) are added only when one is not, saving several
   * Float64 read-modify-writes per burst; the branch runs with zeros for the
   * first STAT_PRIMES bursts so that it has type feedback before the burst is
   * optimized, and a first real broadcast much later does not deoptimize it
   * (the same reason as the kick priming, see kickIfNeeded).
   */
  protected statPrimes = STAT_PRIMES;

  /**
   * The TX burst's usually-zero counters (split txq.ts and packed packed-txq.ts): broadcast,
   * multicast, ring full, oversize (also errors). Added only when one is not 0, or while the
   * branch is primed (statPrimes: code first run long after the burst was optimized would
   * deoptimize it). Called once per burst.
   */
  protected countRareTx(bcast: number, mcast: number, full: number, over: number): void {
    if ((full | over | bcast | mcast | this.statPrimes) !== 0) {
      const f64 = this.f64;
      const st = this.st;
      f64[st + S_BROADCAST] += bcast;
      f64[st + S_MULTICAST] += mcast;
      f64[st + S_TX_FULL] += full;
      f64[st + S_TX_OVERSIZE] += over;
      f64[st + S_ERRORS] += over;
      if (this.statPrimes !== 0) {
        this.statPrimes--;
        this.primeTx();
      }
    }
  }

  /**
   * Run by countRareTx while statPrimes lasts: a queue's other rare TX paths, each harmless at any
   * time, given type feedback before the burst is optimized (split TX: reclaim's moveUsedEvent).
   */
  protected primeTx(): void {}

  /** Publishes left, since the last resync, that run the kick path as a no-op (tests: the priming happens on every ring layout). */
  get kickPrimesLeft(): number {
    return this.kickPrimes;
  }

  protected constructor(mem: Memory, portId: number, queueId: number, tx: boolean) {
    const what = tx ? "tx" : "rx";
    if (!Number.isInteger(portId) || portId < 0 || portId >= PMD_MAX_PORTS || !Number.isInteger(queueId) || queueId < 0 || queueId >= PMD_MAX_QUEUES) {
      throw new TpdkError("EINVAL", `virtio-pmd: no ${what} queue ${queueId} on port ${portId} (ports 0..${PMD_MAX_PORTS - 1}, queues 0..${PMD_MAX_QUEUES - 1})`);
    }
    const t = mem.lookup(PORT_TABLE_ZONE);
    if (!t) throw new TpdkError("ESTATE", `virtio-pmd: port ${portId} is not probed (no port table in this memory)`);
    this.mem = mem;
    this.u8 = mem.u8;
    this.u16 = mem.u16;
    this.u32 = mem.u32;
    this.i32 = mem.i32;
    this.f64 = mem.f64;
    this.mbufs = new Mbufs(mem);
    this.portId = portId;
    this.queueId = queueId;
    this.tx = tx;
    this.portTable = t.offset;
    this.portEntry = portEntry(t.offset, portId);
    const zone = this.currentZone();
    if (zone === 0) throw new TpdkError("ESTATE", `virtio-pmd: ${what} queue ${queueId} of port ${portId} is not set up`);
    this.bind(zone);
    // A token no other queue object of this port has (the sequence word survives re-probes).
    const seqW = (this.portEntry + P_QUEUE_SEQ) >>> 2;
    let token = (Atomics.add(this.u32, seqW, 1) + 1) >>> 0;
    if (token === 0) token = (Atomics.add(this.u32, seqW, 1) + 1) >>> 0;
    this.token = token;
    if (!this.claim()) {
      throw new TpdkError(
        "EBUSY",
        `virtio-pmd: ${what} queue ${queueId} of port ${portId} is already driven by another queue object (another thread?): ` +
          "one object drives a queue at a time (its ring indices are its own); detach() that one first, or stop and start the port",
      );
    }
    // Checked after the claim (pairs with detach()'s store before it let the claim go): an object
    // that drove the queue in this run and left took the ring's positions with it.
    const run = Atomics.load(this.u32, this.runW);
    if (run !== 0 && Atomics.load(this.u32, (this.zone + Q_LEFT_RUN) >>> 2) === run) {
      Atomics.compareExchange(this.u32, this.claimW, this.token, 0);
      this.detached = true;
      throw new TpdkError(
        "EBUSY",
        `virtio-pmd: ${what} queue ${queueId} of port ${portId} was driven by another queue object in this run, which detached: ` +
          "the ring's positions were that object's own; stop and start the port to hand the queue over",
      );
    }
  }

  /**
   * Take the queue for this object in the current run: compare-and-swap of
   * the zone's claim word from 0 to our token (pairs with other claimants'
   * CAS, detach() and the main thread's clear at stop). Cold: at attach and
   * at each resync, never per burst. The driver's ring indices (availIdx,
   * usedSeen, the free list) live in this object, so a second object
   * bursting on the same ring would corrupt it: it is refused instead.
   */
  private claim(): boolean {
    if (this.detached) return false;
    const cur = Atomics.compareExchange(this.u32, this.claimW, 0, this.token);
    return cur === 0 || cur === this.token;
  }

  /**
   * Let the queue go (cold): this object's bursts return 0 from now on. When
   * it never burst in the current run, another object (in this thread or
   * another) may attach the queue afterwards; when it did, the ring's
   * positions were its own (the used position, the free list: not in shared
   * memory), so a new attach is refused (EBUSY) until the port restarts: a
   * new object would re-read used entries taken long ago and free buffers
   * the device still holds. To hand a running queue to another thread, stop
   * and start the port (a stop frees every claim).
   */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    // Synced to a run: this object may have moved the ring (taken, posted), and its positions leave
    // with it, so no other object may take the queue over in that run (the constructor refuses).
    // Stored before the claim is let go: whoever claims next sees it.
    if (this.run !== 0) Atomics.store(this.u32, (this.zone + Q_LEFT_RUN) >>> 2, this.run);
    // Only our own claim is released (a restart may have let another object take the queue).
    Atomics.compareExchange(this.u32, this.claimW, this.token, 0);
    this.run = 0;
  }

  /** True once detach() was called: this object no longer drives its queue. */
  get detachedFromQueue(): boolean {
    return this.detached;
  }

  private currentZone(): number {
    const e = portEntry(this.portTable, this.portId);
    if (Atomics.load(this.u32, (e + P_STATE) >>> 2) === PORT_FREE) return 0;
    return this.u32[(e + (this.tx ? P_TXQ_ZONES : P_RXQ_ZONES) + 4 * this.queueId) >>> 2]!;
  }

  private bind(zone: number): void {
    this.zone = zone;
    this.runW = (zone + Q_RUN) >>> 2;
    this.claimW = (zone + Q_CLAIM) >>> 2;
    this.parkedW = (zone + Q_PARKED) >>> 2;
    this.st = (zone + Q_STATS) >>> 3;
    this.run = 0;
  }

  /**
   * Cold path, called when the run word differs from `this.run`. Returns
   * true when the queue is running and the shadow state is in sync with it.
   */
  protected resync(run: number): boolean {
    // Re-read atomically: pairs with the main thread's Atomics.store of the run
    // word in start(), after it wrote the ring and header fields read below.
    run = Atomics.load(this.u32, this.runW);
    if (run === Q_RUN_RETIRED) {
      const zone = this.currentZone();
      if (zone === 0 || zone === this.zone) return false;
      this.bind(zone);
      run = Atomics.load(this.u32, this.runW);
      if (run === 0 || run === Q_RUN_RETIRED) return false;
    }
    if (run === 0) {
      // A reset asked for the park (PortQueues.resetRings, PARK_ASKED): first take back what the
      // device used, so what the ring still owns is what it never used (counted there).
      if (this.run !== 0 && Atomics.load(this.u32, this.parkedW) === PARK_ASKED) this.onPark();
      // Out of every burst of the closed run (this one returns 0 at once): pairs with the main
      // thread's Atomics.load in PortQueues.resetRings, which waits for it before it touches the rings.
      Atomics.store(this.u32, this.parkedW, 1);
      return false;
    }
    // A new run (a restart cleared every claim) or a new zone: claim it again. Taken by another
    // object meanwhile (the queue was handed over): this one stays out, its bursts return 0.
    if (!this.claim()) return false;
    const u32 = this.u32;
    const z = this.zone;
    const w = z >>> 2;
    const size = u32[w + (Q_SIZE >>> 2)]!;
    this.size = size;
    this.mask = size - 1;
    this.flags = u32[w + (Q_FLAGS >>> 2)]!;
    this.hdr = u32[w + (Q_HDR_SIZE >>> 2)]!;
    this.inOrder = (this.flags & QF_IN_ORDER) !== 0;
    this.eventIdx = (this.flags & QF_EVENT_IDX) !== 0;
    this.desc = u32[w + (Q_DESC >>> 2)]!;
    const avail = u32[w + (Q_AVAIL >>> 2)]!;
    const used = u32[w + (Q_USED >>> 2)]!;
    this.availFlagsH = (avail + AVAIL_FLAGS) >>> 1;
    this.availIdxH = (avail + AVAIL_IDX) >>> 1;
    this.availRingH = (avail + AVAIL_RING) >>> 1;
    this.usedEventH = (avail + usedEventOffset(size)) >>> 1;
    this.usedFlagsH = (used + USED_FLAGS) >>> 1;
    this.usedIdxH = (used + USED_IDX) >>> 1;
    this.availEventH = (used + availEventOffset(size)) >>> 1;
    this.usedRingW = (used + USED_RING) >>> 2;
    this.ownerW = u32[w + (Q_OWNER >>> 2)]! >>> 2;
    this.notifyI = u32[w + (Q_NOTIFY >>> 2)]! >>> 2;
    this.doorbellI = u32[w + (Q_DOORBELL >>> 2)]! >>> 2;
    // A kick-fd word, and an addon here to write it with: the lcore kicks the eventfd itself (kick()).
    this.kickFdI = kickFdIndex(u32, w);
    this.interruptI = u32[w + (Q_INTERRUPT >>> 2)]! >>> 2;
    if (this.freeStack.length !== size) this.freeStack = new Uint16Array(size);
    this.resizeLocal(size);
    // The main thread left the ring at start: avail.idx = what it posted
    // (RX), used.idx = 0, owner[] nonzero exactly for the posted descriptors.
    this.availIdx = Atomics.load(this.u16, this.availIdxH);
    this.usedSeen = 0;
    this.usedCached = 0;
    this.pending = this.availIdx;
    this.freeTop = 0;
    for (let d = size - 1; d >= 0; d--) if (u32[this.ownerW + d] === 0) this.freeStack[this.freeTop++] = d;
    this.nfree = this.freeTop;
    this.descHead = this.availIdx;
    this.descCons = 0;
    this.onResync();
    this.kickPrimes = KICK_PRIMES;
    this.statPrimes = STAT_PRIMES;
    this.fencedW = w + (Q_FENCED_AVAIL >>> 2);
    this.setFenced(this.availIdx);
    this.run = run;
    return true;
  }

  /** Subclass hook: allocate per-descriptor side tables of `size` entries. */
  protected abstract resizeLocal(size: number): void;
  /** Subclass hook: after a resync (pool lookup, thresholds). */
  protected abstract onResync(): void;

  /**
   * The queue parks for a ring reset: it takes back what the device used (TX: frees the frames it
   * sent; RX: frees the frames no burst received, counted in rx_qN_reset_dropped_packets). Cold.
   */
  protected onPark(): void {}

  /** A free descriptor (the caller checked nfree > 0). IN_ORDER: the next in table order. */
  protected allocDesc(): number {
    this.nfree--;
    if (this.inOrder) {
      const d = this.descHead & this.mask;
      this.descHead = (this.descHead + 1) & 0xffff;
      return d;
    }
    return this.freeStack[--this.freeTop]!;
  }

  /** Return descriptor `d` (not IN_ORDER; IN_ORDER frees by advancing descCons). */
  protected freeDesc(d: number): void {
    this.freeStack[this.freeTop++] = d;
    this.nfree++;
  }

  /**
   * After publishing avail.idx (old -> now): kick unless the device
   * suppressed it (§2.7.10). The loads pair with the device's stores of
   * used.flags / avail_event, and come after our Atomics.store of avail.idx
   * with a full memory barrier between the two: the order of virtio 1.2
   * §2.7.13.4 (Notifying The Device: update avail.idx, barrier, then read
   * the suppression fields), so that a device that re-enables notifications
   * either sees the new entries or has its new avail_event / flags read here.
   * That barrier is the publish itself: on x86 V8 emits Atomics.store as an
   * xchg, which drains the store buffer before any later load runs (DPDK's
   * virtio_mb before its plain load in virtqueue_kick_prepare is the same
   * full barrier), and V8 keeps typed-array loads after an Atomics call (the
   * builtin call is on their effect chain). So on x86 (STORE_FENCES) the
   * field is read with a plain load, not a second builtin call per publish;
   * elsewhere a seq-cst store does not order a later plain load (arm64's
   * stlr then ldr may be reordered), and it gets an Atomics.load.
   */
  protected kickIfNeeded(oldIdx: number, newIdx: number): void {
    const kick = this.deviceAsksKick(newIdx, (newIdx - oldIdx) & 0xffff);
    // A busy-polling device suppresses kicks, but one still comes every 2^16
    // entries (the index passes a stale avail_event), long after the burst
    // functions were optimized. Code that was never run has no type feedback,
    // so the first real kick would deoptimize the burst that inlined this;
    // when that burst also has on-stack-replacement code cached, Node 20's V8
    // then keeps running it half interpreted, and the interpreter boxes
    // every Float64 counter it touches (steady scavenges on the lcore). So
    // the first KICK_PRIMES publishes after a resync run the kick path with
    // n = 0 (adds 0, wakes nobody, counts 0): the feedback is there before
    // any optimization. (Several, not one: V8 allocates a function's feedback
    // vector only after its first few calls; until then nothing is recorded.)
    this.kickOrPrime(kick);
  }

  /**
   * The split ring's notification suppression (§2.7.10): does the device want a kick for the
   * `range` entries published up to `idx` (vring_need_event over avail_event, or used.flags
   * without NO_NOTIFY)? Plain loads on x86 (STORE_FENCES), Atomics.load elsewhere (see
   * kickIfNeeded); whether a barrier came before them is the caller's (kickIfNeeded and
   * fencedCheck: yes; publishTx's cheap check: no, hence its fenced check).
   */
  private deviceAsksKick(idx: number, range: number): boolean {
    const u16 = this.u16;
    if (this.eventIdx) return needEvent(idx, STORE_FENCES ? u16[this.availEventH]! : Atomics.load(u16, this.availEventH), range);
    return ((STORE_FENCES ? u16[this.usedFlagsH]! : Atomics.load(u16, this.usedFlagsH)) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  /**
   * The split TX publish of avail.idx (old -> idx) and its kick check, Linux virtio-net's way
   * (it fences and checks notification suppression once per batch of transmits, xmit_more).
   * Elsewhere than x86 (STORE_FENCES false): Atomics.store and kickIfNeeded, a fenced check per
   * burst. On x86 avail.idx is stored plainly: x86-TSO does not reorder a store with the stores
   * before it, so the device sees the index after the descriptors and ring entries written before
   * it (V8 keeps the order of typed-array stores). Then the cheap check: a plain read of
   * avail_event (over the whole range since the last fenced check, fencedIdx -> idx) or
   * used.flags. When it asks for a kick, kick: kick() starts with an Atomics.add (a full barrier)
   * and the eventfd write or doorbell after it, so the device sees the index. When it does not,
   * the answer may be stale: a device that re-enabled notifications while our index store still
   * sat in the store buffer read the old index and may sleep (the store -> load race virtio 1.2
   * §2.7.13.4 closes with its barrier). So the range stays unfenced until a fenced check
   * (fencedCheck: a full barrier, then the read) runs: after TX_FENCE_FRAMES unfenced frames, at
   * txFence() (the application's idle path, e.g. l2fwd's after empty polls), and as the last
   * backstop on the main thread (txKickBackstop, e.g. l2fwd's watchdog, from Q_FENCED_AVAIL).
   */
  protected publishTx(old: number, idx: number): void {
    const u16 = this.u16;
    if (!STORE_FENCES) {
      Atomics.store(u16, this.availIdxH, idx);
      this.setFenced(idx);
      this.kickIfNeeded(old, idx);
      return;
    }
    const from = this.fencedIdx;
    const range = (idx - from) & 0xffff;
    // Both branches below run in each publish while the kick path is primed (see kickIfNeeded):
    // a device that polls asks for its first kick after 2^16 entries, and one that wants every
    // kick never lets the fenced check run, long after the burst was optimized; code never run
    // there has no type feedback and would deoptimize it. Primed, the plain branch records `from`
    // again (nothing new) and the fenced check fences a publish that needed none: both harmless.
    const primed = this.kickPrimes !== 0;
    let kick = false;
    // A range of TX_FENCE_FRAMES or more (a burst of 32 alone) goes straight to the fenced check:
    // one barrier per burst as before, not a plain store and check first.
    if (range < TX_FENCE_FRAMES || primed) {
      // Plain store: kept after the descriptor and ring stores above it by x86-TSO (see above).
      u16[this.availIdxH] = idx;
      kick = this.deviceAsksKick(idx, range);
      if (kick || primed) {
        // The kick is the barrier (kick() starts with an Atomics.add): everything up to idx is fenced.
        const f = kick ? idx : from;
        this.setFenced(f);
      }
    }
    if ((!kick && range >= TX_FENCE_FRAMES) || primed) {
      if (this.fencedCheck(idx, from)) kick = true;
    }
    this.kickOrPrime(kick);
  }

  /** Record avail.idx `idx` as fenced, for this object and the main thread's backstop (Q_FENCED_AVAIL). */
  private setFenced(idx: number): void {
    this.fencedIdx = idx;
    this.u32[this.fencedW] = idx;
  }

  /**
   * The fenced kick check over (from, idx]: avail.idx stored again with Atomics.store (an xchg: a
   * full barrier, §2.7.13.4's), then avail_event / used.flags read, so a device that re-enabled
   * notifications either sees idx or has its new field read here. Records idx as fenced.
   */
  protected fencedCheck(idx: number, from: number): boolean {
    Atomics.store(this.u16, this.availIdxH, idx);
    this.setFenced(idx);
    return this.deviceAsksKick(idx, (idx - from) & 0xffff);
  }

  /**
   * Kick when `kick`, else run the kick path as a no-op while primes remain
   * (the priming explained in kickIfNeeded). The split rings come here from
   * kickIfNeeded; the packed rings (packed-rx-refill.ts, packed-txq.ts) directly,
   * their publish deciding `kick` from the device event suppression
   * structure (§2.8.10, packedKickNeeded).
   */
  protected kickOrPrime(kick: boolean): void {
    if (kick || this.kickPrimes !== 0) {
      let n = 1;
      if (!kick) {
        n = 0;
        this.kickPrimes--;
      }
      this.kick(n);
      // Counted here, not in kick(). A polling device asks for a kick once per 2^16 entries of a
      // ring (a few hundred a second at full load), too seldom for the burst's optimization to
      // inline kick() (V8 leaves out calls that rare) or for kick() to be optimized by itself in
      // a run's first ~10 s: it runs in baseline code, where a Float64Array read-modify-write
      // allocates two HeapNumbers (32 B, whatever the value), the lcore's steady garbage in a
      // pipeline window (bench README "Session 23: GC"). Here it is in the burst's optimized code,
      // which inlines this (the kick priming gives this branch its type feedback).
      this.f64[this.st + S_KICKS] += n;
    }
  }

  /**
   * Notify the device `n` (1, or 0 for the priming no-op above) times.
   *
   * A vhost-user queue (kickFdI set) writes its kick eventfd here, on the
   * lcore, as DPDK's virtio-user does from its data-path thread: no other
   * thread wakes (a main-thread forwarder's Atomics.waitAsync allocated a
   * promise per kick, and DPDK's vhost asks for one every 2^16 entries per
   * ring while it polls: ~430/s at 14 Mpps, see kick-forwarder.ts). The
   * in-flight count around the write pairs with the transport's close
   * (vhost-user transport.ts closeKickFds): it stores -1 in the fd word, then
   * waits for the count to be 0 before it closes the eventfd, so this never
   * writes to a closed fd or to another file that reused its number. The
   * priming writes to fd -1 (EBADF at once, nothing written anywhere) so the
   * call has type feedback before the burst is optimized. Other transports
   * (the built-in device) are kicked through the doorbell the device thread
   * sleeps on.
   */
  private kick(n: number): void {
    notifyDevice(this.i32, this.notifyI, this.kickFdI, this.doorbellI, n);
  }

  /** True while the port is started and this object is in sync (cold check for non-burst methods). */
  get running(): boolean {
    const run = Atomics.load(this.u32, this.runW);
    return run === this.run && run !== 0 ? true : this.resync(run);
  }
}
