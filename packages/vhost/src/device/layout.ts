import { TRANSPORT_MAX_QUEUES, TRANSPORT_REGION_BYTES } from "@tpdk/virtio";
import { DEVICE_STAT_SLOTS } from "./stats.js";

/**
 * Shared-memory layout of the device side (all zones zero-filled at reserve).
 *
 * Zone "<prefix>.ctl" (one per Vhost), Int32 words at byte offsets:
 *   +0   doorbell: the device thread sleeps on it; drivers Atomics.notify it
 *        after every kick and trap (its address is in each transport header)
 *   +4   stop request: 0 run, 1 the thread should flush, close wires and return
 *   +8   thread state: THREAD_* below (written by the device thread)
 *   +12  passes (u32, wraps; diagnostics)
 *   +16  sleeps (u32, wraps; diagnostics)
 *
 * Zone "<prefix>.<device>" (one per device; its offset is the transport
 * address a driver is given):
 *   DEV_TRANSPORT  the transport region (packages/virtio/src/transport.ts)
 *   DEV_CTRL       control words between the main thread and the device thread
 *   DEV_QINFO      per queue, published by the device at DRIVER_OK and at reset:
 *                  { served i32 (1 = the data path processes it), avail addr u32,
 *                  used addr u32, size u32 } (lets the main thread tell whether TX drained);
 *                  for a packed ring (served = QINFO_SERVED_PACKED) { descriptor ring addr,
 *                  the device's next descriptor: position | wrap counter << 15 (republished
 *                  after every TX pass that moved it), size }
 *   DEV_STATS      Float64 counters (stats.ts)
 *
 * Zone "<prefix>.<device>.scratch": SCRATCH_BYTES per TX queue (frames spread
 * over several descriptors are gathered here before the wire sees them), then
 * SCRATCH_BYTES for RX (frames to be scattered over several buffers are
 * produced here first).
 *
 * Zone "<prefix>.<device>.wire": the wire's statistics block.
 */
export const CTL_DOORBELL = 0;
export const CTL_STOP = 4;
export const CTL_STATE = 8;
/** Device loop passes and sleeps so far, modulo 2^30 (diagnostics; published about once per ms). */
export const CTL_PASSES = 12;
export const CTL_SLEEPS = 16;
export const CTL_ZONE_BYTES = 64;

export const THREAD_CREATED = 0;
export const THREAD_RUNNING = 1;
export const THREAD_STOPPED = 2;
export const THREAD_FAILED = 3;

export const DEV_TRANSPORT = 0;
export const DEV_CTRL = align64(TRANSPORT_REGION_BYTES);
/** i32: link state the main thread asks for (1 up, 0 down); the device applies it within ~1 ms. */
export const CTRL_LINK_REQUEST = DEV_CTRL + 0;
/** i32: 1 once the wire's finite input has been wholly produced or dropped (device thread). */
export const CTRL_WIRE_EXHAUSTED = DEV_CTRL + 4;
export const DEV_QINFO = DEV_CTRL + 64;
export const QINFO_BYTES = 16;
export const QINFO_SERVED = 0;
export const QINFO_AVAIL = 4;
export const QINFO_USED = 8;
export const QINFO_SIZE = 12;
/** QINFO_SERVED value of a served packed ring (a split one is 1). */
export const QINFO_SERVED_PACKED = 2;
export const DEV_STATS = DEV_QINFO + QINFO_BYTES * TRANSPORT_MAX_QUEUES;
export const DEV_ZONE_BYTES = align64(DEV_STATS + 8 * DEVICE_STAT_SLOTS);

/** Scratch per TX queue and for RX: also the largest frame the device moves (65535 + header). */
export const SCRATCH_BYTES = 65536 + 64;
/** Largest frame (without virtio-net header) the device accepts from the driver or the wire. */
export const MAX_FRAME = 65535;

export function scratchZoneBytes(queuePairs: number): number {
  return (queuePairs + 1) * SCRATCH_BYTES;
}

function align64(n: number): number {
  return (n + 63) & ~63;
}
