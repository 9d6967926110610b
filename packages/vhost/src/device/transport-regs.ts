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
  DEVICE_CFG_BASE,
  NET_CFG_SIZE,
  SPACE_COMMON_CFG,
  SPACE_DEVICE_CFG,
  SPACE_ISR,
  TRAP_DONE,
  TRAP_OFFSET,
  TRAP_OP,
  TRAP_OP_READ,
  TRAP_OP_WRITE,
  TRAP_SPACE,
  TRAP_STATE,
  TRAP_VALUE,
  TRAP_WIDTH,
  TRANSPORT_STAT_BAD_TRAPS,
  TRANSPORT_STAT_TRAPS,
  VIRTIO_MSI_NO_VECTOR,
} from "@tpdk/virtio";
import type { DeviceState } from "./device-state.js";

/** Width of each common-config register by offset (0 = no register starts there). */
const CC_WIDTH = new Uint8Array(COMMON_CFG_SIZE);
for (const [off, w] of Object.entries(COMMON_CFG_WIDTHS)) CC_WIDTH[Number(off)] = w;

/** Marker for "this access is not a valid register access". */
const BAD = -1;

/**
 * Service the trap the driver posted in the mailbox (transport.ts, "Register
 * accesses are traps"). Called by the device loop when it loads TRAP_STATE
 * and finds TRAP_REQUEST. A malformed access is answered (0 for reads) and
 * counted in TRANSPORT_STAT_BAD_TRAPS; it never throws.
 */
export function serviceTrap(dev: DeviceState): void {
  const mem = dev.mem;
  const u32 = mem.u32;
  const t = dev.t;
  const op = u32[(t + TRAP_OP) >>> 2]!;
  const space = u32[(t + TRAP_SPACE) >>> 2]!;
  const offset = u32[(t + TRAP_OFFSET) >>> 2]!;
  const width = u32[(t + TRAP_WIDTH) >>> 2]!;
  const value = u32[(t + TRAP_VALUE) >>> 2]!;
  let result = 0;
  let ok = true;
  if (op === TRAP_OP_READ) {
    const r = readRegister(dev, space, offset, width);
    if (r === BAD) ok = false;
    else result = r;
  } else if (op === TRAP_OP_WRITE) {
    ok = writeRegister(dev, space, offset, width, value);
  } else ok = false;
  const traps = (t + TRANSPORT_STAT_TRAPS) >>> 2;
  u32[traps] = u32[traps]! + 1;
  if (!ok) {
    const bad = (t + TRANSPORT_STAT_BAD_TRAPS) >>> 2;
    u32[bad] = u32[bad]! + 1;
  }
  u32[(t + TRAP_VALUE) >>> 2] = op === TRAP_OP_READ ? result >>> 0 : value;
  // Pairs with the driver's Atomics.wait/Atomics.load on TRAP_STATE: TRAP_VALUE is visible once it sees DONE.
  Atomics.store(mem.i32, (t + TRAP_STATE) >>> 2, TRAP_DONE);
  Atomics.notify(mem.i32, (t + TRAP_STATE) >>> 2);
}

/** A register read: the value, or BAD for an access that names no register. */
export function readRegister(dev: DeviceState, space: number, offset: number, width: number): number {
  if (space === SPACE_COMMON_CFG) {
    if (offset >= COMMON_CFG_SIZE || CC_WIDTH[offset] !== width) return BAD;
    return readCommon(dev, offset);
  }
  if (space === SPACE_DEVICE_CFG) {
    if (!deviceCfgAccessOk(offset, width)) return BAD;
    const u8 = dev.mem.u8;
    const base = dev.t + DEVICE_CFG_BASE + offset;
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + u8[base + i]!;
    return v;
  }
  if (space === SPACE_ISR) {
    if (offset !== 0 || width !== 1) return BAD;
    return dev.irq.readIsr();
  }
  return BAD;
}

/** A register write: false for an access that names no writable register. */
export function writeRegister(dev: DeviceState, space: number, offset: number, width: number, value: number): boolean {
  if (space !== SPACE_COMMON_CFG) return false; // device config is read-only for virtio-net 1.x, ISR is read-only
  if (offset >= COMMON_CFG_SIZE || CC_WIDTH[offset] !== width) return false;
  const v = width === 4 ? value >>> 0 : width === 2 ? value & 0xffff : value & 0xff;
  return writeCommon(dev, offset, v);
}

function deviceCfgAccessOk(offset: number, width: number): boolean {
  // §4.1.3.1: natural widths and alignment only.
  return (width === 1 || width === 2 || width === 4) && offset % width === 0 && offset + width <= NET_CFG_SIZE;
}

function readCommon(dev: DeviceState, off: number): number {
  const q = dev.queueRegs.selected();
  switch (off) {
    case CC_DEVICE_FEATURE_SELECT:
      return dev.features.deviceSelect;
    case CC_DEVICE_FEATURE:
      return dev.features.readDevice();
    case CC_DRIVER_FEATURE_SELECT:
      return dev.features.driverSelect;
    case CC_DRIVER_FEATURE:
      return dev.features.readDriver();
    case CC_CONFIG_MSIX_VECTOR:
      return dev.irq.configMsix;
    case CC_NUM_QUEUES:
      return dev.numQueues;
    case CC_DEVICE_STATUS:
      return dev.status;
    case CC_CONFIG_GENERATION:
      return dev.config.generation;
    case CC_QUEUE_SELECT:
      return dev.queueRegs.select;
    case CC_QUEUE_SIZE:
      return q ? q.size : 0; // 0 = no such queue (§4.1.4.3)
    case CC_QUEUE_MSIX_VECTOR:
      return q ? q.msixVector : VIRTIO_MSI_NO_VECTOR;
    case CC_QUEUE_ENABLE:
      return q && q.enabled ? 1 : 0;
    case CC_QUEUE_NOTIFY_OFF:
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
    case CC_QUEUE_NOTIF_CONFIG_DATA:
      return q ? q.index : 0;
    case CC_QUEUE_RESET:
      return 0;
    default:
      return BAD;
  }
}

function writeCommon(dev: DeviceState, off: number, v: number): boolean {
  switch (off) {
    case CC_DEVICE_FEATURE_SELECT:
      dev.features.selectDevice(v);
      return true;
    case CC_DRIVER_FEATURE_SELECT:
      dev.features.selectDriver(v);
      return true;
    case CC_DRIVER_FEATURE:
      dev.writeDriverFeature(v);
      return true;
    case CC_CONFIG_MSIX_VECTOR:
      // No MSI-X here; the value is kept so a driver reading it back sees what it wrote.
      dev.irq.setConfigMsix(v);
      return true;
    case CC_DEVICE_STATUS:
      dev.writeStatus(v);
      return true;
    case CC_QUEUE_SELECT:
      dev.queueRegs.setSelect(v);
      return true;
    case CC_DEVICE_FEATURE:
    case CC_NUM_QUEUES:
    case CC_CONFIG_GENERATION:
    case CC_QUEUE_NOTIFY_OFF:
    case CC_QUEUE_NOTIF_CONFIG_DATA:
    case CC_QUEUE_RESET: // VIRTIO_F_RING_RESET is not offered
      return false;
    default:
      return dev.queueRegs.write(off, v);
  }
}
