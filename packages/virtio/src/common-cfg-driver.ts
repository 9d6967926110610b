import type { Features } from "./features.js";
import {
  CC_DEVICE_FEATURE, CC_DEVICE_FEATURE_SELECT, CC_DEVICE_STATUS, CC_DRIVER_FEATURE, CC_DRIVER_FEATURE_SELECT, CC_QUEUE_DESC_HI,
  CC_QUEUE_DESC_LO, CC_QUEUE_DEVICE_HI, CC_QUEUE_DEVICE_LO, CC_QUEUE_DRIVER_HI, CC_QUEUE_DRIVER_LO, CC_QUEUE_ENABLE,
  CC_QUEUE_SELECT, CC_QUEUE_SIZE, COMMON_CFG_WIDTHS, SPACE_COMMON_CFG,
} from "./transport.js";

/**
 * The driver side of the common configuration (virtio 1.2 §4.1.4.3), once:
 * each register accessed at its own width (COMMON_CFG_WIDTHS, §4.1.3.1), the
 * 64-bit feature words as two selected halves (§4.1.4.3: device_feature_select
 * / driver_feature_select), a queue's three areas as lo/hi halves. Every
 * driver-side client uses these over its own way of reaching the registers:
 * virtio-pmd's transports (traps, in-process) and the device tests' TrapClient.
 * Control path only.
 */

/** Register access, whatever carries it (virtio-pmd's VirtioTransport satisfies it). */
export interface RegisterAccess {
  read(space: number, off: number, width: 1 | 2 | 4): number;
  write(space: number, off: number, width: 1 | 2 | 4, value: number): void;
}

function widthOf(off: number): 1 | 2 | 4 {
  const w = COMMON_CFG_WIDTHS[off];
  if (w === undefined) throw new RangeError(`no common-config register at offset 0x${off.toString(16)}`);
  return w;
}

/** Read the common-config register at `off`, at its width. */
export function readCommon(r: RegisterAccess, off: number): number {
  return r.read(SPACE_COMMON_CFG, off, widthOf(off));
}

/** Write the common-config register at `off`, at its width. */
export function writeCommon(r: RegisterAccess, off: number, v: number): void {
  r.write(SPACE_COMMON_CFG, off, widthOf(off), v);
}

/** device_status (§2.1). */
export function readDeviceStatus(r: RegisterAccess): number {
  return readCommon(r, CC_DEVICE_STATUS);
}

/** Write device_status (0 resets the device, §4.1.4.3.2). */
export function writeDeviceStatus(r: RegisterAccess, v: number): void {
  writeCommon(r, CC_DEVICE_STATUS, v);
}

/** The 64 offered feature bits: device_feature at select 0 and 1. */
export function readDeviceFeatures(r: RegisterAccess): Features {
  writeCommon(r, CC_DEVICE_FEATURE_SELECT, 0);
  const lo = readCommon(r, CC_DEVICE_FEATURE) >>> 0;
  writeCommon(r, CC_DEVICE_FEATURE_SELECT, 1);
  const hi = readCommon(r, CC_DEVICE_FEATURE) >>> 0;
  return { lo, hi };
}

/** Write driver_feature at select 0 and 1. */
export function writeDriverFeatures(r: RegisterAccess, f: Features): void {
  writeCommon(r, CC_DRIVER_FEATURE_SELECT, 0);
  writeCommon(r, CC_DRIVER_FEATURE, f.lo);
  writeCommon(r, CC_DRIVER_FEATURE_SELECT, 1);
  writeCommon(r, CC_DRIVER_FEATURE, f.hi);
}

/** queue_select = `vq`, then its queue_size: the device's maximum before the driver lowers it (0 = no such queue). */
export function readQueueSize(r: RegisterAccess, vq: number): number {
  writeCommon(r, CC_QUEUE_SELECT, vq);
  return readCommon(r, CC_QUEUE_SIZE);
}

/**
 * Select virtqueue `vq` and write its size and the byte addresses of its
 * descriptor, driver and device areas (§2.6; each u64 as two u32 halves,
 * high 0: tpdk's addresses are offsets in shared memory). The queue stays
 * selected and not yet enabled: the caller reads what it needs
 * (queue_notify_off) and writes queue_enable (§4.1.5.1.3).
 */
export function programQueue(r: RegisterAccess, vq: number, size: number, desc: number, driver: number, device: number): void {
  writeCommon(r, CC_QUEUE_SELECT, vq);
  writeCommon(r, CC_QUEUE_SIZE, size);
  writeCommon(r, CC_QUEUE_DESC_LO, desc);
  writeCommon(r, CC_QUEUE_DESC_HI, 0);
  writeCommon(r, CC_QUEUE_DRIVER_LO, driver);
  writeCommon(r, CC_QUEUE_DRIVER_HI, 0);
  writeCommon(r, CC_QUEUE_DEVICE_LO, device);
  writeCommon(r, CC_QUEUE_DEVICE_HI, 0);
}

/** queue_enable = 1 for the selected queue. */
export function enableQueue(r: RegisterAccess): void {
  writeCommon(r, CC_QUEUE_ENABLE, 1);
}
