/**
 * Shared-memory layout of a ring (one contiguous region, 128-byte aligned).
 *
 *   +0    header line   magic u32, size u32 (slots, power of two), mask u32,
 *                       capacity u32 (usable entries), flags u32
 *   +128  producer line prod.head i32 @+128, prod.tail i32 @+132
 *   +256  consumer line cons.head i32 @+256, cons.tail i32 @+260
 *   +384  slots         size x u32
 *
 * Producer and consumer indices sit 128 bytes apart (two cache lines) so the
 * adjacent-line prefetcher does not drag one side's line into the other
 * side's core. The header line is written once at init and only read after.
 * Indices are 32-bit free-running counters; a slot is `index & mask`.
 */
export const RING_MAGIC = 0x52494e47; // "RING"

export const H_MAGIC = 0;
export const H_SIZE = 4;
export const H_MASK = 8;
export const H_CAPACITY = 12;
export const H_FLAGS = 16;
export const PROD_HEAD = 128;
export const PROD_TAIL = 132;
export const CONS_HEAD = 256;
export const CONS_TAIL = 260;
export const SLOTS = 384;

/** Alignment a ring region needs (producer/consumer lines stay on their own lines). */
export const RING_ALIGN = 128;

/** Flags (rte_ring's RING_F_*). */
export const RING_F_SP_ENQ = 1;
export const RING_F_SC_DEQ = 2;
export const RING_F_EXACT_SZ = 4;

/** Largest slot count: indices are compared as signed 32-bit distances. */
export const RING_SIZE_MAX = 1 << 30;

export interface RingOptions {
  /** Single producer: only one thread ever enqueues (no compare-and-swap). */
  sp?: boolean;
  /** Single consumer: only one thread ever dequeues. */
  sc?: boolean;
  /** `count` is the usable capacity; slots are rounded up to a power of two. */
  exactSize?: boolean;
}

export function ringFlags(opts: RingOptions = {}): number {
  return (opts.sp ? RING_F_SP_ENQ : 0) | (opts.sc ? RING_F_SC_DEQ : 0) | (opts.exactSize ? RING_F_EXACT_SZ : 0);
}

/**
 * Slot count and usable capacity for `count` (rte_ring_get_memsize semantics):
 * without EXACT_SZ `count` is the slot count (a power of two) and Q-1 entries
 * are usable; with EXACT_SZ `count` entries are usable and the slot count is
 * the next power of two above it. Returns undefined when `count` is invalid.
 */
export function ringGeometry(count: number, flags: number): { size: number; capacity: number } | undefined {
  if (!Number.isInteger(count) || count < 1) return undefined;
  if (flags & RING_F_EXACT_SZ) {
    let size = 2;
    while (size <= count) size *= 2;
    if (size > RING_SIZE_MAX) return undefined;
    return { size, capacity: count };
  }
  if (count < 2 || count > RING_SIZE_MAX || (count & (count - 1)) !== 0) return undefined;
  return { size: count, capacity: count - 1 };
}
