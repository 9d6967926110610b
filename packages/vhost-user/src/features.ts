import {
  type Features, NET_CTRL_FEATURES, NET_RING_FEATURES, VIRTIO_F_ANY_LAYOUT, VIRTIO_F_RING_PACKED, VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_MAC, VIRTIO_NET_F_MQ, VIRTIO_NET_F_STATUS, features, hasFeature, intersectFeatures, withFeature,
} from "@tpdk/virtio";
import type { BackendInfo } from "./frontend.js";

/**
 * Ring features we pass through when the back-end offers them (@tpdk/virtio
 * NET_RING_FEATURES, what virtio-pmd uses), ANY_LAYOUT, and RING_PACKED
 * (taken by the driver only with packed_vq=1: virtio-pmd negotiate.ts).
 */
const PASS_THROUGH = features(...Object.values(NET_RING_FEATURES), VIRTIO_F_ANY_LAYOUT, VIRTIO_F_RING_PACKED);
/**
 * Features the front-end itself provides, as DPDK's virtio_user does: the
 * back-end never sees them. The MAC and link status of the device
 * configuration, the control queue (CtrlResponder) with CTRL_RX and
 * CTRL_MAC_ADDR; MQ too, with more than one pair.
 */
const EMULATED = [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, NET_CTRL_FEATURES.CTRL_VQ, VIRTIO_NET_F_CTRL_RX, NET_CTRL_FEATURES.CTRL_MAC_ADDR];

/** What the device offers the driver: the back-end's ring features we use, plus the emulated ones (MQ with more than one pair). */
export function deviceFeatures(backend: BackendInfo, pairs: number): Features {
  const passed = intersectFeatures(backend.features, PASS_THROUGH);
  const bits = [...EMULATED, ...(pairs > 1 ? [VIRTIO_NET_F_MQ] : [])];
  for (let b = 0; b < 64; b++) if (hasFeature(passed, b)) bits.push(b);
  return features(...bits);
}

/**
 * What SET_FEATURES tells the back-end: the driver's features the back-end offered, minus the
 * emulated ones, also when the back-end offers them too (DPDK's vhost library offers CTRL_VQ and
 * CTRL_RX): the control queue is answered here and never given to the back-end, so the back-end
 * must not expect one. DPDK's virtio_user strips MAC, CTRL_VQ and STATUS the same way
 * (virtio_user_dev_set_features); MQ stays, the back-end needs it for more than one pair.
 */
export function backendFeatureMask(driver: Features, backend: BackendInfo): Features {
  let f = intersectFeatures(driver, backend.features);
  for (const b of EMULATED) f = withFeature(f, b, false);
  return f;
}
