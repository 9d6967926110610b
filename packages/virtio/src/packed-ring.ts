/**
 * Packed virtqueue layout (virtio 1.2 §2.8). All fields little-endian.
 *
 *   Descriptor Ring           align 16  16*Q bytes  { addr u64, len u32, id u16, flags u16 }
 *   Driver Event Suppression  align 4   4 bytes     { off_wrap u16, flags u16 }  (driver writes, device reads)
 *   Device Event Suppression  align 4   4 bytes     { off_wrap u16, flags u16 }  (device writes, driver reads)
 *
 * The transport's "driver area" is the driver event suppression structure and
 * its "device area" the device's (§2.8.10, §4.1.4.3). There are no indices:
 * each side polls the next descriptor's AVAIL/USED flags against its own ring
 * wrap counter (§2.8.1), which starts at 1 and flips after the last descriptor
 * of the ring. The queue size need not be a power of two (§2.8.10.1).
 */
export const PACKED_DESC_SIZE = 16; // { addr u64, len u32, id u16, flags u16 }
export const PACKED_DESC_ADDR = 0;
export const PACKED_DESC_LEN = 8;
export const PACKED_DESC_ID = 12;
export const PACKED_DESC_FLAGS = 14;
export const PACKED_DESC_ALIGN = 16;
export const VRING_PACKED_DESC_F_AVAIL = 1 << 7;
export const VRING_PACKED_DESC_F_USED = 1 << 15;
/** Event suppression structure: { off_wrap u16, flags u16 }. */
export const PACKED_EVENT_SUPPRESS_SIZE = 4;
export const PACKED_EVENT_ALIGN = 4;
export const PACKED_EVENT_OFF_WRAP = 0;
export const PACKED_EVENT_FLAGS = 2;
export const RING_EVENT_FLAGS_ENABLE = 0;
export const RING_EVENT_FLAGS_DISABLE = 1;
/** Only with EVENT_IDX: notify when the descriptor at off_wrap (offset bits 0..14, wrap bit 15) is made available / used. */
export const RING_EVENT_FLAGS_DESC = 2;
export const PACKED_QUEUE_SIZE_MAX = 32768;

/** §2.8.10.1: any size 1..32768 (not only powers of two). */
export function isValidPackedQueueSize(q: number): boolean {
  return Number.isInteger(q) && q >= 1 && q <= PACKED_QUEUE_SIZE_MAX;
}

/** AVAIL and USED bits of a descriptor the driver makes available with wrap counter `wrap` (0/1): AVAIL = wrap, USED = !wrap. */
export function packedAvailFlags(wrap: number): number {
  return wrap !== 0 ? VRING_PACKED_DESC_F_AVAIL : VRING_PACKED_DESC_F_USED;
}

/** AVAIL and USED bits of a descriptor the device marks used with wrap counter `wrap`: both equal to it. */
export function packedUsedFlags(wrap: number): number {
  return wrap !== 0 ? VRING_PACKED_DESC_F_AVAIL | VRING_PACKED_DESC_F_USED : 0;
}

export interface PackedRingLayout {
  readonly queueSize: number;
  /** Offsets relative to the start of the region. */
  readonly desc: number;
  /** Driver event suppression (the transport's driver area). */
  readonly driverEvent: number;
  /** Device event suppression (the transport's device area). */
  readonly deviceEvent: number;
  readonly totalBytes: number;
}

/**
 * Place the ring and the two event suppression structures in one region, the
 * structures each on their own 64-byte line (one is written by each side).
 */
export function packedRingLayout(q: number): PackedRingLayout {
  if (!isValidPackedQueueSize(q)) throw new RangeError(`packed queue size ${q} is not in 1..${PACKED_QUEUE_SIZE_MAX}`);
  const desc = 0;
  const driverEvent = align64(PACKED_DESC_SIZE * q);
  const deviceEvent = driverEvent + 64;
  return { queueSize: q, desc, driverEvent, deviceEvent, totalBytes: deviceEvent + 64 };
}

/**
 * EVENT_IDX with packed rings (§2.8.10, RING_EVENT_FLAGS_DESC): the side
 * that just moved its position from (oldPos, oldWrap) forward by `n`
 * descriptors (n <= size) must notify iff the other side's event descriptor
 * (off_wrap: offset bits 0..14, wrap counter bit 15) was one of them: it lies
 * i = (off - oldPos) mod size positions ahead with i < n, and the wrap
 * counter at that position (oldWrap, flipped if it is past the ring's end)
 * matches.
 */
export function packedNeedEvent(offWrap: number, oldPos: number, oldWrap: number, n: number, size: number): boolean {
  const off = offWrap & 0x7fff;
  if (off >= size || n <= 0) return false;
  let i = off - oldPos;
  if (i < 0) i += size;
  if (i >= n) return false;
  const wrapAt = oldPos + i >= size ? oldWrap ^ 1 : oldWrap;
  return offWrap >>> 15 === wrapAt;
}

function align64(n: number): number {
  return (n + 63) & ~63;
}
