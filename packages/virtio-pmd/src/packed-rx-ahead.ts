import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import { sizeBinOf } from "./frame-steps.js";
import * as L from "./layout.js";
import * as P from "./packed-rx-consts.js";
import { PackedRxInOrder } from "./packed-rx-in-order.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_OL_FLAGS, MBUF_HDR, PKTMBUF_HEADROOM } = MB;
const { ETH_HDR_LEN, NET_HDR_NUM_BUFFERS } = V;
const { S_BAD_USED_ID, S_BROADCAST, S_BYTES, S_MULTICAST, S_PACKETS, S_SIZE_BINS } = L;
const { F_WRAP_BITS, GATE_OPEN, LOADS_IN_ORDER, SMALL_BURST, TOUCH_AHEAD } = P;

/** aheadStat's group-address bits above the frame's pkt_len (at most a buffer's, under 1 << 16). */
const AHEAD_MCAST = 1 << 16;
const AHEAD_BCAST = 1 << 17;
/** takeAhead takes at most n + 3 (a burst of up to three, the last group's rest). */
const AHEAD_MAX = 8;

/**
 * The packed RX queue's batch-ahead (PackedRxRing's layers: packed-rx-ring.ts): bursts of fewer than
 * four under IN_ORDER on x86 take a whole used group of four in one pass and hand it out over the
 * next bursts (bench/notes/packed-front-end.md "Session 36: batch-ahead beside burst 32's path"),
 * beside burst 32's loop (packed-rx-in-order.ts), which it leaves as it is.
 */
export abstract class PackedRxAhead extends PackedRxInOrder {
  /**
   * Taken ahead (takeAhead, bursts of fewer than four): the burst's frames and the rest of their group
   * of four, found used and completed (mbuf fields) in one pass, handed out from
   * ahead[aheadI..aheadN) by this burst and the next ones without another pass over the ring
   * (rxSmall). Until handed out a frame stays in its position's owner slot (aheadPos) and out of
   * nfree: the refill does not post there, and a stop frees it with the ring's buffers. The receive
   * counters count a frame when a burst returns it (DPDK's rx_burst): at its hand-out, from aheadStat
   * (its pkt_len, AHEAD_MCAST / AHEAD_BCAST when its destination is a group address).
   */
  protected readonly ahead = new Uint32Array(AHEAD_MAX);
  protected readonly aheadPos = new Uint16Array(AHEAD_MAX);
  protected readonly aheadStat = new Uint32Array(AHEAD_MAX);
  protected aheadI = 0;
  protected aheadN = 0;
  /**
   * rxBurst's one added test: bursts of fewer than this take rxSmall (SMALL_BURST, GATE_OPEN while
   * frames are ahead, 0 without IN_ORDER or off x86). A burst of four or more with nothing ahead runs
   * rxInOrder exactly as before (bench/notes/packed-front-end.md "Session 36: batch-ahead beside
   * burst 32's path").
   */
  protected smallBelow = 0;
  /**
   * rxSmall's calls with nothing ahead left, since the last resync, that keep the gate open: a burst of
   * four or more then goes through rxSmall, which calls rxBurst again with the gate shut (the same
   * path and behaviour), so that rxBurst's call of rxSmall has type feedback at burst 32 too (without
   * it a first burst of fewer than four after rxBurst was optimized deoptimized it:
   * packed-rx-poll-deopt.test.ts). (Not primed: rxBurst's longer-burst path at bursts of fewer than
   * four, which never run it, and whose refill call runs at the ring's threshold only; a switch from
   * bursts under four to longer ones deoptimizes rxBurst once, bench/notes/packed-front-end.md
   * "Session 36: batch-ahead beside burst 32's path".)
   */
  protected aheadPrimes = 0;

  /** rte_eth_rx_burst on a packed ring (packed-rxq.ts): rxSmall's longer bursts go back to it. */
  abstract rxBurst(mbufs: Uint32Array, n: number, off?: number): number;

  /**
   * rxBurst for a burst of fewer than four under IN_ORDER on x86, and for any burst while frames taken
   * ahead remain ("batch-ahead", bench/notes/packed-front-end.md "Session 35: packed burst 1 at DPDK's
   * fast level", "Session 36: batch-ahead beside burst 32's path"). With nothing ahead, takeAhead
   * first takes the burst's frames and the rest of their group into `ahead`; then every frame a burst
   * returns is handed out from there, in ring order, up to n, without touching the ring again: counted
   * now (one packet, its bytes, its size bin, its group-address counter when it has one), its owner
   * slot and its free count released now. One path for a frame whether a group or a lone descriptor
   * brought it, so no part of it first runs when the device's pace changes (a device that delivers
   * one frame at a time in the warm-up, groups later). One refill test for both ways (session 35's v2:
   * a hand-out's own refill call site first ran late and deoptimized rxBurst).
   *
   * A burst of four or more with nothing ahead (the gate open for aheadPrimes, so that rxBurst's call
   * of this one has type feedback at burst 32 too) goes back to rxBurst's own path, the gate shut.
   */
  protected rxSmall(mbufs: Uint32Array, n: number, off: number): number {
    let i = this.aheadI;
    if (i === this.aheadN) {
      // Counted down by the calls that find nothing ahead; the gate stays open while they last.
      const left = this.aheadPrimes - 1;
      this.aheadPrimes = left > 0 ? left : 0;
      if (n >= SMALL_BURST) {
        // A longer burst, the gate open for the primes: rxBurst again with the gate shut (-1, below
        // any n), its own path; then the gate as the primes leave it (unless a resync inside set it).
        this.smallBelow = -1;
        const r = this.rxBurst(mbufs, n, off);
        if (this.smallBelow === -1) this.smallBelow = left > 0 ? GATE_OPEN : SMALL_BURST;
        return r;
      }
      // As rxBurst's longer bursts: the touched lead, then the pass (it stops before a descriptor
      // that is not a plain one-buffer frame, for the validating loop).
      if (this.touchLead < n + TOUCH_AHEAD) this.touchAhead(n);
      const took = this.takeAhead(n);
      // The position moved by what it took (at most a lap): the touched lead moves back by as many.
      const lead = this.touchLead - took;
      this.touchLead = lead > 0 ? lead : 0;
      // The flag first, read on every call (as rxBurst's): a take of nothing first ran when a driver
      // that found the ring full in the warm-up caught up.
      if (this.inOrderStopped && took === 0) {
        this.smallBelow = this.aheadPrimes !== 0 ? GATE_OPEN : SMALL_BURST;
        return this.rxValidating(mbufs, n, off, 0);
      }
      i = 0;
    }
    const end = this.aheadN;
    const ahead = this.ahead;
    const aheadPos = this.aheadPos;
    const aheadStat = this.aheadStat;
    const u32 = this.u32;
    const ownerW = this.ownerW;
    const f64 = this.f64;
    const st = this.st;
    const have = end - i;
    // The arms plain locals (no arithmetic in an arm that may first run late).
    const last = i + (n < have ? n : have);
    let nrx = 0;
    let bytes = 0;
    let bcast = 0;
    let mcast = 0;
    for (; i < last; i++) {
      const stat = aheadStat[i]!;
      const pktLen = stat & 0xffff;
      mbufs[off + nrx++] = ahead[i]!;
      u32[ownerW + aheadPos[i]!] = 0;
      bytes += pktLen;
      f64[st + S_SIZE_BINS + sizeBinOf(pktLen)] += 1;
      bcast += stat >>> 17;
      mcast += (stat >>> 16) & 1;
    }
    this.aheadI = i;
    // Open while frames are ahead (a longer burst then takes them first) or primes last, else closed.
    this.smallBelow = ((end - i) | this.aheadPrimes) !== 0 ? GATE_OPEN : SMALL_BURST;
    this.nfree += nrx;
    f64[st + S_PACKETS] += nrx;
    f64[st + S_BYTES] += bytes;
    // Usually both 0: added only when one is not, or while the branch is primed (QueueBase.statPrimes),
    // so that a first group address late does not deoptimize it.
    if ((bcast | mcast | this.statPrimes) !== 0) {
      f64[st + S_BROADCAST] += bcast;
      f64[st + S_MULTICAST] += mcast;
      if (this.statPrimes !== 0) this.statPrimes--;
    }
    if (this.nfree >= this.refillThresh) this.refillRing();
    return nrx;
  }

  /**
   * rxInOrder's pass for a burst of fewer than four (rxSmall, nothing ahead): the same checks, order
   * and validation (one Atomics.load per call on x86, see there: packed-rx-in-order.ts), but every
   * frame it takes goes into `ahead` (mbuf fields written, owner id checked, counted when handed
   * out), and a check that finds a group of four used takes the whole group: at burst 1 one pass over
   * the ring per four frames. Takes at least n when that many are used (n + 3 at most); returns how
   * many it took (aheadN), none past a descriptor that is not a plain one-buffer frame of a valid
   * length (inOrderStopped). rxInOrder itself is left as it is for longer bursts (its loop at burst 32
   * is issue #14's main path: session 35's version with both in one loop cost it, 4 of 12 pairs).
   */
  protected takeAhead(n: number): number {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const size = this.size;
    const descH = this.descH;
    const ownerW = this.ownerW;
    const hdr = this.hdr;
    const mrg = this.mrg;
    const portHi = (this.portId << 16) >>> 0;
    const minLen = hdr + ETH_HDR_LEN;
    const postLen = this.postLen;
    const ahead = this.ahead;
    const aheadPos = this.aheadPos;
    const aheadStat = this.aheadStat;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let wbits = wrap !== 0 ? F_WRAP_BITS : 0;
    let pending = this.pending;
    let na = 0;
    let badId = 0;
    let stopped = false;
    // Seen used by a longer burst's batch check and not taken yet (see usedAhead): taken whole here.
    let known = this.usedAhead;
    let polled = false;
    while (na < n && pending > 0) {
      const h0 = descH + (pos << 3);
      if (known === 0) {
        // rxInOrder's check, the same shape (see there: packed-rx-in-order.ts).
        const at = h0 + 7;
        let f = u16[at]!;
        if (!(polled && LOADS_IN_ORDER)) f = Atomics.load(u16, at);
        polled = true;
        if ((f & F_WRAP_BITS) !== wbits) break;
        known = 1;
        if (LOADS_IN_ORDER && pending >= 4 && (pos & 3) === 0 && pos + 4 <= size) {
          const g = (u16[h0 + 15]! ^ wbits) | (u16[h0 + 23]! ^ wbits) | (u16[h0 + 31]! ^ wbits);
          if ((g & F_WRAP_BITS) === 0) known = 4;
        }
      }
      // The whole group, whatever the burst's room: the rest is handed out by the next bursts.
      const cnt = known;
      known = 0;
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
        pending--;
        if (++pos === size) {
          pos = 0;
          wrap ^= 1;
          wbits ^= F_WRAP_BITS;
        }
        const pktLen = len - hdr;
        // rxInOrder's six stores (the reset state with the frame's fields).
        u32[(m + M_DATA_OFF) >>> 2] = PKTMBUF_HEADROOM | (1 << 16);
        u32[(m + M_NB_SEGS) >>> 2] = 1 | portHi;
        f64[(m + M_OL_FLAGS) >>> 3] = 0;
        u32[(m + M_PKT_LEN) >>> 2] = pktLen;
        u16[(m + M_DATA_LEN) >>> 1] = pktLen;
        u32[(m + M_NEXT) >>> 2] = 0;
        // What counting it at its hand-out needs: pkt_len, and whether its destination is a group address.
        const a = bufAddr + PKTMBUF_HEADROOM;
        let stat = pktLen;
        if ((u8[a]! & 1) !== 0) stat |= (u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff ? AHEAD_BCAST : AHEAD_MCAST;
        ahead[na] = m;
        aheadPos[na] = d;
        aheadStat[na++] = stat;
      }
      if (stopped) break;
    }
    this.inOrderStopped = stopped;
    // After a stop the validating loop moves the position: nothing is known ahead of it then.
    this.usedAhead = 0;
    this.aheadI = 0;
    this.aheadN = na;
    if (na !== 0) {
      this.usedPos = pos;
      this.usedWrap = wrap;
      this.pending = pending;
      // Usually 0: added only when not, or while the branch is primed (QueueBase.statPrimes).
      if ((badId | this.statPrimes) !== 0) f64[this.st + S_BAD_USED_ID] += badId;
    }
    return na;
  }
}
