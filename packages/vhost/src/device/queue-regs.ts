import type { Memory } from "@tpdk/eal";
import {
  CC_QUEUE_ENABLE,
  CC_QUEUE_MSIX_VECTOR,
  CC_QUEUE_SIZE,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
  storeQueueRegister,
} from "@tpdk/virtio";
import type { FeatureRegisters } from "./feature-regs.js";
import { DEV_QINFO, QINFO_AVAIL, QINFO_BYTES, QINFO_SERVED, QINFO_SERVED_PACKED, QINFO_SIZE, QINFO_USED } from "./layout.js";
import type { PackedDeviceQueue } from "./packed-virtqueue.js";
import { S_ERR_LATE_WRITE, S_ERR_QUEUE_SETUP } from "./stats.js";
import type { DeviceQueue } from "./virtqueue.js";

/** What the queue registers need from the device they belong to (DeviceState). */
export interface QueueRegsHost {
  /** device_status (§2.1). */
  readonly status: number;
  /** VIRTIO_F_RING_PACKED negotiated. */
  readonly packed: boolean;
  readonly indirect: boolean;
  readonly eventIdx: boolean;
  /** Queue pairs the data path serves (VQ_PAIRS_SET). */
  readonly activePairs: number;
  count(slot: number): void;
  /** A fatal error counted in `slot`: DEVICE_NEEDS_RESET (§2.1.2). */
  needsReset(slot: number): void;
}

/**
 * The queue registers of the common configuration (virtio 1.2 §4.1.4.3):
 * queue_select, the selected queue's size/addresses/enable, which queues
 * exist under the negotiated features (§5.1.2), and what the data path must
 * set up when DRIVER_OK arrives. Also publishes each queue's info for the main
 * thread (DEV_QINFO). Control path only (traps, DRIVER_OK, reset).
 */
export class QueueRegisters {
  readonly #mem: Memory;
  readonly #t: number;
  readonly #host: QueueRegsHost;
  readonly #features: FeatureRegisters;
  readonly #queues: readonly DeviceQueue[];
  readonly #pqueues: readonly PackedDeviceQueue[];
  readonly #ctrl: DeviceQueue | null;
  /** The control queue's packed ring (registers in #ctrl). */
  readonly #pctrl: PackedDeviceQueue | null;
  #select = 0;

  constructor(
    mem: Memory, transport: number, host: QueueRegsHost, features: FeatureRegisters,
    queues: readonly DeviceQueue[], pqueues: readonly PackedDeviceQueue[], ctrl: DeviceQueue | null,
    pctrl: PackedDeviceQueue | null,
  ) {
    this.#mem = mem;
    this.#t = transport;
    this.#host = host;
    this.#features = features;
    this.#queues = queues;
    this.#pqueues = pqueues;
    this.#ctrl = ctrl;
    this.#pctrl = pctrl;
  }

  /** queue_select as the driver wrote it. */
  get select(): number {
    return this.#select;
  }
  setSelect(v: number): void {
    this.#select = v;
  }

  /**
   * The selected queue, or undefined when queue_select names no queue. Once
   * FEATURES_OK is set the numbering follows the negotiation (§5.1.2):
   * without MQ only pair 0 exists and the control queue (with CTRL_VQ) is 2;
   * with MQ every pair exists and the control queue is 2 * max_virtqueue_pairs.
   * Before FEATURES_OK every queue num_queues counts is visible.
   */
  selected(): DeviceQueue | undefined {
    const s = this.#select;
    const c = this.#ctrl;
    const nData = this.#queues.length;
    if ((this.#host.status & STATUS_FEATURES_OK) === 0) {
      if (s < nData) return this.#queues[s];
      return c !== null && s === c.index ? c : undefined;
    }
    if (c !== null && s === c.index && this.#features.has(VIRTIO_NET_F_CTRL_VQ)) return c;
    const limit = this.#features.has(VIRTIO_NET_F_MQ) ? nData : 2;
    return s < limit ? this.#queues[s] : undefined;
  }

  /** A write to queue register `off` (CC_QUEUE_*) of the selected queue q. False: no such register. */
  write(q: DeviceQueue, off: number, v: number): boolean {
    const host = this.#host;
    if (off === CC_QUEUE_MSIX_VECTOR) return storeQueueRegister(q, off, v);
    if (off === CC_QUEUE_ENABLE) {
      if (v !== 1 || q.enabled || (host.status & STATUS_DRIVER_OK) !== 0) {
        // §4.1.4.3.2: the driver never writes 0 (it resets instead); enabling after DRIVER_OK needs RING_RESET.
        host.count(S_ERR_LATE_WRITE);
        return true;
      }
      this.#enable(q);
      return true;
    }
    // Queue registers are writable while the queue is disabled and DRIVER_OK is clear.
    if (q.enabled || (host.status & STATUS_DRIVER_OK) !== 0) {
      host.count(S_ERR_LATE_WRITE);
      return true;
    }
    // The driver may lower the size: to a smaller power of two for split rings (§4.1.4.3, §2.7),
    // to any size for packed ones (§2.8.10.1).
    if (off === CC_QUEUE_SIZE && (v === 0 || v > q.maxSize || (!host.packed && (v & (v - 1)) !== 0))) {
      host.count(S_ERR_QUEUE_SETUP);
      return true;
    }
    return storeQueueRegister(q, off, v);
  }

  /** DRIVER_OK: configure the enabled queues for the negotiated features; poll the data queues, kick the control queue. */
  start(): void {
    const host = this.#host;
    for (const q of this.#queues) {
      if (q.enabled) {
        if (host.packed) {
          const pq = this.#pqueues[q.index]!;
          pq.configure(host.indirect, host.eventIdx);
          pq.setNotify(false);
        } else {
          q.configure(host.indirect, host.eventIdx);
          // Polling from now on: ask the driver not to kick.
          q.setNotify(false);
        }
      }
      this.publishInfo(q);
    }
    const c = this.#ctrl;
    if (c !== null && c.enabled) {
      // The control queue is looked at when kicked: always ask for kicks.
      if (host.packed) {
        this.#pctrl!.configure(host.indirect, host.eventIdx);
        this.#pctrl!.setNotify(true);
      } else {
        c.configure(host.indirect, host.eventIdx);
        c.setNotify(true);
      }
    }
  }

  /** Device reset: every queue disabled and zeroed, queue_select 0; the control queue back at its offered index. */
  reset(): void {
    this.#select = 0;
    for (const q of this.#queues) {
      q.reset();
      this.publishInfo(q);
    }
    for (const pq of this.#pqueues) pq.reset();
    this.#pctrl?.reset();
    const c = this.#ctrl;
    if (c !== null) {
      c.reset();
      c.index = this.#queues.length;
    }
  }

  /** True when the data path processes queue q: enabled, and within the pairs the driver enabled (VQ_PAIRS_SET). */
  served(q: DeviceQueue): boolean {
    return q.enabled && q.index >>> 1 < this.#host.activePairs;
  }

  /** Publish every data queue's info (after VQ_PAIRS_SET). */
  publishAll(): void {
    for (const q of this.#queues) this.publishInfo(q);
  }

  /** DEV_QINFO for queue q: its ring addresses, size, and whether the data path serves it. */
  publishInfo(q: DeviceQueue): void {
    const b = (this.#t + DEV_QINFO + q.index * QINFO_BYTES) >>> 2;
    const u32 = this.#mem.u32;
    const packed = this.#host.packed;
    const on = this.served(q) && (this.#host.status & STATUS_DRIVER_OK) !== 0;
    if (packed && on) {
      // A packed ring has no indices: the main thread looks at the descriptor the device reads next.
      const pq = this.#pqueues[q.index]!;
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
    Atomics.store(u32, b + (QINFO_SERVED >>> 2), on ? (packed ? QINFO_SERVED_PACKED : 1) : 0);
  }

  /**
   * After a TX pass on packed queue `pq`: republish where the device reads
   * next when it moved (VhostDevice.inputExhausted; one store per pass that
   * took something, none per packet).
   */
  publishPackedTxPos(pq: PackedDeviceQueue): void {
    const w = pq.availPos | (pq.availWrap << 15);
    if (w === pq.qinfoPos) return;
    pq.qinfoPos = w;
    // Pairs with the main thread's Atomics.load in VhostDevice.inputExhausted(); stored after the pass published its used descriptors.
    Atomics.store(this.#mem.u32, (this.#t + DEV_QINFO + pq.regs.index * QINFO_BYTES + QINFO_USED) >>> 2, w);
  }

  /** queue_enable = 1: validate the queue's registers, then enable it (a bad one: DEVICE_NEEDS_RESET). */
  #enable(q: DeviceQueue): void {
    if (this.#host.packed) {
      const pq = q === this.#ctrl ? this.#pctrl! : this.#pqueues[q.index]!;
      const e = pq.validate();
      if (e !== 0) {
        this.#host.needsReset(e);
        return;
      }
      pq.enable();
      return;
    }
    const err = q.validate();
    if (err !== 0) {
      this.#host.needsReset(err);
      return;
    }
    q.enable();
  }
}
