/**
 * Split virtqueue layout (virtio 1.2 §2.7). All fields little-endian, which is
 * what typed arrays give us on every platform Node runs on (x86, arm64 LE).
 *
 *   Descriptor Table   align 16  16*Q bytes   { addr u64, len u32, flags u16, next u16 }
 *   Available Ring     align 2   6+2*Q bytes  { flags u16, idx u16, ring[Q] u16, used_event u16 }
 *   Used Ring          align 4   6+8*Q bytes  { flags u16, idx u16, ring[Q] {id u32, len u32}, avail_event u16 }
 *
 * Indices (avail.idx, used.idx) are free-running u16 counters; the slot is idx & (Q-1).
 */

export const QUEUE_SIZE_MAX = 32768;

// Descriptor (struct virtq_desc)
export const DESC_SIZE = 16;
export const DESC_ADDR = 0; // u64, written as two u32 halves (lo @0, hi @4)
export const DESC_LEN = 8; // u32
export const DESC_FLAGS = 12; // u16
export const DESC_NEXT = 14; // u16
export const DESC_ALIGN = 16;

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;

// Available ring (struct virtq_avail), the "driver area"
export const AVAIL_FLAGS = 0;
export const AVAIL_IDX = 2;
export const AVAIL_RING = 4;
export const AVAIL_ALIGN = 2;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;

// Used ring (struct virtq_used), the "device area"
export const USED_FLAGS = 0;
export const USED_IDX = 2;
export const USED_RING = 4;
export const USED_ELEM_SIZE = 8;
export const USED_ELEM_ID = 0; // u32
export const USED_ELEM_LEN = 4; // u32
export const USED_ALIGN = 4;
export const VRING_USED_F_NO_NOTIFY = 1;

export function isValidQueueSize(q: number): boolean {
  return Number.isInteger(q) && q >= 1 && q <= QUEUE_SIZE_MAX && (q & (q - 1)) === 0;
}

export function descTableBytes(q: number): number {
  return DESC_SIZE * q;
}
export function availRingBytes(q: number, eventIdx = true): number {
  return 4 + 2 * q + (eventIdx ? 2 : 0);
}
export function usedRingBytes(q: number, eventIdx = true): number {
  return 4 + USED_ELEM_SIZE * q + (eventIdx ? 2 : 0);
}
/** Byte offset of used_event within the avail ring (valid under EVENT_IDX). */
export function usedEventOffset(q: number): number {
  return AVAIL_RING + 2 * q;
}
/** Byte offset of avail_event within the used ring (valid under EVENT_IDX). */
export function availEventOffset(q: number): number {
  return USED_RING + USED_ELEM_SIZE * q;
}

export interface SplitRingLayout {
  readonly queueSize: number;
  /** Offsets relative to the start of the region. */
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly totalBytes: number;
}

/**
 * Place the three parts in one region. Each part starts on its own 64-byte
 * cache line: the driver writes desc+avail and the device writes used, so
 * keeping them on separate lines avoids false sharing between the two threads.
 */
export function splitRingLayout(q: number): SplitRingLayout {
  if (!isValidQueueSize(q)) throw new RangeError(`queue size ${q} is not a power of two in 1..${QUEUE_SIZE_MAX}`);
  const desc = 0;
  const avail = alignUp(desc + descTableBytes(q), 64);
  const used = alignUp(avail + availRingBytes(q), 64);
  const totalBytes = alignUp(used + usedRingBytes(q), 64);
  return { queueSize: q, desc, avail, used, totalBytes };
}

/**
 * vring_need_event (§2.7.10): with EVENT_IDX, notify iff the other side's
 * event index lies in [old, new). All arithmetic mod 2^16.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}
