import type { Memory } from "@tpdk/eal";
import { Mbufs, type Mempool } from "@tpdk/mbuf";
import type { Chain } from "@tpdk/vhost/device";
import { E_FULL, E_ORDER, type GuestQueue, NO_CHAIN } from "./guest-queue.js";

/**
 * net_vhost's rxBurst and txBurst for the lcore that polls the port
 * (DPDK's rte_vhost_dequeue_burst / rte_vhost_enqueue_burst as an ethdev):
 *   rxBurst: the front-end's TX ring (2q+1) → mbufs from the port's pool,
 *            chained (nb_segs, next) when a frame is longer than one mbuf's room
 *   txBurst: mbufs, chained or not → the front-end's RX ring (2q), spread over
 *            several of its buffers under MRG_RXBUF (num_buffers); freed once copied
 * Frames are copied (the front-end's buffers are its own memory). Nothing
 * here allocates; counts are returned.
 */

/** struct virtio_net_hdr_v1 (12 bytes with VERSION_1, §5.1.6); num_buffers at 10. */
const HDR = 12;
const HDR_NUM_BUFFERS = 10;
/** The longest frame taken from the front-end (a 16-bit length, as the device core's MAX_FRAME). */
const MAX_FRAME = 65535;
const NONE = NO_CHAIN;

/** Copy `len` bytes between two buffers (no subarray): 4 bytes at a time when both are 4-aligned alike. */
function copy(dst: Uint8Array<ArrayBufferLike>, dst32: Uint32Array<ArrayBufferLike>, d: number, src: Uint8Array<ArrayBufferLike>, src32: Uint32Array<ArrayBufferLike>, s: number, len: number): void {
  let i = 0;
  if (((d ^ s) & 3) === 0) {
    while (((s + i) & 3) !== 0 && i < len) {
      dst[d + i] = src[s + i]!;
      i++;
    }
    const words = (len - i) >>> 2;
    const dw = (d + i) >>> 2;
    const sw = (s + i) >>> 2;
    for (let k = 0; k < words; k++) dst32[dw + k] = src32[sw + k]!;
    i += words << 2;
  }
  for (; i < len; i++) dst[d + i] = src[s + i]!;
}

export class NetVhostRxQueue {
  private readonly mbufs: Mbufs;
  private readonly u8: Uint8Array<ArrayBufferLike>;
  private readonly u32: Uint32Array<ArrayBufferLike>;
  /** [0] packets, [1] bytes, [2] dropped (bad chain, too long, no mbuf) */
  readonly stats: Float64Array<ArrayBufferLike>;

  constructor(mem: Memory, private readonly q: GuestQueue, private readonly pool: Mempool, readonly portId: number, readonly queueId = 0, stats: Float64Array<ArrayBufferLike> = new Float64Array(3)) {
    this.stats = stats;
    this.mbufs = new Mbufs(mem);
    this.u8 = mem.u8;
    this.u32 = mem.u32;
  }

  rxBurst(out: Uint32Array, n: number, off = 0): number {
    const q = this.q;
    if (!q.begin()) return 0;
    let got = 0;
    const avail = q.available();
    const take = avail < n ? avail : n;
    const mb = this.mbufs;
    let bytes = 0;
    let dropped = 0;
    for (let k = 0; k < take; k++) {
      const err = q.next();
      if (err === NONE) break;
      const c = q.chain;
      const flen = c.readBytes - HDR;
      if (err !== 0 || flen < 14) {
        if (err !== 0) q.counts[err]++;
        dropped++;
        q.used(0);
        continue;
      }
      const m = flen > MAX_FRAME ? -1 : this.pool.alloc();
      if (m < 0) {
        q.counts[E_FULL]++;
        dropped++;
        q.used(0);
        continue;
      }
      // Gather the frame after the header (which may span segments, ANY_LAYOUT) into
      // m, and into further mbufs chained to it when it is longer than m's room.
      let cur = m;
      let dst = mb.dataAddr(m);
      let room = mb.tailroom(m);
      let curLen = 0;
      let segs = 1;
      let skip = HDR;
      let ok = true;
      for (let s = 0; s < c.nRead && ok; s++) {
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
            if (nx < 0) {
              ok = false;
              break;
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
        }
      }
      mb.setDataLen(cur, curLen);
      if (!ok) {
        // The pool ran dry mid-frame: the partial chain goes back (free follows next).
        mb.free(m);
        q.counts[E_FULL]++;
        dropped++;
        q.used(0);
        continue;
      }
      mb.setNbSegs(m, segs);
      mb.setPktLen(m, flen);
      mb.setPort(m, this.portId);
      out[off + got++] = m;
      bytes += flen;
      q.used(0);
    }
    q.publish();
    q.end();
    const st = this.stats;
    st[0] += got;
    st[1] += bytes;
    if (dropped !== 0) st[2] += dropped;
    return got;
  }
}

export class NetVhostTxQueue {
  private readonly mbufs: Mbufs;
  private readonly u8: Uint8Array<ArrayBufferLike>;
  private readonly u32: Uint32Array<ArrayBufferLike>;
  /** [0] packets, [1] bytes, [2] ring full (not taken), [3] bad chains */
  readonly stats: Float64Array<ArrayBufferLike>;
  /** The chains a frame is reserved in (MRG_RXBUF): id, descriptors spanned, end of its segments in q.chain (sized to the ring). */
  private chainIds = new Uint16Array(0);
  private chainDescs = new Uint16Array(0);
  private chainEnds = new Uint32Array(0);
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
   * written from those segments. Nothing of the ring is read twice, so a
   * front-end that rewrites a descriptor meanwhile changes nothing: the
   * segments written are the ones the walk checked.
   */
  txBurst(pkts: Uint32Array, n: number, off = 0): number {
    const q = this.q;
    if (!q.begin()) return 0;
    const mb = this.mbufs;
    // Cold: once per ring size (a frame may take up to a ring of chains).
    if (this.chainIds.length < q.size) this.grow(q.size);
    let sent = 0;
    let bytes = 0;
    let bad = 0;
    let avail = q.available();
    while (sent < n && avail > 0) {
      const m = pkts[off + sent]!;
      // A chain (nb_segs > 1) is read segment by segment: the source cursor (fill()).
      const flen = mb.nbSegs(m) === 1 ? mb.dataLen(m) : mb.pktLen(m);
      const need = flen + HDR;
      q.mark();
      const err = q.next();
      if (err === NONE) break;
      const c = q.chain;
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
        const ids = this.chainIds;
        const descs = this.chainDescs;
        const ends = this.chainEnds;
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
    const st = this.stats;
    st[0] += sent;
    st[1] += bytes;
    if (sent < n) st[2] += n - sent;
    if (bad !== 0) st[3] += bad;
    return sent;
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
        while (done < HDR && sl > 0) {
          g8[so++] = 0;
          sl--;
          done++;
          written++;
        }
        if (done === HDR && this.hdrAt >= 0) g8[this.hdrAt + HDR_NUM_BUFFERS] = 1;
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
        copy(g8, q.u32, so, this.u8, this.u32, sAddr, t);
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

  /** Cold: the reserved-chain tables for a ring of `size` (at most a ring of chains per frame). */
  private grow(size: number): void {
    this.chainIds = new Uint16Array(size);
    this.chainDescs = new Uint16Array(size);
    this.chainEnds = new Uint32Array(size);
  }
}
