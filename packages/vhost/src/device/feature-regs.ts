import {
  FeatureRegs,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
} from "@tpdk/virtio";

/**
 * The device's feature registers: @tpdk/virtio's FeatureRegs (the registers
 * themselves, the contract every device model shares) plus what this device
 * accepts at FEATURES_OK. Control path only (traps); the data path reads what
 * the negotiation derived (device-state.ts), never these.
 */
export class FeatureRegisters extends FeatureRegs {
  /**
   * The device accepts any subset of what it offered that respects the
   * feature dependencies (§5.1.3.1: MQ requires CTRL_VQ). VERSION_1 is not
   * required (without it the header is the 10-byte legacy one). Bits not
   * offered (CSUM, ...) make it refuse.
   */
  acceptable(): boolean {
    if (!this.driverSubsetOfOffered()) return false;
    if (this.has(VIRTIO_NET_F_CTRL_MAC_ADDR) && !this.has(VIRTIO_NET_F_CTRL_VQ)) return false;
    return !this.has(VIRTIO_NET_F_MQ) || this.has(VIRTIO_NET_F_CTRL_VQ);
  }
}
