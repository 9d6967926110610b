import type { PathDevice } from "./path-device.js";
import { addRxBuffer, checkRxBuffer } from "./rx-buffers.js";
import * as F from "./rx-frame.js";
import { fillBuffers, writeHeader } from "./rx-frame.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";
import type { DeviceQueue } from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const { S_ERR_AVAIL_IDX, S_ERR_HEAD_INDEX } = S;
const { DELIVERED, MISSED, NO_FIT, DROPPED, FATAL } = F;

/**
 * Place one frame of `flen` bytes into a split receive queue (virtio 1.2
 * §2.7, §5.1.6.4) for the RX loop (rx-path.ts); returns DELIVERED, MISSED,
 * NO_FIT, DROPPED or FATAL (rx-frame.ts). The commonest shape, one writable
 * descriptor holding header and frame (what virtio-pmd posts), is placed
 * right here; anything else goes to receiveChain. Kept small so that the RX
 * loop inlines it and the common frame costs no call.
 */
export function receiveSplit(dev: PathDevice, q: DeviceQueue, flen: number): number {
  const hdr = dev.hdrSize;
  const total = hdr + flen;
  if (q.lastAvail !== q.availCached) {
    const head = q.peekHead();
    if (q.simpleBuffer(head, true) && q.simpleLen >= total) {
      q.lastAvail = (q.lastAvail + 1) & 0xffff;
      const a = q.simpleAddr;
      const u8 = dev.u8;
      writeHeader(u8, dev.u32, a, hdr, 1);
      dev.wire.produce(u8, a + hdr);
      q.addUsed(head, total);
      return DELIVERED;
    }
  }
  return receiveChain(dev, q, flen);
}

/**
 * receiveSplit for any other shape. Gathers buffers first (validating each;
 * a malformed chain met before the frame's first buffer is returned used
 * with len 0 on its own; met after it, the frame is dropped and every chain
 * taken for it is returned with len 0, in order), then has the wire produce
 * the frame into them (fillBuffers). avail.idx is loaded at most once per
 * queue per RX pass (q.rxLoaded, reset by the loop).
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
    const err = checkRxBuffer(c, q.walk(head, c), segStart, mrg, hdr);
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
    addRxBuffer(b, nb, head, pos, segStart, c.n);
    nb++;
    cap += c.writeBytes;
    if (!mrg) break;
  }
  if (cap < total) {
    // Give the buffers back untouched (they stay available) and drop the frame.
    if (nb > 0) q.lastAvail = b.pos[0]!;
    return nb > 0 && !mrg ? NO_FIT : MISSED;
  }
  fillBuffers(dev, nb, total);
  for (let k = 0; k < nb; k++) q.addUsed(b.head[k]!, b.len[k]!);
  return DELIVERED;
}
