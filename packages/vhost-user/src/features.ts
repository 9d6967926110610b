import {
  type Features, VIRTIO_F_ANY_LAYOUT, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MQ, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS,
} from "@tpdk/virtio";
import type { BackendInfo } from "./frontend.js";

/** §5.1.3: VIRTIO_NET_F_CTRL_MAC_ADDR, set the MAC through the control queue. */
const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;

/** Ring and net features we pass through when the back-end offers them (what virtio-pmd uses). */
const PASS_THROUGH = [
  VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX, VIRTIO_F_IN_ORDER, VIRTIO_F_ANY_LAYOUT,
  // Taken by the driver only with packed_vq=1 (virtio-pmd negotiate.ts).
  VIRTIO_F_RING_PACKED,
];
/** Features the front-end itself provides, as DPDK's virtio_user does: the back-end never sees them. */
const EMULATED = [VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_MAC_ADDR];

function has(f: Features, bit: number): boolean {
  return bit < 32 ? ((f.lo >>> bit) & 1) === 1 : ((f.hi >>> (bit - 32)) & 1) === 1;
}
function set(f: { lo: number; hi: number }, bit: number): void {
  if (bit < 32) f.lo = (f.lo | (1 << bit)) >>> 0;
  else f.hi = (f.hi | (1 << (bit - 32))) >>> 0;
}

/** What the device offers the driver: the back-end's ring features we use, plus the emulated ones (MQ with more than one pair). */
export function deviceFeatures(backend: BackendInfo, pairs: number): Features {
  const f = { lo: 0, hi: 0 };
  for (const bit of PASS_THROUGH) if (has(backend.features, bit)) set(f, bit);
  for (const bit of EMULATED) set(f, bit);
  if (pairs > 1) set(f, VIRTIO_NET_F_MQ);
  return f;
}

/** What SET_FEATURES tells the back-end: the driver's features minus the emulated ones. */
export function backendFeatureMask(driver: Features, backend: BackendInfo): Features {
  return { lo: (driver.lo & backend.features.lo) >>> 0, hi: (driver.hi & backend.features.hi) >>> 0 };
}
