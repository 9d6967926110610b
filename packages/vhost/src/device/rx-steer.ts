import type { NetDevice } from "./net-device.js";
import { DELIVERED, FATAL, MISSED, NO_FIT, countRx, receiveOne } from "./rx-path.js";
import type { Wire } from "../wires/wire.js";

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
 * The device must pick the queue before it takes buffers and before the wire
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

/** The optional peek of a wire (see Wire.peek). */
type PeekFn = (u8: Uint8Array, addr: number, max: number) => number;

/**
 * processRx for several steered RX queues (dev.rxSteerCount > 1): up to
 * `burst` due frames, each to the queue its flow hashes to. The same rules
 * as processRx, per queue: a frame that finds no buffer on its queue is
 * missed and so is every later frame steered to that queue this pass (other
 * queues keep receiving); a lossless wire stops at that frame instead (it
 * stays due: frames leave the wire in order). At most one Atomics.load of
 * avail.idx per queue per pass, one Atomics.store of used.idx per queue that
 * received. Hot path: nothing allocated.
 */
export function processRxSteered(dev: NetDevice): number {
  const wire: Wire & { peek?: PeekFn } = dev.wire;
  let due = wire.ready();
  if (due === 0) return 0;
  if (due > dev.burst) due = dev.burst;
  if (dev.onDemand) {
    // A file source waits for the application to transmit what it has out (demand.ts).
    const room = dev.demand.window - dev.demand.out;
    if (room <= 0) return 0;
    if (due > room) due = room;
  }
  const queues = dev.queues;
  const steer = dev.rxSteer;
  const nq = dev.rxSteerCount;
  for (let k = 0; k < nq; k++) {
    const q = queues[steer[k]!]!;
    q.rxLoaded = false;
    q.rxStarved = false;
  }
  const canPeek = typeof wire.peek === "function";
  const u8 = dev.u8;
  const peekAt = dev.rxScratch;
  const maxFrame = dev.rxMaxFrame;
  const lossless = wire.lossless;
  let delivered = 0;
  let bytes = 0;
  let missed = 0;
  let oversize = 0;
  let noFit = 0;
  let dropped = 0;
  for (let i = 0; i < due; i++) {
    const flen = wire.frameLength();
    if (flen > maxFrame) {
      wire.drop();
      oversize++;
      continue;
    }
    let h = canPeek ? flowHash(u8, peekAt, wire.peek!(u8, peekAt, PEEK_BYTES)) : -1;
    if (h < 0) {
      h = dev.rxSteerNext;
      dev.rxSteerNext = h + 1 < nq ? h + 1 : 0;
    }
    const q = queues[steer[h % nq]!]!;
    if (q.rxStarved) {
      if (lossless) {
        due = i;
        break;
      }
      wire.drop();
      missed++;
      continue;
    }
    const r = receiveOne(dev, q, flen);
    if (r === DELIVERED) {
      delivered++;
      bytes += flen;
      continue;
    }
    if (r === MISSED && lossless) {
      due = i;
      break;
    }
    wire.drop();
    if (r === MISSED) {
      missed++;
      q.rxStarved = true;
    } else if (r === NO_FIT) noFit++;
    else {
      dropped++;
      if (r === FATAL) {
        due = i + 1;
        break;
      }
    }
  }
  if (dev.active) {
    for (let k = 0; k < nq; k++) {
      const q = queues[steer[k]!]!;
      if (q.publish()) dev.interrupt(q);
    }
  }
  if (dev.onDemand && delivered !== 0) dev.demand.produced(delivered);
  countRx(dev, delivered, bytes, missed, oversize, noFit, dropped);
  return due;
}
