import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import * as P from "./packed-virtqueue.js";
import type { PathDevice } from "./path-device.js";
import * as S from "./stats.js";
import * as Q from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { WALK_FULL } = Q;
const { PWALK_BROKEN } = P;
const {
  S_ERR_AVAIL_IDX, S_ERR_CHAIN_LENGTH, S_ERR_HEAD_INDEX, S_ERR_TX_OVERSIZE, S_ERR_TX_SHORT, S_TX_BYTES,
  S_TX_DROPPED, S_TX_GATHERED, S_TX_PACKETS,
} = S;
const { MAX_FRAME } = L;
const { ETH_HDR_LEN } = V;

/**
 * The transmit path (driver -> device, queue 2k+1), virtio 1.2 §5.1.6.2: the
 * one TX loop, split or packed rings.
 *
 * Takes up to `burst` chains (lists, on a packed ring) the driver made
 * available, validates each, strips the virtio-net header (10 or 12 bytes; it
 * may straddle descriptors), and hands the frame to the wire contiguous: in
 * place when it sits in one descriptor, else gathered into this queue's
 * scratch area. Every chain is returned used with len 0 (the device writes
 * nothing into TX buffers), malformed ones included; under IN_ORDER one used
 * entry (split: in-order use of descriptors) or one used descriptor with the
 * last id (packed, §2.8.8) covers the batch.
 *
 * The commonest shape, one readable descriptor holding header and frame,
 * is taken a run at a time (the ring's takeSimple(): each descriptor read
 * and validated once into dev.txBatch, tx-batch.ts); the run's frames are
 * touched in a loop of their own, so the misses on the lines the driver's
 * CPU wrote overlap, then handed to the wire. Any other chain is walked and
 * validated in full (walk()), and the next run starts after it.
 *
 * The ring layout is the only difference, chosen by dev.packed once per
 * call: where chains are found (split: one Atomics.load of avail.idx per
 * call, then the avail ring; packed: one Atomics.load of each list's first
 * flags, in takeSimple() or isAvail()), what names a chain (head index or
 * buffer id) and how it is returned used. One Atomics.store of used.idx
 * (split) or of the first used descriptor's flags (packed) per call.
 * `qi` is the queue's index (its registers in dev.queues, its packed ring in
 * dev.pqueues). Returns the number of chains taken.
 */
export function processTx(dev: PathDevice, qi: number, scratch: number): number {
  const packed = dev.packed;
  const q = dev.queues[qi]!;
  const pq = dev.pqueues[qi]!;
  let n = dev.burst;
  if (!packed) {
    const avail = q.pollAvail();
    if (avail <= 0) {
      if (avail < 0) dev.needsReset(S_ERR_AVAIL_IDX);
      return 0;
    }
    if (avail < n) n = avail;
  }
  const c = dev.chain;
  const u8 = dev.u8;
  const wire = dev.wire;
  const hdr = dev.hdrSize;
  const inOrder = dev.inOrder;
  const linkUp = dev.link.up;
  const addr = c.addr;
  const len = c.len;
  const minLen = hdr + ETH_HDR_LEN;
  const maxLen = hdr + MAX_FRAME;
  const tb = dev.txBatch;
  const ids = tb.id;
  const addrs = tb.addr;
  const lens = tb.len;
  const size = packed ? pq.size : q.size;
  let packets = 0;
  let bytes = 0;
  let dropped = 0;
  let gathered = 0;
  let taken = 0;
  // IN_ORDER: the last id taken, and (packed) the ring positions its used descriptor will cover.
  let lastId = 0;
  let batch = 0;
  while (taken < n) {
    if (linkUp) {
      // Fast path: the run of chains that are one readable descriptor each.
      const m = packed ? pq.takeSimple(n - taken, hdr, minLen, maxLen, tb, 0) : q.takeSimple(n - taken, hdr, minLen, maxLen, tb, 0);
      if (m !== 0) {
        let touch = 0;
        for (let k = 0; k < m; k++) {
          touch |= u8[addrs[k]!]!;
          bytes += lens[k]!;
        }
        dev.touched = touch;
        // One call per run where the wire can take one (consumeRun), as the RX fast run's
        // produceRun: each JS call's pushes wait in the store buffer behind the pass's stores
        // (bench/notes/pipeline.md, "Session 21: pipeline").
        if (wire.consumeRun !== undefined) wire.consumeRun(u8, addrs, lens, m);
        else for (let k = 0; k < m; k++) wire.consume(u8, addrs[k]!, lens[k]!);
        if (packed) {
          for (let k = 0; k < m; k++) {
            if (!inOrder) pq.addUsed(ids[k]!, 0, 1);
            else {
              // One used descriptor covers at most the ring.
              if (batch === size) {
                pq.addUsed(lastId, 0, batch);
                batch = 0;
              }
              lastId = ids[k]!;
              batch++;
            }
          }
        } else if (!inOrder) {
          for (let k = 0; k < m; k++) q.addUsed(ids[k]!, 0);
        } else lastId = ids[m - 1]!;
        packets += m;
        taken += m;
        if (taken === n) break;
      }
    }
    // Any other chain (or the link down): walked and validated in full.
    let id = 0;
    let descs = 1;
    let err = 0;
    c.n = 0;
    if (packed) {
      if (!pq.isAvail()) break;
      err = pq.walk(c);
      if (err === PWALK_BROKEN) {
        // The list cannot be followed: where the next one starts is unknown (§2.8.6).
        dev.needsReset(S_ERR_CHAIN_LENGTH);
        break;
      }
      id = pq.chainId;
      descs = pq.chainDescs;
    } else {
      id = q.nextHead();
      err = q.walk(id, c);
      if (err === S_ERR_HEAD_INDEX) {
        // No used entry can name a head that is not in the table: the ring is broken (§2.7).
        dev.needsReset(err);
        break;
      }
    }
    if (err === 0) {
      const rb = c.readBytes;
      if (rb < minLen) err = S_ERR_TX_SHORT;
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
    taken++;
    if (packed) {
      pq.take(descs);
      if (!inOrder) pq.addUsed(id, 0, descs);
      else {
        // One used descriptor may cover at most the ring (a driver re-posting behind us could make a pass longer).
        if (batch + descs > size) {
          pq.addUsed(lastId, 0, batch);
          batch = 0;
        }
        lastId = id;
        batch += descs;
      }
    } else if (!inOrder) q.addUsed(id, 0);
    else lastId = id;
  }
  if (dev.active) {
    if (packed) {
      if (inOrder && batch !== 0) pq.addUsed(lastId, 0, batch);
      if (pq.publish()) dev.interrupt(q);
    } else {
      if (inOrder) q.addUsedInOrder(lastId, taken, 0);
      if (q.publish()) dev.interrupt(q);
    }
  }
  const f64 = dev.f64;
  const sb = dev.sb;
  f64[sb + S_TX_PACKETS] += packets;
  f64[sb + S_TX_BYTES] += bytes;
  if (dropped !== 0) f64[sb + S_TX_DROPPED] += dropped;
  if (gathered !== 0) f64[sb + S_TX_GATHERED] += gathered;
  return taken;
}
