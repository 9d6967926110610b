import * as V from "@tpdk/virtio";

/**
 * The constants more than one of the packed RX queue's files use (PackedRxRing's layers:
 * packed-rx-ring.ts). Each file takes the ones it uses as module-local copies (bench/README.md,
 * "Hot-path constants"): a module's own exported binding would be read through its module cell,
 * as an imported one is, so none of them is defined where it is used.
 */

/** Most packets one rxBurst call returns (as the split ring's, DPDK's VIRTIO_MBUF_BURST_SZ). */
export const RX_BURST_MAX = 64;
/**
 * rxBurst's gate (smallBelow) under IN_ORDER on x86: bursts below it take rxSmall. SMALL_BURST while
 * no frame is ahead (bursts of fewer than a group of four), GATE_OPEN while one is (every burst: the
 * frames ahead go first, in ring order), 0 elsewhere (never).
 */
export const SMALL_BURST = 4;
export const GATE_OPEN = RX_BURST_MAX + 1;
/** rxSmall's primes after a resync (aheadPrimes): calls with nothing ahead that keep the gate open. */
export const AHEAD_PRIMES = 64;
/** Most fresh mbufs the refill takes from the pool at once. */
export const REFILL_CHUNK = 64;
/** Both wrap bits of a descriptor's flags: equal to the wrap counter (both set or both clear) when used (§2.8.1). */
export const F_WRAP_BITS = V.VRING_PACKED_DESC_F_AVAIL | V.VRING_PACKED_DESC_F_USED;
/**
 * rxInOrder takes one Atomics.load per call (its first flags check) and reads the other flags
 * plainly, relying on the host keeping loads in program order (x86-TSO); elsewhere every
 * descriptor gets its own.
 */
export const LOADS_IN_ORDER = process.arch === "x64" || process.arch === "ia32";
/** Used descriptors past the burst whose lines touchAhead keeps touched ahead of time (at least). */
export const TOUCH_AHEAD = 8;
