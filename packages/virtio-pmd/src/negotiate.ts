import { TpdkError } from "@tpdk/eal";
import {
  type Features,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_IN_ORDER,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  FEATURE_NAMES,
  NET_CTRL_FEATURES,
  NET_DATA_FEATURES,
  NET_DRIVER_ONLY_FEATURES,
  features,
  hasFeature,
  intersectFeatures,
  withFeature,
} from "@tpdk/virtio";
import type { TxMode } from "./options.js";

/**
 * Everything this driver can use. CTRL_VQ and MQ: a control queue (set up at
 * start) and up to max_virtqueue_pairs queue pairs, enabled with
 * VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET. CTRL_MAC_ADDR: `mac=` is given to the
 * device with VIRTIO_NET_CTRL_MAC_ADDR_SET (the config MAC is read-only). Not here: CSUM/GUEST_CSUM/GSO (no
 * offloads), CTRL_RX (no receive filter is programmed: promiscuous mode is
 * accepted without one). RING_PACKED is taken only when asked for
 * (packed_vq=1, negotiateFeatures), as DPDK's virtio_user does. ACCESS_PLATFORM is
 * accepted: our bus addresses are the shared-memory offsets the device uses,
 * an identity mapping.
 */
export const DRIVER_FEATURES: Features = features(
  ...Object.values(NET_DATA_FEATURES),
  ...Object.values(NET_CTRL_FEATURES),
  ...Object.values(NET_DRIVER_ONLY_FEATURES),
  VIRTIO_F_RING_PACKED,
);

/** The per-port feature overrides and the devargs key each comes from. */
export const FEATURE_OVERRIDES: readonly { key: string; opt: "mrgRxbuf" | "inOrder" | "eventIdx" | "indirect" | "mq"; bit: number }[] = [
  { key: "mrg_rxbuf", opt: "mrgRxbuf", bit: VIRTIO_NET_F_MRG_RXBUF },
  { key: "in_order", opt: "inOrder", bit: VIRTIO_F_IN_ORDER },
  { key: "event_idx", opt: "eventIdx", bit: VIRTIO_F_EVENT_IDX },
  { key: "indirect", opt: "indirect", bit: VIRTIO_F_INDIRECT_DESC },
  { key: "mq", opt: "mq", bit: VIRTIO_NET_F_MQ },
];

export interface FeatureOverrides {
  mrgRxbuf?: boolean | undefined;
  inOrder?: boolean | undefined;
  eventIdx?: boolean | undefined;
  indirect?: boolean | undefined;
  mq?: boolean | undefined;
  packedVq?: boolean | undefined;
  txMode?: TxMode | undefined;
  /** `mac=`: the driver will use this MAC (decides whether VIRTIO_NET_F_MAC is taken, see below). */
  mac?: Uint8Array | undefined;
}

/**
 * What the driver writes to driver_feature: (what it supports ∩ what the
 * device offers), then the per-port overrides: `key=0` removes a feature,
 * `key=1` requires it (an error naming it when the device does not offer
 * it). A forced tx_mode must be possible with the result. MQ needs CTRL_VQ
 * (§5.1.3.1): from a device that offers MQ alone the driver takes neither
 * multiqueue nor, with mq=1, the device at all. CTRL_MAC_ADDR needs CTRL_VQ
 * too (§5.1.3.1).
 *
 * VERSION_1 is required: this transport is modern-only (virtio 1.2 §4.1: the
 * virtio-pci modern interface), so a device that does not offer it is not one
 * this driver can drive.
 *
 * MAC (§5.1.4.2): a driver that negotiates VIRTIO_NET_F_MAC MUST use the
 * config `mac`, and in virtio 1.x it may not write that field. So with `mac=`
 * the driver keeps MAC only when it can tell the device the new address
 * (CTRL_VQ + CTRL_MAC_ADDR: VIRTIO_NET_CTRL_MAC_ADDR_SET at start); otherwise
 * it leaves MAC out and uses `mac=` as its own address. Pure; throws
 * TpdkError "EFEATURES".
 */
export function negotiateFeatures(name: string, offered: Features, o: FeatureOverrides = {}): Features {
  if (!hasFeature(offered, VIRTIO_F_VERSION_1)) {
    throw new TpdkError(
      "EFEATURES",
      `${name}: the device does not offer VERSION_1; this driver drives modern (virtio 1.x) devices only (virtio 1.2 §6.1)`,
    );
  }
  let f = intersectFeatures(DRIVER_FEATURES, offered);
  for (const { key, opt, bit } of FEATURE_OVERRIDES) {
    const want = o[opt];
    if (want === false) f = withFeature(f, bit, false);
    else if (want === true && !hasFeature(offered, bit)) {
      throw new TpdkError(
        "EFEATURES",
        `${name}: ${key}=1 but the device does not offer ${FEATURE_NAMES[bit]}; use ${key}=0 or leave ${key} out`,
      );
    }
  }
  // Packed rings (§2.8) only with packed_vq=1 (required then); they apply to every queue, the control
  // queue included (packed-ctrl-queue.ts).
  if (o.packedVq === true) {
    if (!hasFeature(offered, VIRTIO_F_RING_PACKED)) {
      throw new TpdkError("EFEATURES", `${name}: packed_vq=1 but the device does not offer RING_PACKED; use packed_vq=0 or leave packed_vq out`);
    }
  } else f = withFeature(f, VIRTIO_F_RING_PACKED, false);
  if (hasFeature(f, VIRTIO_NET_F_MQ) && !hasFeature(f, VIRTIO_NET_F_CTRL_VQ)) {
    if (o.mq === true) {
      throw new TpdkError("EFEATURES", `${name}: mq=1 but the device offers MQ without CTRL_VQ, which MQ requires (virtio 1.2 §5.1.3.1); leave mq out`);
    }
    f = withFeature(f, VIRTIO_NET_F_MQ, false);
  }
  if (hasFeature(f, VIRTIO_NET_F_CTRL_MAC_ADDR) && !hasFeature(f, VIRTIO_NET_F_CTRL_VQ)) f = withFeature(f, VIRTIO_NET_F_CTRL_MAC_ADDR, false);
  if (o.mac !== undefined && !hasFeature(f, VIRTIO_NET_F_CTRL_MAC_ADDR)) f = withFeature(f, VIRTIO_NET_F_MAC, false);
  if (o.txMode === "indirect" && !hasFeature(f, VIRTIO_F_INDIRECT_DESC)) {
    throw new TpdkError("EFEATURES", `${name}: tx_mode=indirect but INDIRECT_DESC is not negotiated (device lacks it or indirect=0)`);
  }
  if (o.txMode === "push" && !hasFeature(f, VIRTIO_F_VERSION_1) && !hasFeature(f, VIRTIO_F_ANY_LAYOUT)) {
    throw new TpdkError("EFEATURES", `${name}: tx_mode=push needs VERSION_1 or ANY_LAYOUT, the device offers neither`);
  }
  return f;
}
