import {
  NET_CTRL_FEATURES, VIRTIO_F_EVENT_IDX, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_F_VERSION_1, VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_MAC, VIRTIO_NET_F_MQ, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS, features, featureNames, hasFeature,
} from "@tpdk/virtio";
import { describe, expect, it } from "vitest";
import { backendFeatureMask, deviceFeatures } from "./features.js";
import type { BackendInfo } from "./frontend.js";

const { CTRL_VQ, CTRL_MAC_ADDR } = NET_CTRL_FEATURES;
const featureBits = (b: BackendInfo): number[] => [...Array(64).keys()].filter((i) => hasFeature(b.features, i));

/** What DPDK 22.11's vhost library offers of these (VIRTIO_NET_SUPPORTED_FEATURES: CTRL_VQ and CTRL_RX among them, no MAC or STATUS). */
const dpdkLike: BackendInfo = {
  features: features(VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_F_EVENT_IDX, CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_MQ),
  protocolFeatures: 0,
  queuePairs: 1,
};

describe("vhost-user front-end features", () => {
  it("SET_FEATURES leaves out what the front-end emulates, also when the back-end offers it (DPDK's virtio_user strips CTRL_VQ)", () => {
    // A back-end that offers the control features too, and a driver that took everything the device offered.
    const backend = { ...dpdkLike, features: features(...featureBits(dpdkLike), CTRL_MAC_ADDR) };
    const driver = deviceFeatures(backend, 2);
    expect(hasFeature(driver, CTRL_VQ)).toBe(true);
    const toBackend = backendFeatureMask(driver, backend);
    for (const b of [CTRL_VQ, VIRTIO_NET_F_CTRL_RX, CTRL_MAC_ADDR, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS]) expect(hasFeature(toBackend, b)).toBe(false);
    // The ring features pass, and MQ: the back-end needs it for more than one pair.
    expect(featureNames(toBackend).sort()).toEqual(["EVENT_IDX", "IN_ORDER", "MQ", "MRG_RXBUF", "RING_PACKED", "VERSION_1"].sort());
  });

  it("the driver's own choice passes as it is: a feature it left out (event_idx=0) is not sent", () => {
    const driver = features(VIRTIO_F_VERSION_1, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, CTRL_VQ);
    expect(featureNames(backendFeatureMask(driver, dpdkLike)).sort()).toEqual(["IN_ORDER", "MRG_RXBUF", "RING_PACKED", "VERSION_1"].sort());
  });
});
