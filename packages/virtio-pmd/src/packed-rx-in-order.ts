import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { sizeBinOf, sizeRun, sizeRunEnd } from "./frame-steps.js";
import * as L from "./layout.js";
import * as P from "./packed-rx-consts.js";
import { PackedRxValidating } from "./packed-rx-validating.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_OL_FLAGS, MBUF_HDR, PKTMBUF_HEADROOM } = MB;
const { ETH_HDR_LEN, NET_HDR_NUM_BUFFERS } = V;
const { S_BAD_USED_ID, S_BROADCAST, S_BYTES, S_MULTICAST, S_PACKETS } = L;
const { F_WRAP_BITS, LOADS_IN_ORDER } = P;

/**
 * The packed RX queue's IN_ORDER path (PackedRxRing's layers: packed-rx-ring.ts): one-buffer frames
 * in ring order, burst 32's loop (issue #14's main path).
 */
export abstract class PackedRxInOrder extends PackedRxValidating {
  /** rxInOrder stopped at a used descriptor it does not take (for the validating loop), not at an unused one. */
  protected inOrderStopped = false;
  /**
   * Descriptors from the used position that rxInOrder's last batch check saw used and has not
   * taken yet (0..3: a batch of four checked for a burst of fewer). Their flags, ids and lens
   * were ordered by that call's Atomics.load (rxInOrder), so the next bursts take them without another
   * (at burst 1: one Atomics.load per four frames, not per frame). 0 whenever the position
   * moves other than through rxInOrder's loop (resync, the validating loop after a stop).
   * (Bursts of fewer than four take the whole group instead, takeAhead: see ahead.)
   */
  protected usedAhead = 0;

  /**
   * The IN_ORDER path (DPDK's virtio_recv_pkts_packed_vec / the batch of
   * virtio_rxtx_packed): up to `n` used descriptors from the used position,
   * each a one-buffer frame, into mbufs[off..]; positions, ids and counters in
   * locals, written back once. At a position aligned to 4 with four
   * descriptors left before the ring's end it checks four at once, for a
   * burst of fewer too: those it does not take wait in usedAhead for the
   * next bursts, which take them without another check (at burst 1 one
   * Atomics.load per four frames; the order below covers them as well).
   * One Atomics.load per call: the first check's (the poll); the checks
   * after it read the flags plainly (the order below covers them too; at
   * burst 32 one load instead of eight, bench/notes/packed-front-end.md
   * "Session 21: packed burst 32"):
   *
   * Memory order (virtio 1.2 §2.8.22 "Receiving Used Buffers From The Device":
   * read the flags, then a read memory barrier, then id, len and the buffer;
   * DPDK's batch: four flag loads, then virtio_rmb). The device writes a
   * descriptor's id and len, and the buffer, before its flags (§2.8.1;
   * tpdk's device stores its batch's first flags last with Atomics.store,
   * DPDK's vhost writes a batch's flags after a release fence). Here a
   * check reads its first descriptor's flags (the call's first check: with
   * one Atomics.load), then, for a group, the other three's with plain
   * loads, and only then ids, lens and buffers. In the JavaScript memory
   * model that Atomics.load synchronizes with the device's store of those
   * flags only (tpdk's device: the Atomics.store of a batch's first flags,
   * made last): it orders what that store published, not what a later
   * check reads beyond it. For the rest the order comes from the host: V8
   * keeps typed-array loads on one effect chain and never moves them across
   * an Atomics operation (the compiler barrier DPDK's virtio_rmb is on x86),
   * and x86-TSO never lets a later load pass an earlier one, so a flags value
   * seen used implies the id, len and buffer written before it are seen too.
   * That second half holds only where loads stay in order (LOADS_IN_ORDER):
   * on other hosts every descriptor is read with its own Atomics.load. Whatever is read, every value is still
   * validated before use (owner, len against the buffer, num_buffers).
   *
   * Stops before the first descriptor that is not a plain one-buffer frame
   * of a valid length (inOrderStopped: the validating loop counts or
   * assembles it). A used id that disagrees with the position is counted and
   * the position wins, as in takeUsed().
   */
  protected rxInOrder(mbufs: Uint32Array, n: number, off: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const size = this.size;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const hdr = this.hdr;
    const mrg = this.mrg;
    const port = this.portId;
    const portHi = (port << 16) >>> 0;
    const minLen = hdr + ETH_HDR_LEN;
    // What refillRing posted (buf_addr = handle + MBUF_HDR, buf_len = the pool's data room): the
    // loop loads nothing from the mbuf's line, only stores to it (touchAhead fetched it).
    const postLen = this.postLen;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let wbits = wrap !== 0 ? F_WRAP_BITS : 0;
    let pending = this.pending;
    let k = 0;
    let bytes = 0;
    let badId = 0;
    let bcast = 0;
    let mcast = 0;
    // Size bins: the burst's first bin is counted in a local (a burst is mostly one size; sizeRun).
    let sizes = 0;
    let stopped = false;
    // Seen used by an earlier batch check and not taken yet (see usedAhead).
    let known = this.usedAhead;
    // Where loads stay in order (LOADS_IN_ORDER): the call's first flags read that reaches a
    // descriptor the device may have just written is its one Atomics.load (the poll, as the split
    // ring's one load of used.idx per burst); every later check reads the flags plainly, in order
    // after that load and before what they guard, as the batch's other three are (see above).
    // Elsewhere every check is an Atomics.load.
    let polled = false;
    while (k < n && pending > 0) {
      const h0 = descH + (pos << 3);
      if (known === 0) {
        // The check, one shape for one descriptor and for a group of four, so that all of it runs
        // whatever the device's pace. (A group check and a one-descriptor block of its own: with a
        // device that keeps the ring full the group check always found four used, the block first
        // ran when the driver caught up, after TurboFan compiled rxInOrder, and deoptimized it: bench
        // README "Session 29: the packed RX poll deopt".) First this descriptor's flags: the plain
        // load on every check, the call's Atomics.load (the poll, pairing with the device's store of
        // the flags) when no check made it yet, elsewhere than x86 every time; one index for both
        // (as a ternary's arms the plain load ran only on a call's second check: Session 27).
        const at = h0 + 7;
        let f = u16[at]!;
        if (!(polled && LOADS_IN_ORDER)) f = Atomics.load(u16, at);
        polled = true;
        if ((f & F_WRAP_BITS) !== wbits) break;
        known = 1;
        // At a position aligned to 4 with four pending before the ring's end (x86): the group's
        // other three flags, plainly, in order after that load (see above); all three read and
        // tested in one expression, so no part of it waits for a pace to first run. Checked for a
        // burst of fewer than four too: the rest wait in usedAhead.
        if (LOADS_IN_ORDER && pending >= 4 && (pos & 3) === 0 && pos + 4 <= size) {
          const g = (u16[h0 + 15]! ^ wbits) | (u16[h0 + 23]! ^ wbits) | (u16[h0 + 31]! ^ wbits);
          if ((g & F_WRAP_BITS) === 0) known = 4;
        }
      }
      // room computed outside the ternary: an arm's arithmetic that never ran in the warm-up has no
      // type feedback, and its first run deoptimizes (a burst filled by a batch's tail).
      const room = n - k;
      const cnt = known < room ? known : room;
      known -= cnt;
      for (let i = 0; i < cnt; i++) {
        const h = h0 + (i << 3);
        const d = pos;
        const m = u32[ownerW + d]!;
        const len = u32[(h >>> 1) + 2]!;
        if (m === 0 || len < minLen || len > postLen) {
          stopped = true;
          break;
        }
        const bufAddr = m + MBUF_HDR;
        if (mrg) {
          const nb = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
          if ((u8[nb]! | (u8[nb + 1]! << 8)) !== 1) {
            stopped = true;
            break;
          }
        }
        if (u16[h + 6] !== d) badId++;
        u32[ownerW + d] = 0;
        pending--;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
          wbits ^= F_WRAP_BITS;
        }
        const pktLen = len - hdr;
        // The reset state alloc() would hand out, with the frame's fields (the refill did not touch
        // the mbuf): data_off and refcnt 1 in one word, nb_segs 1 and port in the next (M_DATA_OFF
        // 8, M_REFCNT 10, M_NB_SEGS 12, M_PORT 14), both ol_flags words as one 8-byte zero. The same
        // six stores as split rxInOrder's, written out (bench README, "Session 14: GC and the RX reset").
        u32[(m + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
        u32[(m + M_NB_SEGS) >>> 2] = 1 | portHi;
        f64[(m + M_OL_FLAGS) >>> 3] = 0;
        u32[(m + M_PKT_LEN) >>> 2] = pktLen;
        u16[(m + M_DATA_LEN) >>> 1] = pktLen;
        u32[(m + M_NEXT) >>> 2] = 0;
        mbufs[off + k++] = m;
        // ---- per-packet statistics, summed per call (the same totals)
        bytes += pktLen;
        sizes = sizeRun(f64, st, sizes, sizeBinOf(pktLen), 1);
        const a = bufAddr + PKTMBUF_HEADROOM;
        if ((u8[a]! & 1) !== 0) {
          if ((u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff) bcast++;
          else mcast++;
        }
      }
      if (stopped) break;
    }
    this.inOrderStopped = stopped;
    // After a stop the validating loop moves the position: nothing is known ahead of it then.
    this.usedAhead = stopped ? 0 : known;
    if (k !== 0) {
      this.usedPos = pos;
      this.usedWrap = wrap;
      this.pending = pending;
      this.nfree += k;
      f64[st + S_PACKETS] += k;
      f64[st + S_BYTES] += bytes;
      sizeRunEnd(f64, st, sizes);
      // Usually all 0: added only when one is not, or while the branch is primed (QueueBase.statPrimes).
      if ((bcast | mcast | badId | this.statPrimes) !== 0) {
        f64[st + S_BROADCAST] += bcast;
        f64[st + S_MULTICAST] += mcast;
        f64[st + S_BAD_USED_ID] += badId;
        if (this.statPrimes !== 0) this.statPrimes--;
      }
    }
    return k;
  }
}
