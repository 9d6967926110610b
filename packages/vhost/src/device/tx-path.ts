import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import type { PathDevice } from "./path-device.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";
import { type DeviceQueue } from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const {
  S_ERR_AVAIL_IDX, S_ERR_CHAIN_LENGTH, S_ERR_HEAD_INDEX, S_ERR_TX_OVERSIZE, S_ERR_TX_SHORT, S_TX_BYTES,
  S_TX_DROPPED, S_TX_GATHERED, S_TX_PACKETS,
} = S;
const { MAX_FRAME } = L;
const { ETH_HDR_LEN } = V;

/**
 * Transmit queue (driver -> device, queue 2k+1), virtio 1.2 §5.1.6.2.
 *
 * Takes up to `burst` chains the driver made available, validates each, strips
 * the virtio-net header (10 or 12 bytes; it may straddle descriptors), and
 * hands the frame to the wire contiguous: in place when it sits in one
 * descriptor, else gathered into this queue's scratch area. Every chain is
 * returned used with len 0 (the device writes nothing into TX buffers),
 * malformed ones included; under IN_ORDER one used entry covers the batch.
 * One Atomics.load of avail.idx, one Atomics.store of used.idx per call.
 * Returns the number of chains taken.
 */
export function processTx(dev: PathDevice, q: DeviceQueue, scratch: number): number {
  const avail = q.pollAvail();
  if (avail <= 0) {
    if (avail < 0) dev.needsReset(S_ERR_AVAIL_IDX);
    return 0;
  }
  const n = avail < dev.burst ? avail : dev.burst;
  const c = dev.chain;
  const u8 = dev.u8;
  const wire = dev.wire;
  const hdr = dev.hdrSize;
  const inOrder = dev.inOrder;
  const linkUp = dev.link.up;
  const addr = c.addr;
  const len = c.len;
  let packets = 0;
  let bytes = 0;
  let dropped = 0;
  let gathered = 0;
  let lastHead = 0;
  let taken = 0;
  const minLen = hdr + ETH_HDR_LEN;
  const maxLen = hdr + MAX_FRAME;
  const batch = dev.txBatch;
  const ids = batch.id;
  const addrs = batch.addr;
  const lens = batch.len;
  while (taken < n) {
    if (linkUp) {
      // Fast path (tx-batch.ts): the run of chains that are one readable descriptor each.
      const m = q.takeSimple(n - taken, hdr, minLen, maxLen, batch);
      if (m !== 0) {
        // The frames' first lines, which the driver's CPU just wrote, in a loop of their
        // own: their misses overlap instead of the wire waiting for each in turn.
        let touch = 0;
        for (let k = 0; k < m; k++) touch |= u8[addrs[k]!]!;
        dev.touched = touch;
        for (let k = 0; k < m; k++) {
          const l = lens[k]!;
          wire.consume(u8, addrs[k]!, l);
          bytes += l;
          if (!inOrder) q.addUsed(ids[k]!, 0);
        }
        packets += m;
        taken += m;
        lastHead = ids[m - 1]!;
        if (taken === n) break;
      }
    }
    // Any other chain (or link down): walked and validated in full.
    const head = q.nextHead();
    c.n = 0;
    let err = q.walk(head, c);
    if (err === S_ERR_HEAD_INDEX) {
      // No used entry can name a head that is not in the table: the ring is broken (§2.7).
      dev.needsReset(err);
      break;
    }
    taken++;
    if (err === 0) {
      const rb = c.readBytes;
      if (rb < hdr + ETH_HDR_LEN) err = S_ERR_TX_SHORT;
      else if (rb - hdr > MAX_FRAME) err = S_ERR_TX_OVERSIZE;
    } else if (err === WALK_FULL) err = S_ERR_CHAIN_LENGTH;
    if (err !== 0) {
      dev.count(err);
      dropped++;
    } else if (!linkUp) {
      dropped++;
    } else {
      const flen = c.readBytes - hdr;
      // Skip the header, which may span several descriptors (ANY_LAYOUT).
      let s = 0;
      let skip = hdr;
      while (skip >= len[s]!) {
        skip -= len[s]!;
        s++;
      }
      const a = addr[s]! + skip;
      const rem = len[s]! - skip;
      if (rem >= flen) {
        wire.consume(u8, a, flen);
      } else {
        u8.copyWithin(scratch, a, a + rem);
        let dst = scratch + rem;
        let left = flen - rem;
        while (left > 0) {
          s++;
          const l = len[s]! < left ? len[s]! : left;
          u8.copyWithin(dst, addr[s]!, addr[s]! + l);
          dst += l;
          left -= l;
        }
        wire.consume(u8, scratch, flen);
        gathered++;
      }
      packets++;
      bytes += flen;
    }
    if (inOrder) lastHead = head;
    else q.addUsed(head, 0);
  }
  if (dev.active) {
    if (inOrder) q.addUsedInOrder(lastHead, taken, 0);
    if (q.publish()) dev.interrupt(q);
  }
  const f64 = dev.f64;
  const sb = dev.sb;
  f64[sb + S_TX_PACKETS] += packets;
  f64[sb + S_TX_BYTES] += bytes;
  if (dropped !== 0) f64[sb + S_TX_DROPPED] += dropped;
  if (gathered !== 0) f64[sb + S_TX_GATHERED] += gathered;
  return n;
}
