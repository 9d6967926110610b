import * as V from "@tpdk/virtio";

// Cold helpers the packed RX and TX queues share (nothing here runs per packet).
// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DESC: EV_DESC } = V;

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
