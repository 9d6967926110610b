import * as V from "@tpdk/virtio";
import * as L from "./layout.js";

// Cold helpers the packed RX and TX queues share (nothing here runs per packet).
// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DESC: EV_DESC } = V;
const { S_KICKS } = L;
/** Atomics.notify count: every waiter. */
const WAKE_ALL = Number.POSITIVE_INFINITY;

/**
 * After making `n` descriptors available from (oldPos, oldWrap): does the
 * device want a kick (§2.8.10)? Reads the device event suppression
 * structure: the flags' Atomics.load pairs with the device's Atomics.store in
 * setNotify, and comes after our Atomics.store of the first descriptor's
 * flags (the order §2.8.10 asks: publish, then consult the structure).
 */
export function packedKickNeeded(
  u16: Uint16Array, devEvtH: number, eventIdx: boolean, oldPos: number, oldWrap: number, n: number, size: number,
): boolean {
  const f = Atomics.load(u16, devEvtH + 1);
  if (f === EV_ENABLE) return true;
  if (f !== EV_DESC || !eventIdx) return false;
  return V.packedNeedEvent(u16[devEvtH]!, oldPos, oldWrap, n, size);
}

/** Ring the device: its notify word and doorbell (Backoff.wake semantics, see transport.ts ringDoorbell). */
export function packedKick(i32: Int32Array, f64: Float64Array, notifyI: number, doorbellI: number, st: number): void {
  Atomics.add(i32, notifyI, 1);
  Atomics.add(i32, doorbellI, 1);
  Atomics.notify(i32, doorbellI, WAKE_ALL);
  f64[st + S_KICKS] += 1;
}
