import type { Memory } from "@tpdk/eal";
import { Mbufs } from "@tpdk/mbuf";
import type { Chain } from "@tpdk/vhost/device";
import { VRING_DESC_F_WRITE } from "@tpdk/virtio";
import { E_ORDER, type GuestQueue, NO_CHAIN, NO_ROOM } from "./guest-queue.js";
import { copy, HDR, HDR_NUM_BUFFERS, NOT_HELD, SimpleChains, writeOneBufferHeader, WalkedChains } from "./net-frame.js";

/**
 * net_vhost's txBurst for the lcore that polls the port (DPDK's rte_vhost_enqueue_burst as an
 * ethdev): mbufs, chained or not → the front-end's RX ring (2q), spread over several of its
 * buffers under MRG_RXBUF (num_buffers); each mbuf freed once copied. Frames are copied (the
 * front-end's buffers are its own memory). Nothing here allocates; counts are returned.
 */

const NONE = NO_CHAIN;
/** The front-end's RX buffers are device-writable (virtio 1.2 §2.7.5; a module-local copy: hot-path constant). */
const F_WRITE = VRING_DESC_F_WRITE;

export class NetVhostTxQueue {
  private readonly mbufs: Mbufs;
  private readonly u8: Uint8Array<ArrayBufferLike>;
  private readonly u32: Uint32Array<ArrayBufferLike>;
  /** [0] packets, [1] bytes, [2] ring full (not taken), [3] bad chains */
  readonly stats: Float64Array<ArrayBufferLike>;
  /** The chains a frame is reserved in (walkAhead; a frame's chains under MRG_RXBUF). */
  private readonly chains = new WalkedChains();
  /** The burst's one-descriptor chains (takeSimple). */
  private readonly simple = new SimpleChains();
  /** walkAhead's stop: the walk result of the chain it took and kept (NOT_HELD: none), where its segments start in q.chain. */
  private held = NOT_HELD;
  private heldStart = 0;
  /** What the touch loops' loads of the headers read (kept so they are not optimized away). */
  touched = 0;
  // The frame being copied (fill()): the source cursor (mbuf, address, bytes left in it), bytes
  // written so far and wanted (header included), where its header went (-1 none yet, -2 split).
  private src = 0;
  private sAddr = 0;
  private sLeft = 0;
  private done = 0;
  private need = 0;
  private hdrAt = -1;

  constructor(mem: Memory, private readonly q: GuestQueue, readonly portId: number, readonly queueId = 0, stats: Float64Array<ArrayBufferLike> = new Float64Array(4)) {
    this.stats = stats;
    this.mbufs = new Mbufs(mem);
    this.u8 = mem.u8;
    this.u32 = mem.u32;
  }

  /**
   * Take mbufs[off..off+n): returns k, the first k were copied and freed; the
   * caller keeps the rest. A frame goes only when the front-end's ring has
   * room for all of it (DPDK's reserve_avail_buf_split): one chain that holds
   * it, or under MRG_RXBUF enough chains; otherwise the burst ends there and
   * nothing of that frame is written or used, so every frame counted as sent
   * reaches the front-end whole.
   *
   * Each chain is walked once, by the device core's validating walk (lengths,
   * translation inside the regions, loops, next and head indices, indirect
   * tables, readable buffers): a frame's chains are reserved by walking them
   * (their segments kept side by side in q.chain, GuestQueue.nextMore), then
   * written from those segments. A chain the walk ahead found no room for
   * in the segment list is walked again, alone, by the one-by-one loop; the
   * segments written are always those of the walk that checked them, so a
   * front-end that rewrites a descriptor meanwhile changes nothing.
   */
  txBurst(pkts: Uint32Array, n: number, off = 0): number {
    const q = this.q;
    if (!q.begin()) return 0;
    const mb = this.mbufs;
    this.chains.fit(q.size);
    let bytes = 0;
    let bad = 0;
    let avail = q.available();
    let first = 0;
    if (n > 1 && avail > 1) {
      // The commonest case first: one-mbuf frames into chains of one writable descriptor, each
      // read and validated by takeSimple in one loop (a whole burst's descriptor reads in flight
      // at once); then, for the leading frames whose buffer is 4-aligned and holds header and
      // frame, a load of the header's line and a store to the frame's, in a loop of its own (the
      // front-end's CPU wrote these lines: fetched all together instead of one frame after
      // another); then the header's words stored where they differ, and the frame. The first frame that does not fit so gives back
      // its chain and the rest (untake) to the walk below.
      const sc = this.simple;
      sc.fit(q.size);
      const k1 = q.takeSimple(n < avail ? n : avail, 0, HDR + 1, 0xffffffff, sc, F_WRITE);
      const { id, addr, len } = sc;
      const g8 = q.u8;
      const u8 = this.u8;
      let fit = 0;
      let touched = 0;
      for (; fit < k1; fit++) {
        const m = pkts[off + fit]!;
        const a = addr[fit]!;
        if (!this.fitsOneBuffer(m, a, len[fit]!)) break;
        // The header's line loaded (writeOneBufferHeader stores only what differs), the frame's stored to.
        touched += g8[a]!;
        if (mb.dataLen(m) !== 0) g8[a + HDR] = u8[mb.dataAddr(m)]!;
      }
      this.touched = touched;
      if (fit < k1) q.untake(k1 - fit);
      if (fit !== 0) bytes += this.writeRun(pkts, off, fit);
      // Their used entries (each chain with what was written, kept in len) in one run.
      q.usedRun(id, len, fit);
      first = fit;
      off += fit;
      n -= fit;
      avail -= fit;
    }
    // Then the frames that each fit one chain: the leading frames that each fit one chain, reserved together (walkAhead)
    // and then written, so the front-end's buffers are claimed for writing all at once.
    const { ids, descs, ends } = this.chains;
    const c = q.chain;
    // One frame has nothing to overlap: the one-by-one loop (as rxBurst).
    const ahead = n < avail ? n : avail;
    this.held = NOT_HELD;
    let sent = ahead > 1 ? this.walkAhead(pkts, ahead, off) : 0;
    let from = 0;
    for (let k = 0; k < sent; k++) {
      const m = pkts[off + k]!;
      const a = c.addr[from]!;
      if (this.fitsOneBuffer(m, a, c.len[from]!)) {
        // One mbuf into the chain's first buffer, 4-aligned: what fill() writes there.
        const flen = this.writeOneBuffer(m, a);
        q.usedAs(ids[k]!, descs[k]!, flen + HDR);
        bytes += flen;
        from = ends[k]!;
        continue;
      }
      const flen = mb.nbSegs(m) === 1 ? mb.dataLen(m) : mb.pktLen(m);
      this.src = m;
      this.sAddr = mb.dataAddr(m);
      this.sLeft = mb.dataLen(m);
      this.done = 0;
      this.need = flen + HDR;
      this.hdrAt = -1;
      q.usedAs(ids[k]!, descs[k]!, this.fill(c, from, ends[k]!, true));
      from = ends[k]!;
      bytes += flen;
      mb.free(m);
    }
    avail -= sent;
    // The chain walkAhead stopped at (walked, not used), its segments moved to the front of q.chain
    // as next() leaves them: the loop below starts with it.
    let held = this.held;
    if (held !== NOT_HELD) {
      const s0 = this.heldStart;
      const segs = c.n - s0;
      for (let i = 0; i < segs; i++) {
        c.addr[i] = c.addr[s0 + i]!;
        c.len[i] = c.len[s0 + i]!;
      }
      c.n = segs;
    }
    // The rest one by one: frames over several chains (MRG_RXBUF), bad chains, a ring too short.
    while (sent < n && avail > 0) {
      const m = pkts[off + sent]!;
      // A chain (nb_segs > 1) is read segment by segment: the source cursor (fill()).
      const flen = mb.nbSegs(m) === 1 ? mb.dataLen(m) : mb.pktLen(m);
      const need = flen + HDR;
      let err = held;
      if (held !== NOT_HELD) held = NOT_HELD;
      else {
        q.mark();
        err = q.next();
      }
      if (err === NONE) break;
      // An RX chain must be all device-writable (§5.1.6.3): a readable buffer counts as bad order.
      if (err !== 0 || c.nRead !== 0 || c.writeBytes === 0) {
        q.counts[err === 0 ? E_ORDER : err]++;
        bad++;
        q.used(0);
        avail--;
        continue;
      }
      this.src = m;
      this.sAddr = mb.dataAddr(m);
      this.sLeft = mb.dataLen(m);
      this.done = 0;
      this.need = need;
      this.hdrAt = -1;
      if (c.writeBytes >= need) {
        // The common case: one chain holds the frame (num_buffers 1).
        q.used(this.fill(c, 0, c.n, true));
        avail--;
      } else if (!q.mrg) {
        // One chain per frame without MRG_RXBUF (§5.1.6.3.1), and this one is too short.
        q.rewind();
        break; // the caller keeps it and the rest
      } else {
        // MRG_RXBUF: the next chains too, each walked once and kept (not used) until they hold the
        // frame. A bad chain met on the way (a hostile front-end): the frame's first chain is used
        // empty and the frame starts again after it (the bad one is counted when it comes first:
        // progress either way). The ring running out first: nothing written or used.
        const afterFirst = q.position();
        ids[0] = q.heldId;
        descs[0] = q.heldDescs;
        ends[0] = c.n;
        let room = c.writeBytes;
        let chains = 1;
        let badAt = false;
        while (room < need && chains < avail) {
          const e = q.nextMore();
          if (e === NONE) break;
          if (e !== 0 || c.nRead !== 0 || c.writeBytes === 0) {
            badAt = true;
            break;
          }
          ids[chains] = q.heldId;
          descs[chains] = q.heldDescs;
          ends[chains] = c.n;
          room += c.writeBytes;
          chains++;
        }
        if (badAt) {
          q.seek(afterFirst);
          q.usedAs(ids[0]!, descs[0]!, 0);
          avail--;
          continue;
        }
        if (room < need) {
          q.rewind();
          break; // no room for the whole frame: the caller keeps it and the rest
        }
        // Each chain counted in num_buffers (§5.1.6.3.2), returned in the order taken. A source
        // chain shorter than its pkt_len ends the frame early (fill): later chains used empty.
        let from = 0;
        for (let k = 0; k < chains; k++) {
          q.usedAs(ids[k]!, descs[k]!, this.fill(c, from, ends[k]!, k === 0));
          from = ends[k]!;
        }
        avail -= chains;
        const h = this.hdrAt;
        if (h >= 0) {
          q.u8[h + HDR_NUM_BUFFERS] = chains & 0xff;
          q.u8[h + HDR_NUM_BUFFERS + 1] = chains >>> 8;
        }
      }
      bytes += flen;
      mb.free(m);
      sent++;
    }
    q.publish();
    q.end();
    sent += first;
    n += first;
    const st = this.stats;
    st[0] += sent;
    st[1] += bytes;
    if (sent < n) st[2] += n - sent;
    if (bad !== 0) st[3] += bad;
    return sent;
  }

  /**
   * The takeSimple run's first `fit` frames, pkts[off..off+fit) (each one mbuf that fitsOneBuffer
   * found room for in its chain, this.simple), written into their buffers and freed, each chain's
   * length (header and frame) left in this.simple.len for the used run; returns the frames' bytes.
   * A function of its own, called once per run, so that TurboFan weighs its per-frame callees
   * (writeOneBuffer and in it writeOneBufferHeader, copy, Mbufs' accessors and free) by calls per
   * run: inside txBurst they were weighed by calls per txBurst call, which the one-frame flushes of
   * the first milliseconds of traffic (when txBurst is compiled) put below the per-burst callees,
   * and V8's cumulative inlining budget ran out before them in some runs and not in others (as
   * rxBurst's copyRun; bench/notes/net-vhost.md "Session 37: net_vhost used runs stored unless
   * equal; the inlining variant placed"). In l2fwd it was inlined in 1 of 3 profiled runs
   * (bench/notes/net-vhost.md "Session 38: net_vhost txBurst's write run in a method of its own
   * (writeRun)"): there writeOneBuffer is compiled on its own first, with free and its callees
   * inlined when free has no optimized code yet (110 + 827 bytes), and writeRun's compile then leaves
   * it a call unless it started before that compile completed. Freeing the run's mbufs after its
   * writes instead pinned the inlining but was level (bench/notes/net-vhost.md "Session 39: net_vhost
   * writeOneBuffer without the free, inlined into writeRun in l2fwd's order").
   */
  private writeRun(pkts: Uint32Array, off: number, fit: number): number {
    const { addr, len } = this.simple;
    let bytes = 0;
    for (let k = 0; k < fit; k++) {
      const flen = this.writeOneBuffer(pkts[off + k]!, addr[k]!);
      len[k] = flen + HDR;
      bytes += flen;
    }
    return bytes;
  }

  /** Whether mbuf `m` is one segment that writeOneBuffer can put in the buffer at `a` of `len` bytes (4-aligned, header and frame). */
  private fitsOneBuffer(m: number, a: number, len: number): boolean {
    const mb = this.mbufs;
    return mb.nbSegs(m) === 1 && (a & 3) === 0 && len >= mb.dataLen(m) + HDR;
  }

  /**
   * Write the one-mbuf frame `m` into the front-end's buffer at `a` (4-aligned, holding header and
   * frame: fitsOneBuffer checked) and free the mbuf: the header in three word stores (num_buffers
   * 1: one buffer), then the frame. Returns the frame's bytes (the caller returns the chain with
   * them and the header).
   */
  private writeOneBuffer(m: number, a: number): number {
    const q = this.q;
    const mb = this.mbufs;
    const flen = mb.dataLen(m);
    writeOneBufferHeader(q.u32, a >>> 2);
    copy(q.u8, q.u32, a + HDR, this.u8, this.u32, mb.dataAddr(m), flen);
    mb.free(m);
    return flen;
  }

  /**
   * Reserve a chain for each of the first frames of pkts[off..off+n) (n at most the chains
   * available) for as long as each fits one walked, valid, all-writable chain (DPDK's
   * reserve_avail_buf_split for a whole burst before copy_mbuf_to_desc): the chains' segments
   * side by side in q.chain (nextMore), id, descriptors and end in this.chains. Each reserved buffer's header line is
   * loaded (the header is stored only where it differs: writeOneBufferHeader) and, when the first
   * segment holds it, the frame's first byte stored at once: the front-end's lines (last written
   * by its own CPU) are fetched all together instead of one frame after another behind fill()'s
   * stores. The first
   * frame that does not fit so (or a bad chain, or q.chain full) is given back (seek) for the
   * one-by-one loop. Returns the frames reserved.
   */
  private walkAhead(pkts: Uint32Array, n: number, off: number): number {
    const q = this.q;
    const mb = this.mbufs;
    const c = q.chain;
    const g8 = q.u8;
    const u8 = this.u8;
    const { ids, descs, ends } = this.chains;
    c.n = 0;
    this.held = NOT_HELD;
    q.touchDescriptors(n);
    let k = 0;
    for (; k < n; k++) {
      const m = pkts[off + k]!;
      const flen = mb.nbSegs(m) === 1 ? mb.dataLen(m) : mb.pktLen(m);
      // The one-by-one loop's rewind() comes back here when it keeps the frame (a ring too short).
      q.mark();
      const start = c.n;
      const err = q.nextMore();
      if (err !== 0 || c.nRead !== 0 || c.writeBytes < flen + HDR) {
        if (err === NONE || err === NO_ROOM) {
          // Nothing taken, or a chain that did not fit after the others in q.chain: walked again alone.
          q.rewind();
          c.n = start;
        } else {
          // Walked (bad, readable, or too short for the frame): the one-by-one loop takes it from here.
          this.held = err;
          this.heldStart = start;
        }
        break;
      }
      ids[k] = q.heldId;
      descs[k] = q.heldDescs;
      ends[k] = c.n;
    }
    // Then the stores, in a loop of their own: short enough that the CPU has a whole burst's lines
    // on their way at once (inside the walk loop each waited for the one before).
    let start = 0;
    let touched = 0;
    for (let j = 0; j < k; j++) {
      const m = pkts[off + j]!;
      const a = c.addr[start]!;
      const l = c.len[start]!;
      if (l !== 0) touched += g8[a]!;
      if (l > HDR && mb.dataLen(m) !== 0) g8[a + HDR] = u8[mb.dataAddr(m)]!;
      start = ends[j]!;
    }
    this.touched = touched;
    return k;
  }

  /**
   * Copy the frame from the source cursor into segments [from, to) of `c` (one chain's,
   * validated by its walk), the header first when `first` (zeroed: no offloads; num_buffers 1,
   * which txBurst overwrites with the chain count when there are more). Returns the bytes
   * written into them.
   */
  private fill(c: Chain, from: number, to: number, first: boolean): number {
    const q = this.q;
    const mb = this.mbufs;
    const g8 = q.u8;
    const g32 = q.u32;
    let src = this.src;
    let sAddr = this.sAddr;
    let sLeft = this.sLeft;
    let done = this.done;
    let need = this.need;
    let written = 0;
    for (let s = from; s < to && done < need; s++) {
      let so = c.addr[s]!;
      let sl = c.len[s]!;
      if (done < HDR) {
        // The header may be split across the first segments; num_buffers is written only when
        // the whole header lies in the first.
        if (first && this.hdrAt === -1) this.hdrAt = sl >= HDR ? so : -2;
        if (done === 0 && this.hdrAt === so && (so & 3) === 0) {
          // The whole header in the first segment, 4-aligned: three word stores.
          writeOneBufferHeader(g32, so >>> 2);
          so += HDR;
          sl -= HDR;
          done = HDR;
          written = HDR;
        }
        while (done < HDR && sl > 0) {
          g8[so++] = 0;
          sl--;
          done++;
          written++;
        }
        if (done === HDR && this.hdrAt >= 0 && g8[this.hdrAt + HDR_NUM_BUFFERS] !== 1) g8[this.hdrAt + HDR_NUM_BUFFERS] = 1;
      }
      while (sl > 0 && done < need) {
        if (sLeft === 0) {
          src = mb.next(src);
          if (src === 0) {
            need = done; // a chain shorter than its pkt_len: sent as far as it goes
            break;
          }
          sAddr = mb.dataAddr(src);
          sLeft = mb.dataLen(src);
          continue;
        }
        let t = need - done;
        if (sl < t) t = sl;
        if (sLeft < t) t = sLeft;
        copy(g8, g32, so, this.u8, this.u32, sAddr, t);
        so += t;
        sl -= t;
        sAddr += t;
        sLeft -= t;
        done += t;
        written += t;
      }
    }
    this.src = src;
    this.sAddr = sAddr;
    this.sLeft = sLeft;
    this.done = done;
    this.need = need;
    return written;
  }
}
