import type { Memory } from "@tpdk/eal";
import { RING_ALIGN, ringFlags, type RingOptions } from "./layout.js";
import { Ring, initRingRegion } from "./ring.js";

/**
 * Tests only: create a ring whose four indices start at `startIndex` instead
 * of 0, so a test can cross the 2^32 wrap of the free-running indices within
 * a few operations. Call before any other thread attaches.
 */
export function createRingForTest(
  mem: Memory,
  name: string,
  count: number,
  opts: RingOptions,
  startIndex: number,
): Ring {
  const flags = ringFlags(opts);
  const zone = mem.reserve(name, Ring.bytesFor(count, flags), RING_ALIGN);
  initRingRegion(mem, zone.offset, count, flags, startIndex);
  return Ring.attach(mem, zone.offset);
}
