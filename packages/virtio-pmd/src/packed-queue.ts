import * as V from "@tpdk/virtio";

// Cold helpers the packed RX and TX queues share (packedKickNeeded runs once per publish).
// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DESC: EV_DESC } = V;
/**
 * The host keeps a load after an Atomics.store (x86-TSO: that store is an xchg, a full
 * barrier): the kick check's load of the device's event flags may then be a plain one.
 */
export const STORE_FENCES = process.arch === "x64" || process.arch === "ia32";

/**
 * After making `n` descriptors available from (oldPos, oldWrap): does the
 * device want a kick (§2.8.10)? Reads the device event suppression
 * structure after the caller's Atomics.store of the first descriptor's
 * flags (the publish), with a full memory barrier between the two: the
 * order of virtio 1.2 §2.8.21.2 (Sending Available Buffer Notifications: make the descriptors
 * available, barrier, then read the event suppression structure of
 * §2.8.10), so that a device that re-enables notifications either sees the
 * new descriptors or has its new flags read here.
 *
 * That barrier is the publish itself: on x86 V8 emits Atomics.store as an
 * xchg, which drains the store buffer before any later load runs (DPDK's
 * virtio_mb before its plain load of the device's flags is the same full
 * barrier), and V8 keeps typed-array loads after an Atomics call (the
 * builtin call is on their effect chain). So on x86 the flags are read with
 * a plain load, not a second builtin call (at burst 1 one per frame); on
 * other hosts a seq-cst store does not order a later plain load (arm64's
 * stlr then ldr may be reordered), and the flags get an Atomics.load, which
 * pairs with the device's Atomics.store in setNotify.
 */
export function packedKickNeeded(
  u16: Uint16Array, devEvtH: number, eventIdx: boolean, oldPos: number, oldWrap: number, n: number, size: number,
): boolean {
  const f = STORE_FENCES ? u16[devEvtH + 1]! : Atomics.load(u16, devEvtH + 1);
  return packedRangeAsks(f, u16[devEvtH]!, eventIdx, oldPos | (oldWrap << 15), n, size);
}

/**
 * The packed TX kick decision over a range (PackedTxQueue.publish on x86, its fenced check and the
 * main thread's txKickBackstop): the device event suppression structure (§2.8.10) as the caller
 * loaded it (`f` its flags, `offWrap` its event offset and wrap counter; the caller orders the
 * loads), and the `n` descriptors made available from `from` (ring position | wrap counter << 15,
 * the off_wrap format). EV_ENABLE asks for a kick; EV_DESC (with EVENT_IDX) when the range passed
 * the event descriptor. A range of a ring or more (the main thread's view of a range it cannot
 * measure) passed every position: a kick (a spurious kick is harmless, a lost one is not).
 */
export function packedRangeAsks(f: number, offWrap: number, eventIdx: boolean, from: number, n: number, size: number): boolean {
  if (f === EV_ENABLE) return true;
  if (f !== EV_DESC || !eventIdx) return false;
  if (n >= size) return true;
  return V.packedNeedEvent(offWrap, from & 0x7fff, from >>> 15, n, size);
}
