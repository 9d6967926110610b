/**
 * VXLAN encapsulation (RFC 7348 §5): an 8-byte header in front of the inner
 * Ethernet frame (no FCS), carried in a UDP datagram to port 4789 (IANA).
 *
 *   byte 0     flags: 0x08 (I: the VNI is valid); the other bits reserved
 *   bytes 1-3  reserved (0)
 *   bytes 4-6  VNI, 24 bits, big-endian
 *   byte 7     reserved (0)
 *
 * Reserved bits are sent as 0 and ignored on receipt (the RFC's rule, and
 * what Linux does), so a header is valid when the I flag is set and the VNI
 * is ours. Linux vxlan interfaces listen on 8472 unless created with
 * `dstport 4789`.
 */

export const VXLAN_HDR_LEN = 8;
export const VXLAN_FLAG_I = 0x08;
export const VXLAN_PORT = 4789;
export const VNI_MAX = 0xffffff;

/** Write a VXLAN header for `vni` at u8[at .. at + 8). */
export function writeVxlanHeader(u8: Uint8Array, at: number, vni: number): void {
  u8[at] = VXLAN_FLAG_I;
  u8[at + 1] = 0;
  u8[at + 2] = 0;
  u8[at + 3] = 0;
  u8[at + 4] = (vni >>> 16) & 0xff;
  u8[at + 5] = (vni >>> 8) & 0xff;
  u8[at + 6] = vni & 0xff;
  u8[at + 7] = 0;
}

/**
 * The VNI of the header at u8[at .. at + len), or -1 when it is not a valid
 * VXLAN header (shorter than 8 bytes, I flag clear). Hot path.
 */
export function readVxlanVni(u8: Uint8Array, at: number, len: number): number {
  if (len < VXLAN_HDR_LEN || (u8[at]! & VXLAN_FLAG_I) === 0) return -1;
  return (u8[at + 4]! << 16) | (u8[at + 5]! << 8) | u8[at + 6]!;
}
