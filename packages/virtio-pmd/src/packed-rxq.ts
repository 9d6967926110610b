import { type Memory, TpdkError } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import * as P from "./packed-rx-consts.js";
import { PackedRxAhead } from "./packed-rx-ahead.js";
import { ParkDrop } from "./park-drop.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { PKTMBUF_HEADROOM } = MB;
const { RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DISABLE: EV_DISABLE, RING_EVENT_FLAGS_DESC: EV_DESC } = V;
const { QF_MRG_RXBUF, Q_POOL_ID, Q_POOL_NAME, Q_POOL_NAME_BYTES, Q_START_AVAIL, S_INTERRUPTS, S_RESET_DROPPED } = L;
const { AHEAD_PRIMES, GATE_OPEN, LOADS_IN_ORDER, RX_BURST_MAX, TOUCH_AHEAD } = P;

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
 *
 * The last of the queue's classes (packed-rx-ring.ts lists them, a concept a file): this one is the
 * queue's life on this thread (attach, resync, park), rxBurst (the entry: the batch-ahead gate, then
 * the touch, the IN_ORDER pass, the validating loop, the refill) and interrupt mode.
 */
export class PackedRxQueue extends PackedRxAhead {
  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId);
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
