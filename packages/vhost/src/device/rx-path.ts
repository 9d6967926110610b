import type { Wire } from "../wires/wire.js";
import type { PathDevice } from "./path-device.js";
import { PEEK_BYTES, flowHash } from "./rx-steer.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";
import { type DeviceQueue } from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const {
  S_ERR_AVAIL_IDX, S_ERR_HEAD_INDEX, S_ERR_RX_BUFFER_SMALL, S_ERR_RX_READABLE, S_RX_BYTES, S_RX_DROPPED,
  S_RX_MISSED, S_RX_NO_FIT, S_RX_OVERSIZE, S_RX_PACKETS,
} = S;

// receiveOne() results.
const DELIVERED = 0;
const MISSED = 1;
const NO_FIT = 2;
const DROPPED = 3;
const FATAL = 4;

/** The optional peek of a wire (see Wire.peek). */
type PeekFn = (u8: Uint8Array, addr: number, max: number) => number;

/**
 * The receive path (device -> driver, queues 2k), virtio 1.2 §5.1.6.3/§5.1.6.4:
 * the one RX loop, for one receive queue or several.
 *
 * Takes up to `burst` frames the wire has due and writes each, after a
 * virtio-net header, into buffers the driver posted on its receive queue:
 * one buffer (chain) without MRG_RXBUF, as many as needed with it
 * (num_buffers says how many). With several queues enabled (multiqueue,
 * dev.steering.count > 1) each frame goes to the queue its flow hashes to
 * (rx-steer.ts); with one, to that queue.
 *
 * A frame longer than the negotiated maximum is dropped (rxOversize). A
 * frame that finds no buffer on its queue is dropped and counted missed
 * (wire.drop()), as is every later frame for that queue this pass (other
 * queues keep receiving); the wire never waits, unless it is lossless (file
 * replay), whose frames stay due until buffers are posted (it stops at that
 * frame: frames leave the wire in order). An on-demand source (file replay)
 * also produces no more than its thread's back-pressure window allows
 * (demand.ts). Without MRG_RXBUF a frame larger than the buffer is dropped
 * (rxNoFit) and the buffer kept for the next one. No queue enabled: every
 * due frame is missed (a lossless wire keeps them).
 *
 * At most one Atomics.load of avail.idx per queue per pass and one
 * Atomics.store of used.idx per queue that received. Hot path: nothing allocated.
 */
export function processRx(dev: PathDevice): number {
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
  const lossless = wire.lossless;
  const steering = dev.steering;
  const nq = steering.count;
  if (nq === 0) {
    if (lossless) return 0;
    for (let i = 0; i < due; i++) {
      wire.frameLength();
      wire.drop();
    }
    countRx(dev, 0, 0, due, 0, 0, 0);
    return due;
  }
  const queues = dev.queues;
  const steer = steering.set;
  for (let k = 0; k < nq; k++) {
    const q = queues[steer[k]!]!;
    q.rxLoaded = false;
    q.rxStarved = false;
  }
  // Steered only with several queues, and by flow only when the wire can show a frame before it is taken.
  const single = nq === 1 ? queues[steer[0]!]! : null;
  const canPeek = typeof wire.peek === "function";
  const u8 = dev.u8;
  const peekAt = dev.rxScratch;
  const maxFrame = dev.rxMaxFrame;
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
    let q = single;
    if (q === null) {
      let h = canPeek ? flowHash(u8, peekAt, wire.peek!(u8, peekAt, PEEK_BYTES)) : -1;
      if (h < 0) h = steering.nextRoundRobin();
      q = queues[steer[h % nq]!]!;
    }
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
      // The frame stays due until the driver posts a buffer.
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
        // The ring is broken (DEVICE_NEEDS_RESET): nothing more is published; the rest stay due.
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

/** Add one RX pass's counts to the device's stats block (once per burst). */
function countRx(
  dev: PathDevice, delivered: number, bytes: number, missed: number, oversize: number, noFit: number, dropped: number,
): void {
  const f64 = dev.f64;
  const sb = dev.sb;
  f64[sb + S_RX_PACKETS] += delivered;
  f64[sb + S_RX_BYTES] += bytes;
  if (missed !== 0) f64[sb + S_RX_MISSED] += missed;
  if (oversize !== 0) f64[sb + S_RX_OVERSIZE] += oversize;
  if (noFit !== 0) f64[sb + S_RX_NO_FIT] += noFit;
  if (dropped !== 0) f64[sb + S_RX_DROPPED] += dropped;
}

/**
 * Place one frame of `flen` bytes; returns DELIVERED, MISSED, NO_FIT,
 * DROPPED or FATAL. The commonest shape, one writable descriptor holding
 * header and frame (what virtio-pmd posts), is placed right here; anything
 * else goes to receiveChain. Kept small so that the RX loops inline it and
 * the common frame costs no call.
 */
function receiveOne(dev: PathDevice, q: DeviceQueue, flen: number): number {
  const hdr = dev.hdrSize;
  const total = hdr + flen;
  if (q.lastAvail !== q.availCached) {
    const head = q.peekHead();
    if (q.simpleBuffer(head, true) && q.simpleLen >= total) {
      q.lastAvail = (q.lastAvail + 1) & 0xffff;
      const a = q.simpleAddr;
      const u8 = dev.u8;
      writeHeader(u8, a, hdr, 1);
      dev.wire.produce(u8, a + hdr);
      q.addUsed(head, total);
      return DELIVERED;
    }
  }
  return receiveChain(dev, q, flen);
}

/**
 * receiveOne for any other shape. Gathers buffers first (validating each;
 * a malformed chain met before the frame's first buffer is returned used
 * with len 0 on its own; met after it, the frame is dropped and every chain
 * taken for it is returned with len 0, in order), then has the wire produce
 * the frame: straight into the buffer when header and frame fit its first
 * descriptor, else into the RX scratch area and scattered from there.
 */
function receiveChain(dev: PathDevice, q: DeviceQueue, flen: number): number {
  const hdr = dev.hdrSize;
  const total = hdr + flen;
  const mrg = dev.mrg;
  const c = dev.chain;
  const b = dev.rxBufs;
  c.n = 0;
  let nb = 0;
  let cap = 0;
  while (cap < total) {
    if (q.lastAvail === q.availCached) {
      if (q.rxLoaded) break;
      q.rxLoaded = true;
      const n = q.pollAvail();
      if (n < 0) {
        dev.needsReset(S_ERR_AVAIL_IDX);
        return FATAL;
      }
      if (n === 0) break;
    }
    const pos = q.lastAvail;
    const head = q.nextHead();
    const segStart = c.n;
    let err = q.walk(head, c);
    if (err === 0) {
      if (c.nRead !== 0) err = S_ERR_RX_READABLE;
      else if (mrg && c.writeBytes < hdr) err = S_ERR_RX_BUFFER_SMALL;
      if (err !== 0) c.n = segStart;
    }
    if (err !== 0) {
      if (err === S_ERR_HEAD_INDEX) {
        dev.needsReset(err);
        return FATAL;
      }
      if (err === WALK_FULL) {
        // Not this chain's fault: the segment list is full. Leave it for the next frame.
        q.lastAvail = pos;
        break;
      }
      dev.count(err);
      if (nb === 0) {
        q.addUsed(head, 0);
        continue;
      }
      for (let k = 0; k < nb; k++) q.addUsed(b.head[k]!, 0);
      q.addUsed(head, 0);
      return DROPPED;
    }
    b.head[nb] = head;
    b.pos[nb] = pos;
    b.segStart[nb] = segStart;
    b.segEnd[nb] = c.n;
    nb++;
    cap += c.writeBytes;
    if (!mrg) break;
  }
  if (cap < total) {
    // Give the buffers back untouched (they stay available) and drop the frame.
    if (nb > 0) q.lastAvail = b.pos[0]!;
    return nb > 0 && !mrg ? NO_FIT : MISSED;
  }
  const u8 = dev.u8;
  const wire = dev.wire;
  const s0 = b.segStart[0]!;
  if (c.len[s0]! >= total) {
    // One descriptor holds header and frame (the common case): no copy.
    const a = c.addr[s0]!;
    writeHeader(u8, a, hdr, 1);
    wire.produce(u8, a + hdr);
    q.addUsed(b.head[0]!, total);
    return DELIVERED;
  }
  const src = dev.rxScratch;
  writeHeader(u8, src, hdr, nb);
  wire.produce(u8, src + hdr);
  let off = 0;
  for (let k = 0; k < nb; k++) {
    let written = 0;
    const end = b.segEnd[k]!;
    for (let s = b.segStart[k]!; s < end && off < total; s++) {
      const room = c.len[s]!;
      const l = room < total - off ? room : total - off;
      u8.copyWithin(c.addr[s]!, src + off, src + off + l);
      off += l;
      written += l;
    }
    q.addUsed(b.head[k]!, written);
  }
  return DELIVERED;
}

/**
 * virtio_net_hdr for a received frame (§5.1.6.4): no checksum or GSO offload
 * is negotiable here, so everything is 0 except num_buffers (12-byte header
 * only): the buffers used with MRG_RXBUF, 1 without. Byte stores: a fill()
 * call on shared memory costs ~25 ns for these 10-12 bytes, the stores ~3.
 */
function writeHeader(u8: Uint8Array, a: number, hdr: number, numBuffers: number): void {
  u8[a] = 0; // flags
  u8[a + 1] = 0; // gso_type
  u8[a + 2] = 0; // hdr_len
  u8[a + 3] = 0;
  u8[a + 4] = 0; // gso_size
  u8[a + 5] = 0;
  u8[a + 6] = 0; // csum_start
  u8[a + 7] = 0;
  u8[a + 8] = 0; // csum_offset
  u8[a + 9] = 0;
  if (hdr === 12) {
    u8[a + 10] = numBuffers & 0xff; // num_buffers, little-endian (VERSION_1)
    u8[a + 11] = numBuffers >>> 8;
  }
}
