import { TpdkError } from "@tpdk/eal";
import { type Features, NET_CTRL_FEATURES, NET_DATA_FEATURES, VIRTIO_F_RING_PACKED, features } from "@tpdk/virtio";

/**
 * The features this device implements and offers by default (virtio 1.2 §6,
 * §5.1.3). Each can be switched off per device with DeviceOptions.offer, for
 * tests and for comparing paths; none outside this list can be switched on.
 * MQ requires CTRL_VQ: switching CTRL_VQ off alone is refused.
 * CTRL_MAC_ADDR requires CTRL_VQ too: it goes with it (§5.1.3.1).
 */
export const OFFERABLE_FEATURES = { ...NET_DATA_FEATURES, ...NET_CTRL_FEATURES, RING_PACKED: VIRTIO_F_RING_PACKED } as const;

/**
 * Offered only when asked for ({ RING_PACKED: true }, the vdev key
 * `packed_vq=1`), like DPDK's virtio_user: a driver that takes packed rings
 * takes them for every queue, the control queue included (ctrl-path.ts
 * serves it on either layout), so CTRL_VQ, MQ and CTRL_MAC_ADDR go with it.
 */
export const OFF_BY_DEFAULT: readonly FeatureName[] = ["RING_PACKED"];

export type FeatureName = keyof typeof OFFERABLE_FEATURES;

/** The offered feature set: every offerable feature, minus those switched off. Cold path. */
export function offeredFeatures(offer: Partial<Record<string, boolean>> = {}): Features {
  const bits: number[] = [];
  for (const name of Object.keys(offer)) {
    if (!(name in OFFERABLE_FEATURES)) {
      throw new TpdkError(
        "EINVAL",
        `cannot offer feature "${name}": the device implements ${Object.keys(OFFERABLE_FEATURES).join(", ")}`,
      );
    }
  }
  for (const [name, bit] of Object.entries(OFFERABLE_FEATURES)) {
    // Without a control queue there is no MAC_ADDR_SET to take (§5.1.3.1): CTRL_MAC_ADDR goes with CTRL_VQ.
    if (name === "CTRL_MAC_ADDR" && offer.CTRL_VQ === false) continue;
    const on = (OFF_BY_DEFAULT as readonly string[]).includes(name) ? offer[name] === true : offer[name] !== false;
    if (on) bits.push(bit);
  }
  if (offer.CTRL_VQ === false && offer.MQ !== false) {
    // §5.1.3.1: VIRTIO_NET_F_MQ requires VIRTIO_NET_F_CTRL_VQ (the pairs are set with a control command).
    throw new TpdkError("EINVAL", "cannot offer MQ without CTRL_VQ (virtio 1.2 §5.1.3.1); switch MQ off too: offer { CTRL_VQ: false, MQ: false }");
  }
  return features(...bits);
}
