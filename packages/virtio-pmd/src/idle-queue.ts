import type { Memory } from "@tpdk/eal";
import {
  AVAIL_FLAGS, PACKED_EVENT_FLAGS, RING_EVENT_FLAGS_DISABLE, VRING_AVAIL_F_NO_INTERRUPT, packedRingLayout, splitRingLayout, usedEventOffset,
} from "@tpdk/virtio";
import { setupQueue } from "./bringup.js";
import type { VirtioTransport } from "./transport.js";

/** Descriptors of an idle queue's ring (capped at the device's maximum): it never holds a buffer. */
export const IDLE_QUEUE_SIZE = 16;

export function idleZoneName(portId: number, vq: number, size: number): string {
  return `vpmd${portId}.idle${vq}.${size}`;
}

/**
 * Configure virtqueue `vq` as a queue that is enabled but never given a
 * buffer (control path, before DRIVER_OK). VQ_PAIRS_SET(n) enables both
 * queues of each of n pairs and the driver must have configured every one of
 * them (virtio 1.2 §5.1.6.5.5); when the app set up more queues of one kind
 * than of the other, the missing halves are these. Nothing is ever made
 * available on them, so the device has nothing to do there: a transmit
 * queue stays empty, and a frame steered to a receive queue finds no buffer
 * (the device counts it missed). No interrupts are asked for (flags 0 under
 * EVENT_IDX, §2.7.7, with used_event never reached).
 */
export function programIdleQueue(mem: Memory, t: VirtioTransport, portId: number, vq: number, size: number, eventIdx: boolean, packed = false): void {
  if (packed) {
    // A packed ring (§2.8) whose descriptors are all zero: none is available under wrap counter 1;
    // driver event suppression DISABLE: no used-buffer notifications (§2.8.10).
    const ring = packedRingLayout(size);
    const name = `${idleZoneName(portId, vq, size)}p`;
    const z = (mem.lookup(name) ?? mem.reserve(name, ring.totalBytes, 4096)).offset;
    mem.u8.fill(0, z, z + ring.totalBytes);
    mem.u16[(z + ring.driverEvent + PACKED_EVENT_FLAGS) >>> 1] = RING_EVENT_FLAGS_DISABLE;
    setupQueue(t, vq, size, z + ring.desc, z + ring.driverEvent, z + ring.deviceEvent);
    return;
  }
  const ring = splitRingLayout(size);
  const name = idleZoneName(portId, vq, size);
  const z = (mem.lookup(name) ?? mem.reserve(name, ring.totalBytes, 4096)).offset;
  mem.u8.fill(0, z, z + ring.totalBytes);
  mem.u16[(z + ring.avail + AVAIL_FLAGS) >>> 1] = eventIdx ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
  mem.u16[(z + ring.avail + usedEventOffset(size)) >>> 1] = 0xffff;
  setupQueue(t, vq, size, z + ring.desc, z + ring.avail, z + ring.used);
}
