import { fstatSync } from "node:fs";
import { TpdkError } from "@tpdk/eal";
import type { NativeBinding } from "@tpdk/native";
import {
  AVAIL_FLAGS, AVAIL_IDX, AVAIL_RING, USED_FLAGS, USED_IDX, USED_RING, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_IN_ORDER,
  VIRTIO_NET_F_MRG_RXBUF, VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY,
} from "@tpdk/virtio";
import { translate } from "./guest-memory.js";
import { RUNNING, type RingWords, W_AVAIL, W_BUSY, W_CALL_FD, W_CLAIM, W_DESC, W_FEAT_HI, W_FEAT_LO, W_GEN, W_LAST_AVAIL, W_MEM_FD, W_MEM_GEN, W_NREGIONS, W_SIZE, W_STATE, W_USED } from "./ring-control.js";

// Module-local copies of imported constants used on the hot path (V8 does not constant-fold imports).
const F_NEXT = VRING_DESC_F_NEXT;
const F_WRITE = VRING_DESC_F_WRITE;
const F_INDIRECT = VRING_DESC_F_INDIRECT;
const NO_INTERRUPT = VRING_AVAIL_F_NO_INTERRUPT;
const TWO_32 = 0x1_0000_0000;

/** Error counters of a queue (by kind; the walk returns one of these, 0 = fine). */
export const E_HEAD = 1;
export const E_NEXT = 2;
export const E_LENGTH = 3;
export const E_ADDR = 4;
export const E_INDIRECT = 5;
export const E_ORDER = 6;
export const E_AVAIL_IDX = 7;
export const E_FULL = 8;
export const ERROR_KINDS = 9;

/**
 * Per thread: one mapping per file (device, inode, size), shared by the
 * rings of one table and counted; the last ring to let go unmaps it at once
 * (native.unmapShared: the pages become private zeros, views stay valid), so
 * a front-end's file stays mapped only while one of its rings may run here.
 */
interface Mapping {
  readonly sab: SharedArrayBuffer;
  users: number;
}
const mappings = new Map<string, Mapping>();

function mapFile(native: NativeBinding, fd: number): { key: string; sab: SharedArrayBuffer } {
  const st = fstatSync(fd);
  const key = `${st.dev}:${st.ino}:${st.size}`;
  let m = mappings.get(key);
  if (m === undefined) {
    m = { sab: native.mmapShared(fd, st.size, 0), users: 0 };
    mappings.set(key, m);
  }
  m.users++;
  return { key, sab: m.sab };
}

function unmapFile(native: NativeBinding, key: string): void {
  const m = mappings.get(key);
  if (m === undefined || --m.users > 0) return;
  mappings.delete(key);
  native.unmapShared(m.sab);
}

/** Mappings this thread holds (tests). */
export function mappedFiles(): number {
  return mappings.size;
}

/**
 * The back-end's side of one split virtqueue in a foreign front-end's memory
 * (virtio 1.2 §2.7), for the lcore that polls it. Every address the
 * front-end wrote is translated through the memory table with its length
 * (guest physical → offset in the one mapping) before use: a descriptor
 * outside every region, a chain longer than the ring, a bad next or head,
 * nested or misused indirect tables are errors counted here, and the chain
 * is returned used without being read or written.
 */
export class GuestQueue {
  u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  u16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  size = 0;
  mask = 0;
  lastAvail = 0;
  usedIdx = 0;
  pending = 0;
  eventIdx = false;
  indirect = false;
  inOrder = false;
  mrg = false;
  callFd = -1;
  /** Counters: [E_*] errors by kind, [ERROR_KINDS] calls made (a view into shared memory when the port gives one). */
  readonly counts: Float64Array<ArrayBufferLike>;
  /** Chain segments of the last walk: offsets in the mapping and lengths. */
  readonly segOff: Uint32Array;
  readonly segLen: Uint32Array;
  nSeg = 0;
  nRead = 0;
  readBytes = 0;
  writeBytes = 0;
  private readonly i32: Int32Array;
  private readonly ranges: Float64Array;
  private nRegions = 0;
  private gen = -1;
  private memGen = -1;
  private memKey: string | null = null;
  private desc = 0;
  private availIdxI = 0;
  private availFlagsI = 0;
  private availRingI = 0;
  private usedEventI = 0;
  private usedIdxI = 0;
  private usedRingI = 0;

  /**
   * `token` (non-zero: from the port's sequence) claims the ring for this
   * object: a second object on the same ring (another thread polling the
   * same queue) would corrupt its indices, so it is refused (EBUSY). 0: no
   * claim (tests that drive a ring by hand).
   */
  constructor(private readonly native: NativeBinding, words: RingWords, counts: Float64Array<ArrayBufferLike> = new Float64Array(ERROR_KINDS + 1), private readonly token = 0, maxSegs = 64) {
    this.counts = counts;
    this.i32 = words.i32;
    if (!this.claim()) throw new TpdkError("EBUSY", "net_vhost: this queue is already driven by another queue object (another thread?); stop and start the port to hand it over");
    this.ranges = words.f64;
    this.segOff = new Uint32Array(maxSegs);
    this.segLen = new Uint32Array(maxSegs);
  }

  /**
   * Start of a burst: false when the ring is not running (then nothing may be
   * touched, and end() must not be called).
   */
  begin(): boolean {
    const i = this.i32;
    // Pairs with the control path's load of BUSY after it stores STOPPED (ring-control.ts).
    Atomics.store(i, W_BUSY, 1);
    // Pairs with the control path's Atomics.store of STATE.
    if (Atomics.load(i, W_STATE) !== RUNNING) {
      // Stopped, and the table we mapped is gone (new table, reset, disconnect): let go of it.
      if (this.memKey !== null && Atomics.load(i, W_MEM_GEN) !== this.memGen) this.releaseMemory();
      Atomics.store(i, W_BUSY, 0);
      return false;
    }
    if (Atomics.load(i, W_GEN) !== this.gen && !this.reload()) {
      Atomics.store(i, W_BUSY, 0);
      return false;
    }
    return true;
  }

  /** End of a burst: publish where we are, and let the control path stop us. */
  end(): void {
    // Pairs with the control path's load of LAST_AVAIL after it saw BUSY 0 (GET_VRING_BASE).
    Atomics.store(this.i32, W_LAST_AVAIL, this.lastAvail);
    Atomics.store(this.i32, W_BUSY, 0);
  }

  /** Compare-and-swap of the claim word from 0 to our token (pairs with other claimants and clearClaims at stop). Cold. */
  private claim(): boolean {
    if (this.token === 0) return true;
    const cur = Atomics.compareExchange(this.i32, W_CLAIM, 0, this.token);
    return cur === 0 || cur === this.token;
  }

  /** Cold: a (re)started ring. Maps the memory if it is new to this thread. */
  private reload(): boolean {
    const i = this.i32;
    // After a port stop/start another object may have taken the ring: then this one stays idle.
    if (!this.claim()) return false;
    this.gen = Atomics.load(i, W_GEN);
    if (i[W_MEM_GEN] !== this.memGen) {
      this.releaseMemory();
      const { key, sab } = mapFile(this.native, i[W_MEM_FD]!);
      this.memKey = key;
      this.u8 = new Uint8Array(sab);
      this.u16 = new Uint16Array(sab, 0, sab.byteLength >>> 1);
      this.u32 = new Uint32Array(sab, 0, sab.byteLength >>> 2);
      this.memGen = i[W_MEM_GEN]!;
    }
    const features = i[W_FEAT_LO]! >>> 0;
    const hi = i[W_FEAT_HI]! >>> 0;
    this.eventIdx = ((features >>> VIRTIO_F_EVENT_IDX) & 1) === 1;
    this.indirect = ((features >>> VIRTIO_F_INDIRECT_DESC) & 1) === 1;
    this.mrg = ((features >>> VIRTIO_NET_F_MRG_RXBUF) & 1) === 1;
    this.inOrder = ((hi >>> (VIRTIO_F_IN_ORDER - 32)) & 1) === 1;
    this.nRegions = i[W_NREGIONS]!;
    this.size = i[W_SIZE]!;
    this.mask = this.size - 1;
    this.desc = i[W_DESC]!;
    const avail = i[W_AVAIL]!;
    const used = i[W_USED]!;
    this.availIdxI = (avail + AVAIL_IDX) >>> 1;
    this.availFlagsI = (avail + AVAIL_FLAGS) >>> 1;
    this.availRingI = (avail + AVAIL_RING) >>> 1;
    this.usedEventI = (avail + AVAIL_RING + 2 * this.size) >>> 1;
    this.usedIdxI = (used + USED_IDX) >>> 1;
    this.usedRingI = (used + USED_RING) >>> 2;
    this.lastAvail = i[W_LAST_AVAIL]! & 0xffff;
    // Resume where the front-end's used ring is (it may have been used before a reconnect).
    this.usedIdx = Atomics.load(this.u16, this.usedIdxI);
    this.pending = 0;
    this.callFd = i[W_CALL_FD]!;
    // We poll: ask for no kicks (§2.7.10; under EVENT_IDX avail_event stays behind instead).
    Atomics.store(this.u16, (used + USED_FLAGS) >>> 1, VRING_USED_F_NO_NOTIFY);
    return true;
  }

  /** Cold: drop this ring's hold on its mapping (unmapped when no ring of this thread uses it). */
  private releaseMemory(): void {
    if (this.memKey === null) return;
    unmapFile(this.native, this.memKey);
    this.memKey = null;
    this.memGen = -1;
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.u32 = new Uint32Array(0);
  }

  /** Entries available (-1: the front-end moved avail.idx more than a ring ahead: counted, nothing taken). */
  available(): number {
    // Pairs with the front-end's store of avail.idx after it wrote the ring entries.
    const idx = Atomics.load(this.u16, this.availIdxI);
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.size) {
      this.counts[E_AVAIL_IDX]++;
      return -1;
    }
    return n;
  }

  nextHead(): number {
    const h = this.u16[this.availRingI + (this.lastAvail & this.mask)]!;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return h;
  }

  /**
   * Walk and validate the chain at `head` (virtio 1.2 §2.7.5), translating
   * each buffer; segments into segOff/segLen. Returns 0 or an E_* kind.
   */
  walk(head: number): number {
    if (head >= this.size) return E_HEAD;
    const u16 = this.u16;
    const u32 = this.u32;
    const ranges = this.ranges;
    const nr = this.nRegions;
    const cap = this.segOff.length;
    let table = this.desc;
    let tableSize = this.size;
    let inIndirect = false;
    let i = head;
    let count = 0;
    let n = 0;
    let nWrite = 0;
    let rb = 0;
    let wb = 0;
    for (;;) {
      const d = table + (i << 4);
      const w = d >>> 2;
      const gpa = u32[w + 1]! * TWO_32 + u32[w]!;
      const len = u32[w + 2]!;
      const flags = u16[(d >>> 1) + 6]!;
      const next = u16[(d >>> 1) + 7]!;
      if ((flags & F_INDIRECT) !== 0) {
        if (!this.indirect || inIndirect || (flags & F_NEXT) !== 0 || len === 0 || (len & 15) !== 0) return E_INDIRECT;
        const off = translate(ranges, nr, 0, gpa, len);
        if (off < 0 || (off & 3) !== 0) return E_ADDR;
        table = off;
        tableSize = len >>> 4;
        inIndirect = true;
        i = 0;
        continue;
      }
      if (++count > this.size) return E_LENGTH;
      const off = translate(ranges, nr, 0, gpa, len);
      if (off < 0) return E_ADDR;
      if ((flags & F_WRITE) !== 0) {
        nWrite++;
        wb += len;
      } else {
        if (nWrite !== 0) return E_ORDER;
        rb += len;
      }
      if (n >= cap) return E_LENGTH;
      this.segOff[n] = off;
      this.segLen[n] = len;
      n++;
      if ((flags & F_NEXT) === 0) break;
      if (next >= tableSize) return E_NEXT;
      i = next;
    }
    this.nSeg = n;
    this.nRead = n - nWrite;
    this.readBytes = rb;
    this.writeBytes = wb;
    return 0;
  }

  addUsed(id: number, len: number): void {
    const e = this.usedRingI + (((this.usedIdx + this.pending) & this.mask) << 1);
    this.u32[e] = id;
    this.u32[e + 1] = len;
    this.pending++;
  }

  /** Publish used entries; call the front-end unless it suppressed it (§2.7.7, §2.7.10). */
  publish(): void {
    if (this.pending === 0) return;
    const old = this.usedIdx;
    const now = (old + this.pending) & 0xffff;
    this.pending = 0;
    this.usedIdx = now;
    // Pairs with the front-end's load of used.idx: entries and buffer contents written before are visible.
    Atomics.store(this.u16, this.usedIdxI, now);
    if (this.callFd < 0) return;
    let want: boolean;
    if (this.eventIdx) {
      // Pairs with the front-end's store of used_event (read after publishing, §2.7.10).
      const ev = Atomics.load(this.u16, this.usedEventI);
      want = ((now - ev - 1) & 0xffff) < ((now - old) & 0xffff);
    } else {
      // Pairs with the front-end's store of avail.flags.
      want = (Atomics.load(this.u16, this.availFlagsI) & NO_INTERRUPT) === 0;
    }
    if (want) {
      this.native.eventfdWrite(this.callFd, 1);
      this.counts[ERROR_KINDS]++;
    }
  }
}
