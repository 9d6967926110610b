/**
 * Feature bits (virtio 1.2 §6 reserved bits, §5.1.3 virtio-net bits).
 *
 * Features are 64 bits wide. We carry them as two u32 words (lo = bits 0..31,
 * hi = bits 32..63) so no BigInt is needed anywhere; the transport exposes them
 * 32 bits at a time through device_feature_select/driver_feature_select too.
 */
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_CTRL_RX = 18;
export const VIRTIO_NET_F_MQ = 22;
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
export const VIRTIO_F_ANY_LAYOUT = 27;
export const VIRTIO_F_INDIRECT_DESC = 28; // VIRTIO_RING_F_INDIRECT_DESC
export const VIRTIO_F_EVENT_IDX = 29; // VIRTIO_RING_F_EVENT_IDX
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;

export const FEATURE_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_NET_F_CSUM]: "CSUM",
  [VIRTIO_NET_F_GUEST_CSUM]: "GUEST_CSUM",
  [VIRTIO_NET_F_MTU]: "MTU",
  [VIRTIO_NET_F_MAC]: "MAC",
  [VIRTIO_NET_F_MRG_RXBUF]: "MRG_RXBUF",
  [VIRTIO_NET_F_STATUS]: "STATUS",
  [VIRTIO_NET_F_CTRL_VQ]: "CTRL_VQ",
  [VIRTIO_NET_F_CTRL_RX]: "CTRL_RX",
  [VIRTIO_NET_F_MQ]: "MQ",
  [VIRTIO_NET_F_CTRL_MAC_ADDR]: "CTRL_MAC_ADDR",
  [VIRTIO_F_ANY_LAYOUT]: "ANY_LAYOUT",
  [VIRTIO_F_INDIRECT_DESC]: "INDIRECT_DESC",
  [VIRTIO_F_EVENT_IDX]: "EVENT_IDX",
  [VIRTIO_F_VERSION_1]: "VERSION_1",
  [VIRTIO_F_ACCESS_PLATFORM]: "ACCESS_PLATFORM",
  [VIRTIO_F_RING_PACKED]: "RING_PACKED",
  [VIRTIO_F_IN_ORDER]: "IN_ORDER",
};

/** A 64-bit feature set as two u32 halves. Immutable helpers below return new values (cold path). */
export interface Features {
  readonly lo: number;
  readonly hi: number;
}

export const NO_FEATURES: Features = { lo: 0, hi: 0 };

export function features(...bits: number[]): Features {
  let lo = 0;
  let hi = 0;
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0 || b > 63) throw new RangeError(`feature bit ${b} out of range 0..63`);
    if (b < 32) lo = (lo | (1 << b)) >>> 0;
    else hi = (hi | (1 << (b - 32))) >>> 0;
  }
  return { lo, hi };
}

export function hasFeature(f: Features, bit: number): boolean {
  return bit < 32 ? ((f.lo >>> bit) & 1) === 1 : ((f.hi >>> (bit - 32)) & 1) === 1;
}

export function withFeature(f: Features, bit: number, on: boolean): Features {
  const m = features(bit);
  return on ? { lo: (f.lo | m.lo) >>> 0, hi: (f.hi | m.hi) >>> 0 } : { lo: (f.lo & ~m.lo) >>> 0, hi: (f.hi & ~m.hi) >>> 0 };
}

export function intersectFeatures(a: Features, b: Features): Features {
  return { lo: (a.lo & b.lo) >>> 0, hi: (a.hi & b.hi) >>> 0 };
}

/** True when every bit of `sub` is in `sup`. */
export function isSubset(sub: Features, sup: Features): boolean {
  return ((sub.lo & ~sup.lo) >>> 0) === 0 && ((sub.hi & ~sup.hi) >>> 0) === 0;
}

/** The 32-bit word `select` (0 = bits 0..31, 1 = bits 32..63) as the transport exposes it. */
export function featureWord(f: Features, select: number): number {
  return select === 0 ? f.lo : select === 1 ? f.hi : 0;
}

export function featureNames(f: Features): string[] {
  const out: string[] = [];
  for (let b = 0; b < 64; b++) if (hasFeature(f, b)) out.push(FEATURE_NAMES[b] ?? `bit${b}`);
  return out;
}
