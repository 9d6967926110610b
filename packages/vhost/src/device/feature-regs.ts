import {
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MQ,
} from "@tpdk/virtio";

/**
 * The feature registers (virtio 1.2 §3.1.1, §4.1.4.3 common configuration):
 * device_feature (what the device offers, fixed at creation) and
 * driver_feature (what the driver writes, 32 bits per select), with their
 * select registers. Control path only (traps); the data path reads what the
 * negotiation derived (device-state.ts), never these.
 */
export class FeatureRegisters {
  readonly offeredLo: number;
  readonly offeredHi: number;
  #deviceSelect = 0;
  #driverSelect = 0;
  #driverLo = 0;
  #driverHi = 0;

  constructor(offeredLo: number, offeredHi: number) {
    this.offeredLo = offeredLo;
    this.offeredHi = offeredHi;
  }

  get deviceSelect(): number {
    return this.#deviceSelect;
  }
  get driverSelect(): number {
    return this.#driverSelect;
  }

  selectDevice(v: number): void {
    this.#deviceSelect = v;
  }
  selectDriver(v: number): void {
    this.#driverSelect = v;
  }

  /** device_feature as the driver reads it: 32 offered bits per select, 0 beyond 63. */
  readDevice(): number {
    return this.#deviceSelect === 0 ? this.offeredLo : this.#deviceSelect === 1 ? this.offeredHi : 0;
  }

  /** driver_feature as the driver reads it back. */
  readDriver(): number {
    return this.#driverSelect === 0 ? this.#driverLo : this.#driverSelect === 1 ? this.#driverHi : 0;
  }

  /** A driver_feature write (the caller refuses it after FEATURES_OK). False: bits beyond 63. */
  writeDriver(value: number): boolean {
    if (this.#driverSelect === 0) this.#driverLo = value >>> 0;
    else if (this.#driverSelect === 1) this.#driverHi = value >>> 0;
    else return value === 0; // no feature bits beyond 63
    return true;
  }

  /** The driver wrote feature `bit`. */
  has(bit: number): boolean {
    return bit < 32 ? ((this.#driverLo >>> bit) & 1) === 1 : ((this.#driverHi >>> (bit - 32)) & 1) === 1;
  }

  /** The device offers feature `bit`. */
  offers(bit: number): boolean {
    return bit < 32 ? ((this.offeredLo >>> bit) & 1) === 1 : ((this.offeredHi >>> (bit - 32)) & 1) === 1;
  }

  /**
   * The device accepts any subset of what it offered that respects the
   * feature dependencies (§5.1.3.1: MQ requires CTRL_VQ). VERSION_1 is not
   * required (without it the header is the 10-byte legacy one). Bits not
   * offered (CSUM, ...) make it refuse.
   */
  acceptable(): boolean {
    if (((this.#driverLo & ~this.offeredLo) >>> 0) !== 0 || ((this.#driverHi & ~this.offeredHi) >>> 0) !== 0) return false;
    if (this.has(VIRTIO_NET_F_CTRL_MAC_ADDR) && !this.has(VIRTIO_NET_F_CTRL_VQ)) return false;
    return !this.has(VIRTIO_NET_F_MQ) || this.has(VIRTIO_NET_F_CTRL_VQ);
  }

  /** Device reset: selects and driver features back to 0. */
  reset(): void {
    this.#deviceSelect = this.#driverSelect = this.#driverLo = this.#driverHi = 0;
  }
}
