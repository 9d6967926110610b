import type { Memory } from "@tpdk/eal";
import { CONS_HEAD, CONS_TAIL, PROD_HEAD, PROD_TAIL, Ring, type RingOptions } from "@tpdk/ring";

/**
 * Tests only: create a ring whose four indices start at `startIndex` instead
 * of 0, so a test can cross the 2^32 wrap of the free-running indices within
 * a few operations. Call before any other thread attaches (the indices are
 * written with plain stores after Ring.create published the header).
 */
export function createRingForTest(
  mem: Memory,
  name: string,
  count: number,
  opts: RingOptions,
  startIndex: number,
): Ring {
  const r = Ring.create(mem, name, count, opts);
  const w = r.offset >>> 2;
  const s = startIndex | 0;
  for (const off of [PROD_HEAD, PROD_TAIL, CONS_HEAD, CONS_TAIL]) mem.i32[w + (off >>> 2)] = s;
  return Ring.attach(mem, r.offset);
}
