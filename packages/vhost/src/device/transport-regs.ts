import {
  CC_NO_REGISTER,
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
  commonCfgAccessOk,
  readCommonCfg,
  writeCommonCfg,
} from "@tpdk/virtio";
import type { DeviceState } from "./device-state.js";

/** Marker for "this access is not a valid register access". */
const BAD = CC_NO_REGISTER;

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
    if (!commonCfgAccessOk(offset, width)) return BAD;
    // The register map is @tpdk/virtio's (common-cfg.ts); DeviceState answers it.
    return readCommonCfg(dev, offset);
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
  if (!commonCfgAccessOk(offset, width)) return false;
  const v = width === 4 ? value >>> 0 : width === 2 ? value & 0xffff : value & 0xff;
  return writeCommonCfg(dev, offset, v);
}

function deviceCfgAccessOk(offset: number, width: number): boolean {
  // §4.1.3.1: natural widths and alignment only.
  return (width === 1 || width === 2 || width === 4) && offset % width === 0 && offset + width <= NET_CFG_SIZE;
}
