import type { Features } from "./features.js";
import {
  CC_CONFIG_GENERATION,
  CC_CONFIG_MSIX_VECTOR,
  CC_DEVICE_FEATURE,
  CC_DEVICE_FEATURE_SELECT,
  CC_DEVICE_STATUS,
  CC_DRIVER_FEATURE,
  CC_DRIVER_FEATURE_SELECT,
  CC_NUM_QUEUES,
  CC_QUEUE_DESC_HI,
  CC_QUEUE_DESC_LO,
  CC_QUEUE_DEVICE_HI,
  CC_QUEUE_DEVICE_LO,
  CC_QUEUE_DRIVER_HI,
  CC_QUEUE_DRIVER_LO,
  CC_QUEUE_ENABLE,
  CC_QUEUE_MSIX_VECTOR,
  CC_QUEUE_NOTIF_CONFIG_DATA,
  CC_QUEUE_NOTIFY_OFF,
  CC_QUEUE_RESET,
  CC_QUEUE_SELECT,
  CC_QUEUE_SIZE,
  COMMON_CFG_SIZE,
  COMMON_CFG_WIDTHS,
  VIRTIO_MSI_NO_VECTOR,
} from "./transport.js";

/**
 * The device side of the common configuration (virtio 1.2 §4.1.4.3), once:
 * which register each offset is, how wide, what a read returns and where a
 * write goes. Every device model that answers register traps (@tpdk/vhost's
 * device, the test doubles) implements CommonCfgDevice and lets
 * readCommonCfg/writeCommonCfg map the offsets; it keeps its own policy
 * (what it accepts at FEATURES_OK, which queue writes it refuses, what a
 * reset clears).
 */

/** Width of each common-config register by offset (0 = no register starts there). */
const CC_WIDTH = new Uint8Array(COMMON_CFG_SIZE);
for (const [off, w] of Object.entries(COMMON_CFG_WIDTHS)) CC_WIDTH[Number(off)] = w;

/** What readCommonCfg returns for an access that names no register. */
export const CC_NO_REGISTER = -1;

/** A common-config access at `off` of `width` bytes names a register, at its own width (§4.1.3.1). */
export function commonCfgAccessOk(off: number, width: number): boolean {
  return off >= 0 && off < COMMON_CFG_SIZE && CC_WIDTH[off] === width;
}

/** One virtqueue's registers as a device stores them. `index` is its queue_notify_off. */
export interface CommonCfgQueue {
  readonly index: number;
  size: number;
  msixVector: number;
  readonly enabled: boolean;
  descLo: number;
  descHi: number;
  driverLo: number;
  driverHi: number;
  deviceLo: number;
  deviceHi: number;
}

/**
 * One virtqueue's registers as a device stores them, once: the device's queue
 * classes (@tpdk/vhost DeviceQueue) and the test doubles extend it.
 */
export class QueueRegs implements CommonCfgQueue {
  /** Virtqueue index: also its queue_notify_off and its interrupt word. */
  index: number;
  size: number;
  enabled = false;
  msixVector = VIRTIO_MSI_NO_VECTOR;
  descLo = 0;
  descHi = 0;
  driverLo = 0;
  driverHi = 0;
  deviceLo = 0;
  deviceHi = 0;

  constructor(index: number, size: number) {
    this.index = index;
    this.size = size;
  }
}

/**
 * The feature registers (§3.1.1, §4.1.4.3): device_feature (what the device
 * offers, fixed) and driver_feature (what the driver writes, 32 bits per
 * select), with their selects. What the device accepts at FEATURES_OK is its own.
 */
export class FeatureRegs {
  readonly offeredLo: number;
  readonly offeredHi: number;
  #deviceSelect = 0;
  #driverSelect = 0;
  #driverLo = 0;
  #driverHi = 0;

  constructor(offered: Features) {
    this.offeredLo = offered.lo >>> 0;
    this.offeredHi = offered.hi >>> 0;
  }

  get deviceSelect(): number {
    return this.#deviceSelect;
  }
  get driverSelect(): number {
    return this.#driverSelect;
  }
  selectDevice(v: number): void {
    this.#deviceSelect = v;
  }
  selectDriver(v: number): void {
    this.#driverSelect = v;
  }

  /** device_feature as the driver reads it: 32 offered bits per select, 0 beyond 63. */
  readDevice(): number {
    return this.#deviceSelect === 0 ? this.offeredLo : this.#deviceSelect === 1 ? this.offeredHi : 0;
  }

  /** driver_feature as the driver reads it back. */
  readDriver(): number {
    return this.#driverSelect === 0 ? this.#driverLo : this.#driverSelect === 1 ? this.#driverHi : 0;
  }

  /** A driver_feature write. False: bits beyond 63 (there are none to set). */
  writeDriver(value: number): boolean {
    if (this.#driverSelect === 0) this.#driverLo = value >>> 0;
    else if (this.#driverSelect === 1) this.#driverHi = value >>> 0;
    else return value === 0;
    return true;
  }

  /** What the driver wrote, as a feature set. */
  driver(): Features {
    return { lo: this.#driverLo, hi: this.#driverHi };
  }

  /** The driver wrote feature `bit`. */
  has(bit: number): boolean {
    return bit < 32 ? ((this.#driverLo >>> bit) & 1) === 1 : ((this.#driverHi >>> (bit - 32)) & 1) === 1;
  }

  /** The device offers feature `bit`. */
  offers(bit: number): boolean {
    return bit < 32 ? ((this.offeredLo >>> bit) & 1) === 1 : ((this.offeredHi >>> (bit - 32)) & 1) === 1;
  }

  /** The driver wrote only offered bits. */
  driverSubsetOfOffered(): boolean {
    return ((this.#driverLo & ~this.offeredLo) >>> 0) === 0 && ((this.#driverHi & ~this.offeredHi) >>> 0) === 0;
  }

  /** Device reset: selects and driver features back to 0. */
  reset(): void {
    this.#deviceSelect = this.#driverSelect = this.#driverLo = this.#driverHi = 0;
  }
}

/** What a device answers at the common configuration, and takes from it. */
export interface CommonCfgDevice {
  readonly features: FeatureRegs;
  readonly configMsix: number;
  /** num_queues. */
  readonly numQueues: number;
  /** device_status. */
  readonly status: number;
  readonly generation: number;
  readonly queueSelect: number;
  /** The queue queue_select names, or undefined (its registers read 0; writes name no register). */
  selectedQueue(): CommonCfgQueue | undefined;
  writeDriverFeature(v: number): void;
  setConfigMsix(v: number): void;
  writeStatus(v: number): void;
  selectQueue(v: number): void;
  /**
   * A write of queue register `off` (CC_QUEUE_SIZE, _MSIX_VECTOR, _ENABLE,
   * _DESC/_DRIVER/_DEVICE_LO/_HI) of the selected queue `q`: the device
   * checks it and stores it (storeQueueRegister). False: no such register.
   */
  writeQueue(q: CommonCfgQueue, off: number, v: number): boolean;
}

/** A register read at `off` (a valid access: commonCfgAccessOk), or CC_NO_REGISTER. */
export function readCommonCfg(d: CommonCfgDevice, off: number): number {
  switch (off) {
    case CC_DEVICE_FEATURE_SELECT:
      return d.features.deviceSelect;
    case CC_DEVICE_FEATURE:
      return d.features.readDevice();
    case CC_DRIVER_FEATURE_SELECT:
      return d.features.driverSelect;
    case CC_DRIVER_FEATURE:
      return d.features.readDriver();
    case CC_CONFIG_MSIX_VECTOR:
      return d.configMsix;
    case CC_NUM_QUEUES:
      return d.numQueues;
    case CC_DEVICE_STATUS:
      return d.status;
    case CC_CONFIG_GENERATION:
      return d.generation;
    case CC_QUEUE_SELECT:
      return d.queueSelect;
    case CC_QUEUE_RESET:
      return 0;
  }
  const q = d.selectedQueue();
  switch (off) {
    case CC_QUEUE_SIZE:
      return q ? q.size : 0; // 0 = no such queue (§4.1.4.3)
    case CC_QUEUE_MSIX_VECTOR:
      return q ? q.msixVector : VIRTIO_MSI_NO_VECTOR;
    case CC_QUEUE_ENABLE:
      return q && q.enabled ? 1 : 0;
    case CC_QUEUE_NOTIFY_OFF:
    case CC_QUEUE_NOTIF_CONFIG_DATA:
      return q ? q.index : 0;
    case CC_QUEUE_DESC_LO:
      return q ? q.descLo : 0;
    case CC_QUEUE_DESC_HI:
      return q ? q.descHi : 0;
    case CC_QUEUE_DRIVER_LO:
      return q ? q.driverLo : 0;
    case CC_QUEUE_DRIVER_HI:
      return q ? q.driverHi : 0;
    case CC_QUEUE_DEVICE_LO:
      return q ? q.deviceLo : 0;
    case CC_QUEUE_DEVICE_HI:
      return q ? q.deviceHi : 0;
    default:
      return CC_NO_REGISTER;
  }
}

/** A register write at `off` (a valid access), `v` already cut to the register's width. False: no writable register. */
export function writeCommonCfg(d: CommonCfgDevice, off: number, v: number): boolean {
  switch (off) {
    case CC_DEVICE_FEATURE_SELECT:
      d.features.selectDevice(v);
      return true;
    case CC_DRIVER_FEATURE_SELECT:
      d.features.selectDriver(v);
      return true;
    case CC_DRIVER_FEATURE:
      d.writeDriverFeature(v);
      return true;
    case CC_CONFIG_MSIX_VECTOR:
      d.setConfigMsix(v);
      return true;
    case CC_DEVICE_STATUS:
      d.writeStatus(v);
      return true;
    case CC_QUEUE_SELECT:
      d.selectQueue(v);
      return true;
    case CC_DEVICE_FEATURE:
    case CC_NUM_QUEUES:
    case CC_CONFIG_GENERATION:
    case CC_QUEUE_NOTIFY_OFF:
    case CC_QUEUE_NOTIF_CONFIG_DATA:
    case CC_QUEUE_RESET: // VIRTIO_F_RING_RESET is not offered
      return false;
  }
  const q = d.selectedQueue();
  return q !== undefined && d.writeQueue(q, off, v);
}

/** Store a queue address or size register write the device accepted. False: `off` is no such register. */
export function storeQueueRegister(q: CommonCfgQueue, off: number, v: number): boolean {
  switch (off) {
    case CC_QUEUE_SIZE:
      q.size = v;
      return true;
    case CC_QUEUE_MSIX_VECTOR:
      q.msixVector = v;
      return true;
    case CC_QUEUE_DESC_LO:
      q.descLo = v;
      return true;
    case CC_QUEUE_DESC_HI:
      q.descHi = v;
      return true;
    case CC_QUEUE_DRIVER_LO:
      q.driverLo = v;
      return true;
    case CC_QUEUE_DRIVER_HI:
      q.driverHi = v;
      return true;
    case CC_QUEUE_DEVICE_LO:
      q.deviceLo = v;
      return true;
    case CC_QUEUE_DEVICE_HI:
      q.deviceHi = v;
      return true;
    default:
      return false;
  }
}
