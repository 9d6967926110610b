/**
 * Ethernet / IPv4 / UDP test frames and the tpdk payload header, plus the
 * Internet checksum (RFC 1071) helpers the wires use.
 *
 * Frame layout (byte offsets in the frame, no VLAN, no IP options):
 *   0  dst MAC          6  src MAC          12 ethertype 0x0800
 *   14 IPv4 header (20 bytes: version/IHL 0x45, TTL 64, protocol 17, id 0)
 *   34 UDP header (src port, dst port 9, length, checksum)
 *   42 UDP payload: the tpdk payload header, then fill bytes
 *
 * tpdk payload header (offsets in the UDP payload, all big-endian):
 *   0  magic     u32  0x7470646b ("tpdk")
 *   4  stream    u16  the generating wire's device index
 *   6  seq       u32  per-stream sequence number, from 0, wrapping at 2^32
 *   10 timestamp f64  send time in ms since the Unix epoch
 *                     (performance.timeOrigin + performance.now()); 0 = none
 *   18 fill      byte at frame offset i is (i & 0xff)
 * The header is 18 bytes so it fits the smallest frame (60 bytes without FCS):
 * 42 + 18 = 60. Every 16-bit field sits at an even offset from the UDP header,
 * so the generator can add the changed words to a precomputed checksum.
 *
 * The functions taking (u8, off, ...) are hot-path safe: no allocation.
 * buildUdpFrame allocates and is for set-up and tests.
 */

export const ETH_HDR_LEN = 14;
export const IPV4_HDR_LEN = 20;
export const UDP_HDR_LEN = 8;
export const L3_OFF = ETH_HDR_LEN; // 14
export const L4_OFF = L3_OFF + IPV4_HDR_LEN; // 34
export const PAYLOAD_OFF = L4_OFF + UDP_HDR_LEN; // 42
export const ETHERTYPE_IPV4 = 0x0800;
export const IPPROTO_UDP = 17;

export const PAYLOAD_MAGIC = 0x7470646b;
export const PL_MAGIC = 0;
export const PL_STREAM = 4;
export const PL_SEQ = 6;
export const PL_TIMESTAMP = 10;
export const PL_HEADER_LEN = 18;

/** Smallest frame we build, without FCS (the Ethernet minimum 64 minus the 4-byte FCS). */
export const MIN_FRAME_LEN = 60;
/** Largest frame we build, without FCS: a 9000-byte MTU jumbo frame (14 + 9000). */
export const MAX_FRAME_LEN = 9014;
/** Bytes of FCS a real NIC appends; `size=` counts them, our frames do not carry them. */
export const FCS_LEN = 4;

export const DEFAULT_SRC_IP: readonly number[] = [198, 18, 0, 1];
export const DEFAULT_DST_IP: readonly number[] = [198, 18, 0, 2];
export const DEFAULT_UDP_PORT = 9;

// ---------------------------------------------------------------- checksums

/**
 * One's-complement partial sum of u8[off .. off+len) as big-endian 16-bit
 * words (an odd last byte is padded with zero), added to `sum`. Not folded:
 * the result is a plain number; pass it to fold16(). Accurate for any frame
 * (sums stay far below 2^53).
 */
export function onesSum(u8: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + (len & ~1);
  let i = off;
  for (; i < end; i += 2) sum += (u8[i]! << 8) | u8[i + 1]!;
  if (len & 1) sum += u8[i]! << 8;
  return sum;
}

/** Fold a partial sum to 16 bits with end-around carry (never returns > 0xffff). */
export function fold16(sum: number): number {
  // The sum may exceed 2^32, so no 32-bit bit operations until it is small.
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return sum;
}

/** The Internet checksum (RFC 1071) of u8[off .. off+len) starting from partial sum `initial`. */
export function checksum(u8: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold16(onesSum(u8, off, len, initial)) & 0xffff;
}

/** Partial sum of the IPv4 pseudo-header for a UDP datagram of `udpLen` bytes (l3 = IPv4 header offset). */
export function pseudoHeaderSum(u8: Uint8Array, l3: number, udpLen: number): number {
  return onesSum(u8, l3 + 12, 8, 0) + IPPROTO_UDP + udpLen;
}

/** Compute and store the IPv4 header checksum of the header at u8[l3..]. */
export function writeIpv4Checksum(u8: Uint8Array, l3: number): void {
  const hlen = (u8[l3]! & 0x0f) << 2;
  u8[l3 + 10] = 0;
  u8[l3 + 11] = 0;
  const c = checksum(u8, l3, hlen);
  u8[l3 + 10] = c >>> 8;
  u8[l3 + 11] = c & 0xff;
}

/**
 * Compute and store the UDP checksum of the IPv4/UDP datagram whose IP header
 * is at u8[l3..]. A computed 0 is sent as 0xffff (RFC 768: 0 means "none").
 */
export function writeUdpChecksum(u8: Uint8Array, l3: number): void {
  const l4 = l3 + ((u8[l3]! & 0x0f) << 2);
  const udpLen = (u8[l4 + 4]! << 8) | u8[l4 + 5]!;
  u8[l4 + 6] = 0;
  u8[l4 + 7] = 0;
  let c = checksum(u8, l4, udpLen, pseudoHeaderSum(u8, l3, udpLen));
  if (c === 0) c = 0xffff;
  u8[l4 + 6] = c >>> 8;
  u8[l4 + 7] = c & 0xff;
}

/** Checksum verdicts of verifyIpv4Udp. */
export const CSUM_OK = 0;
export const CSUM_BAD_IP = 1;
export const CSUM_BAD_UDP = 2;

/**
 * Verify the IPv4 header checksum and (when not 0 = "none") the UDP checksum
 * of the frame at u8[off .. off+len). The caller has checked that the frame is
 * IPv4/UDP and long enough for its headers. Returns CSUM_OK, CSUM_BAD_IP or
 * CSUM_BAD_UDP. A UDP length that does not fit the frame counts as bad UDP.
 */
export function verifyIpv4Udp(u8: Uint8Array, off: number, len: number): number {
  const l3 = off + L3_OFF;
  const hlen = (u8[l3]! & 0x0f) << 2;
  if (fold16(onesSum(u8, l3, hlen)) !== 0xffff) return CSUM_BAD_IP;
  const l4 = l3 + hlen;
  if ((u8[l4 + 6]! | u8[l4 + 7]!) === 0) return CSUM_OK;
  const udpLen = (u8[l4 + 4]! << 8) | u8[l4 + 5]!;
  if (udpLen < UDP_HDR_LEN || l4 + udpLen > off + len) return CSUM_BAD_UDP;
  return fold16(onesSum(u8, l4, udpLen, pseudoHeaderSum(u8, l3, udpLen))) === 0xffff ? CSUM_OK : CSUM_BAD_UDP;
}

// ---------------------------------------------------------- payload header

/**
 * Offset of the UDP payload in the frame at u8[off .. off+len) when the frame
 * is IPv4/UDP and carries the tpdk magic with a whole payload header; -1
 * otherwise ("foreign"). Handles IP options; no VLAN tags.
 */
export function tpdkPayloadOffset(u8: Uint8Array, off: number, len: number): number {
  if (len < PAYLOAD_OFF + PL_HEADER_LEN) return -1;
  if (u8[off + 12] !== 0x08 || u8[off + 13] !== 0x00) return -1;
  const vihl = u8[off + L3_OFF]!;
  if (vihl >>> 4 !== 4 || (vihl & 0x0f) < 5) return -1;
  if (u8[off + L3_OFF + 9] !== IPPROTO_UDP) return -1;
  const pl = L3_OFF + ((vihl & 0x0f) << 2) + UDP_HDR_LEN;
  if (pl + PL_HEADER_LEN > len) return -1;
  const p = off + pl;
  if (u8[p] !== 0x74 || u8[p + 1] !== 0x70 || u8[p + 2] !== 0x64 || u8[p + 3] !== 0x6b) return -1;
  return pl;
}

export function readU16(u8: Uint8Array, at: number): number {
  return (u8[at]! << 8) | u8[at + 1]!;
}

export function readU32(u8: Uint8Array, at: number): number {
  return ((u8[at]! << 24) | (u8[at + 1]! << 16) | (u8[at + 2]! << 8) | u8[at + 3]!) >>> 0;
}

/**
 * The same 32 bits as readU32, as an int32 (values from 2^31 come out negative): hot paths that
 * only compare and mask them keep them in V8's small integers, where a u32 from 2^31 on is a
 * boxed number (see FrameChecker.consume).
 */
export function readI32(u8: Uint8Array, at: number): number {
  return (u8[at]! << 24) | (u8[at + 1]! << 16) | (u8[at + 2]! << 8) | u8[at + 3]!;
}

export function writeU16(u8: Uint8Array, at: number, v: number): void {
  u8[at] = (v >>> 8) & 0xff;
  u8[at + 1] = v & 0xff;
}

export function writeU32(u8: Uint8Array, at: number, v: number): void {
  u8[at] = v >>> 24;
  u8[at + 1] = (v >>> 16) & 0xff;
  u8[at + 2] = (v >>> 8) & 0xff;
  u8[at + 3] = v & 0xff;
}

// One 8-byte scratch per thread for f64 <-> big-endian bytes (module state is per thread).
const f64Scratch = new DataView(new ArrayBuffer(8));

/** Write an f64 big-endian at u8[at .. at+8). */
export function writeF64(u8: Uint8Array, at: number, v: number): void {
  f64Scratch.setFloat64(0, v);
  for (let i = 0; i < 8; i++) u8[at + i] = f64Scratch.getUint8(i);
}

/** Read a big-endian f64 at u8[at .. at+8). */
export function readF64(u8: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) f64Scratch.setUint8(i, u8[at + i]!);
  return f64Scratch.getFloat64(0);
}

// ---------------------------------------------------------- byte copying

/**
 * Copy len bytes between two buffers through DataViews, four bytes at a time
 * (unaligned is fine). Allocation-free, unlike set(subarray()) or
 * Buffer.copy on Node 20, and as fast as set() for MTU-sized frames.
 */
export function copyBytes(
  dstView: DataView, dst: number, srcView: DataView, src: number, len: number,
): void {
  const end4 = len & ~3;
  let i = 0;
  for (; i < end4; i += 4) dstView.setUint32(dst + i, srcView.getUint32(src + i, true), true);
  for (; i < len; i++) dstView.setUint8(dst + i, srcView.getUint8(src + i));
}

// ---------------------------------------------------------- frame building

export interface UdpFrameOptions {
  /** Frame length in bytes, without FCS: MIN_FRAME_LEN .. MAX_FRAME_LEN. */
  length: number;
  dstMac?: ArrayLike<number>;
  srcMac?: ArrayLike<number>;
  srcIp?: ArrayLike<number>;
  dstIp?: ArrayLike<number>;
  srcPort?: number;
  dstPort?: number;
  /** Payload header fields. */
  stream?: number;
  seq?: number;
  /** ms since the Unix epoch; 0 (default) = no timestamp. */
  timestamp?: number;
}

export const BROADCAST_MAC: readonly number[] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
/** Default generator source MAC for device index i: 02:00:00:00:01:i (locally administered, "the far end of port i"). */
export function defaultSrcMac(deviceIndex: number): number[] {
  return [0x02, 0x00, 0x00, 0x00, 0x01, deviceIndex & 0xff];
}

/**
 * Write a complete Ethernet/IPv4/UDP frame with the tpdk payload header and
 * correct checksums at u8[off .. off+length). Cold path (validates, may throw RangeError).
 */
export function writeUdpFrame(u8: Uint8Array, off: number, o: UdpFrameOptions): void {
  const len = o.length;
  if (!Number.isInteger(len) || len < MIN_FRAME_LEN || len > MAX_FRAME_LEN) {
    throw new RangeError(`frame length ${len} outside ${MIN_FRAME_LEN}..${MAX_FRAME_LEN}`);
  }
  const dst = o.dstMac ?? BROADCAST_MAC;
  const src = o.srcMac ?? defaultSrcMac(0);
  const sip = o.srcIp ?? DEFAULT_SRC_IP;
  const dip = o.dstIp ?? DEFAULT_DST_IP;
  for (let i = 0; i < 6; i++) {
    u8[off + i] = dst[i]!;
    u8[off + 6 + i] = src[i]!;
  }
  writeU16(u8, off + 12, ETHERTYPE_IPV4);
  const l3 = off + L3_OFF;
  u8[l3] = 0x45;
  u8[l3 + 1] = 0;
  writeU16(u8, l3 + 2, len - ETH_HDR_LEN);
  writeU16(u8, l3 + 4, 0); // identification
  writeU16(u8, l3 + 6, 0); // flags / fragment offset
  u8[l3 + 8] = 64; // TTL
  u8[l3 + 9] = IPPROTO_UDP;
  for (let i = 0; i < 4; i++) {
    u8[l3 + 12 + i] = sip[i]!;
    u8[l3 + 16 + i] = dip[i]!;
  }
  writeIpv4Checksum(u8, l3);
  const l4 = off + L4_OFF;
  writeU16(u8, l4, o.srcPort ?? DEFAULT_UDP_PORT);
  writeU16(u8, l4 + 2, o.dstPort ?? DEFAULT_UDP_PORT);
  writeU16(u8, l4 + 4, len - L4_OFF);
  const p = off + PAYLOAD_OFF;
  writeU32(u8, p + PL_MAGIC, PAYLOAD_MAGIC);
  writeU16(u8, p + PL_STREAM, (o.stream ?? 0) & 0xffff);
  writeU32(u8, p + PL_SEQ, (o.seq ?? 0) >>> 0);
  writeF64(u8, p + PL_TIMESTAMP, o.timestamp ?? 0);
  for (let i = PAYLOAD_OFF + PL_HEADER_LEN; i < len; i++) u8[off + i] = i & 0xff;
  writeUdpChecksum(u8, l3);
}

/** A new frame (see writeUdpFrame). Allocates: set-up and tests only. */
export function buildUdpFrame(o: UdpFrameOptions): Uint8Array {
  const f = new Uint8Array(o.length);
  writeUdpFrame(f, 0, o);
  return f;
}
