/** The most buffers the refill waits for (rings of 256 and more). */
export const RX_REFILL_THRESHOLD_MAX = 128;

/**
 * tpdk's driver re-posts receive buffers in bulk: once at least
 * `rxRefillThreshold(queueSize)` descriptors of a receive queue are free, it
 * posts all of them with one avail.idx publish (virtio-pmd rxq.ts and
 * packed-rx-refill.ts). Until then it holds back up to one less than this many
 * buffers.
 *
 * Rings of 256 or more: half the ring, at most 128. At burst 1 the refill's
 * granularity sets the rhythm of a driver and a polling back-end: refilled
 * per frame, as DPDK's in-order RX does, the back-end finds a few buffers per
 * pass and both sides fall into lock-step (bench/notes/levels.md, "Session 18:
 * DPDK's fast burst-1 level"). Smaller rings: a quarter, at most 32.
 *
 * It is part of the contract because the other half relies on it: the
 * device's on-demand window (@tpdk/vhost demand.ts) counts a receive-only
 * application's frames as taken once fewer buffers than this are unposted,
 * and the lossless end-to-end tests size their release window from it.
 */
export function rxRefillThreshold(queueSize: number): number {
  const t = queueSize >= 256 ? Math.min(RX_REFILL_THRESHOLD_MAX, queueSize >>> 1) : Math.min(32, queueSize >>> 2);
  return t > 1 ? t : 1;
}
