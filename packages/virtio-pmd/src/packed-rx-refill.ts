import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { touchDescLines } from "./frame-steps.js";
import * as L from "./layout.js";
import { packedKickNeeded } from "./packed-queue.js";
import * as P from "./packed-rx-consts.js";
import { PackedRxTouch } from "./packed-rx-touch.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { MBUF_HDR, PKTMBUF_HEADROOM } = MB;
const { VRING_DESC_F_WRITE: F_WRITE, VRING_PACKED_DESC_F_AVAIL: F_AVAIL, VRING_PACKED_DESC_F_USED: F_USED } = V;
const { S_NOMBUF } = L;
const { REFILL_CHUNK } = P;

/**
 * The packed RX queue's refill (PackedRxRing's layers: packed-rx-ring.ts): the avail side, fresh
 * mbufs posted on the free ids and published once per burst.
 */
export abstract class PackedRxRefill extends PackedRxTouch {
  /**
   * Post fresh mbufs on every free id: one WRITE descriptor each at the
   * avail position, flipping the wrap counter at the ring's end; the first
   * descriptor's flags are stored last with one Atomics.store (pairs with the
   * device's Atomics.load of the flags at its avail position).
   */
  protected refillRing(): void {
    const u16 = this.u16;
    const u32 = this.u32;
    const pool = this.pool!;
    const arr = this.refill;
    const hdr = this.hdr;
    const size = this.size;
    const oldPos = this.availPos;
    const oldWrap = this.availWrap;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const freeStack = this.freeStack;
    const inOrder = this.inOrder;
    // The buffer's address from its handle, its length from the pool (mbuf layout.ts: buf_addr =
    // handle + MBUF_HDR, buf_len = the pool's data room, both fixed at pool creation): the refill
    // reads and writes no mbuf line; rxBurst writes the mbuf's fields when the frame arrives.
    const addrOff = MBUF_HDR + PKTMBUF_HEADROOM - hdr;
    const postLen = this.postLen;
    let firstH = -1;
    let firstFlags = 0;
    let posted = 0;
    while (this.nfree > 0) {
      // One load of nfree: a second read, run only when fewer than a chunk are free (never at steady
      // burst 32), had no type feedback and deoptimized the refill (rx-refill-deopt.test.ts).
      const free = this.nfree;
      let c = free < REFILL_CHUNK ? free : REFILL_CHUNK;
      // Raw objects: every field of the reset state is written by rxBurst.
      // The chunk's objects are read where they lie in this lcore's cache, u32[from..from+c) of the
      // pool's memory (the queue's: the pool was looked up in it), before anything is freed: no copy
      // into `arr` (Mempool.takeCached). getBulk when the cache cannot serve (no lcore cache, a debug
      // pool, the pool short).
      let src = u32;
      let from = pool.takeCached(c);
      if (from < 0) {
        while (c > 0 && pool.getBulk(arr, c) === 0) c >>>= 1;
        src = arr;
        from = 0;
      }
      if (c === 0) {
        this.f64[this.st + S_NOMBUF] += this.nfree;
        break;
      }
      // Positions and the id stack in locals, written back per chunk.
      let pos = this.availPos;
      let wrap = this.availWrap;
      let top = this.freeTop;
      // The chunk's descriptor lines taken for writing at once, before the loop writes them (free
      // positions: the device reads none but the flags before the first flags store; frame-steps.ts).
      // The first line too, though the device polls the flags there (§2.8.2): once per refill of at
      // least rxRefillThreshold, not per frame as the push batch's would be at burst 1.
      touchDescLines(u32, descH << 1, pos, c, size);
      for (let i = 0; i < c; i++) {
        const m = src[from + i]!;
        // IN_ORDER: the id is the position (the free ids are the positions from availPos on).
        const id = inOrder ? pos : freeStack[--top]!;
        const h = descH + (pos << 3);
        const w = h >>> 1;
        u32[w] = m + addrOff;
        u32[w + 1] = 0;
        u32[w + 2] = postLen;
        u16[h + 6] = id;
        const flags = F_WRITE | (wrap !== 0 ? F_AVAIL : F_USED);
        if (firstH < 0) {
          firstH = h + 7;
          firstFlags = flags;
        } else u16[h + 7] = flags;
        u32[ownerW + id] = m;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
        }
      }
      this.availPos = pos;
      this.availWrap = wrap;
      this.freeTop = top;
      this.nfree -= c;
      posted += c;
      this.pending += c;
    }
    if (firstH >= 0) {
      // The one publish per burst (§2.8.6: the first descriptor made available after the rest).
      Atomics.store(u16, firstH, firstFlags);
      this.kickOrPrime(packedKickNeeded(u16, this.devEvtH, this.eventIdx, oldPos, oldWrap, posted, size));
    }
  }
}
