// Over 400 lines until it is split (issue 11: status, features, queue registers, steering, interrupts,
// link): today one class holds the device's whole negotiated state, which the paths read per pass.
import type { Memory } from "@tpdk/eal";
import {
  COMMON_CFG_BASE,
  CC_DEVICE_STATUS,
  DEVICE_CFG_BASE,
  HDR_DEVICE_ID,
  HDR_DOORBELL_ADDR,
  HDR_MAGIC,
  HDR_MAX_QUEUES,
  HDR_NOTIFY_OFF_MULTIPLIER,
  HDR_VERSION,
  ISR_BASE,
  ISR_CONFIG,
  ISR_QUEUE,
  NET_CFG_MAC,
  NET_CFG_MAX_VIRTQUEUE_PAIRS,
  NET_CFG_MTU,
  NET_CFG_STATUS,
  NOTIFY_OFF_MULTIPLIER,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
  TRANSPORT_MAGIC,
  TRANSPORT_STAT_INTERRUPTS,
  TRANSPORT_STAT_RESETS,
  TRANSPORT_VERSION,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_NET,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_S_LINK_UP,
  ctrlQueueIndex,
  interruptWordOffset,
  netHdrSize,
} from "@tpdk/virtio";
import type { DeviceConfig } from "../config.js";
import {
  CTRL_LINK_REQUEST,
  DEV_QINFO,
  DEV_STATS,
  MAX_FRAME,
  QINFO_AVAIL,
  QINFO_BYTES,
  QINFO_SERVED,
  QINFO_SERVED_PACKED,
  QINFO_SIZE,
  QINFO_USED,
} from "./layout.js";
import {
  S_ERR_FEATURES,
  S_ERR_LATE_WRITE,
  S_ERR_STATUS,
  S_NEEDS_RESET,
} from "./stats.js";
import { GuestMemory } from "./guest-memory.js";
import { DeviceQueue } from "./virtqueue.js";
import { PackedDeviceQueue } from "./packed-virtqueue.js";

/** Largest control queue the device accepts (the driver may ask for less; QEMU uses 64 too). */
export const CTRL_QUEUE_MAX_SIZE = 64;

const DRIVER_BITS = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK | STATUS_FAILED;
/** Ethernet header plus one 802.1Q tag: what "MTU plus the low-level header" allows on RX (§5.1.6.3.2). */
const L2_OVERHEAD = 18;

/**
 * The device's control state (virtio 1.2 §2.1 status, §3.1 feature
 * negotiation, §4.1.4.3 common configuration): everything a trap can change.
 * The data path (net-device.ts) reads the derived flags below and never
 * changes them.
 */
export class DeviceState {
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
  readonly offeredLo: number;
  readonly offeredHi: number;

  // --- registers ---
  status = 0;
  deviceFeatureSelect = 0;
  driverFeatureSelect = 0;
  driverLo = 0;
  driverHi = 0;
  configMsix = VIRTIO_MSI_NO_VECTOR;
  queueSelect = 0;
  configGeneration = 0;
  linkUp = true;

  // --- derived at FEATURES_OK / DRIVER_OK, read by the data path ---
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
  /**
   * RX steering set: virtqueue indices of the enabled receive queues among the
   * first activePairs, in order (rebuilt at DRIVER_OK, VQ_PAIRS_SET, reset).
   * One entry: every frame goes there; several: steered per flow (rx-steer.ts).
   */
  readonly rxSteer: Int32Array;
  rxSteerCount = 0;
  /** Round-robin position for frames the flow hash cannot classify. */
  rxSteerNext = 0;
  /** VIRTIO_NET_CTRL_RX state as the driver last set it. Recorded only: the device has no filter, it delivers every frame. */
  rxPromisc = false;
  rxAllmulti = false;
  /** Longest frame handed to the driver. */
  rxMaxFrame = MAX_FRAME;

  constructor(mem: Memory, cfg: DeviceConfig, memLo: number) {
    this.cfg = cfg;
    this.mem = mem;
    this.t = cfg.zoneOffset;
    this.sb = (cfg.zoneOffset + DEV_STATS) >>> 3;
    this.f64 = mem.f64;
    this.numDataQueues = 2 * cfg.queuePairs;
    this.offeredLo = cfg.offeredLo;
    this.offeredHi = cfg.offeredHi;
    this.queues = [];
    // The built-in transport's guest memory: the identity over EAL memory (guest-memory.ts).
    const gm = GuestMemory.identity(mem, memLo, mem.size);
    for (let i = 0; i < this.numDataQueues; i++) this.queues.push(new DeviceQueue(gm, i, cfg.maxQueueSize));
    this.pqueues = this.queues.map((q) => new PackedDeviceQueue(q));
    const ctrlSize = cfg.maxQueueSize < CTRL_QUEUE_MAX_SIZE ? cfg.maxQueueSize : CTRL_QUEUE_MAX_SIZE;
    this.ctrl = ctrlOffered(cfg) ? new DeviceQueue(gm, this.numDataQueues, ctrlSize) : null;
    this.pctrl = this.ctrl !== null ? new PackedDeviceQueue(this.ctrl) : null;
    this.numQueues = deviceQueueCount(cfg);
    this.rxSteer = new Int32Array(cfg.queuePairs);
    this.linkUp = Atomics.load(mem.i32, (this.t + CTRL_LINK_REQUEST) >>> 2) !== 0;
    this.mirrorStatus();
  }

  /** Count one event in counter `slot`. */
  count(slot: number): void {
    this.f64[this.sb + slot] += 1;
  }

  hasDriverFeature(bit: number): boolean {
    return bit < 32 ? ((this.driverLo >>> bit) & 1) === 1 : ((this.driverHi >>> (bit - 32)) & 1) === 1;
  }

  // ------------------------------------------------------------------ status

  /** A driver write of device_status (§2.1, §3.1.1). */
  writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.status;
    // §2.1.1: the driver never clears a bit (only a reset does) and never sets DEVICE_NEEDS_RESET.
    if ((old & DRIVER_BITS & ~v) !== 0) this.count(S_ERR_STATUS);
    let s = old | (v & DRIVER_BITS);
    if ((s & STATUS_FEATURES_OK) !== 0 && (old & STATUS_FEATURES_OK) === 0) {
      if (this.featuresAcceptable()) this.negotiate();
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
    this.status = s;
    if ((s & STATUS_DRIVER_OK) !== 0 && (old & STATUS_DRIVER_OK) === 0) this.startQueues();
    this.updateActive();
    this.mirrorStatus();
  }

  /** Device reset: status 0, features cleared, queues disabled and zeroed. Notify/interrupt words stay monotonic. */
  reset(): void {
    this.status = 0;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.driverLo = 0;
    this.driverHi = 0;
    this.configMsix = VIRTIO_MSI_NO_VECTOR;
    this.queueSelect = 0;
    for (const q of this.queues) {
      q.reset();
      this.publishQueueInfo(q);
    }
    for (const pq of this.pqueues) pq.reset();
    this.pctrl?.reset();
    if (this.ctrl !== null) {
      this.ctrl.reset();
      this.ctrl.index = this.numDataQueues;
    }
    this.mem.u8[this.t + ISR_BASE] = 0;
    this.hdrSize = 12;
    this.mrg = this.inOrder = this.eventIdx = this.indirect = this.packed = false;
    this.activePairs = 1;
    this.rxSteerCount = 0;
    this.rxSteerNext = 0;
    this.rxPromisc = this.rxAllmulti = false;
    this.rxMaxFrame = MAX_FRAME;
    // A MAC the driver set with MAC_ADDR_SET lasts until the reset (QEMU restores its configured one too).
    for (let i = 0; i < 6; i++) this.mem.u8[this.t + DEVICE_CFG_BASE + NET_CFG_MAC + i] = this.cfg.mac[i]!;
    this.updateActive();
    this.mirrorStatus();
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
    if ((this.status & STATUS_DEVICE_NEEDS_RESET) !== 0) return;
    this.count(S_NEEDS_RESET);
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.updateActive();
    this.mirrorStatus();
    if ((this.status & STATUS_DRIVER_OK) !== 0) this.configInterrupt();
  }

  private updateActive(): void {
    this.active = (this.status & (STATUS_DRIVER_OK | STATUS_FAILED | STATUS_DEVICE_NEEDS_RESET)) === STATUS_DRIVER_OK;
  }

  /** Mirror of device_status in the common-config backing, for main-thread diagnostics. */
  private mirrorStatus(): void {
    Atomics.store(this.mem.u8, this.t + COMMON_CFG_BASE + CC_DEVICE_STATUS, this.status);
  }

  // ------------------------------------------------------------------ features

  /** driver_feature writes: only before FEATURES_OK (§3.1.1). */
  writeDriverFeature(value: number): void {
    if ((this.status & STATUS_FEATURES_OK) !== 0) {
      this.count(S_ERR_LATE_WRITE);
      return;
    }
    if (this.driverFeatureSelect === 0) this.driverLo = value >>> 0;
    else if (this.driverFeatureSelect === 1) this.driverHi = value >>> 0;
    else if (value !== 0) this.count(S_ERR_LATE_WRITE); // no feature bits beyond 63
  }

  /**
   * The device accepts any subset of what it offered that respects the
   * feature dependencies (§5.1.3.1: MQ requires CTRL_VQ). VERSION_1 is not
   * required (without it the header is the 10-byte legacy one). Bits not
   * offered (RING_PACKED, CSUM, ...) make it refuse.
   */
  featuresAcceptable(): boolean {
    if (((this.driverLo & ~this.offeredLo) >>> 0) !== 0 || ((this.driverHi & ~this.offeredHi) >>> 0) !== 0) return false;
    if (this.hasDriverFeature(VIRTIO_NET_F_CTRL_MAC_ADDR) && !this.hasDriverFeature(VIRTIO_NET_F_CTRL_VQ)) return false;
    return !this.hasDriverFeature(VIRTIO_NET_F_MQ) || this.hasDriverFeature(VIRTIO_NET_F_CTRL_VQ);
  }

  /**
   * VIRTIO_NET_CTRL_MAC_ADDR_SET (§5.1.6.5.2), already validated: the
   * default MAC becomes cmd[off..off+6) and the config `mac` shows it (as
   * QEMU's does), with a new config_generation. The device has no receive
   * filter, so nothing else changes. A reset restores the configured MAC.
   */
  setMac(bytes: Uint8Array, off: number): void {
    const c = this.t + DEVICE_CFG_BASE + NET_CFG_MAC;
    for (let i = 0; i < 6; i++) this.mem.u8[c + i] = bytes[off + i]!;
    this.configGeneration = (this.configGeneration + 1) & 0xff;
  }

  private negotiate(): void {
    this.mrg = this.hasDriverFeature(VIRTIO_NET_F_MRG_RXBUF);
    this.hdrSize = netHdrSize(this.hasDriverFeature(VIRTIO_F_VERSION_1), this.mrg);
    this.inOrder = this.hasDriverFeature(VIRTIO_F_IN_ORDER);
    this.eventIdx = this.hasDriverFeature(VIRTIO_F_EVENT_IDX);
    this.indirect = this.hasDriverFeature(VIRTIO_F_INDIRECT_DESC);
    this.packed = this.hasDriverFeature(VIRTIO_F_RING_PACKED);
    // §5.1.6.5.5: even with MQ only the first pair is used until VQ_PAIRS_SET.
    this.activePairs = 1;
    // §5.1.2: the control queue follows the last pair the negotiation allows.
    if (this.ctrl !== null) this.ctrl.index = ctrlQueueIndex(this.cfg.queuePairs, this.hasDriverFeature(VIRTIO_NET_F_MQ));
    const mtu = this.hasDriverFeature(VIRTIO_NET_F_MTU) ? this.cfg.mtu + L2_OVERHEAD : MAX_FRAME;
    this.rxMaxFrame = mtu < MAX_FRAME ? mtu : MAX_FRAME;
  }

  // ------------------------------------------------------------------ queues

  /**
   * The selected queue, or undefined when queue_select names no queue. Once
   * FEATURES_OK is set the numbering follows the negotiation (§5.1.2):
   * without MQ only pair 0 exists and the control queue (with CTRL_VQ) is 2;
   * with MQ every pair exists and the control queue is 2 * max_virtqueue_pairs.
   * Before FEATURES_OK every queue num_queues counts is visible.
   */
  selected(): DeviceQueue | undefined {
    const s = this.queueSelect;
    const c = this.ctrl;
    if ((this.status & STATUS_FEATURES_OK) === 0) {
      if (s < this.numDataQueues) return this.queues[s];
      return c !== null && s === c.index ? c : undefined;
    }
    if (c !== null && s === c.index && this.hasDriverFeature(VIRTIO_NET_F_CTRL_VQ)) return c;
    const limit = this.hasDriverFeature(VIRTIO_NET_F_MQ) ? this.numDataQueues : 2;
    return s < limit ? this.queues[s] : undefined;
  }

  /** Queue registers are writable while the queue is disabled and DRIVER_OK is clear. */
  queueWritable(q: DeviceQueue): boolean {
    if (q.enabled || (this.status & STATUS_DRIVER_OK) !== 0) {
      this.count(S_ERR_LATE_WRITE);
      return false;
    }
    return true;
  }

  /** queue_enable = 1: validate the queue's registers, then enable it. */
  enableQueue(q: DeviceQueue): void {
    if (this.packed) {
      const pq = q === this.ctrl ? this.pctrl! : this.pqueues[q.index]!;
      const e = pq.validate();
      if (e !== 0) {
        this.needsReset(e);
        return;
      }
      pq.enable();
      return;
    }
    const err = q.validate();
    if (err !== 0) {
      this.needsReset(err);
      return;
    }
    q.enable();
  }

  private startQueues(): void {
    for (const q of this.queues) {
      if (q.enabled) {
        if (this.packed) {
          const pq = this.pqueues[q.index]!;
          pq.configure(this.indirect, this.eventIdx);
          pq.setNotify(false);
        } else {
          q.configure(this.indirect, this.eventIdx);
          // Polling from now on: ask the driver not to kick.
          q.setNotify(false);
        }
      }
      this.publishQueueInfo(q);
    }
    const c = this.ctrl;
    if (c !== null && c.enabled) {
      // The control queue is looked at when kicked: always ask for kicks.
      if (this.packed) {
        this.pctrl!.configure(this.indirect, this.eventIdx);
        this.pctrl!.setNotify(true);
      } else {
        c.configure(this.indirect, this.eventIdx);
        c.setNotify(true);
      }
    }
    this.buildSteering();
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
    for (const q of this.queues) this.publishQueueInfo(q);
    this.buildSteering();
  }

  /** Rebuild the RX steering set from activePairs and the enabled receive queues (cold). */
  private buildSteering(): void {
    let n = 0;
    for (let p = 0; p < this.activePairs; p++) {
      if (this.queues[2 * p]!.enabled) this.rxSteer[n++] = 2 * p;
    }
    this.rxSteerCount = n;
    this.rxSteerNext = 0;
  }

  /** True when the data path processes queue q: enabled, and within the pairs the driver enabled (VQ_PAIRS_SET). */
  served(q: DeviceQueue): boolean {
    return q.enabled && q.index >>> 1 < this.activePairs;
  }

  /** Hook for the data path when DRIVER_OK is set. */
  protected onStart(): void {}

  private publishQueueInfo(q: DeviceQueue): void {
    const b = (this.t + DEV_QINFO + q.index * QINFO_BYTES) >>> 2;
    const u32 = this.mem.u32;
    const on = this.served(q) && (this.status & STATUS_DRIVER_OK) !== 0;
    if (this.packed && on) {
      // A packed ring has no indices: the main thread looks at the descriptor the device reads next.
      const pq = this.pqueues[q.index]!;
      u32[b + (QINFO_AVAIL >>> 2)] = pq.desc;
      pq.qinfoPos = pq.availPos | (pq.availWrap << 15);
      u32[b + (QINFO_USED >>> 2)] = pq.qinfoPos;
      u32[b + (QINFO_SIZE >>> 2)] = pq.size;
    } else {
      u32[b + (QINFO_AVAIL >>> 2)] = q.avail;
      u32[b + (QINFO_USED >>> 2)] = q.used;
      u32[b + (QINFO_SIZE >>> 2)] = q.size;
    }
    // Pairs with the main thread's Atomics.load in VhostDevice.inputExhausted().
    Atomics.store(u32, b + (QINFO_SERVED >>> 2), on ? (this.packed ? QINFO_SERVED_PACKED : 1) : 0);
  }

  /**
   * After a TX pass on packed queue `pq`: republish where the device reads
   * next when it moved (VhostDevice.inputExhausted; one store per pass that
   * took something, none per packet).
   */
  protected publishPackedTxPos(pq: PackedDeviceQueue): void {
    const w = pq.availPos | (pq.availWrap << 15);
    if (w === pq.qinfoPos) return;
    pq.qinfoPos = w;
    // Pairs with the main thread's Atomics.load in VhostDevice.inputExhausted(); stored after the pass published its used descriptors.
    Atomics.store(this.mem.u32, (this.t + DEV_QINFO + pq.regs.index * QINFO_BYTES + QINFO_USED) >>> 2, w);
  }

  // ------------------------------------------------------------------ notifications

  /** Used-buffer notification for queue q (§4.1.5.4): ISR bit 0, then bump and wake its interrupt word. */
  interrupt(q: DeviceQueue): void {
    const mem = this.mem;
    mem.u8[this.t + ISR_BASE] = mem.u8[this.t + ISR_BASE]! | ISR_QUEUE;
    const w = (this.t + interruptWordOffset(q.index)) >>> 2;
    Atomics.add(mem.i32, w, 1);
    Atomics.notify(mem.i32, w);
    const s = (this.t + TRANSPORT_STAT_INTERRUPTS) >>> 2;
    mem.u32[s] = mem.u32[s]! + 1;
  }

  /**
   * Configuration change notification (§4.1.5.3): ISR bit 1. The transport has
   * no separate config vector, so every enabled queue's interrupt word is woken
   * too: a driver sleeping on any of them rereads status and ISR.
   */
  configInterrupt(): void {
    const mem = this.mem;
    mem.u8[this.t + ISR_BASE] = mem.u8[this.t + ISR_BASE]! | ISR_CONFIG;
    for (const q of this.queues) {
      if (!q.enabled) continue;
      const w = (this.t + interruptWordOffset(q.index)) >>> 2;
      Atomics.add(mem.i32, w, 1);
      Atomics.notify(mem.i32, w);
    }
    const c = this.ctrl;
    if (c !== null && c.enabled) {
      const w = (this.t + interruptWordOffset(c.index)) >>> 2;
      Atomics.add(mem.i32, w, 1);
      Atomics.notify(mem.i32, w);
    }
  }

  /** Read and clear the ISR (§4.1.4.5). */
  readIsr(): number {
    const v = this.mem.u8[this.t + ISR_BASE]!;
    this.mem.u8[this.t + ISR_BASE] = 0;
    return v;
  }

  // ------------------------------------------------------------------ link

  /** Apply the link state the main thread asked for (cold, ~once per ms). */
  applyLinkRequest(): void {
    const want = Atomics.load(this.mem.i32, (this.t + CTRL_LINK_REQUEST) >>> 2) !== 0;
    if (want === this.linkUp) return;
    this.linkUp = want;
    writeNetConfigStatus(this.mem, this.t, want);
    // §2.5.1 / §4.1.4.3: config changed, so the generation changes and the driver is told.
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    if ((this.status & STATUS_DRIVER_OK) !== 0 && (this.offeredLo >>> VIRTIO_NET_F_STATUS) & 1) this.configInterrupt();
  }
}

/**
 * Write the transport header and the device configuration backing when the
 * device is created (main thread, cold), so a driver sees a valid header even
 * before the device thread runs.
 */
export function initTransport(mem: Memory, cfg: DeviceConfig, doorbellAddr: number, linkUp: boolean): void {
  const t = cfg.zoneOffset;
  const u32 = mem.u32;
  u32[(t + HDR_VERSION) >>> 2] = TRANSPORT_VERSION;
  u32[(t + HDR_DEVICE_ID) >>> 2] = VIRTIO_ID_NET;
  u32[(t + HDR_MAX_QUEUES) >>> 2] = deviceQueueCount(cfg);
  u32[(t + HDR_DOORBELL_ADDR) >>> 2] = doorbellAddr;
  u32[(t + HDR_NOTIFY_OFF_MULTIPLIER) >>> 2] = NOTIFY_OFF_MULTIPLIER;
  const c = t + DEVICE_CFG_BASE;
  for (let i = 0; i < 6; i++) mem.u8[c + NET_CFG_MAC + i] = cfg.mac[i]!;
  mem.u16[(c + NET_CFG_MAX_VIRTQUEUE_PAIRS) >>> 1] = cfg.queuePairs;
  mem.u16[(c + NET_CFG_MTU) >>> 1] = cfg.mtu;
  writeNetConfigStatus(mem, t, linkUp);
  Atomics.store(mem.i32, (t + CTRL_LINK_REQUEST) >>> 2, linkUp ? 1 : 0);
  Atomics.store(mem.u8, t + COMMON_CFG_BASE + CC_DEVICE_STATUS, 0);
  // Published last: a driver that sees the magic sees the rest of the header.
  Atomics.store(u32, (t + HDR_MAGIC) >>> 2, TRANSPORT_MAGIC);
}

/** True when the device offers VIRTIO_NET_F_CTRL_VQ (and so has a control queue). */
function ctrlOffered(cfg: DeviceConfig): boolean {
  return ((cfg.offeredLo >>> VIRTIO_NET_F_CTRL_VQ) & 1) === 1;
}

/** num_queues (§4.1.4.3): the data queues of every pair, plus the control queue when offered. */
export function deviceQueueCount(cfg: DeviceConfig): number {
  return 2 * cfg.queuePairs + (ctrlOffered(cfg) ? 1 : 0);
}

function writeNetConfigStatus(mem: Memory, t: number, up: boolean): void {
  mem.u16[(t + DEVICE_CFG_BASE + NET_CFG_STATUS) >>> 1] = up ? VIRTIO_NET_S_LINK_UP : 0;
}
