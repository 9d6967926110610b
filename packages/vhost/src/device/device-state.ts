import type { Memory } from "@tpdk/eal";
import {
  type CommonCfgDevice,
  COMMON_CFG_BASE,
  CC_DEVICE_STATUS,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  TRANSPORT_STAT_RESETS,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  ctrlQueueIndex,
  netHdrSize,
} from "@tpdk/virtio";
import type { DeviceConfig } from "../config.js";
import { ConfigSpace, ctrlOffered, deviceQueueCount } from "./config-space.js";
import { FeatureRegisters } from "./feature-regs.js";
import { DeviceInterrupts } from "./interrupts.js";
import { DEV_STATS, MAX_FRAME } from "./layout.js";
import { GuestMemory } from "./guest-memory.js";
import { DeviceLink } from "./link.js";
import { PackedDeviceQueue } from "./packed-virtqueue.js";
import { QueueRegisters } from "./queue-regs.js";
import { S_ERR_FEATURES, S_ERR_LATE_WRITE, S_ERR_STATUS, S_NEEDS_RESET } from "./stats.js";
import { RxSteering } from "./steering.js";
import { DeviceQueue } from "./virtqueue.js";

/** Largest control queue the device accepts (the driver may ask for less; QEMU uses 64 too). */
export const CTRL_QUEUE_MAX_SIZE = 64;

const DRIVER_BITS = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK | STATUS_FAILED;
/** Ethernet header plus one 802.1Q tag: what "MTU plus the low-level header" allows on RX (§5.1.6.3.2). */
const L2_OVERHEAD = 18;

/**
 * The device's control state: device_status (virtio 1.2 §2.1) and what the
 * feature negotiation (§3.1) derived, plus the parts each owned by its file:
 *
 *   features   feature-regs.ts  device/driver feature registers, acceptance
 *   queueRegs  queue-regs.ts    queue_select and the queue registers, DRIVER_OK queue setup, DEV_QINFO
 *   steering   steering.ts      the receive queues frames go to; RX filter state
 *   irq        interrupts.ts    ISR, interrupt words, config_msix_vector
 *   config     config-space.ts  device configuration (MAC, link status) and config_generation
 *   link       link.ts          the link the main thread asks for
 *
 * The data path (net-device.ts and the paths) reads the derived fields below
 * (plain properties, read per pass or per packet) and never writes them: each
 * is written only in this file, on a status write, a reset or VQ_PAIRS_SET.
 */
export class DeviceState implements CommonCfgDevice {
  readonly cfg: DeviceConfig;
  readonly mem: Memory;
  /** Transport region (byte offset). */
  readonly t: number;
  /** First Float64 index of this device's counters. */
  readonly sb: number;
  readonly f64: Float64Array;
  /** The data queues: receiveq k = queues[2k], transmitq k = queues[2k+1], k < max_virtqueue_pairs. */
  readonly queues: DeviceQueue[];
  /**
   * The same queues' packed rings (virtio 1.2 §2.8), used by the data path
   * instead of `queues` when RING_PACKED is negotiated (`packed`); their
   * registers stay in `queues`.
   */
  readonly pqueues: PackedDeviceQueue[];
  /** The control queue (§5.1.6.5) when CTRL_VQ is offered, else null. Its index follows the negotiation. */
  readonly ctrl: DeviceQueue | null;
  /** The control queue's packed ring (registers in `ctrl`), used instead of it when `packed`. */
  readonly pctrl: PackedDeviceQueue | null;
  /** num_queues: every data queue plus the control queue. */
  readonly numQueues: number;
  readonly numDataQueues: number;
  readonly features: FeatureRegisters;
  readonly queueRegs: QueueRegisters;
  readonly steering: RxSteering;
  readonly irq: DeviceInterrupts;
  readonly config: ConfigSpace;
  readonly link: DeviceLink;

  #status = 0;

  // --- derived at FEATURES_OK / DRIVER_OK / VQ_PAIRS_SET, read by the data path; written only here ---
  /** DRIVER_OK set, FAILED and DEVICE_NEEDS_RESET clear: the queues are processed. */
  active = false;
  hdrSize = 12;
  mrg = false;
  inOrder = false;
  eventIdx = false;
  indirect = false;
  /** VIRTIO_F_RING_PACKED negotiated: the data queues are packed (pqueues). */
  packed = false;
  /**
   * Queue pairs the data path serves: 1 after every reset (§5.1.6.5.5: only
   * receiveq1/transmitq1 until the driver enables more), then what the
   * driver's last VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET asked for.
   */
  activePairs = 1;
  /** Longest frame handed to the driver. */
  rxMaxFrame = MAX_FRAME;

  constructor(mem: Memory, cfg: DeviceConfig, memLo: number) {
    this.cfg = cfg;
    this.mem = mem;
    this.t = cfg.zoneOffset;
    this.sb = (cfg.zoneOffset + DEV_STATS) >>> 3;
    this.f64 = mem.f64;
    this.numDataQueues = 2 * cfg.queuePairs;
    this.queues = [];
    // The built-in transport's guest memory: the identity over EAL memory (guest-memory.ts).
    const gm = GuestMemory.identity(mem, memLo, mem.size);
    for (let i = 0; i < this.numDataQueues; i++) this.queues.push(new DeviceQueue(gm, i, cfg.maxQueueSize));
    this.pqueues = this.queues.map((q) => new PackedDeviceQueue(q));
    const ctrlSize = cfg.maxQueueSize < CTRL_QUEUE_MAX_SIZE ? cfg.maxQueueSize : CTRL_QUEUE_MAX_SIZE;
    this.ctrl = ctrlOffered(cfg) ? new DeviceQueue(gm, this.numDataQueues, ctrlSize) : null;
    this.pctrl = this.ctrl !== null ? new PackedDeviceQueue(this.ctrl) : null;
    this.numQueues = deviceQueueCount(cfg);
    this.features = new FeatureRegisters({ lo: cfg.offeredLo, hi: cfg.offeredHi });
    this.queueRegs = new QueueRegisters(mem, this.t, this, this.features, this.queues, this.pqueues, this.ctrl, this.pctrl);
    this.steering = new RxSteering(cfg.queuePairs);
    this.irq = new DeviceInterrupts(mem, this.t);
    this.config = new ConfigSpace(mem, cfg);
    this.link = new DeviceLink(mem, this.t, this.config);
    this.#mirrorStatus();
  }

  /** device_status (§2.1). */
  get status(): number {
    return this.#status;
  }

  // --- the common configuration as the register traps see it (CommonCfgDevice, @tpdk/virtio) ---
  get configMsix(): number {
    return this.irq.configMsix;
  }
  get generation(): number {
    return this.config.generation;
  }
  get queueSelect(): number {
    return this.queueRegs.select;
  }
  selectedQueue(): DeviceQueue | undefined {
    return this.queueRegs.selected();
  }
  setConfigMsix(v: number): void {
    this.irq.setConfigMsix(v);
  }
  selectQueue(v: number): void {
    this.queueRegs.setSelect(v);
  }
  writeQueue(q: DeviceQueue, off: number, v: number): boolean {
    return this.queueRegs.write(q, off, v);
  }

  /** Count one event in counter `slot`. */
  count(slot: number): void {
    this.f64[this.sb + slot] += 1;
  }

  hasDriverFeature(bit: number): boolean {
    return this.features.has(bit);
  }

  // ------------------------------------------------------------------ status

  /** A driver write of device_status (§2.1, §3.1.1). */
  writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.#status;
    // §2.1.1: the driver never clears a bit (only a reset does) and never sets DEVICE_NEEDS_RESET.
    if ((old & DRIVER_BITS & ~v) !== 0) this.count(S_ERR_STATUS);
    let s = old | (v & DRIVER_BITS);
    if ((s & STATUS_FEATURES_OK) !== 0 && (old & STATUS_FEATURES_OK) === 0) {
      if (this.features.acceptable()) this.#negotiate();
      else {
        // §3.1.1: the device refuses by leaving FEATURES_OK clear; the driver reads it back.
        s &= ~STATUS_FEATURES_OK;
        this.count(S_ERR_FEATURES);
      }
    }
    if ((s & STATUS_DRIVER_OK) !== 0 && (old & STATUS_DRIVER_OK) === 0 && (s & STATUS_FEATURES_OK) === 0) {
      s &= ~STATUS_DRIVER_OK;
      this.count(S_ERR_STATUS);
    }
    this.#status = s;
    if ((s & STATUS_DRIVER_OK) !== 0 && (old & STATUS_DRIVER_OK) === 0) this.#startQueues();
    this.#updateActive();
    this.#mirrorStatus();
  }

  /** driver_feature writes: only before FEATURES_OK (§3.1.1). */
  writeDriverFeature(value: number): void {
    if ((this.#status & STATUS_FEATURES_OK) !== 0 || !this.features.writeDriver(value)) this.count(S_ERR_LATE_WRITE);
  }

  /** Device reset: status 0, features cleared, queues disabled and zeroed. Notify/interrupt words stay monotonic. */
  reset(): void {
    this.#status = 0;
    this.features.reset();
    this.irq.reset();
    this.queueRegs.reset();
    this.hdrSize = 12;
    this.mrg = this.inOrder = this.eventIdx = this.indirect = this.packed = false;
    this.activePairs = 1;
    this.steering.reset();
    this.rxMaxFrame = MAX_FRAME;
    this.config.restoreMac();
    this.#updateActive();
    this.#mirrorStatus();
    const r = (this.t + TRANSPORT_STAT_RESETS) >>> 2;
    Atomics.store(this.mem.u32, r, this.mem.u32[r]! + 1);
    this.onReset();
  }

  /** Hook for the data path to drop per-reset state. */
  protected onReset(): void {}

  /**
   * Enter DEVICE_NEEDS_RESET (§2.1.2) after a fatal error counted in `slot`:
   * the device stops processing until the driver resets it, and tells a
   * running driver with a configuration change notification.
   */
  needsReset(slot: number): void {
    this.count(slot);
    if ((this.#status & STATUS_DEVICE_NEEDS_RESET) !== 0) return;
    this.count(S_NEEDS_RESET);
    this.#status |= STATUS_DEVICE_NEEDS_RESET;
    this.#updateActive();
    this.#mirrorStatus();
    if ((this.#status & STATUS_DRIVER_OK) !== 0) this.configInterrupt();
  }

  #updateActive(): void {
    this.active = (this.#status & (STATUS_DRIVER_OK | STATUS_FAILED | STATUS_DEVICE_NEEDS_RESET)) === STATUS_DRIVER_OK;
  }

  /** Mirror of device_status in the common-config backing, for main-thread diagnostics. */
  #mirrorStatus(): void {
    Atomics.store(this.mem.u8, this.t + COMMON_CFG_BASE + CC_DEVICE_STATUS, this.#status);
  }

  /** FEATURES_OK accepted: derive what the data path reads from the driver's features. */
  #negotiate(): void {
    const f = this.features;
    this.mrg = f.has(VIRTIO_NET_F_MRG_RXBUF);
    this.hdrSize = netHdrSize(f.has(VIRTIO_F_VERSION_1), this.mrg);
    this.inOrder = f.has(VIRTIO_F_IN_ORDER);
    this.eventIdx = f.has(VIRTIO_F_EVENT_IDX);
    this.indirect = f.has(VIRTIO_F_INDIRECT_DESC);
    this.packed = f.has(VIRTIO_F_RING_PACKED);
    // §5.1.6.5.5: even with MQ only the first pair is used until VQ_PAIRS_SET.
    this.activePairs = 1;
    // §5.1.2: the control queue follows the last pair the negotiation allows.
    if (this.ctrl !== null) this.ctrl.index = ctrlQueueIndex(this.cfg.queuePairs, f.has(VIRTIO_NET_F_MQ));
    const mtu = f.has(VIRTIO_NET_F_MTU) ? this.cfg.mtu + L2_OVERHEAD : MAX_FRAME;
    this.rxMaxFrame = mtu < MAX_FRAME ? mtu : MAX_FRAME;
  }

  // ------------------------------------------------------------------ queues

  #startQueues(): void {
    this.queueRegs.start();
    this.steering.rebuild(this.activePairs, this.queues);
    this.onStart();
  }

  /**
   * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET (§5.1.6.5.5), already validated
   * (1..max_virtqueue_pairs): from now on RX is steered over the first n
   * receive queues and TX is served on the first n transmit queues. The
   * caller publishes the command's used entry after this returns.
   */
  setQueuePairs(n: number): void {
    this.activePairs = n;
    this.queueRegs.publishAll();
    this.steering.rebuild(n, this.queues);
  }

  /** True when the data path processes queue q: enabled, and within the pairs the driver enabled (VQ_PAIRS_SET). */
  served(q: DeviceQueue): boolean {
    return this.queueRegs.served(q);
  }

  /** Hook for the data path when DRIVER_OK is set. */
  protected onStart(): void {}

  /** VIRTIO_NET_CTRL_MAC_ADDR_SET (§5.1.6.5.2), already validated: config-space.ts. */
  setMac(bytes: Uint8Array, off: number): void {
    this.config.setMac(bytes, off);
  }

  // ------------------------------------------------------------------ notifications

  /** Used-buffer notification for queue q (§4.1.5.4). */
  interrupt(q: DeviceQueue): void {
    this.irq.used(q);
  }

  /** Configuration change notification (§4.1.5.3) on every enabled queue's word. */
  configInterrupt(): void {
    this.irq.configChanged(this.queues, this.ctrl);
  }

  // ------------------------------------------------------------------ link

  /** Apply the link state the main thread asked for (cold, ~once per ms); a running driver is told (§2.5.1). */
  applyLinkRequest(): void {
    if (!this.link.applyRequest()) return;
    if ((this.#status & STATUS_DRIVER_OK) !== 0 && this.features.offers(VIRTIO_NET_F_STATUS)) this.configInterrupt();
  }
}
