import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import * as P from "./packed-rx-consts.js";
import { PackedRxRing } from "./packed-rx-ring.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { M_BUF_ADDR, MBUF_HDR, PKTMBUF_HEADROOM } = MB;
const { VRING_PACKED_DESC_F_AVAIL: F_AVAIL, VRING_PACKED_DESC_F_USED: F_USED } = V;
const { TOUCH_AHEAD } = P;

/** How many more than TOUCH_AHEAD touchAhead touches at once when the lead falls below it (as RxQueue's). */
const TOUCH_BATCH = 16;

/**
 * The packed RX queue's touch ahead (PackedRxRing's layers: packed-rx-ring.ts): the cache lines of
 * the frames the next bursts take, touched together before the loop that reads them.
 */
export abstract class PackedRxTouch extends PackedRxRing {
  /** What touchAhead read (kept so the loads are not dropped as unused). */
  touched = 0;
  /** Descriptors from the used position on whose lines touchAhead has touched. */
  protected touchLead = 0;

  /**
   * Touch the header line and the first data line of each frame this burst will take: lines
   * the device just wrote on the other CPU, whose misses overlap when touched together rather
   * than one per packet in the loop. Where it can, the touch is a store (a byte the device
   * did not write: the headroom byte before the header, under MRG_RXBUF only; the byte after a
   * frame that ends inside its first data line): a store retires without waiting for the line and fetches it
   * for writing at once, where a load waits for it and fetches it shared, so that the later
   * writes (the TX header, the application's MAC rewrite) fetch it a second time (A/B in
   * bench/notes/packed-front-end.md "Packed rings: budget against DPDK's front-end"). Elsewhere
   * (a frame longer than that line, a len out of bounds) it is
   * a load. A hint only: plain reads of the flags (the loop validates each descriptor with
   * its Atomics.load), ids and lens bounds-checked, stores only inside the buffer posted.
   *
   * The buffer's address comes from the mbuf's handle, its length from the pool (buf_addr =
   * handle + MBUF_HDR, buf_len = the pool's data room: what refillRing posted), so the two
   * lines' touches do not wait for the mbuf's own line. That line is loaded too, on its own:
   * its miss overlaps the others, and rxInOrder's stores into it find it here (without that
   * load they waited in the store buffer: bench/notes/packed-front-end.md, "Packed rings: budget
   * against DPDK's front-end", third pass).
   */
  protected touchAhead(n: number): void {
    // Called (rxBurst) only when the lead (descriptors past the used position already touched)
    // falls below TOUCH_AHEAD past this burst; covers TOUCH_BATCH more, so their misses overlap
    // (at burst 1 one wait covers many frames; see RxQueue.rxInOrder).
    const lead = this.touchLead;
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const size = this.size;
    const hdr = this.hdr;
    const ownerW = this.ownerW;
    const addrOff = MBUF_HDR + PKTMBUF_HEADROOM - hdr;
    const postLen = this.postLen;
    const mrg = this.mrg;
    // Past the ring's end: one lap back, the other wrap counter. Computed on every call, not in a
    // branch: that branch ran only when a call began with the lead past the ring's end, first
    // long after touchAhead was optimized, whose arithmetic then had no type feedback and
    // deoptimized it (a scavenge on the lcore: bench/notes/gc.md, "Session 11: GC (what still
    // allocated on the lcore: deopts mid-run)").
    const past = this.usedPos + lead >= size ? 1 : 0;
    let pos = this.usedPos + lead - past * size;
    let wrap = (this.usedWrap ^ past) !== 0;
    let touch = 0;
    // While the rare counters are primed (statPrimes) the loads below also run where a store
    // touched (see RxQueue.rxInOrder's touch).
    const primeLoads = this.statPrimes !== 0;
    const want = n + TOUCH_AHEAD + TOUCH_BATCH;
    // One load (as the packed TX push batch's count: a second read in the rare case alone has no type feedback).
    const pending = this.pending;
    const k = want < pending ? want : pending;
    let i = lead;
    for (; i < k; i++) {
      const h = this.descH + (pos << 3);
      const f = u16[h + 7]!;
      if (((f & F_USED) !== 0) !== wrap || ((f & F_AVAIL) !== 0) !== wrap) break;
      const d = this.inOrder ? pos : u16[h + 6]!;
      if (d < size) {
        const m = u32[ownerW + d]!;
        if (m !== 0) {
          // The mbuf's line (any word of it), then the buffer's two lines, independent of it.
          touch |= u32[(m + M_BUF_ADDR) >>> 2]!;
          const a = m + addrOff;
          const len = u32[(h >>> 1) + 2]!;
          // Header line: a store into the headroom byte before the header (never the device's),
          // under MRG_RXBUF only; without it a load, the line left quiet (see RxQueue.rxInOrder).
          const headStore = mrg && (a & 63) !== 0;
          if (headStore) u8[a - 1] = 0;
          if (!headStore || primeLoads) touch |= u8[a]!;
          // Data line: a store past the frame's end when the frame ends inside that line.
          const e = a + len;
          const dataStore = len > hdr && len < postLen && (e >>> 6) === ((a + hdr) >>> 6);
          if (dataStore) u8[e] = 0;
          if (!dataStore || primeLoads) touch |= u8[a + hdr]!;
        }
      }
      if (++pos === size) {
        pos = 0;
        wrap = !wrap;
      }
    }
    this.touchLead = i;
    this.touched = touch;
  }
}
