import { NET_RING_FEATURES, VIRTIO_F_RING_PACKED, VIRTIO_NET_F_MQ } from "@tpdk/virtio";
import { PROTOCOL_F_MQ, PROTOCOL_F_REPLY_ACK, VHOST_USER_F_PROTOCOL_FEATURES } from "../protocol.js";

/**
 * What net_vhost offers its front-end (GET_FEATURES, GET_PROTOCOL_FEATURES).
 * Feature words are numbers: every bit we use is below 53, and these helpers
 * never use 32-bit operators on them.
 */

export function bit(n: number): number {
  return 2 ** n;
}

export function hasBit(features: number, n: number): boolean {
  return Math.floor(features / 2 ** n) % 2 === 1;
}

/** True when every bit of `sub` is in `set` (both below 2^53). */
export function isSubset(sub: number, set: number): boolean {
  for (let n = 0; n < 53; n++) if (hasBit(sub, n) && !hasBit(set, n)) return false;
  return true;
}

/**
 * The ring features (@tpdk/virtio NET_RING_FEATURES: VERSION_1, MRG_RXBUF, INDIRECT_DESC, EVENT_IDX,
 * IN_ORDER), RING_PACKED (the front-end chooses: DPDK's virtio_user takes it with packed_vq=1, QEMU
 * with packed=on), PROTOCOL_FEATURES; MQ with more than one pair.
 */
export function offeredFeatures(pairs: number): number {
  let f = bit(VIRTIO_F_RING_PACKED) + bit(VHOST_USER_F_PROTOCOL_FEATURES);
  for (const b of Object.values(NET_RING_FEATURES)) f += bit(b);
  if (pairs > 1) f += bit(VIRTIO_NET_F_MQ);
  return f;
}

/** Protocol features: MQ (GET_QUEUE_NUM), REPLY_ACK. */
export function offeredProtocolFeatures(): number {
  return bit(PROTOCOL_F_MQ) + bit(PROTOCOL_F_REPLY_ACK);
}
