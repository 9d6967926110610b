import * as V from "@tpdk/virtio";
import { PACKED_DESC_ALIGN, PACKED_EVENT_ALIGN, PACKED_EVENT_SUPPRESS_SIZE, isValidPackedQueueSize, packedNeedEvent } from "@tpdk/virtio";
import type { GuestMemory } from "./guest-memory.js";
import * as S from "./stats.js";
import { S_ERR_QUEUE_SETUP } from "./stats.js";
import type { Chain, DeviceQueue } from "./virtqueue.js";
import type { TxBatch } from "./tx-batch.js";
import * as Q from "./virtqueue.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  VRING_DESC_F_NEXT: F_NEXT, VRING_DESC_F_WRITE: F_WRITE, VRING_DESC_F_INDIRECT: F_INDIRECT,
  VRING_PACKED_DESC_F_AVAIL: F_AVAIL, VRING_PACKED_DESC_F_USED: F_USED, RING_EVENT_FLAGS_ENABLE: EV_ENABLE,
  RING_EVENT_FLAGS_DISABLE: EV_DISABLE, RING_EVENT_FLAGS_DESC: EV_DESC,
} = V;
const { WALK_FULL } = Q;
const {
  S_ERR_ADDR_HIGH, S_ERR_ADDR_RANGE, S_ERR_CHAIN_LENGTH, S_ERR_DESC_ORDER, S_ERR_INDIRECT_FEATURE,
  S_ERR_INDIRECT_NEXT, S_ERR_INDIRECT_TABLE,
} = S;
const TWO_32 = 0x1_0000_0000;
/**
 * takeSimple() checks four descriptors' flags with one Atomics.load where the
 * host keeps loads in program order (x86-TSO; see takeSimple); elsewhere
 * every descriptor gets its own, as virtio-pmd's packed RX (packed-rx-in-order.ts).
 */
const LOADS_IN_ORDER = process.arch === "x64" || process.arch === "ia32";

/**
 * A used descriptor's flags (§2.8.1: AVAIL and USED both equal to the device's
 * used wrap counter; WRITE when the device wrote into the buffer, §2.8.3).
 */
function usedFlags(wrap: number, len: number): number {
  return (wrap !== 0 ? F_AVAIL | F_USED : 0) | (len !== 0 ? F_WRITE : 0);
}

/**
 * walkPacked() result when the ring itself is broken: a chain runs into a
 * descriptor that is not available, or is longer than the ring. The device
 * cannot tell where the next buffer starts (§2.8.6: the driver makes a
 * list's first descriptor available after the rest), so it needs a reset.
 */
export const PWALK_BROKEN = -2;

/**
 * The device side of one packed virtqueue (virtio 1.2 §2.8). The transport
 * registers stay in the split DeviceQueue of the same index (`regs`); this
 * object is used instead of it for the data path when VIRTIO_F_RING_PACKED
 * is negotiated (DeviceState.packed), so the split classes and their loops
 * never see a packed ring.
 *
 * Positions: availPos/availWrap is the next descriptor the device reads,
 * usedPos/usedWrap the next it writes a used descriptor into; each wrap
 * counter starts at 1 and flips after the ring's last descriptor (§2.8.1).
 * The driver is untrusted: every descriptor flag is checked against the wrap
 * counter, every buffer translated through the GuestMemory of `regs`
 * (guest-memory.ts: region 0 inline, the rest by table; outside every
 * region is an error), every loop is bounded by the ring size.
 */
export class PackedDeviceQueue {
  readonly regs: DeviceQueue;
  size = 0;
  enabled = false;
  /** Byte address of descriptor 0. */
  desc = 0;
  availPos = 0;
  availWrap = 1;
  usedPos = 0;
  usedWrap = 1;
  indirectOk = false;
  eventIdx = false;
  notifyOn = false;
  /** availPos | availWrap << 15 as last published in the queue's QINFO word (TX: VhostDevice.inputExhausted). */
  qinfoPos = -1;
  /** Of the last simpleBuffer() that returned true / the last walk: */
  simpleAddr = 0;
  simpleLen = 0;
  /** Buffer id (§2.8.6: in the list's last descriptor) and ring descriptors of the last walk. */
  chainId = 0;
  chainDescs = 0;

  private gm!: GuestMemory;
  private u16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** The memory's fast region, copied for the inline check (guest-memory.ts). */
  private fastHi = -1;
  private fastLo = 0;
  private fastEnd = 0;
  private fastDelta = 0;
  private below4G = true;
  /** u16 indices of the event suppression fields. */
  private drvOffWrapI = 0;
  private drvFlagsI = 0;
  private devOffWrapI = 0;
  private devFlagsI = 0;
  /** Pending used descriptors: the u16 index and value of the first one's flags (stored last, by publish()). */
  private firstFlagsI = -1;
  private firstFlags = 0;
  /** Positions the used pointer moved since the last publish, and where it was then. */
  private pendPos = 0;
  private pubPos = 0;
  private pubWrap = 1;

  constructor(regs: DeviceQueue) {
    this.regs = regs;
    this.setMemory(regs.memory);
  }

  /** Take the memory of `regs` (cold: construction and enable; the queue is disabled). */
  private setMemory(gm: GuestMemory): void {
    this.gm = gm;
    this.u16 = gm.u16;
    this.u32 = gm.u32;
    this.fastHi = gm.fastHi;
    this.fastLo = gm.fastLo;
    this.fastEnd = gm.fastEnd;
    this.fastDelta = gm.fastDelta;
    this.below4G = gm.below4G;
  }

  /** Error slot for a buffer outside every region (the high half named when it alone explains it). */
  private outside(addrHi: number): number {
    return addrHi !== 0 && this.below4G ? S_ERR_ADDR_HIGH : S_ERR_ADDR_RANGE;
  }

  reset(): void {
    this.enabled = false;
    this.size = this.desc = 0;
    this.availPos = this.usedPos = this.pubPos = this.pendPos = 0;
    this.availWrap = this.usedWrap = this.pubWrap = 1;
    this.firstFlagsI = -1;
    this.qinfoPos = -1;
    this.indirectOk = this.eventIdx = this.notifyOn = false;
  }

  /**
   * Check the registers for a packed ring: any size 1..max (§2.8.10.1: not
   * only powers of two), the ring aligned 16 and the two event suppression
   * structures aligned 4, all inside memory, high halves 0.
   */
  validate(): number {
    const r = this.regs;
    const q = r.size;
    if (!isValidPackedQueueSize(q) || q > r.maxSize) return S_ERR_QUEUE_SETUP;
    if (r.descHi !== 0 || r.driverHi !== 0 || r.deviceHi !== 0) return S_ERR_QUEUE_SETUP;
    const gm = r.memory;
    const desc = gm.translate(r.descLo, 16 * q);
    const drv = gm.translate(r.driverLo, PACKED_EVENT_SUPPRESS_SIZE);
    const dev = gm.translate(r.deviceLo, PACKED_EVENT_SUPPRESS_SIZE);
    if (desc < 0 || r.descLo % PACKED_DESC_ALIGN !== 0 || desc % PACKED_DESC_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    if (drv < 0 || r.driverLo % PACKED_EVENT_ALIGN !== 0 || drv % PACKED_EVENT_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    if (dev < 0 || r.deviceLo % PACKED_EVENT_ALIGN !== 0 || dev % PACKED_EVENT_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    return 0;
  }

  /** Enable with validated registers (the split object is marked enabled too: it carries the registers). */
  enable(): void {
    const r = this.regs;
    const gm = r.memory;
    this.enableAt(r.size, gm.translate(r.descLo, 16 * r.size), gm.translate(r.driverLo, PACKED_EVENT_SUPPRESS_SIZE), gm.translate(r.deviceLo, PACKED_EVENT_SUPPRESS_SIZE));
  }

  /**
   * Enable a ring of `size` descriptors at offset `desc` of the memory of
   * `regs`, with the driver and device event suppression structures at
   * `driver` and `device`: each already checked to lie inside one region
   * with §2.8's alignment (enable() after validate(); net_vhost after
   * translating SET_VRING_ADDR), size valid for a packed ring. Positions
   * start at 0 with wrap counters 1; resume() moves them. Cold.
   */
  enableAt(size: number, desc: number, driver: number, device: number): void {
    const r = this.regs;
    this.reset();
    this.setMemory(r.memory);
    this.enabled = true;
    r.enabled = true;
    this.size = size;
    this.desc = desc;
    this.drvOffWrapI = driver >>> 1;
    this.drvFlagsI = (driver + 2) >>> 1;
    this.devOffWrapI = device >>> 1;
    this.devFlagsI = (device + 2) >>> 1;
  }

  /**
   * Continue a ring used before (vhost-user SET_VRING_BASE for packed rings:
   * bits 0-14 the next descriptor, bit 15 its wrap counter; the used side
   * continues from the same place, as every earlier buffer was returned). Cold.
   */
  resume(availPos: number, availWrap: number, usedPos: number, usedWrap: number): void {
    this.availPos = availPos;
    this.availWrap = availWrap & 1;
    this.usedPos = this.pubPos = usedPos;
    this.usedWrap = this.pubWrap = usedWrap & 1;
    this.pendPos = 0;
    this.firstFlagsI = -1;
  }

  configure(indirect: boolean, eventIdx: boolean): void {
    this.indirectOk = indirect;
    this.eventIdx = eventIdx;
  }

  // ------------------------------------------------------------------ avail

  /**
   * Is the descriptor at availPos available (§2.8.1: AVAIL equal to our
   * avail wrap counter, USED not)? The Atomics.load pairs with the driver's
   * Atomics.store of the flags of the first descriptor it published, which
   * it issues after writing every other descriptor of its burst (§2.8.6), so
   * once this sees it, the rest of the list is visible too.
   */
  isAvail(): boolean {
    const f = Atomics.load(this.u16, ((this.desc + (this.availPos << 4)) >>> 1) + 7);
    return ((f & F_AVAIL) !== 0) === (this.availWrap !== 0) && ((f & F_USED) !== 0) !== (this.availWrap !== 0);
  }

  /** Move availPos back by `k` descriptors (k <= size) taken and not used, flipping the wrap counter back at the ring's start. */
  untake(k: number): void {
    let p = this.availPos - k;
    if (p < 0) {
      p += this.size;
      this.availWrap ^= 1;
    }
    this.availPos = p;
  }

  /** Move availPos past `k` descriptors (k <= size), flipping the wrap counter at the end of the ring. */
  take(k: number): void {
    let p = this.availPos + k;
    if (p >= this.size) {
      p -= this.size;
      this.availWrap ^= 1;
    }
    this.availPos = p;
  }

  /**
   * The commonest buffer: the available descriptor at availPos is alone (no
   * NEXT, no INDIRECT), writable iff `writable`, inside memory. Leaves
   * simpleAddr/simpleLen/chainId; the caller then take(1)s it. Anything else:
   * false, and walk() says what is wrong. The caller checked isAvail().
   */
  simpleBuffer(writable: boolean): boolean {
    const d = this.desc + (this.availPos << 4);
    const h = d >>> 1;
    const flags = this.u16[h + 7]! & ~(F_AVAIL | F_USED);
    if (flags !== (writable ? F_WRITE : 0)) return false;
    const w = d >>> 2;
    const len = this.u32[w + 2]!;
    // Region 0 inline (guest-memory.ts); anything else takes walk().
    const addr = this.u32[w]!;
    if (this.u32[w + 1]! !== this.fastHi || addr < this.fastLo || addr + len > this.fastEnd) return false;
    this.simpleAddr = addr + this.fastDelta;
    this.simpleLen = len;
    this.chainId = this.u16[h + 6]!;
    return true;
  }

  /**
   * The fast take of the transmit and receive paths (tx-batch.ts), as
   * DeviceQueue.takeSimple: up to `n` lists for as long as the descriptor
   * at availPos is available (one Atomics.load of its flags, pairing with
   * the driver's store of them, as isAvail(); or one per four descriptors:
   * see the memory-order note in the loop) and alone with flags
   * `flags` (0: readable, TX; VRING_DESC_F_WRITE: writable, RX), inside the
   * fast region, `minLen` to `maxLen` bytes long; its id, offset (`hdr`
   * bytes in) and length less `hdr` go into `b` from index 0. Stops before
   * the first other list (walk() validates it) or the first descriptor not
   * available. Returns how many were taken (availPos and the wrap counter
   * moved past them; untake() moves them back).
   */
  takeSimple(n: number, hdr: number, minLen: number, maxLen: number, b: TxBatch, flags: number): number {
    const u16 = this.u16;
    const u32 = this.u32;
    const size = this.size;
    const desc = this.desc;
    const fHi = this.fastHi;
    const lo = this.fastLo;
    const end = this.fastEnd;
    const delta = this.fastDelta + hdr;
    const ids = b.id;
    const addrs = b.addr;
    const lens = b.len;
    // The flags a descriptor available in this lap has, and alone with `flags`: AVAIL == wrap, USED != wrap (§2.8.1).
    let pos = this.availPos;
    let wrap = this.availWrap;
    let want = (wrap !== 0 ? F_AVAIL : F_USED) | flags;
    let k = 0;
    while (k < n) {
      const h0 = (desc + (pos << 4)) >>> 1;
      let cnt = 0;
      // Memory order (§2.8.21, supplying buffers: the driver writes a list's
      // descriptors, then makes its first available; tpdk's driver stores a burst's first
      // flags last, DPDK's after a write barrier). At a position aligned to 4
      // with four descriptors before the ring's end, the four flags are read
      // with plain loads, then the fourth again with one Atomics.load, and
      // only then the four descriptors (virtio-pmd's packed RX does the same
      // for used descriptors: packed-rx-in-order.ts, rxInOrder). That Atomics.load
      // pairs with the driver's store of the fourth flags; for the other
      // three the order comes from the host: V8 keeps typed-array loads on
      // one effect chain and never moves them across an Atomics operation,
      // and x86-TSO never lets a later load pass an earlier one, so flags
      // seen available imply the descriptor written before them is seen too.
      // Elsewhere (not LOADS_IN_ORDER) each descriptor gets its own
      // Atomics.load. Whatever is read is validated below either way.
      if (
        LOADS_IN_ORDER && n - k >= 4 && (pos & 3) === 0 && pos + 4 <= size &&
        u16[h0 + 7] === want && u16[h0 + 15] === want && u16[h0 + 23] === want && Atomics.load(u16, h0 + 31) === want
      ) cnt = 4;
      // One descriptor: its own Atomics.load, pairing with the driver's store of its flags (as isAvail()).
      else if (Atomics.load(u16, h0 + 7) === want) cnt = 1;
      else break;
      let i = 0;
      for (; i < cnt; i++) {
        const h = h0 + (i << 3);
        const w = h >>> 1;
        const addr = u32[w]!;
        const len = u32[w + 2]!;
        if (u32[w + 1]! !== fHi || addr < lo || addr + len > end || len < minLen || len > maxLen) break;
        ids[k] = u16[h + 6]!;
        addrs[k] = addr + delta;
        lens[k] = len - hdr;
        k++;
      }
      pos += i;
      if (pos === size) {
        pos = 0;
        wrap ^= 1;
        want = (wrap !== 0 ? F_AVAIL : F_USED) | flags;
      }
      if (i < cnt) break;
    }
    this.availPos = pos;
    this.availWrap = wrap;
    return k;
  }

  /**
   * Walk the list starting at availPos (available: the caller checked),
   * validating every descriptor, and append its buffers to `c` (from c.n).
   * Sets chainDescs (ring descriptors the list spans) and chainId (the
   * id of its last descriptor, §2.8.6) even when the list is malformed, so
   * the caller can return it used and skip it. Returns 0, an S_ERR_* slot
   * (malformed: nothing appended), WALK_FULL, or PWALK_BROKEN (the ring
   * cannot be followed: reset). Does not move availPos.
   *
   * §2.8.6-2.8.7: descriptors of a list are consecutive in the ring (wrapping,
   * the wrap counter flipping with it), each available; an INDIRECT one is a
   * list by itself (with NEXT it is malformed), its table holds len/16
   * descriptors read in order, of which only WRITE counts (§2.8.7: the
   * others' flags and ids are reserved and ignored). Readable buffers come
   * before writable ones. At most `size` buffers.
   */
  walk(c: Chain): number {
    const u16 = this.u16;
    const u32 = this.u32;
    const fHi = this.fastHi;
    const lo = this.fastLo;
    const end = this.fastEnd;
    const delta = this.fastDelta;
    const gm = this.gm;
    const size = this.size;
    const cap = c.addr.length;
    let n = c.n;
    let pos = this.availPos;
    let wrap = this.availWrap;
    let err = 0;
    let nRead = 0;
    let nWrite = 0;
    let rb = 0;
    let wb = 0;
    let k = 0;
    for (;;) {
      if (k !== 0) {
        // Every descriptor of the list must be available under the wrap counter at its position.
        const f = Atomics.load(u16, ((this.desc + (pos << 4)) >>> 1) + 7);
        if (((f & F_AVAIL) !== 0) !== (wrap !== 0) || ((f & F_USED) !== 0) === (wrap !== 0)) return PWALK_BROKEN;
      }
      if (++k > size) return PWALK_BROKEN;
      const d = this.desc + (pos << 4);
      const w = d >>> 2;
      const flags = u16[(d >>> 1) + 7]!;
      this.chainId = u16[(d >>> 1) + 6]!;
      if (++pos === size) {
        pos = 0;
        wrap ^= 1;
      }
      if (err === 0) {
        const addrHi = u32[w + 1]!;
        const addr = u32[w]!;
        const len = u32[w + 2]!;
        // Translate (guest-memory.ts): the fast region inline on the two halves, the others through the table.
        let off = addr + delta;
        if (addrHi !== fHi || addr < lo || addr + len > end) off = gm.translate(addrHi * TWO_32 + addr, len);
        if ((flags & F_INDIRECT) !== 0) {
          if (!this.indirectOk) err = S_ERR_INDIRECT_FEATURE;
          else if ((flags & F_NEXT) !== 0 || k !== 1) err = S_ERR_INDIRECT_NEXT;
          else if (off < 0) err = this.outside(addrHi);
          else if (len === 0 || (len & 15) !== 0 || (off & 3) !== 0) err = S_ERR_INDIRECT_TABLE;
          else if (len >>> 4 > size) err = S_ERR_CHAIN_LENGTH;
          else {
            for (let t = off; t < off + len; t += 16) {
              const tw = t >>> 2;
              const l = u32[tw + 2]!;
              const ah = u32[tw + 1]!;
              const ta = u32[tw]!;
              let a = ta + delta;
              if (ah !== fHi || ta < lo || ta + l > end) a = gm.translate(ah * TWO_32 + ta, l);
              if (a < 0) {
                err = this.outside(ah);
                break;
              }
              if ((u16[(t >>> 1) + 7]! & F_WRITE) !== 0) {
                nWrite++;
                wb += l;
              } else {
                if (nWrite !== 0) {
                  err = S_ERR_DESC_ORDER;
                  break;
                }
                nRead++;
                rb += l;
              }
              if (n >= cap) {
                err = WALK_FULL;
                break;
              }
              c.addr[n] = a;
              c.len[n] = l;
              n++;
            }
          }
        } else if (off < 0) err = this.outside(addrHi);
        else {
          if ((flags & F_WRITE) !== 0) {
            nWrite++;
            wb += len;
          } else if (nWrite !== 0) err = S_ERR_DESC_ORDER;
          else {
            nRead++;
            rb += len;
          }
          if (err === 0) {
            if (n >= cap) err = WALK_FULL;
            else {
              c.addr[n] = off;
              c.len[n] = len;
              n++;
            }
          }
        }
      }
      if ((flags & F_NEXT) === 0) break;
    }
    this.chainDescs = k;
    if (err !== 0) return err;
    c.n = n;
    c.nRead = nRead;
    c.nWrite = nWrite;
    c.readBytes = rb;
    c.writeBytes = wb;
    return 0;
  }

  /** Buffers available now from availPos (cold: the back-pressure check in demand.ts; at most size loads). */
  availableNow(): number {
    let pos = this.availPos;
    let wrap = this.availWrap;
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      // Pairs with the driver's Atomics.store of the flags.
      const f = Atomics.load(this.u16, ((this.desc + (pos << 4)) >>> 1) + 7);
      if (((f & F_AVAIL) !== 0) !== (wrap !== 0) || ((f & F_USED) !== 0) === (wrap !== 0)) break;
      n++;
      if (++pos === this.size) {
        pos = 0;
        wrap ^= 1;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ used

  /**
   * Write a used descriptor for buffer `id` at usedPos (§2.8.6: one per list;
   * §2.8.8 in order: one per batch, with the batch's last id) and skip
   * `descs` positions. Its flags are written now except for the first one
   * since the last publish(), which publish() stores last: the driver polls
   * that one first and so sees none of the batch before all of it (§2.8.9:
   * the first buffer of a multi-buffer request is marked used after the rest).
   */
  addUsed(id: number, len: number, descs: number): void {
    const d = this.desc + (this.usedPos << 4);
    const h = d >>> 1;
    this.u16[h + 6] = id;
    this.u32[(d >>> 2) + 2] = len;
    const flags = usedFlags(this.usedWrap, len);
    if (this.firstFlagsI < 0) {
      this.firstFlagsI = h + 7;
      this.firstFlags = flags;
    } else this.u16[h + 7] = flags;
    let p = this.usedPos + descs;
    if (p >= this.size) {
      p -= this.size;
      this.usedWrap ^= 1;
    }
    this.usedPos = p;
    this.pendPos += descs;
  }

  /**
   * addUsed(ids[k], lens[k], 1) for k < n (the RX fast run: one call per
   * run, as the split ring's addUsedRun): the position, wrap and flags in
   * locals, the queue's fields written once after the run, so a frame costs
   * the used descriptor's stores and no field stores behind them (on the AMD
   * host the RX stores wait in the store buffer; bench/notes/pipeline.md, "Session
   * 21: pipeline"). The first used descriptor since the last publish() keeps
   * its flags back as in addUsed().
   */
  addUsedRun(ids: Uint32Array, lens: Uint32Array, n: number): void {
    if (n === 0) return;
    const u16 = this.u16;
    const u32 = this.u32;
    const desc = this.desc;
    const size = this.size;
    let pos = this.usedPos;
    let wrap = this.usedWrap;
    let k = 0;
    if (this.firstFlagsI < 0) {
      const d = desc + (pos << 4);
      const len = lens[0]!;
      u16[(d >>> 1) + 6] = ids[0]!;
      u32[(d >>> 2) + 2] = len;
      this.firstFlagsI = (d >>> 1) + 7;
      this.firstFlags = usedFlags(wrap, len);
      if (++pos === size) {
        pos = 0;
        wrap ^= 1;
      }
      k = 1;
    }
    for (; k < n; k++) {
      const d = desc + (pos << 4);
      const h = d >>> 1;
      const len = lens[k]!;
      u16[h + 6] = ids[k]!;
      u32[(d >>> 2) + 2] = len;
      u16[h + 7] = usedFlags(wrap, len);
      if (++pos === size) {
        pos = 0;
        wrap ^= 1;
      }
    }
    this.usedPos = pos;
    this.usedWrap = wrap;
    this.pendPos += n;
  }

  /**
   * Publish the pending used descriptors and say whether the driver wants a
   * used-buffer notification for them (§2.8.10: its event suppression
   * structure: ENABLE, DISABLE, or under EVENT_IDX a descriptor position).
   */
  publish(): boolean {
    if (this.firstFlagsI < 0) return false;
    // Pairs with the driver's Atomics.load of the flags at its used position:
    // the descriptors (and buffer contents) written before are visible once it sees these.
    Atomics.store(this.u16, this.firstFlagsI, this.firstFlags);
    this.firstFlagsI = -1;
    const oldPos = this.pubPos;
    const oldWrap = this.pubWrap;
    const n = this.pendPos;
    this.pendPos = 0;
    this.pubPos = this.usedPos;
    this.pubWrap = this.usedWrap;
    // Read after publishing (§2.8.10: consult the structure after writing descriptors).
    // Pairs with the driver's Atomics.store of its event flags (after off_wrap).
    const f = Atomics.load(this.u16, this.drvFlagsI);
    if (f === EV_ENABLE) return true;
    if (f !== EV_DESC || !this.eventIdx) return false;
    return packedNeedEvent(this.u16[this.drvOffWrapI]!, oldPos, oldWrap, n, this.size);
  }

  // ------------------------------------------------------------------ kicks

  /**
   * Ask for (on) or suppress (off) available-buffer notifications through
   * the device event suppression structure (§2.8.10): off = DISABLE; on =
   * ENABLE, or under EVENT_IDX a kick when the descriptor at availPos is made
   * available. off_wrap is written before the flags; the flags' Atomics.store
   * pairs with the driver's Atomics.load of them after it publishes.
   */
  setNotify(on: boolean): void {
    this.notifyOn = on;
    if (!on) {
      Atomics.store(this.u16, this.devFlagsI, EV_DISABLE);
      return;
    }
    if (this.eventIdx) {
      Atomics.store(this.u16, this.devOffWrapI, this.availPos | (this.availWrap << 15));
      Atomics.store(this.u16, this.devFlagsI, EV_DESC);
    } else Atomics.store(this.u16, this.devFlagsI, EV_ENABLE);
  }
}
