import { type Memory, TpdkError } from "@tpdk/eal";
import { Mempool } from "@tpdk/mbuf";
import * as MB from "@tpdk/mbuf";
import * as V from "@tpdk/virtio";
import * as L from "./layout.js";
import { packedKickNeeded } from "./packed-queue.js";
import { QueueBase } from "./queue-base.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  M_BUF_ADDR, M_BUF_LEN, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_PORT, M_REFCNT, M_OL_FLAGS,
  M_OL_FLAGS_HI, MBUF_PORT_INVALID, PKTMBUF_HEADROOM,
} = MB;
const {
  ETH_HDR_LEN, NET_HDR_NUM_BUFFERS, VRING_DESC_F_WRITE: F_WRITE, VRING_PACKED_DESC_F_AVAIL: F_AVAIL,
  VRING_PACKED_DESC_F_USED: F_USED, RING_EVENT_FLAGS_ENABLE: EV_ENABLE, RING_EVENT_FLAGS_DISABLE: EV_DISABLE,
  RING_EVENT_FLAGS_DESC: EV_DESC,
} = V;
const {
  QF_MRG_RXBUF, Q_POOL_ID, Q_POOL_NAME, Q_POOL_NAME_BYTES, Q_START_AVAIL, S_BAD_NUM_BUFFERS, S_BAD_USED_ID,
  S_BAD_USED_LEN, S_BROADCAST, S_BYTES, S_ERRORS, S_INTERRUPTS, S_MULTICAST, S_NOMBUF, S_PACKETS, S_RUNTS,
  S_SIZE_BINS, S_TRUNCATED,
} = L;

const RX_BURST_MAX = 64;
const REFILL_CHUNK = 64;

/**
 * RxQueue (rxq.ts) for a packed ring (virtio 1.2 §2.8), chosen when the port
 * negotiated VIRTIO_F_RING_PACKED (attach with rxQueue() or
 * PackedRxQueue.attach). Each posted buffer is one WRITE descriptor carrying
 * a buffer id (its mbuf in owner[id]); the device writes one used descriptor
 * per buffer at our used position. Polling is one Atomics.load of the flags
 * at the used position per buffer; refill writes descriptors at the avail
 * position and publishes them with one Atomics.store of the first one's
 * flags per burst (§2.8.6: the device sees none before all).
 *
 * The device is not trusted: an id out of range or not outstanding, a len
 * beyond the buffer, a num_buffers the ring cannot satisfy are counted and
 * skipped, as on the split ring. Under IN_ORDER a used id other than the
 * expected one is counted and the position wins.
 */
export class PackedRxQueue extends QueueBase {
  private pool: Mempool | null = null;
  private poolId = 0;
  private readonly refill = new Uint32Array(REFILL_CHUNK);
  private refillThresh = 1;
  private mrg = false;
  private interrupts = false;
  /** Next descriptor to make available, and the driver ring wrap counter (§2.8.1). */
  private availPos = 0;
  private availWrap = 1;
  /** Next descriptor the device writes used, and the wrap counter it will be used with. */
  private usedPos = 0;
  private usedWrap = 1;
  /** IN_ORDER: the id posted at each ring position (what the device must return there). */
  private idAt = new Uint16Array(0);
  /** u16 index of descriptor 0, of the driver and device event suppression structures. */
  private descH = 0;
  private drvEvtH = 0;
  private devEvtH = 0;

  private constructor(mem: Memory, portId: number, queueId: number) {
    super(mem, portId, queueId, false);
  }

  /** This thread's handle on packed rx queue `q` of port `portId` (cold; keep it). */
  static attach(mem: Memory, portId: number, q: number): PackedRxQueue {
    return new PackedRxQueue(mem, portId, q);
  }

  protected resizeLocal(size: number): void {
    if (this.idAt.length !== size) this.idAt = new Uint16Array(size);
  }

  protected onResync(): void {
    this.mrg = (this.flags & QF_MRG_RXBUF) !== 0;
    this.refillThresh = Math.max(1, Math.min(32, this.size >>> 2));
    const id = this.u32[(this.zone + Q_POOL_ID) >>> 2]!;
    if (this.pool === null || this.poolId !== id) {
      const b = this.zone + Q_POOL_NAME;
      let end = b;
      while (end < b + Q_POOL_NAME_BYTES && this.u8[end] !== 0) end++;
      this.pool = Mempool.lookup(this.mem, new TextDecoder().decode(this.u8.slice(b, end)));
      this.poolId = id;
    }
    this.interrupts = false;
    // The main thread posted ids 0..n-1 at positions 0..n-1 (queue-zone.ts fillRxPacked).
    const n = this.u32[(this.zone + Q_START_AVAIL) >>> 2]!;
    this.availPos = n === this.size ? 0 : n;
    this.availWrap = n === this.size ? 0 : 1;
    this.usedPos = 0;
    this.usedWrap = 1;
    this.pending = n;
    for (let i = 0; i < n; i++) this.idAt[i] = i;
    this.descH = this.desc >>> 1;
    this.drvEvtH = this.availFlagsH; // Q_AVAIL is the driver event suppression structure: off_wrap at +0, flags at +2
    this.devEvtH = this.usedFlagsH;
  }

  /** Is the descriptor at our used position used (§2.8.1: AVAIL and USED both equal to our used wrap counter)? */
  private usedReady(): boolean {
    // Pairs with the device's Atomics.store of the first used descriptor's flags of its batch, which
    // it issues after writing the batch (and the buffers): what it wrote before is visible now.
    const f = Atomics.load(this.u16, this.descH + (this.usedPos << 3) + 7);
    const w = this.usedWrap !== 0;
    return ((f & F_USED) !== 0) === w && ((f & F_AVAIL) !== 0) === w;
  }

  /** Take the used descriptor at usedPos: its mbuf (0 = bad id, counted), len in this.lastLen. */
  private lastLen = 0;
  private takeUsed(): number {
    const u16 = this.u16;
    const h = this.descH + (this.usedPos << 3);
    const id = u16[h + 6]!;
    this.lastLen = this.u32[(h >>> 1) + 2]!;
    let d = id;
    if (this.inOrder) {
      d = this.idAt[this.usedPos]!;
      if (id !== d) this.f64[this.st + S_BAD_USED_ID] += 1;
    }
    if (++this.usedPos === this.size) {
      this.usedPos = 0;
      this.usedWrap ^= 1;
    }
    if (d >= this.size) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    const m = this.u32[this.ownerW + d]!;
    if (m === 0) {
      this.f64[this.st + S_BAD_USED_ID] += 1;
      return 0;
    }
    this.u32[this.ownerW + d] = 0;
    this.pending--;
    this.freeStack[this.freeTop++] = d;
    this.nfree++;
    return m;
  }

  /**
   * Read one byte of the header line and of the first data line of each frame this burst
   * will take (as RxQueue.rxInOrder does): lines the device just wrote on the other CPU,
   * whose misses overlap when loaded together rather than one per packet in the loop. A
   * hint only: plain reads of the flags (the loop validates each descriptor with its
   * Atomics.load), ids bounds-checked, nothing written but the result word.
   */
  private touchAhead(n: number): void {
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const size = this.size;
    let pos = this.usedPos;
    let wrap = this.usedWrap !== 0;
    let touch = 0;
    const k = n < this.pending ? n : this.pending;
    for (let i = 0; i < k; i++) {
      const h = this.descH + (pos << 3);
      const f = u16[h + 7]!;
      if (((f & F_USED) !== 0) !== wrap || ((f & F_AVAIL) !== 0) !== wrap) break;
      const d = this.inOrder ? this.idAt[pos]! : u16[h + 6]!;
      if (d < size) {
        const m = u32[this.ownerW + d]!;
        if (m !== 0) {
          const b = u32[(m + M_BUF_ADDR) >>> 2]! + PKTMBUF_HEADROOM;
          touch |= u8[b - 1]! | u8[b]!;
        }
      }
      if (++pos === size) {
        pos = 0;
        wrap = !wrap;
      }
    }
    this.touched = touch;
  }

  /** What touchAhead read (kept so the loads are not dropped as unused). */
  touched = 0;

  /** rte_eth_rx_burst on a packed ring: see RxQueue.rxBurst (same contract). */
  rxBurst(mbufs: Uint32Array, n: number, off = 0): number {
    const run = this.u32[this.runW]!;
    if (run !== this.run && !this.resync(run)) return 0;
    if (n > RX_BURST_MAX) n = RX_BURST_MAX;
    const u8 = this.u8;
    const u16 = this.u16;
    const u32 = this.u32;
    const f64 = this.f64;
    const st = this.st;
    const hdr = this.hdr;
    const size = this.size;
    const port = this.portId;
    let nrx = 0;
    let bytes = 0;
    let errors = 0;
    this.touchAhead(n);
    // At most the ring per burst, whatever the device writes.
    for (let guard = 0; nrx < n && guard < size && this.pending > 0 && this.usedReady(); guard++) {
      const m = this.takeUsed();
      let len = this.lastLen;
      if (m === 0) {
        errors++;
        continue;
      }
      const maxLen = u16[(m + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr;
      if (len > maxLen) {
        f64[st + S_BAD_USED_LEN] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      if (len < hdr + ETH_HDR_LEN) {
        f64[st + S_RUNTS] += 1;
        errors++;
        this.mbufs.free(m);
        continue;
      }
      const bufAddr = u32[(m + M_BUF_ADDR) >>> 2]!;
      let nb = 1;
      if (this.mrg) {
        const h = bufAddr + PKTMBUF_HEADROOM - hdr + NET_HDR_NUM_BUFFERS;
        nb = u8[h]! | (u8[h + 1]! << 8);
        if (nb === 0 || nb > size) {
          f64[st + S_BAD_NUM_BUFFERS] += 1;
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      let pktLen = len - hdr;
      u16[(m + M_DATA_OFF) >>> 1] = PKTMBUF_HEADROOM;
      u16[(m + M_DATA_LEN) >>> 1] = pktLen;
      u16[(m + M_NB_SEGS) >>> 1] = nb;
      u16[(m + M_PORT) >>> 1] = port;
      u32[(m + M_NEXT) >>> 2] = 0;
      if (nb > 1) {
        // §2.8.14: the device marked the first buffer used after the rest: they are all there.
        let prev = m;
        let ok = true;
        for (let k = 1; k < nb; k++) {
          if (this.pending === 0 || !this.usedReady()) {
            f64[st + S_TRUNCATED] += 1;
            ok = false;
            break;
          }
          const s = this.takeUsed();
          len = this.lastLen;
          if (s === 0) {
            ok = false;
            continue;
          }
          if (len > u16[(s + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr) {
            f64[st + S_BAD_USED_LEN] += 1;
            ok = false;
            this.mbufs.free(s);
            continue;
          }
          u16[(s + M_DATA_OFF) >>> 1] = PKTMBUF_HEADROOM - hdr;
          u16[(s + M_DATA_LEN) >>> 1] = len;
          u16[(s + M_NB_SEGS) >>> 1] = 1;
          u16[(s + M_PORT) >>> 1] = MBUF_PORT_INVALID;
          u32[(s + M_PKT_LEN) >>> 2] = 0;
          u32[(s + M_NEXT) >>> 2] = 0;
          u32[(prev + M_NEXT) >>> 2] = s;
          prev = s;
          pktLen += len;
        }
        if (!ok) {
          errors++;
          this.mbufs.free(m);
          continue;
        }
      }
      u32[(m + M_PKT_LEN) >>> 2] = pktLen;
      mbufs[off + nrx++] = m;
      bytes += pktLen;
      f64[st + S_SIZE_BINS + sizeBinOf(pktLen)] += 1;
      const a = bufAddr + PKTMBUF_HEADROOM;
      if ((u8[a]! & 1) !== 0) {
        if ((u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff) f64[st + S_BROADCAST] += 1;
        else f64[st + S_MULTICAST] += 1;
      }
    }
    if (nrx !== 0) {
      f64[st + S_PACKETS] += nrx;
      f64[st + S_BYTES] += bytes;
    }
    if (errors !== 0) f64[st + S_ERRORS] += errors;
    if (this.nfree >= this.refillThresh) this.refillRing();
    return nrx;
  }

  /**
   * Post fresh mbufs on every free id: one WRITE descriptor each at the
   * avail position, flipping the wrap counter at the ring's end; the first
   * descriptor's flags are stored last with one Atomics.store (pairs with the
   * device's Atomics.load of the flags at its avail position).
   */
  private refillRing(): void {
    const u16 = this.u16;
    const u32 = this.u32;
    const pool = this.pool!;
    const arr = this.refill;
    const hdr = this.hdr;
    const size = this.size;
    const oldPos = this.availPos;
    const oldWrap = this.availWrap;
    let firstH = -1;
    let firstFlags = 0;
    let posted = 0;
    while (this.nfree > 0) {
      let c = this.nfree < REFILL_CHUNK ? this.nfree : REFILL_CHUNK;
      // Raw objects (as RxQueue's refill): refcnt and ol_flags are written below, every other
      // field of the reset state by rxBurst.
      while (c > 0 && pool.getBulk(arr, c) === 0) c >>>= 1;
      if (c === 0) {
        this.f64[this.st + S_NOMBUF] += this.nfree;
        break;
      }
      for (let i = 0; i < c; i++) {
        const m = arr[i]!;
        const id = this.freeStack[--this.freeTop]!;
        this.nfree--;
        const pos = this.availPos;
        const h = this.descH + (pos << 3);
        const w = h >>> 1;
        u32[w] = u32[(m + M_BUF_ADDR) >>> 2]! + PKTMBUF_HEADROOM - hdr;
        u32[w + 1] = 0;
        u32[w + 2] = u16[(m + M_BUF_LEN) >>> 1]! - PKTMBUF_HEADROOM + hdr;
        u16[h + 6] = id;
        u16[(m + M_REFCNT) >>> 1] = 1;
        u32[(m + M_OL_FLAGS) >>> 2] = 0;
        u32[(m + M_OL_FLAGS_HI) >>> 2] = 0;
        const flags = F_WRITE | (this.availWrap !== 0 ? F_AVAIL : F_USED);
        if (firstH < 0) {
          firstH = h + 7;
          firstFlags = flags;
        } else u16[h + 7] = flags;
        u32[this.ownerW + id] = m;
        this.idAt[pos] = id;
        if (pos + 1 === size) {
          this.availPos = 0;
          this.availWrap ^= 1;
        } else this.availPos = pos + 1;
      }
      posted += c;
      this.pending += c;
    }
    if (firstH >= 0) {
      // The one publish per burst (§2.8.6: the first descriptor made available after the rest).
      Atomics.store(u16, firstH, firstFlags);
      this.kickOrPrime(packedKickNeeded(u16, this.devEvtH, this.eventIdx, oldPos, oldWrap, posted, size));
    }
  }

  // ---------------------------------------------------------------- interrupt mode

  /** Ask for a used-buffer notification (§2.8.10: ENABLE, or under EVENT_IDX the descriptor at our used position). */
  enableInterrupt(): void {
    if (!this.running) throw new TpdkError("ESTATE", `virtio-pmd: port ${this.portId} rx queue ${this.queueId} is not started`);
    this.interrupts = true;
    this.armEvent();
  }

  /** Back to pure polling (DISABLE). */
  disableInterrupt(): void {
    if (!this.running) return;
    this.interrupts = false;
    // Pairs with the device's Atomics.load of the flags after it publishes.
    Atomics.store(this.u16, this.drvEvtH + 1, EV_DISABLE);
  }

  private armEvent(): void {
    if (this.eventIdx) {
      // off_wrap first, then the flags the device reads first (its Atomics.load pairs with this store).
      Atomics.store(this.u16, this.drvEvtH, this.usedPos | (this.usedWrap << 15));
      Atomics.store(this.u16, this.drvEvtH + 1, EV_DESC);
    } else Atomics.store(this.u16, this.drvEvtH + 1, EV_ENABLE);
  }

  /** See RxQueue.waitInterrupt. */
  waitInterrupt(timeoutMs: number): boolean {
    if (!this.running) return false;
    const v = Atomics.load(this.i32, this.interruptI);
    if (this.interrupts) this.armEvent();
    if (this.pending > 0 && this.usedReady()) return true;
    const r = Atomics.wait(this.i32, this.interruptI, v, timeoutMs);
    if (r === "timed-out") return false;
    this.f64[this.st + S_INTERRUPTS] += 1;
    return true;
  }

  /** Buffers currently posted to the device (diagnostics). */
  get posted(): number {
    return this.pending;
  }
}

function sizeBinOf(s: number): number {
  if (s === 64) return 1;
  if (s > 64 && s < 1024) return 27 - Math.clz32(s);
  if (s < 64) return 0;
  return s < 1519 ? 6 : 7;
}
