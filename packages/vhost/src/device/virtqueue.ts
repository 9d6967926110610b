import * as V from "@tpdk/virtio";
import { AVAIL_ALIGN, AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, DESC_ALIGN, USED_ALIGN, USED_IDX, USED_FLAGS, USED_RING, QueueRegs, VIRTIO_MSI_NO_VECTOR, VRING_USED_F_NO_NOTIFY, availEventOffset, availRingBytes, descTableBytes, usedEventOffset, usedRingBytes } from "@tpdk/virtio";
import * as S from "./stats.js";
import { S_ERR_QUEUE_SETUP } from "./stats.js";
import type { GuestMemory } from "./guest-memory.js";
import type { TxBatch } from "./tx-batch.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const {
  S_ERR_ADDR_HIGH, S_ERR_ADDR_RANGE, S_ERR_CHAIN_LENGTH, S_ERR_DESC_ORDER, S_ERR_HEAD_INDEX,
  S_ERR_INDIRECT_FEATURE, S_ERR_INDIRECT_NESTED, S_ERR_INDIRECT_NEXT, S_ERR_INDIRECT_TABLE, S_ERR_NEXT_INDEX,
} = S;
const { VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE } = V;
const TWO_32 = 0x1_0000_0000;
/**
 * The host keeps a load after an Atomics.store (x86-TSO: V8's Atomics.store is an xchg, a full
 * barrier): publish()'s read of used_event / avail.flags after its store of used.idx may then be
 * a plain load (as the driver's kick check, virtio-pmd queue-base.ts STORE_FENCES).
 */
const STORE_FENCES = process.arch === "x64" || process.arch === "ia32";

/** walk() result when the shared segment list is full (not the chain's fault). */
export const WALK_FULL = -1;

/**
 * Segments of walked descriptor chains (one per device thread, reused for
 * every chain: the loop walks one queue at a time). A walk appends the
 * chain's buffers at `n`; the device-readable ones come first (the walk
 * rejects chains where they do not).
 */
export class Chain {
  readonly addr: Uint32Array;
  readonly len: Uint32Array;
  /** Segments stored so far (callers reset it to 0 for a fresh chain). */
  n = 0;
  /** Of the last successful walk: */
  nRead = 0;
  nWrite = 0;
  readBytes = 0;
  writeBytes = 0;

  constructor(capacity: number) {
    this.addr = new Uint32Array(capacity);
    this.len = new Uint32Array(capacity);
  }
}

/**
 * The device side of one split virtqueue (virtio 1.2 §2.7): its transport
 * registers, avail reading, chain walking and validation, used writing and
 * notification suppression.
 *
 * The driver is untrusted. Addresses are checked when the queue is enabled
 * (validate()) and every descriptor's buffer on every walk, translated
 * through the queue's GuestMemory (guest-memory.ts: the identity over EAL
 * memory for the built-in transport, a region table for net_vhost); nothing
 * here reads or writes outside its regions, and no loop runs longer than the
 * queue size. Buffer addresses handed out (simpleAddr, Chain.addr) are
 * offsets in the GuestMemory's views.
 */
/**
 * The transport registers (§4.1.4.3: index, size, enable, addresses) are QueueRegs' (@tpdk/virtio).
 * `index` is fixed for data queues; the control queue's depends on the negotiated features
 * (2 without MQ, 2 * max_virtqueue_pairs with it: §5.1.2) and is set by DeviceState.
 */
export class DeviceQueue extends QueueRegs {
  readonly maxSize: number;
  // --- ring state, valid once enabled ---
  mask = 0;
  desc = 0;
  avail = 0;
  used = 0;
  /** Next avail ring position the device will read (free-running u16). */
  lastAvail = 0;
  /** avail.idx as last loaded: entries up to here are known available without another load. */
  availCached = 0;
  /** used.idx as last published. */
  usedIdx = 0;
  /** Used entries written after usedIdx but not yet published. */
  pending = 0;
  // --- negotiated ---
  indirectOk = false;
  eventIdx = false;
  /** True while the device asks the driver for kicks (it is about to sleep). */
  notifyOn = false;
  /** RX, per pass: avail.idx was loaded this pass (at most one load per queue per pass). */
  rxLoaded = false;
  /** RX, per pass: a frame found no buffer here; the rest steered here this pass are missed. */
  rxStarved = false;
  /** Of the last simpleBuffer() that returned true. */
  simpleAddr = 0;
  simpleLen = 0;

  /** Where rings and buffers live (setMemory). */
  private gm!: GuestMemory;
  private u16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** The memory's fast region, copied for the inline check (guest-memory.ts). */
  private fastHi = -1;
  private fastLo = 0;
  private fastEnd = 0;
  private fastDelta = 0;
  /** Every region below 4 GiB: an address with a high half is counted as S_ERR_ADDR_HIGH. */
  private below4G = true;
  // Precomputed u16 / u32 indices.
  private availIdxI = 0;
  private availFlagsI = 0;
  private availRingI = 0;
  private usedEventI = 0;
  private usedIdxI = 0;
  private usedFlagsI = 0;
  private usedRingI = 0;
  private availEventI = 0;

  constructor(gm: GuestMemory, index: number, maxSize: number) {
    super(index, maxSize);
    this.maxSize = maxSize;
    this.setMemory(gm);
  }

  /**
   * The driver's memory (cold: at construction; net_vhost at each new memory
   * table, with the queue disabled). Ring offsets from enableAt() are in it.
   */
  setMemory(gm: GuestMemory): void {
    this.gm = gm;
    this.u16 = gm.u16;
    this.u32 = gm.u32;
    this.fastHi = gm.fastHi;
    this.fastLo = gm.fastLo;
    this.fastEnd = gm.fastEnd;
    this.fastDelta = gm.fastDelta;
    this.below4G = gm.below4G;
  }

  /** The memory's views (for the paths that copy buffers). */
  get memory(): GuestMemory {
    return this.gm;
  }

  /** Device reset (§2.1): disabled, registers and indices back to their initial values. */
  reset(): void {
    this.size = this.maxSize;
    this.enabled = false;
    this.msixVector = VIRTIO_MSI_NO_VECTOR;
    this.descLo = this.descHi = this.driverLo = this.driverHi = this.deviceLo = this.deviceHi = 0;
    this.mask = this.desc = this.avail = this.used = 0;
    this.lastAvail = this.availCached = this.usedIdx = this.pending = 0;
    this.indirectOk = this.eventIdx = this.notifyOn = false;
  }

  /**
   * Check the queue's registers before enabling it: size a power of two, the
   * three parts inside memory, aligned as §2.7 requires, high halves 0.
   * Returns 0 or S_ERR_QUEUE_SETUP.
   */
  validate(): number {
    const q = this.size;
    if (q < 1 || q > this.maxSize || (q & (q - 1)) !== 0) return S_ERR_QUEUE_SETUP;
    if (this.descHi !== 0 || this.driverHi !== 0 || this.deviceHi !== 0) return S_ERR_QUEUE_SETUP;
    const gm = this.gm;
    const desc = gm.translate(this.descLo, descTableBytes(q));
    const avail = gm.translate(this.driverLo, availRingBytes(q));
    const used = gm.translate(this.deviceLo, usedRingBytes(q));
    if (desc < 0 || this.descLo % DESC_ALIGN !== 0 || desc % DESC_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    if (avail < 0 || this.driverLo % AVAIL_ALIGN !== 0 || avail % AVAIL_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    if (used < 0 || this.deviceLo % USED_ALIGN !== 0 || used % USED_ALIGN !== 0) return S_ERR_QUEUE_SETUP;
    return 0;
  }

  /** Enable with validated registers (translated through the memory); indices start at 0 (§2.7: fresh rings). */
  enable(): void {
    const q = this.size;
    const gm = this.gm;
    this.enableAt(gm.translate(this.descLo, descTableBytes(q)), gm.translate(this.driverLo, availRingBytes(q)), gm.translate(this.deviceLo, usedRingBytes(q)));
  }

  /**
   * Enable with the three parts at offsets in the memory's views, each
   * already checked to lie inside one region with §2.7's alignment (enable()
   * after validate(); net_vhost after translating SET_VRING_ADDR), and
   * `size` a power of two. Indices start at 0; resume() moves them.
   */
  enableAt(desc: number, avail: number, used: number): void {
    this.enabled = true;
    this.mask = this.size - 1;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.lastAvail = this.availCached = this.usedIdx = this.pending = 0;
    this.availIdxI = (this.avail + AVAIL_IDX) >>> 1;
    this.availFlagsI = (this.avail + AVAIL_FLAGS) >>> 1;
    this.availRingI = (this.avail + AVAIL_RING) >>> 1;
    this.usedEventI = (this.avail + usedEventOffset(this.size)) >>> 1;
    this.usedIdxI = (this.used + USED_IDX) >>> 1;
    this.usedFlagsI = (this.used + USED_FLAGS) >>> 1;
    this.usedRingI = (this.used + USED_RING) >>> 2;
    this.availEventI = (this.used + availEventOffset(this.size)) >>> 1;
  }

  /**
   * Continue a ring the driver has used before (vhost-user SET_VRING_BASE:
   * the next avail entry to read; used.idx as the ring holds it). Cold.
   */
  resume(lastAvail: number): void {
    this.lastAvail = this.availCached = lastAvail & 0xffff;
    // Pairs with nothing: the ring is not running yet; the driver does not write used.idx.
    this.usedIdx = this.u16[this.usedIdxI]!;
    this.pending = 0;
  }

  /** Features that change how the ring is read (set at DRIVER_OK). */
  configure(indirect: boolean, eventIdx: boolean): void {
    this.indirectOk = indirect;
    this.eventIdx = eventIdx;
  }

  // ------------------------------------------------------------------ avail

  /**
   * Load avail.idx (the one Atomics.load per queue per pass) and return how
   * many entries are available, or -1 when the driver moved it more than a
   * queue size ahead of what the device has consumed (fatal, §2.7.6: the
   * driver can never have more than Q chains outstanding).
   */
  pollAvail(): number {
    // Pairs with the driver's Atomics.store of avail.idx, which it issues after
    // writing the descriptors and ring entries: everything up to idx is visible.
    const idx = Atomics.load(this.u16, this.availIdxI);
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) return -1;
    this.availCached = idx;
    return n;
  }

  /** Entries available now, without caching the index (cold: the back-pressure check in demand.ts). */
  availableNow(): number {
    // Pairs with the driver's Atomics.store of avail.idx.
    return (Atomics.load(this.u16, this.availIdxI) - this.lastAvail) & 0xffff;
  }

  /** Entries known available from the cached avail.idx (no load). */
  cachedAvail(): number {
    return (this.availCached - this.lastAvail) & 0xffff;
  }

  /** The next head from the avail ring (caller checked one is available); advances lastAvail. */
  nextHead(): number {
    const head = this.u16[this.availRingI + (this.lastAvail & this.mask)]!;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return head;
  }

  /** Give back the last `k` heads taken (nextHead/takeSimple): they are available again (the packed ring's untake()). */
  untake(k: number): void {
    this.lastAvail = (this.lastAvail - k) & 0xffff;
  }

  // ------------------------------------------------------------------ chains

  /**
   * The fast path's test for the commonest chain: `head` names one
   * descriptor, without NEXT or INDIRECT, writable when `writable` says so
   * (RX) or readable (TX), whose buffer lies inside memory. Then its address
   * and length are left in simpleAddr/simpleLen and this returns true; for
   * any other shape (or anything malformed) it returns false and the caller
   * takes walk(), which validates everything and says what is wrong.
   * Reads the descriptor's four fields and nothing else.
   */
  simpleBuffer(head: number, writable: boolean): boolean {
    if (head >= this.size) return false;
    const d = this.desc + (head << 4);
    const flags = this.u16[(d >>> 1) + 6]!;
    if (flags !== (writable ? VRING_DESC_F_WRITE : 0)) return false;
    const w = d >>> 2;
    const len = this.u32[w + 2]!;
    // Region 0 inline (guest-memory.ts); anything else takes walk().
    const addr = this.u32[w]!;
    if (this.u32[w + 1]! !== this.fastHi || addr < this.fastLo || addr + len > this.fastEnd) return false;
    this.simpleAddr = addr + this.fastDelta;
    this.simpleLen = len;
    return true;
  }

  /**
   * The fast take of the transmit and receive paths (tx-batch.ts): take up
   * to `n` available chains (the caller checked that many are available)
   * for as long as each is one descriptor whose flags are exactly `flags`
   * (0: readable, for TX; VRING_DESC_F_WRITE: writable, for RX; never NEXT
   * or INDIRECT), inside the fast region, `minLen` to `maxLen` bytes long;
   * store its head, the offset `hdr` bytes into the buffer and the length
   * less `hdr` into `b` from index 0.
   * Stops before the first other chain, which stays available for walk() to
   * validate and count. Reads each descriptor once: the batch is what was
   * validated, whatever the driver writes into the table afterwards.
   * Returns how many were taken (lastAvail moved past them).
   */
  takeSimple(n: number, hdr: number, minLen: number, maxLen: number, b: TxBatch, flags: number): number {
    const u16 = this.u16;
    const u32 = this.u32;
    const ring = this.availRingI;
    const mask = this.mask;
    const size = this.size;
    const desc = this.desc;
    const fHi = this.fastHi;
    const lo = this.fastLo;
    const end = this.fastEnd;
    const delta = this.fastDelta + hdr;
    const ids = b.id;
    const addrs = b.addr;
    const lens = b.len;
    let pos = this.lastAvail;
    let k = 0;
    for (; k < n; k++) {
      const head = u16[ring + (pos & mask)]!;
      if (head >= size) break;
      const d = desc + (head << 4);
      if (u16[(d >>> 1) + 6] !== flags) break; // alone, readable (TX) or writable (RX)
      const w = d >>> 2;
      const addr = u32[w]!;
      const len = u32[w + 2]!;
      if (u32[w + 1]! !== fHi || addr < lo || addr + len > end || len < minLen || len > maxLen) break;
      ids[k] = head;
      addrs[k] = addr + delta;
      lens[k] = len - hdr;
      pos = (pos + 1) & 0xffff;
    }
    this.lastAvail = pos;
    return k;
  }

  /** The head of the next available chain, without taking it (caller checked one is available). */
  peekHead(): number {
    return this.u16[this.availRingI + (this.lastAvail & this.mask)]!;
  }

  /**
   * Walk the chain starting at `head`, validating every descriptor, and
   * append its buffers to `c` (from c.n). Returns 0, an S_ERR_* slot (the
   * chain is malformed: nothing appended), or WALK_FULL.
   *
   * Follows §2.7.5: NEXT chains within the table, an INDIRECT descriptor
   * switches to its table (allowed at the end of a normal chain, never with
   * NEXT, never nested; its WRITE flag is ignored), readable buffers before
   * writable ones, at most `size` buffers (so loops end).
   */
  walk(head: number, c: Chain): number {
    if (head >= this.size) return S_ERR_HEAD_INDEX;
    const u16 = this.u16;
    const u32 = this.u32;
    const fHi = this.fastHi;
    const lo = this.fastLo;
    const end = this.fastEnd;
    const delta = this.fastDelta;
    const cap = c.addr.length;
    let n = c.n;
    let table = this.desc;
    let tableSize = this.size;
    let inIndirect = false;
    let i = head;
    let count = 0;
    let nRead = 0;
    let nWrite = 0;
    let rb = 0;
    let wb = 0;
    for (;;) {
      const d = table + (i << 4);
      const w = d >>> 2;
      const addrHi = u32[w + 1]!;
      const addr = u32[w]!;
      const len = u32[w + 2]!;
      const flags = u16[(d >>> 1) + 6]!;
      const next = u16[(d >>> 1) + 7]!;
      // Translate (guest-memory.ts): the fast region inline on the two halves, the others through the table.
      let off = addr + delta;
      if (addrHi !== fHi || addr < lo || addr + len > end) off = this.gm.translate(addrHi * TWO_32 + addr, len);
      if ((flags & VRING_DESC_F_INDIRECT) !== 0) {
        if (!this.indirectOk) return S_ERR_INDIRECT_FEATURE;
        if (inIndirect) return S_ERR_INDIRECT_NESTED;
        if ((flags & VRING_DESC_F_NEXT) !== 0) return S_ERR_INDIRECT_NEXT;
        if (off < 0) return addrHi !== 0 && this.below4G ? S_ERR_ADDR_HIGH : S_ERR_ADDR_RANGE;
        // Read with 4-byte typed-array views: the table must be 4-byte aligned.
        if (len === 0 || (len & 15) !== 0 || (off & 3) !== 0) return S_ERR_INDIRECT_TABLE;
        table = off;
        tableSize = len >>> 4;
        inIndirect = true;
        i = 0;
        continue; // the pointer itself is not a buffer: not counted
      }
      if (++count > this.size) return S_ERR_CHAIN_LENGTH;
      if (off < 0) return addrHi !== 0 && this.below4G ? S_ERR_ADDR_HIGH : S_ERR_ADDR_RANGE;
      if ((flags & VRING_DESC_F_WRITE) !== 0) {
        nWrite++;
        wb += len;
      } else {
        if (nWrite !== 0) return S_ERR_DESC_ORDER;
        nRead++;
        rb += len;
      }
      if (n >= cap) return WALK_FULL;
      c.addr[n] = off;
      c.len[n] = len;
      n++;
      if ((flags & VRING_DESC_F_NEXT) === 0) break;
      if (next >= tableSize) return S_ERR_NEXT_INDEX;
      i = next;
    }
    c.n = n;
    c.nRead = nRead;
    c.nWrite = nWrite;
    c.readBytes = rb;
    c.writeBytes = wb;
    return 0;
  }

  // ------------------------------------------------------------------ used

  /** Write a used entry (published later by publish()). */
  addUsed(id: number, len: number): void {
    const e = this.usedRingI + (((this.usedIdx + this.pending) & this.mask) << 1);
    this.u32[e] = id;
    this.u32[e + 1] = len;
    this.pending++;
  }

  /** addUsed(ids[k], lens[k]) for k in [0, n): a run's used entries in one call (the RX fast run, rx-path.ts). */
  addUsedRun(ids: Uint32Array, lens: Uint32Array, n: number): void {
    const u32 = this.u32;
    const ring = this.usedRingI;
    const mask = this.mask;
    let pos = this.usedIdx + this.pending;
    for (let k = 0; k < n; k++) {
      const e = ring + ((pos & mask) << 1);
      u32[e] = ids[k]!;
      u32[e + 1] = lens[k]!;
      pos++;
    }
    this.pending += n;
  }

  /**
   * IN_ORDER batch (virtio 1.2, in-order use of descriptors): one used entry carrying the id of
   * the last chain of the batch, written at the batch's first slot; used.idx
   * then advances by the whole batch.
   */
  addUsedInOrder(lastId: number, count: number, len: number): void {
    if (count === 0) return;
    const e = this.usedRingI + (((this.usedIdx + this.pending) & this.mask) << 1);
    this.u32[e] = lastId;
    this.u32[e + 1] = len;
    this.pending += count;
  }

  /**
   * Publish the pending used entries with one Atomics.store of used.idx and
   * say whether the driver wants a used-buffer notification for them
   * (§2.7.7: NO_INTERRUPT, or under EVENT_IDX vring_need_event(used_event)).
   */
  publish(): boolean {
    if (this.pending === 0) return false;
    const old = this.usedIdx;
    const now = (old + this.pending) & 0xffff;
    this.pending = 0;
    this.usedIdx = now;
    // Pairs with the driver's Atomics.load of used.idx: the entries (and the
    // buffer contents) written before this store are visible once it sees `now`.
    const u16 = this.u16;
    Atomics.store(u16, this.usedIdxI, now);
    // Read after publishing so a driver that just re-armed used_event (or cleared NO_INTERRUPT)
    // is seen (§2.7.10): the store, a full barrier, then the read (the device's side of the
    // driver's order in §2.7.13.4; DPDK's vhost_vring_call_split has a full fence before it reads
    // used_event). On x86 (STORE_FENCES) the store is that barrier and V8 keeps typed-array loads
    // after the Atomics call (its effect chain), so a plain load, not a second builtin call per
    // publish; elsewhere a seq-cst store does not order a later plain load: Atomics.load.
    if (this.eventIdx) {
      const ev = STORE_FENCES ? u16[this.usedEventI]! : Atomics.load(u16, this.usedEventI);
      return ((now - ev - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    const f = STORE_FENCES ? u16[this.availFlagsI]! : Atomics.load(u16, this.availFlagsI);
    return (f & VRING_AVAIL_F_NO_INTERRUPT) === 0;
  }

  // ------------------------------------------------------------------ kicks

  /**
   * Ask for (on) or suppress (off) available-buffer notifications (§2.7.10).
   * Without EVENT_IDX this is used.flags NO_NOTIFY; with it, on = avail_event
   * set to the next entry the device will read, off = leave avail_event behind
   * (the driver then kicks at most once per 2^16 entries).
   */
  setNotify(on: boolean): void {
    this.notifyOn = on;
    if (this.eventIdx) {
      // Pairs with the driver's load of avail_event after it publishes avail.idx.
      if (on) Atomics.store(this.u16, this.availEventI, this.lastAvail);
    } else {
      Atomics.store(this.u16, this.usedFlagsI, on ? 0 : VRING_USED_F_NO_NOTIFY);
    }
  }
}
