import {
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_STATUS,
} from "./features.js";

/**
 * The feature sets tpdk's two sides speak, defined once (virtio 1.2 §6,
 * §5.1.3); the driver (@tpdk/virtio-pmd DRIVER_FEATURES), the device
 * (@tpdk/vhost OFFERABLE_FEATURES), the test doubles and both vhost-user
 * sides (@tpdk/vhost-user: the virtio_user front-end's pass-through set,
 * net_vhost's offer) build theirs from these.
 */

/**
 * What the virtqueues and the virtio-net header need of both ends: the
 * virtio 1.x header, buffer layouts, notification suppression. A vhost-user
 * back-end implements these (net_vhost offers them, with RING_PACKED); a
 * vhost-user front-end passes them through and provides the rest itself.
 */
export const NET_RING_FEATURES = {
  VERSION_1: VIRTIO_F_VERSION_1,
  MRG_RXBUF: VIRTIO_NET_F_MRG_RXBUF,
  INDIRECT_DESC: VIRTIO_F_INDIRECT_DESC,
  EVENT_IDX: VIRTIO_F_EVENT_IDX,
  IN_ORDER: VIRTIO_F_IN_ORDER,
} as const;

/**
 * The data path every side implements: the ring features, the device
 * configuration fields a driver reads (§5.1.4: MAC, link status, MTU) and
 * ANY_LAYOUT (implied by VERSION_1, offered for legacy drivers' sake).
 */
export const NET_DATA_FEATURES = {
  ...NET_RING_FEATURES,
  MAC: VIRTIO_NET_F_MAC,
  STATUS: VIRTIO_NET_F_STATUS,
  MTU: VIRTIO_NET_F_MTU,
  ANY_LAYOUT: VIRTIO_F_ANY_LAYOUT,
} as const;

/**
 * The control queue and what needs it (§5.1.6.5; both require CTRL_VQ,
 * §5.1.3.1): multiqueue, and the MAC set with VIRTIO_NET_CTRL_MAC_ADDR_SET.
 */
export const NET_CTRL_FEATURES = {
  CTRL_VQ: VIRTIO_NET_F_CTRL_VQ,
  MQ: VIRTIO_NET_F_MQ,
  CTRL_MAC_ADDR: VIRTIO_NET_F_CTRL_MAC_ADDR,
} as const;

/**
 * Accepted by the driver when a device offers them, not implemented by
 * tpdk's device: ACCESS_PLATFORM (descriptor addresses are bus addresses,
 * which they are: an identity mapping).
 */
export const NET_DRIVER_ONLY_FEATURES = {
  ACCESS_PLATFORM: VIRTIO_F_ACCESS_PLATFORM,
} as const;
