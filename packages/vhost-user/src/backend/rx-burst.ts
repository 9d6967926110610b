import type { Memory } from "@tpdk/eal";
import { Mbufs, type Mempool } from "@tpdk/mbuf";
import type { Chain } from "@tpdk/vhost/device";
import { E_FULL, type GuestQueue, NO_CHAIN, NO_ROOM } from "./guest-queue.js";
import { copy, HDR, MAX_FRAME, NOT_HELD, SimpleChains, WalkedChains } from "./net-frame.js";

/**
 * net_vhost's rxBurst for the lcore that polls the port (DPDK's rte_vhost_dequeue_burst as an
 * ethdev): the front-end's TX ring (2q+1) → mbufs from the port's pool, chained (nb_segs, next)
 * when a frame is longer than one mbuf's room. Frames are copied (the front-end's buffers are its
 * own memory). Nothing here allocates; counts are returned.
 */

const NONE = NO_CHAIN;

export class NetVhostRxQueue {
  private readonly mbufs: Mbufs;
  private readonly u8: Uint8Array<ArrayBufferLike>;
  private readonly u32: Uint32Array<ArrayBufferLike>;
  /** [0] packets, [1] bytes, [2] dropped (bad chain, too long, no mbuf) */
  readonly stats: Float64Array<ArrayBufferLike>;
  /** The chains walkAhead took (their ends: the readable segments only). */
  private readonly chains = new WalkedChains();
  /** The burst's one-descriptor chains (takeSimple). */
  private readonly simple = new SimpleChains();
  /**
   * walkAhead's stop: the walk result of the chain it took and kept (NOT_HELD: none). Such a chain
   * is always one the loop drops (a bad chain, a frame too short or too long): only its result and
   * length are read, never its segments.
   */
  private held = NOT_HELD;
  /** What walkAhead's touch loads read (kept so they are not optimized away). */
  touched = 0;
  /** The takeSimple run's mbufs (allocBulk) and its used entries' lengths (all 0), sized to the ring. */
  private fresh = new Uint32Array(0);
  private zeros = new Uint32Array(0);

  constructor(mem: Memory, private readonly q: GuestQueue, private readonly pool: Mempool, readonly portId: number, readonly queueId = 0, stats: Float64Array<ArrayBufferLike> = new Float64Array(3)) {
    this.stats = stats;
    this.mbufs = new Mbufs(mem);
    this.u8 = mem.u8;
    this.u32 = mem.u32;
  }

  rxBurst(out: Uint32Array, n: number, off = 0): number {
    const q = this.q;
    if (!q.begin()) return 0;
    this.chains.fit(q.size);
    if (this.fresh.length < q.size) {
      // Cold: once per ring size.
      this.fresh = new Uint32Array(q.size);
      this.zeros = new Uint32Array(q.size);
    }
    let got = 0;
    const avail = q.available();
    let take = avail < n ? avail : n;
    let bytes = 0;
    let dropped = 0;
    const c = q.chain;
    if (take > 1) {
      // The commonest chains first: one readable descriptor holding header and frame (DPDK's
      // virtio-user pushes the header into the mbuf's headroom), 14 to MAX_FRAME bytes after the
      // header, read and validated by takeSimple in one loop; then each frame's first byte loaded
      // in a loop of its own (the front-end's CPU wrote these lines: their misses overlap instead
      // of each copy waiting for its own); then the copies. The first other chain ends the run.
      const sc = this.simple;
      sc.fit(q.size);
      const k1 = q.takeSimple(take, HDR, HDR + 14, HDR + MAX_FRAME, sc, 0);
      const { id, addr, len } = sc;
      const g8 = q.u8;
      let touched = 0;
      for (let k = 0; k < k1; k++) touched += g8[addr[k]!]!;
      this.touched = touched;
      // The run's mbufs in one call (rte_mempool_get_bulk: raw, reset by copyRun as it fills each,
      // Mbufs.initSegment): all or none; a pool short of k1 falls back to one at a time, dropping the
      // frames it has none for.
      if (k1 !== 0 && this.pool.getBulk(this.fresh, k1) === k1) {
        got = this.copyRun(out, off, k1);
        bytes = this.runBytes;
        dropped = this.runDropped;
      } else {
        for (let k = 0; k < k1; k++) {
          const m = this.pool.alloc();
          c.addr[0] = addr[k]!;
          c.len[0] = len[k]!;
          if (m === 0 || this.gather(c, 0, 1, 0, m) < 0) {
            q.counts[E_FULL]++;
            dropped++;
            continue;
          }
          out[off + got++] = m;
          bytes += len[k]!;
        }
      }
      // Their used entries (nothing written into a TX buffer: length 0) in one run.
      q.usedRun(id, this.zeros, k1);
      take -= k1;
    }
    // The well-formed leading frames walked first (walkAhead), then copied. One frame has nothing
    // to overlap: the one-by-one loop (burst 1 lost ~6 % with the walk ahead: bench README, Session 19).
    this.held = NOT_HELD;
    const run = take > 1 ? this.walkAhead(take) : 0;
    const { ids, descs, ends } = this.chains;
    let from = 0;
    for (let k = 0; k < run; k++) {
      const to = ends[k]!;
      const m = this.pool.alloc();
      const ok = m !== 0 && this.gather(c, from, to, HDR, m) >= 0;
      from = to;
      q.usedAs(ids[k]!, descs[k]!, 0);
      if (!ok) {
        q.counts[E_FULL]++;
        dropped++;
        continue;
      }
      out[off + got++] = m;
      bytes += this.mbufs.pktLen(m);
    }
    // The chain walkAhead stopped at (walked, not used; dropped below): the loop starts with it.
    let held = this.held;
    // The rest one by one: bad chains, frames too short or too long.
    for (let k = run; k < take; k++) {
      let err = held;
      if (held !== NOT_HELD) held = NOT_HELD;
      else err = q.next();
      if (err === NONE) break;
      const flen = c.readBytes - HDR;
      if (err !== 0 || flen < 14 || flen > MAX_FRAME) {
        if (err !== 0) q.counts[err]++;
        else if (flen > MAX_FRAME) q.counts[E_FULL]++;
        dropped++;
        q.used(0);
        continue;
      }
      const m = this.pool.alloc();
      const ok = m !== 0 && this.gather(c, 0, c.nRead, HDR, m) >= 0;
      q.used(0);
      if (!ok) {
        q.counts[E_FULL]++;
        dropped++;
        continue;
      }
      out[off + got++] = m;
      bytes += flen;
    }
    q.publish();
    q.end();
    const st = this.stats;
    st[0] += got;
    st[1] += bytes;
    if (dropped !== 0) st[2] += dropped;
    return got;
  }

  /** Of the last copyRun: bytes handed out, frames dropped. */
  private runBytes = 0;
  private runDropped = 0;

  /**
   * The takeSimple run's `k1` frames (this.simple) copied into the run's fresh mbufs (this.fresh, raw
   * from getBulk: each reset here, with its frame's fields, by one Mbufs.initSegment instead of
   * allocBulk's reset loop and three setters after it) and handed out at out[off..]; returns how many
   * (bytes and drops in runBytes, runDropped). A function of its own, called once per run, so that
   * TurboFan weighs its per-frame callees (copy, Mbufs' accessors) by calls per run: inside rxBurst they
   * were weighed by calls per rxBurst call, which the empty polls of the first milliseconds of traffic
   * (when rxBurst is compiled) put below the per-burst callees, and the cumulative inlining budget ran
   * out before them in some runs and not in others (bench/notes/net-vhost.md "Session 37: net_vhost used
   * runs stored unless equal; the inlining variant placed").
   */
  private copyRun(out: Uint32Array, off: number, k1: number): number {
    const q = this.q;
    const mb = this.mbufs;
    const fresh = this.fresh;
    const { addr, len } = this.simple;
    const g8 = q.u8;
    const g32 = q.u32;
    const c = q.chain;
    let got = 0;
    let bytes = 0;
    let dropped = 0;
    for (let k = 0; k < k1; k++) {
      const m = fresh[k]!;
      const l = len[k]!;
      const a = mb.initSegment(m, l, this.portId);
      if (a >= 0) {
        // The frame fits the fresh mbuf (now one segment of l bytes from this port): copied straight in.
        copy(this.u8, this.u32, a, g8, g32, addr[k]!, l);
      } else {
        // Longer than one mbuf's room (initSegment reset it as allocBulk does): gathered over a chain.
        c.addr[0] = addr[k]!;
        c.len[0] = l;
        if (this.gather(c, 0, 1, 0, m) < 0) {
          q.counts[E_FULL]++;
          dropped++;
          continue;
        }
      }
      out[off + got++] = m;
      bytes += l;
    }
    this.runBytes = bytes;
    this.runDropped = dropped;
    return got;
  }

  /**
   * Walk the next `n` chains for as long as each holds a frame this queue takes (valid, 14 to
   * MAX_FRAME bytes after the header), their readable segments side by side in q.chain (nextMore),
   * id, descriptors and end in this.chains; and load each frame's first
   * byte at once: the front-end wrote these lines on its own CPU, so their fetches overlap here
   * instead of each frame's copy waiting for its own (DPDK's dequeue also reserves the burst's
   * chains first). A chain that does not qualify is kept (held) for the one-by-one loop, one that
   * did not fit after the others in q.chain given back. Returns the chains taken so.
   */
  private walkAhead(n: number): number {
    const q = this.q;
    const c = q.chain;
    const g8 = q.u8;
    const { ids, descs, ends } = this.chains;
    c.n = 0;
    q.touchDescriptors(n);
    let k = 0;
    for (; k < n; k++) {
      const pos = q.position();
      const start = c.n;
      const err = q.nextMore();
      const flen = c.readBytes - HDR;
      if (err !== 0 || flen < 14 || flen > MAX_FRAME) {
        if (err === NONE || err === NO_ROOM) {
          // Nothing taken, or a chain that did not fit after the others in q.chain: walked again alone.
          q.seek(pos);
          c.n = start;
        } else this.held = err;
        break;
      }
      ids[k] = q.heldId;
      descs[k] = q.heldDescs;
      // Only the readable segments are copied (the rxBurst of one chain reads c.nRead of them).
      const end = start + c.nRead;
      ends[k] = end;
      c.n = end;
    }
    // Then each frame's first byte, in a loop of its own: short enough that the CPU has the loads of
    // a whole burst in flight at once (inside the walk loop each waited for the one before).
    let touched = 0;
    let start = 0;
    for (let j = 0; j < k; j++) {
      const l = c.len[start]!;
      if (l > HDR) touched += g8[c.addr[start]! + HDR]!;
      else if (ends[j]! - start > 1 && c.len[start + 1]! !== 0) touched += g8[c.addr[start + 1]!]!;
      start = ends[j]!;
    }
    this.touched = touched;
    return k;
  }

  /**
   * Gather the frame in segments [from, to) of `c` after its `hdr` header bytes (which may span
   * segments, ANY_LAYOUT; 0: the segments hold the frame alone) into `m`, a fresh mbuf of the
   * pool, and into further mbufs chained to it when it is longer than one's room. Returns m, or
   * -1 when the pool ran dry on the way (m and what was chained to it freed: nothing kept).
   * Mempool.alloc returns 0 when the pool is empty (no mbuf is handle 0).
   */
  private gather(c: Chain, from: number, to: number, hdr: number, m: number): number {
    const q = this.q;
    const mb = this.mbufs;
    let cur = m;
    let dst = mb.dataAddr(m);
    let room = mb.tailroom(m);
    let curLen = 0;
    let segs = 1;
    let flen = 0;
    let skip = hdr;
    for (let s = from; s < to; s++) {
      let so = c.addr[s]!;
      let sl = c.len[s]!;
      if (skip >= sl) {
        skip -= sl;
        continue;
      }
      so += skip;
      sl -= skip;
      skip = 0;
      while (sl > 0) {
        if (room === 0) {
          const nx = this.pool.alloc();
          if (nx === 0) {
            // The pool ran dry mid-frame: the partial chain goes back (free follows next).
            mb.setDataLen(cur, curLen);
            mb.free(m);
            return -1;
          }
          mb.setDataLen(cur, curLen);
          mb.setNext(cur, nx);
          cur = nx;
          dst = mb.dataAddr(nx);
          room = mb.tailroom(nx);
          curLen = 0;
          segs++;
        }
        const t = sl < room ? sl : room;
        copy(this.u8, this.u32, dst, q.u8, q.u32, so, t);
        dst += t;
        so += t;
        sl -= t;
        room -= t;
        curLen += t;
        flen += t;
      }
    }
    mb.setDataLen(cur, curLen);
    mb.setNbSegs(m, segs);
    mb.setPktLen(m, flen);
    mb.setPort(m, this.portId);
    return m;
  }
}
