import type { Wire } from "../wires/wire.js";
import type { PathDevice } from "./path-device.js";
import * as F from "./rx-frame.js";
import { receivePacked } from "./rx-packed.js";
import { receiveSplit } from "./rx-split.js";
import { writeHeaders } from "./rx-frame.js";
import { PEEK_BYTES, flowHash } from "./rx-steer.js";
import * as S from "./stats.js";
import * as V from "@tpdk/virtio";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { S_RX_BYTES, S_RX_DROPPED, S_RX_MISSED, S_RX_NO_FIT, S_RX_OVERSIZE, S_RX_PACKETS } = S;
const { DELIVERED, MISSED, NO_FIT, FATAL } = F;
const { VRING_DESC_F_WRITE: F_WRITE } = V;
/** No upper bound on an RX buffer's length in the fast take. */
const ANY_LEN = 0xffffffff;

/** The optional peek of a wire (see Wire.peek). */
type PeekFn = (u8: Uint8Array, addr: number, max: number) => number;

/**
 * The receive path (device -> driver, queues 2k), virtio 1.2 §5.1.6.3/§5.1.6.4:
 * the one RX loop, for one receive queue or several, split or packed rings.
 *
 * Takes up to `burst` frames the wire has due and writes each, after a
 * virtio-net header, into buffers the driver posted on its receive queue:
 * one buffer (chain) without MRG_RXBUF, as many as needed with it
 * (num_buffers says how many). With several queues enabled (multiqueue,
 * dev.steering.count > 1) each frame goes to the queue its flow hashes to
 * (rx-steer.ts); with one, to that queue. The ring layout is the only
 * difference between split and packed rings: placing one frame is
 * receiveSplit (rx-split.ts) or receivePacked (rx-packed.ts), chosen by
 * dev.packed (a flag read once per pass; the queue's registers and per-pass
 * RX flags are in the split DeviceQueue either way, the packed ring in
 * dev.pqueues at the same index).
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
 * Split rings: at most one Atomics.load of avail.idx per queue per pass and
 * one Atomics.store of used.idx per queue that received. Packed rings: one
 * Atomics.load of a descriptor's flags per buffer, one Atomics.store of used
 * flags per queue that received. Hot path: nothing allocated.
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
  const packed = dev.packed;
  const pqueues = dev.pqueues;
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
  let i = 0;
  // The next frame's length: the fast path's buffers must hold at least it.
  const flen0 = single !== null ? wire.frameLength() : 0;
  if (single !== null && flen0 <= maxFrame) {
    // Fast path (one queue): the run of buffers that are one writable
    // descriptor each, taken at once (the ring's takeSimple(): each
    // descriptor read and validated once into dev.txBatch, which the TX path
    // uses only after this returns). Every buffer's header is written first,
    // then the frames: the buffers' lines are the lcore CPU's, each store
    // waits in the store buffer for its line, and the headers' stores in a
    // loop of their own put every buffer's first line in flight at once
    // instead of a frame's worth at a time; with each header the frame's
    // first word (writeHeaders' frameWord: every taken buffer holds header +
    // flen0 bytes), so the frame's line is in flight too. The run ends at the first buffer
    // shorter than header + the next frame; a later frame (the wire's lengths
    // may vary) that does not fit its buffer, or is oversize, ends it too:
    // the buffers from it on are put
    // back available (a header written into a buffer the device still holds
    // is not read by the driver, which reads a buffer only once it is used:
    // up to used.idx on a split ring, §2.8.22 on a packed one)
    // and the per-frame loop below takes over, which validates and counts.
    const q = single;
    const pq = pqueues[q.index]!;
    let n = due;
    if (!packed) {
      // avail.idx at most once per queue per pass (q.rxLoaded, as receiveChain).
      let avail = q.cachedAvail();
      if (avail < n && !q.rxLoaded) {
        q.rxLoaded = true;
        const p = q.pollAvail();
        if (p < 0) q.rxLoaded = false; // the per-frame loop loads it again and resets the device
        else avail = p;
      }
      if (avail < n) n = avail;
    }
    const tb = dev.txBatch;
    const hdr = dev.hdrSize;
    const min = hdr + flen0;
    const m = n === 0 ? 0 : packed ? pq.takeSimple(n, 0, min, ANY_LEN, tb, F_WRITE) : q.takeSimple(n, 0, min, ANY_LEN, tb, F_WRITE);
    if (m !== 0) {
      const u32 = dev.u32;
      const ids = tb.id;
      const addrs = tb.addr;
      const lens = tb.len;
      // No call per buffer where the wire can take a run (produceRun), else
      // the wire's two: the headers in one call, the frames in one (or two
      // per buffer), the used entries in one after them. The frames' stores
      // wait in the store buffer for lines the lcore's CPU holds, and every
      // JS call pushes its frame (6-10 words) behind them in program order;
      // on the AMD host the RX steps stalled at calls' pushes (bench/notes/pipeline.md,
      // "Session 20: pipeline on the AMD host": 7.42 -> 8.32 -> 9.47 Mpps).
      writeHeaders(u8, u32, addrs, m, hdr, flen0 >= 4);
      if (wire.produceRun !== undefined) {
        i = wire.produceRun(u8, addrs, lens, m, hdr, maxFrame);
        for (let k = 0; k < i; k++) bytes += lens[k]! - hdr;
      } else {
        for (; i < m; i++) {
          const flen = wire.frameLength();
          const total = hdr + flen;
          if (flen > maxFrame || lens[i]! < total) break;
          wire.produce(u8, addrs[i]! + hdr);
          lens[i] = total; // the used length
          bytes += flen;
        }
      }
      delivered = i;
      if (packed) pq.addUsedRun(ids, lens, i);
      else q.addUsedRun(ids, lens, i);
      if (i < m) {
        if (packed) pq.untake(m - i);
        else q.untake(m - i);
      }
    }
  }
  for (; i < due; i++) {
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
    const r = packed ? receivePacked(dev, pqueues[q.index]!, flen) : receiveSplit(dev, q, flen);
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
      const qi = steer[k]!;
      const q = queues[qi]!;
      if (packed ? pqueues[qi]!.publish() : q.publish()) dev.interrupt(q);
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
