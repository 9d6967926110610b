import type { PathDevice } from "./path-device.js";
import * as P from "./packed-virtqueue.js";
import type { PackedDeviceQueue } from "./packed-virtqueue.js";
import { addRxBuffer, checkRxBuffer } from "./rx-buffers.js";
import * as F from "./rx-frame.js";
import { fillBuffers, writeHeader } from "./rx-frame.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const { PWALK_BROKEN } = P;
const { S_ERR_CHAIN_LENGTH } = S;
const { DELIVERED, MISSED, NO_FIT, DROPPED, FATAL } = F;

/**
 * Place one frame of `flen` bytes into a packed receive queue (virtio 1.2
 * §2.8, §5.1.6.4) for the RX loop (rx-path.ts); the same outcomes as on a
 * split ring (rx-split.ts): the commonest buffer (one writable descriptor
 * holding header and frame) right here, anything else gathered list by
 * list (MRG_RXBUF: as many as needed, num_buffers in the header). A
 * malformed list met before the frame's first buffer is returned used with
 * len 0 on its own; met after it, the frame is dropped and every list taken
 * for it is returned with len 0. Lists that turn out too few are left
 * available (the position put back to the first good one's, as on a split
 * ring: malformed lists before it were returned used). A list that cannot be followed
 * (PWALK_BROKEN) is FATAL. One Atomics.load of flags per list (isAvail).
 */
export function receivePacked(dev: PathDevice, q: PackedDeviceQueue, flen: number): number {
  const hdr = dev.hdrSize;
  const total = hdr + flen;
  if (!q.isAvail()) return MISSED;
  if (q.simpleBuffer(true) && q.simpleLen >= total) {
    const a = q.simpleAddr;
    const u8 = dev.u8;
    writeHeader(u8, dev.u32, a, hdr, 1);
    dev.wire.produce(u8, a + hdr);
    q.take(1);
    q.addUsed(q.chainId, total, 1);
    return DELIVERED;
  }
  const mrg = dev.mrg;
  const c = dev.chain;
  const b = dev.rxBufs;
  // Where the frame's first good list starts: too few buffers puts the position back there.
  let pos0 = 0;
  let wrap0 = 0;
  c.n = 0;
  let nb = 0;
  let cap = 0;
  let lists = 0;
  while (cap < total) {
    // Each list takes at least one descriptor: at most a ring's worth per frame, whatever the driver re-posts.
    if (++lists > q.size) break;
    if (nb !== 0 && !q.isAvail()) break;
    if (nb === 0) {
      pos0 = q.availPos;
      wrap0 = q.availWrap;
    }
    const segStart = c.n;
    const walked = q.walk(c);
    if (walked === PWALK_BROKEN) {
      dev.needsReset(S_ERR_CHAIN_LENGTH);
      return FATAL;
    }
    const err = checkRxBuffer(c, walked, segStart, mrg, hdr);
    if (err === WALK_FULL) {
      // The segment list is full, not the buffer's fault: leave it for the next frame.
      c.n = segStart;
      break;
    }
    const id = q.chainId;
    const descs = q.chainDescs;
    q.take(descs);
    if (err !== 0) {
      dev.count(err);
      if (nb === 0) {
        q.addUsed(id, 0, descs);
        if (!q.isAvail()) return MISSED;
        continue;
      }
      for (let k = 0; k < nb; k++) q.addUsed(b.head[k]!, 0, b.pos[k]!);
      q.addUsed(id, 0, descs);
      return DROPPED;
    }
    addRxBuffer(b, nb, id, descs, segStart, c.n);
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
  fillBuffers(dev, nb, total);
  for (let k = 0; k < nb; k++) q.addUsed(b.head[k]!, b.len[k]!, b.pos[k]!);
  return DELIVERED;
}
