import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import * as P from "./packed-virtqueue.js";
import type { PathDevice } from "./path-device.js";
import type { PackedDeviceQueue } from "./packed-virtqueue.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const { PWALK_BROKEN } = P;
const {
  S_ERR_CHAIN_LENGTH, S_ERR_TX_OVERSIZE, S_ERR_TX_SHORT, S_TX_BYTES, S_TX_DROPPED, S_TX_GATHERED,
  S_TX_PACKETS,
} = S;
const { MAX_FRAME } = L;
const { ETH_HDR_LEN } = V;

/**
 * processTx (tx-path.ts) for a packed ring (virtio 1.2 §2.8, §5.1.6.2): up
 * to `burst` lists the driver made available, each validated, the header
 * stripped, the frame handed to the wire (in place, or gathered into
 * `scratch`). Every list is returned used with len 0, malformed ones
 * included; under IN_ORDER one used descriptor (the last id) covers the
 * batch (§2.8.8). One Atomics.load of a descriptor's flags per list, one
 * Atomics.store of used flags per call. Returns the lists taken.
 */
export function processTxPacked(dev: PathDevice, q: PackedDeviceQueue, scratch: number): number {
  const n = dev.burst;
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
  let lastId = 0;
  let batch = 0;
  let taken = 0;
  const minLen = hdr + ETH_HDR_LEN;
  const maxLen = hdr + MAX_FRAME;
  const tb = dev.txBatch;
  const ids = tb.id;
  const addrs = tb.addr;
  const lens = tb.len;
  const size = q.size;
  while (taken < n) {
    if (linkUp) {
      // Fast path (tx-batch.ts): the run of lists that are one readable descriptor each.
      const m = q.takeSimple(n - taken, hdr, minLen, maxLen, tb);
      if (m !== 0) {
        // The frames' first lines (the driver's CPU just wrote them), in a loop of their own.
        let touch = 0;
        for (let k = 0; k < m; k++) touch |= u8[addrs[k]!]!;
        dev.touched = touch;
        for (let k = 0; k < m; k++) {
          const l = lens[k]!;
          wire.consume(u8, addrs[k]!, l);
          bytes += l;
          if (inOrder) {
            if (batch === size) {
              q.addUsed(lastId, 0, batch);
              batch = 0;
            }
            lastId = ids[k]!;
            batch++;
          } else q.addUsed(ids[k]!, 0, 1);
        }
        packets += m;
        taken += m;
        if (taken === n) break;
      }
    }
    if (!q.isAvail()) break;
    c.n = 0;
    let err = q.walk(c);
    if (err === PWALK_BROKEN) {
      // The list cannot be followed: where the next one starts is unknown (§2.8.6).
      dev.needsReset(S_ERR_CHAIN_LENGTH);
      break;
    }
    const descs = q.chainDescs;
    const id = q.chainId;
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
    q.take(descs);
    taken++;
    if (inOrder) {
      // One used descriptor may cover at most the ring (a driver re-posting behind us could make a pass longer).
      if (batch + descs > q.size) {
        q.addUsed(lastId, 0, batch);
        batch = 0;
      }
      lastId = id;
      batch += descs;
    } else q.addUsed(id, 0, descs);
  }
  if (dev.active) {
    if (inOrder && batch !== 0) q.addUsed(lastId, 0, batch);
    if (q.publish()) dev.interrupt(q.regs);
  }
  const f64 = dev.f64;
  const sb = dev.sb;
  f64[sb + S_TX_PACKETS] += packets;
  f64[sb + S_TX_BYTES] += bytes;
  if (dropped !== 0) f64[sb + S_TX_DROPPED] += dropped;
  if (gathered !== 0) f64[sb + S_TX_GATHERED] += gathered;
  return taken;
}
