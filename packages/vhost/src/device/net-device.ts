import { type Memory, lcoresLaunched } from "@tpdk/eal";
import {
  HDR_HEARTBEAT,
  TRAP_REQUEST,
  TRAP_STATE,
  TRANSPORT_STAT_KICKS,
  notifyWordOffset,
} from "@tpdk/virtio";
import type { DeviceConfig } from "../config.js";
import { DeviceState } from "./device-state.js";
import { processCtrl } from "./ctrl-path.js";
import { CTRL_WIRE_EXHAUSTED, SCRATCH_BYTES } from "./layout.js";
import type { RxBuffers } from "./rx-buffers.js";
import { processRx } from "./rx-path.js";
import { S_ERR_INTERNAL } from "./stats.js";
import { serviceTrap } from "./transport-regs.js";
import { processTx } from "./tx-path.js";
import { TxBatch } from "./tx-batch.js";
import type { Chain } from "./virtqueue.js";
import { DemandWindow } from "./demand.js";
import type { PathDevice } from "./path-device.js";
import type { Wire } from "../wires/wire.js";

/**
 * One virtio-net device: the control state (DeviceState) plus the data path
 * the device loop drives once per pass with poll().
 */
export class NetDevice extends DeviceState implements PathDevice {
  readonly wire: Wire;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  /** Shared with the other devices of the loop (one chain is walked at a time). */
  readonly chain: Chain;
  readonly rxBufs: RxBuffers;
  readonly txBatch: TxBatch;
  /** See PathDevice.touched. */
  touched = 0;
  readonly burst: number;
  /** Scratch of TX pair 0; pair p's is at txScratch + p * SCRATCH_BYTES. */
  readonly txScratch: number;
  readonly rxScratch: number;
  /** The thread's back-pressure window for on-demand sources (shared by the loop's devices). */
  readonly demand: DemandWindow;
  /** The wire is an on-demand source (Wire.onDemand): its RX is held to `demand`'s window. */
  readonly onDemand: boolean;
  /** The last unexpected exception (the device then needs a reset). */
  lastError: unknown = undefined;
  /** Called when an exception puts the device into DEVICE_NEEDS_RESET (the loop reports it). */
  onError: ((dev: NetDevice, err: unknown) => void) | undefined = undefined;
  /**
   * Receive only once the EAL's lcores have launched (VhostOptions.rxAfterLaunch):
   * until then, after each DRIVER_OK, the wire is not asked for frames at all
   * (a paced generator's clock has not started, nothing is missed).
   */
  rxAfterLaunch = false;
  /** The wire may deliver: always without rxAfterLaunch, else from the first pass that saw the lcores launched. */
  private rxOpen = true;

  private readonly i32: Int32Array;
  private readonly trapI: number;
  private wireExhausted = false;
  /** u32 index of the control queue's notify word (-1 without a control queue), and its value when last served. */
  private ctrlKickI = -1;
  private ctrlKicks = 0;

  constructor(
    mem: Memory, cfg: DeviceConfig, memLo: number, wire: Wire, chain: Chain, rxBufs: RxBuffers,
    demand: DemandWindow = new DemandWindow(),
  ) {
    super(mem, cfg, memLo);
    this.wire = wire;
    this.u8 = mem.u8;
    this.u32 = mem.u32;
    this.i32 = mem.i32;
    this.chain = chain;
    this.rxBufs = rxBufs;
    this.burst = cfg.burst;
    this.txBatch = new TxBatch(cfg.burst);
    this.txScratch = cfg.scratchOffset;
    this.rxScratch = cfg.scratchOffset + cfg.queuePairs * SCRATCH_BYTES;
    this.trapI = (this.t + TRAP_STATE) >>> 2;
    this.demand = demand;
    this.onDemand = wire.onDemand === true;
    if (this.onDemand) demand.used = true;
  }

  /**
   * One pass over the device: the trap mailbox (one Atomics.load), then,
   * while the driver has the device running, every served TX queue (one
   * Atomics.load of avail.idx each) and the wire's due frames into an RX
   * queue. Returns how much work was done (0 = idle). Never throws: an
   * exception (a bug, or a wire failing) is counted in errInternal and puts
   * this device into DEVICE_NEEDS_RESET; the others keep running.
   */
  poll(): number {
    let work = 0;
    try {
      // Pairs with the driver's Atomics.store(TRAP_STATE, TRAP_REQUEST) after it filled the mailbox.
      if (Atomics.load(this.i32, this.trapI) === TRAP_REQUEST) {
        serviceTrap(this);
        work = 1;
      }
      if (!this.active) return work;
      // A plain read of the control queue's kick counter, as a hint only: a
      // stale value delays the command by a pass, and tick() checks the
      // queue with an Atomics.load once per ms anyway. processCtrl's
      // Atomics.load of avail.idx (pairs with the driver's store) is what
      // makes the command visible.
      const ck = this.ctrlKickI;
      if (ck >= 0 && this.mem.u32[ck] !== this.ctrlKicks) {
        this.ctrlKicks = this.mem.u32[ck]!;
        work += processCtrl(this);
        if (!this.active) return work;
      }
      const pairs = this.activePairs;
      let tx = 0;
      if (this.packed) tx = this.pollTxPacked(pairs);
      else {
        for (let p = 0; p < pairs; p++) {
          if (this.queues[2 * p + 1]!.enabled) tx += processTx(this, 2 * p + 1, this.txScratch + p * SCRATCH_BYTES);
          if (!this.active) break;
        }
      }
      // Chains taken back from the application give on-demand sources room (demand.ts).
      if (tx !== 0) {
        this.demand.consumed(tx);
        work += tx;
      }
      if (!this.active) return work;
      if (this.link.up && (this.rxOpen || this.openRx())) work += processRx(this);
    } catch (e) {
      this.internalError(e);
      work++;
    }
    return work;
  }

  /**
   * rxAfterLaunch: the lcores have launched since DRIVER_OK, so the wire
   * starts now (cold: one Atomics.load per pass until then, pairs with the
   * lcore threads' store of CTRL_LAUNCHED).
   */
  private openRx(): boolean {
    if (!lcoresLaunched(this.mem)) return false;
    this.rxOpen = true;
    return true;
  }

  /** The TX queues' packed rings (kept out of poll() so the split loop there stays as it was). */
  private pollTxPacked(pairs: number): number {
    let tx = 0;
    for (let p = 0; p < pairs; p++) {
      const q = this.pqueues[2 * p + 1]!;
      if (q.enabled) {
        tx += processTx(this, 2 * p + 1, this.txScratch + p * SCRATCH_BYTES);
        if ((q.availPos | (q.availWrap << 15)) !== q.qinfoPos) this.queueRegs.publishPackedTxPos(q);
      }
      if (!this.active) break;
    }
    return tx;
  }

  /** Ask for kicks on the served TX queues (on: about to sleep) or suppress them (off: polling). */
  setNotify(on: boolean): void {
    if (!this.active) return;
    const pairs = this.activePairs;
    if (this.packed) {
      for (let p = 0; p < pairs; p++) {
        const q = this.pqueues[2 * p + 1]!;
        if (q.enabled && q.notifyOn !== on) q.setNotify(on);
      }
      return;
    }
    for (let p = 0; p < pairs; p++) {
      const q = this.queues[2 * p + 1]!;
      if (q.enabled && q.notifyOn !== on) q.setNotify(on);
    }
  }

  /**
   * Housekeeping, about once per ms (cold): heartbeat, kick count, link
   * requests from the main thread, the wire's exhausted flag.
   */
  tick(): void {
    const mem = this.mem;
    Atomics.add(mem.u32, (this.t + HDR_HEARTBEAT) >>> 2, 1);
    let kicks = 0;
    for (let i = 0; i < this.numQueues; i++) kicks += Atomics.load(mem.u32, (this.t + notifyWordOffset(i)) >>> 2);
    Atomics.store(mem.u32, (this.t + TRANSPORT_STAT_KICKS) >>> 2, kicks >>> 0);
    this.applyLinkRequest();
    if (this.ctrlKickI >= 0 && this.active) {
      // Backstop for poll()'s plain read of the kick counter (and for drivers that post without kicking).
      try {
        this.ctrlKicks = Atomics.load(mem.u32, this.ctrlKickI);
        processCtrl(this);
      } catch (e) {
        this.internalError(e);
      }
    }
    if (!this.wireExhausted) {
      try {
        if (this.wire.exhausted()) {
          this.wireExhausted = true;
          Atomics.store(mem.i32, (this.t + CTRL_WIRE_EXHAUSTED) >>> 2, 1);
        }
      } catch (e) {
        this.internalError(e);
      }
    }
  }

  protected override onReset(): void {
    this.ctrlKickI = -1;
  }

  protected override onStart(): void {
    // Each start waits for a launch again (a restarted port is polled by the next launch).
    this.rxOpen = !this.rxAfterLaunch;
    // A new transmit queue may be smaller: no on-demand frames until the next tick has sized the window.
    this.demand.window = 0;
    // The control queue is served once the driver enabled it (its index is fixed by then).
    const c = this.ctrl;
    if (c !== null && c.enabled) {
      this.ctrlKickI = (this.t + notifyWordOffset(c.index)) >>> 2;
      this.ctrlKicks = Atomics.load(this.mem.u32, this.ctrlKickI);
    } else this.ctrlKickI = -1;
  }

  private internalError(e: unknown): void {
    this.lastError = e;
    this.needsReset(S_ERR_INTERNAL);
    if (this.onError) this.onError(this, e);
  }
}
