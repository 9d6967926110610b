import type { NetDevice } from "./net-device.js";
import * as P from "./packed-virtqueue.js";
import type { PackedDeviceQueue } from "./packed-virtqueue.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const { PWALK_BROKEN } = P;
const {
  S_ERR_CHAIN_LENGTH, S_ERR_RX_BUFFER_SMALL, S_ERR_RX_READABLE, S_RX_BYTES, S_RX_DROPPED, S_RX_MISSED,
  S_RX_NO_FIT, S_RX_OVERSIZE, S_RX_PACKETS,
} = S;

// receivePacked() results (the split path's, rx-path.ts).
export const DELIVERED = 0;
export const MISSED = 1;
export const NO_FIT = 2;
export const DROPPED = 3;
export const FATAL = 4;

/**
 * processRx (rx-path.ts) for a packed ring (virtio 1.2 §2.8, §5.1.6.4):
 * the wire's due frames, up to `burst`, into buffers the driver posted on
 * the first steered receive queue (with several, packed-rx-steer-path.ts
 * steers them). Same outcomes as the split path: missed (no buffer; a lossless
 * wire keeps the frame due), no-fit, dropped (a malformed buffer interrupted
 * the frame), fatal (the ring cannot be followed). One Atomics.load of
 * flags per buffer, one Atomics.store of used flags per call.
 */
export function processRxPacked(dev: NetDevice): number {
  const wire = dev.wire;
  let due = wire.ready();
  if (due === 0) return 0;
  if (due > dev.burst) due = dev.burst;
  if (dev.onDemand) {
    const room = dev.demand.window - dev.demand.out;
    if (room <= 0) return 0;
    if (due > room) due = room;
  }
  const q = dev.steering.count !== 0 ? dev.pqueues[dev.steering.set[0]!]! : null;
  const maxFrame = dev.rxMaxFrame;
  let delivered = 0;
  let bytes = 0;
  let missed = 0;
  let oversize = 0;
  let noFit = 0;
  let dropped = 0;
  let starved = q === null;
  if (starved && wire.lossless) return 0;
  for (let i = 0; i < due; i++) {
    const flen = wire.frameLength();
    if (starved) {
      wire.drop();
      missed++;
      continue;
    }
    if (flen > maxFrame) {
      wire.drop();
      oversize++;
      continue;
    }
    const r = receivePacked(dev, q!, flen);
    if (r === DELIVERED) {
      delivered++;
      bytes += flen;
      continue;
    }
    if (r === MISSED && wire.lossless) {
      due = i;
      break;
    }
    wire.drop();
    if (r === MISSED) {
      missed++;
      starved = true;
    } else if (r === NO_FIT) noFit++;
    else {
      dropped++;
      if (r === FATAL) {
        due = i + 1;
        break;
      }
    }
  }
  if (q !== null && dev.active && q.publish()) dev.interrupt(q.regs);
  if (dev.onDemand && delivered !== 0) dev.demand.produced(delivered);
  countRx(dev, delivered, bytes, missed, oversize, noFit, dropped);
  return due;
}

/**
 * Place one frame: the commonest buffer (one writable descriptor holding
 * header and frame) right here, anything else gathered buffer by buffer
 * (MRG_RXBUF: as many as needed, num_buffers in the header). Buffers that
 * turn out too few are left available (position restored).
 */
export function receivePacked(dev: NetDevice, q: PackedDeviceQueue, flen: number): number {
  const hdr = dev.hdrSize;
  const total = hdr + flen;
  const u8 = dev.u8;
  if (!q.isAvail()) return MISSED;
  if (q.simpleBuffer(true) && q.simpleLen >= total) {
    const a = q.simpleAddr;
    writeHeader(u8, a, hdr, 1);
    dev.wire.produce(u8, a + hdr);
    q.take(1);
    q.addUsed(q.chainId, total, 1);
    return DELIVERED;
  }
  const mrg = dev.mrg;
  const c = dev.chain;
  const b = dev.rxBufs;
  const pos0 = q.availPos;
  const wrap0 = q.availWrap;
  c.n = 0;
  let nb = 0;
  let cap = 0;
  let lists = 0;
  while (cap < total) {
    // Each list takes at least one descriptor: at most a ring's worth per frame, whatever the driver re-posts.
    if (++lists > q.size) break;
    if (nb !== 0 && !q.isAvail()) break;
    const segStart = c.n;
    let err = q.walk(c);
    if (err === PWALK_BROKEN) {
      dev.needsReset(S_ERR_CHAIN_LENGTH);
      return FATAL;
    }
    if (err === 0) {
      if (c.nRead !== 0) err = S_ERR_RX_READABLE;
      else if (mrg && c.writeBytes < hdr) err = S_ERR_RX_BUFFER_SMALL;
      if (err !== 0) c.n = segStart;
    }
    if (err === WALK_FULL) {
      // The segment list is full, not the buffer's fault: leave it for the next frame.
      c.n = segStart;
      break;
    }
    const id = q.chainId;
    const descs = q.chainDescs;
    if (err !== 0) {
      dev.count(err);
      q.take(descs);
      if (nb === 0) {
        q.addUsed(id, 0, descs);
        if (!q.isAvail()) return MISSED;
        continue;
      }
      for (let k = 0; k < nb; k++) q.addUsed(b.head[k]!, 0, b.pos[k]!);
      q.addUsed(id, 0, descs);
      return DROPPED;
    }
    q.take(descs);
    b.head[nb] = id;
    b.pos[nb] = descs;
    b.segStart[nb] = segStart;
    b.segEnd[nb] = c.n;
    nb++;
    cap += c.writeBytes;
    if (!mrg) break;
  }
  if (cap < total) {
    // Give the buffers back untouched (they stay available) and drop the frame.
    if (nb > 0) {
      q.availPos = pos0;
      q.availWrap = wrap0;
    }
    return nb > 0 && !mrg ? NO_FIT : MISSED;
  }
  const wire = dev.wire;
  const s0 = b.segStart[0]!;
  if (c.len[s0]! >= total) {
    const a = c.addr[s0]!;
    writeHeader(u8, a, hdr, 1);
    wire.produce(u8, a + hdr);
    q.addUsed(b.head[0]!, total, b.pos[0]!);
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
    q.addUsed(b.head[k]!, written, b.pos[k]!);
  }
  return DELIVERED;
}

/** Add one RX pass's counts to the device's stats block (once per burst), as the split path does. */
export function countRx(
  dev: NetDevice, delivered: number, bytes: number, missed: number, oversize: number, noFit: number, dropped: number,
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

/** virtio_net_hdr (§5.1.6.4): zero but num_buffers (12-byte header only). */
function writeHeader(u8: Uint8Array, a: number, hdr: number, numBuffers: number): void {
  for (let i = 0; i < 10; i++) u8[a + i] = 0;
  if (hdr === 12) {
    u8[a + 10] = numBuffers & 0xff;
    u8[a + 11] = numBuffers >>> 8;
  }
}
