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
 * (@tpdk/vhost OFFERABLE_FEATURES) and the test doubles build theirs from
 * these.
 */

/** The data path: split ring, virtio-net header, buffer layouts, notification suppression. */
export const NET_DATA_FEATURES = {
  VERSION_1: VIRTIO_F_VERSION_1,
  MAC: VIRTIO_NET_F_MAC,
  STATUS: VIRTIO_NET_F_STATUS,
  MTU: VIRTIO_NET_F_MTU,
  MRG_RXBUF: VIRTIO_NET_F_MRG_RXBUF,
  INDIRECT_DESC: VIRTIO_F_INDIRECT_DESC,
  EVENT_IDX: VIRTIO_F_EVENT_IDX,
  IN_ORDER: VIRTIO_F_IN_ORDER,
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
