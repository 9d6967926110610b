/**
 * Automatic receive steering in multiqueue mode (virtio 1.2 §5.1.6.5.5):
 * once the driver enabled n > 1 queue pairs with VQ_PAIRS_SET, each frame
 * goes to one of the first n receive queues chosen by its flow, so that one
 * flow always lands on one queue (and so stays in order for the lcore that
 * polls it).
 *
 *   flow = IPv4 source and destination address, UDP source and destination
 *          port (an Ethernet frame, optionally one 802.1Q tag, IPv4 with a
 *          header of at most 44 bytes of options, protocol 17, not a fragment)
 *   queue = steer[hash(flow) % n]
 *
 * Anything else (ARP, IPv6, TCP, fragments, wires that cannot show a frame
 * before it is taken) is spread round-robin, frame by frame. The spec asks
 * for "steering by flow" and allows "a random queue" where no flow is known;
 * it also suggests following the queue the driver transmitted a flow on,
 * which this device does not track (a hash is stateless, and a forwarding
 * app's flows come from the wire, not from its TX).
 *
 * The RX loop (rx-path.ts processRx) picks the queue before it takes buffers and before the wire
 * writes the frame, so it asks the wire for the frame's first PEEK_BYTES
 * (Wire.peek, optional) into the RX scratch area and hashes those.
 */

/** Bytes of a frame the hash looks at: Ethernet (+ one VLAN tag) + IPv4 (<= 44 bytes of options) + the ports. */
export const PEEK_BYTES = 64;

const ETH_P_IPV4 = 0x0800;
const ETH_P_8021Q = 0x8100;
const IPPROTO_UDP = 17;

/**
 * The flow hash of the frame at u8[a .. a + len): a non-negative int31, or
 * -1 when it is not an unfragmented IPv4/UDP frame whose ports lie within
 * `len`. Pure and allocation-free.
 */
export function flowHash(u8: Uint8Array, a: number, len: number): number {
  const end = a + len;
  let l3 = a + 14;
  if (l3 > end) return -1;
  let type = (u8[a + 12]! << 8) | u8[a + 13]!;
  if (type === ETH_P_8021Q) {
    l3 += 4;
    if (l3 > end) return -1;
    type = (u8[a + 16]! << 8) | u8[a + 17]!;
  }
  if (type !== ETH_P_IPV4 || l3 + 20 > end) return -1;
  const vihl = u8[l3]!;
  const ihl = (vihl & 15) << 2;
  if (vihl >>> 4 !== 4 || ihl < 20 || u8[l3 + 9] !== IPPROTO_UDP) return -1;
  // More-fragments flag or a fragment offset: later fragments carry no ports.
  if (((u8[l3 + 6]! & 0x3f) | u8[l3 + 7]!) !== 0) return -1;
  const l4 = l3 + ihl;
  if (l4 + 4 > end) return -1;
  const src = (u8[l3 + 12]! << 24) | (u8[l3 + 13]! << 16) | (u8[l3 + 14]! << 8) | u8[l3 + 15]!;
  const dst = (u8[l3 + 16]! << 24) | (u8[l3 + 17]! << 16) | (u8[l3 + 18]! << 8) | u8[l3 + 19]!;
  const ports = (u8[l4]! << 24) | (u8[l4 + 1]! << 16) | (u8[l4 + 2]! << 8) | u8[l4 + 3]!;
  // Multiply-xorshift mixing (int32 throughout: no heap numbers); any bit of the flow moves the result.
  let h = src ^ Math.imul(dst, 0x9e3779b1) ^ Math.imul(ports, 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}
