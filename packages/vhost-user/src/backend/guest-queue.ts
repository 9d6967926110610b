import { fstatSync } from "node:fs";
import { TpdkError } from "@tpdk/eal";
import { type NativeBinding } from "@tpdk/native";
import {
  Chain, DEVICE_STAT_SLOTS, DeviceQueue, GuestMemory, type GuestRegion, PWALK_BROKEN, PackedDeviceQueue, S_ERR_ADDR_HIGH, S_ERR_ADDR_RANGE, S_ERR_CHAIN_LENGTH, S_ERR_DESC_ORDER,
  S_ERR_HEAD_INDEX, S_ERR_INDIRECT_FEATURE, S_ERR_INDIRECT_NESTED, S_ERR_INDIRECT_NEXT, S_ERR_INDIRECT_TABLE, S_ERR_NEXT_INDEX, WALK_FULL,
} from "@tpdk/vhost/device";
import { AVAIL_RING, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_IN_ORDER, VIRTIO_F_RING_PACKED, VIRTIO_NET_F_MRG_RXBUF } from "@tpdk/virtio";
import { RANGE_FIELDS, mapTableFiles } from "./guest-memory.js";
import type { SimpleChains } from "./net-frame.js";
import {
  RING_FILES, RUNNING, type RingWords, W_AVAIL, W_BUSY, W_CALL_FD, W_CLAIM, W_DESC, W_FAULT, W_FAULT_FD, W_FEAT_HI, W_FEAT_LO, W_GEN, W_LAST_AVAIL, W_MEM_FAULT, W_MEM_GEN,
  W_NFILES, W_NREGIONS, W_SIZE, W_STATE, W_USED,
} from "./ring-control.js";

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
/** In `counts` after the calls ([ERROR_KINDS]): ring configurations the lcore could not set up (reload threw). */
export const SETUP_FAILED = ERROR_KINDS + 1;
/** Slots of a queue's `counts`: [E_*] errors by kind, [ERROR_KINDS] calls, [SETUP_FAILED]. */
export const COUNT_SLOTS = ERROR_KINDS + 2;

/** The device core's S_ERR_* slot of a failed walk -> net_vhost's error kind (made once). */
const KIND_OF = new Uint8Array(DEVICE_STAT_SLOTS);
KIND_OF[S_ERR_HEAD_INDEX] = E_HEAD;
KIND_OF[S_ERR_NEXT_INDEX] = E_NEXT;
KIND_OF[S_ERR_CHAIN_LENGTH] = E_LENGTH;
KIND_OF[S_ERR_ADDR_HIGH] = E_ADDR;
KIND_OF[S_ERR_ADDR_RANGE] = E_ADDR;
KIND_OF[S_ERR_INDIRECT_FEATURE] = E_INDIRECT;
KIND_OF[S_ERR_INDIRECT_NESTED] = E_INDIRECT;
KIND_OF[S_ERR_INDIRECT_NEXT] = E_INDIRECT;
KIND_OF[S_ERR_INDIRECT_TABLE] = E_INDIRECT;
KIND_OF[S_ERR_DESC_ORDER] = E_ORDER;
const WALK_FULL_ = WALK_FULL;
const PWALK_BROKEN_ = PWALK_BROKEN;
/** next(): no chain available (or the ring cannot be followed). */
export const NO_CHAIN = -1;
/** nextMore(): the chain's segments do not fit after those already in `chain`. */
export const NO_ROOM = -2;
/** The largest ring vhost-user allows (SET_VRING_NUM). */
const MAX_RING = 32768;
const R_FIELDS = RANGE_FIELDS.R_FIELDS;
const AVAIL_RING_ = AVAIL_RING;

/**
 * Per thread: one mapping per table's set of files (each file by device,
 * inode and the length mapped, in the table's order), shared by the rings of
 * one table and counted; the last ring to let go unmaps it at once
 * (native.unmapShared: the pages become private zeros, views stay valid), so
 * a front-end's files stay mapped only while one of its rings may run here.
 * A ring that moves to a new table maps it before letting go of the old one,
 * so a table repeated with the same files reuses the mapping.
 */
interface Mapping {
  readonly sab: SharedArrayBuffer;
  users: number;
}
const mappings = new Map<string, Mapping>();

function mapFiles(native: NativeBinding, fds: readonly number[], lengths: readonly number[]): { key: string; sab: SharedArrayBuffer } {
  const key = fds.map((fd, k) => {
    const st = fstatSync(fd);
    return `${st.dev}:${st.ino}:${lengths[k]}`;
  }).join("|");
  let m = mappings.get(key);
  if (m === undefined) {
    m = { sab: mapTableFiles(native, fds, lengths), users: 0 };
    mappings.set(key, m);
  }
  m.users++;
  return { key, sab: m.sab };
}

function unmapFile(native: NativeBinding, key: string): void {
  const m = mappings.get(key);
  if (m === undefined || --m.users > 0) return;
  mappings.delete(key);
  try {
    native.unmapShared(m.sab);
  } catch {
    // The in-place replacement failed (ENOMEM: the kernel's map count): the pages stay mapped until
    // the collector frees the buffer (no view of it is left here). Cold; never an lcore's exception.
  }
}

/** Mappings this thread holds (tests). */
export function mappedFiles(): number {
  return mappings.size;
}

/**
 * The back-end's side of one split virtqueue in a foreign front-end's memory
 * (virtio 1.2 §2.7), for the lcore that polls it: the ring handshake with
 * the control path (begin/end, ring-control.ts), the mapping of the
 * front-end's memory, and around them the device core's own validated
 * queue (`@tpdk/vhost/device` DeviceQueue, the walk the built-in device
 * runs) over a GuestMemory region table: every descriptor address is
 * translated with its length; a buffer outside every region or crossing a
 * region's end, a chain longer than the ring, a bad next or head, nested or
 * misused indirect tables are errors counted here (by kind), and the chain
 * is returned used without being read or written.
 *
 * Split rings (virtio 1.2 §2.7) use DeviceQueue, packed rings (§2.8, when
 * VIRTIO_F_RING_PACKED was negotiated) the device core's PackedDeviceQueue
 * over the same memory: next() takes the next chain either way, used()
 * returns it. A packed ring the walk cannot follow (PWALK_BROKEN: a list
 * running into a descriptor that is not available) is counted once and left
 * alone until the front-end restarts the ring.
 */
export class GuestQueue {
  /** The front-end's memory (the mapping): buffer offsets from walk() index these. */
  u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private u16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  /** What touchDescriptors' loads read (kept so they are not optimized away). */
  touched = 0;
  mrg = false;
  inOrder = false;
  callFd = -1;
  /** Counters: [E_*] errors by kind, [ERROR_KINDS] calls made, [SETUP_FAILED] (a view into shared memory when the port gives one). */
  readonly counts: Float64Array<ArrayBufferLike>;
  /** Chain segments of the last walk (the device core's Chain): offsets in the mapping and lengths; device-readable first. */
  chain: Chain;
  packed = false;
  private readonly dq: DeviceQueue;
  private readonly pq: PackedDeviceQueue;
  /** Of the chain next() took: split head / packed buffer id and descriptors spanned. */
  private curId = 0;
  private curDescs = 0;
  /** Packed: the ring cannot be followed (until restarted). */
  private broken = false;
  /** mark(): the avail side's position (split: lastAvail; packed: availPos | availWrap << 15). */
  private marked = 0;
  private readonly i32: Int32Array;
  private readonly ranges: Float64Array;
  private gen = -1;
  /** The GEN whose configuration reload() could not set up: the ring stays idle until GEN moves (-1: none). */
  private failedGen = -1;
  private memGen = -1;
  private memKey: string | null = null;
  /** This ring's SIGBUS guard over the mapping it uses (native.guardMapping), -1 = none. */
  private guardId = -1;

  /**
   * `token` (non-zero: from the port's sequence) claims the ring for this
   * object: a second object on the same ring (another thread polling the
   * same queue) would corrupt its indices, so it is refused (EBUSY). 0: no
   * claim (tests that drive a ring by hand).
   */
  constructor(private readonly native: NativeBinding, words: RingWords, counts: Float64Array<ArrayBufferLike> = new Float64Array(COUNT_SLOTS), private readonly token = 0) {
    this.counts = counts;
    this.i32 = words.i32;
    if (!this.claim()) throw new TpdkError("EBUSY", "net_vhost: this queue is already driven by another queue object (another thread?); stop and start the port to hand it over");
    this.ranges = words.f64;
    this.dq = new DeviceQueue(GuestMemory.empty(), 0, MAX_RING);
    this.pq = new PackedDeviceQueue(this.dq);
    this.chain = new Chain(64);
  }

  /** The ring's size (entries). */
  get size(): number {
    return this.dq.size;
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
    // A packed ring's base: the next descriptor in bits 0-14, its wrap counter in bit 15 (as DPDK's).
    Atomics.store(this.i32, W_LAST_AVAIL, this.packed ? this.pq.availPos | (this.pq.availWrap << 15) : this.dq.lastAvail);
    Atomics.store(this.i32, W_BUSY, 0);
  }

  /** Compare-and-swap of the claim word from 0 to our token (pairs with other claimants and clearClaims at stop). Cold. */
  private claim(): boolean {
    if (this.token === 0) return true;
    const cur = Atomics.compareExchange(this.i32, W_CLAIM, 0, this.token);
    return cur === 0 || cur === this.token;
  }

  /**
   * Cold: a (re)started ring. Maps the memory if it is new to this thread; configures the device
   * core's queue. Whatever fails here (the lcore's mmap of a file the front-end shrank after
   * SET_MEM_TABLE's trial, ENOMEM, address space) is not thrown into the burst: the ring stays idle
   * until the control path restarts it, counted (SETUP_FAILED), and the control path is told (FAULT,
   * the fault eventfd), which closes the connection. The lcore's other rings and ports keep running.
   */
  private reload(): boolean {
    const i = this.i32;
    // After a port stop/start another object may have taken the ring: then this one stays idle.
    if (!this.claim()) return false;
    const gen = Atomics.load(i, W_GEN);
    // This configuration failed already: idle (counted once), until the control path restarts the ring.
    if (gen === this.failedGen) return false;
    try {
      this.configure();
    } catch (e) {
      this.failed(gen, e);
      return false;
    }
    this.gen = gen;
    return true;
  }

  /** Cold (reload): the ring's fault, kept to its ring: idle, counted, the control path told. */
  private failed(gen: number, e: unknown): void {
    const i = this.i32;
    this.failedGen = gen;
    this.gen = -1;
    this.releaseMemory();
    this.counts[SETUP_FAILED]++;
    const errno = (e as { errno?: unknown } | null)?.errno;
    // Pairs with the control path's Atomics.load of FAULT (RingControl.fault) after the eventfd woke it.
    Atomics.store(i, W_FAULT, typeof errno === "number" && errno > 0 ? errno : -1);
    const fd = i[W_FAULT_FD]!;
    // eventfdKick never throws (a non-blocking eventfd of the port's own).
    if (fd >= 0) this.native.eventfdKick(fd, 1);
  }

  /** Cold (reload): read the ring's configuration, map its memory when new to this thread, set the device core's queue up. May throw. */
  private configure(): void {
    const i = this.i32;
    const dq = this.dq;
    if (i[W_MEM_GEN] !== this.memGen) {
      const fds: number[] = [];
      const lengths: number[] = [];
      for (let k = 0; k < i[W_NFILES]!; k++) {
        fds.push(this.ranges[RING_FILES + 2 * k]!);
        lengths.push(this.ranges[RING_FILES + 2 * k + 1]!);
      }
      // Map the new table first: the same files as the old one's are then reused, not remapped.
      const { key, sab } = mapFiles(this.native, fds, lengths);
      this.releaseMemory();
      this.memKey = key;
      // A front-end that shrinks an unsealed file under us: the touch past its end is answered by the
      // addon (zero pages over the file's slot, MEM_FAULT + 1, FAULT_FD written), not the process's death.
      this.guardId = this.native.guardMapping(sab, i, W_MEM_FAULT, W_FAULT_FD);
      const views = { u8: new Uint8Array(sab), u16: new Uint16Array(sab, 0, sab.byteLength >>> 1), u32: new Uint32Array(sab, 0, sab.byteLength >>> 2) };
      // Descriptors hold guest physical addresses: the table's gpa ranges, each at its offset in the mapping.
      const regions: GuestRegion[] = [];
      const r = this.ranges;
      for (let k = 0; k < i[W_NREGIONS]!; k++) {
        const o = k * R_FIELDS;
        regions.push({ addr: r[o + RANGE_FIELDS.R_GPA_LO]!, size: r[o + RANGE_FIELDS.R_GPA_HI]! - r[o + RANGE_FIELDS.R_GPA_LO]!, offset: r[o + RANGE_FIELDS.R_FILE_OFF]! });
      }
      dq.setMemory(GuestMemory.regions(views, regions));
      this.u8 = views.u8;
      this.u16 = views.u16;
      this.u32 = views.u32;
      this.memGen = i[W_MEM_GEN]!;
    }
    const features = i[W_FEAT_LO]! >>> 0;
    const hi = i[W_FEAT_HI]! >>> 0;
    this.mrg = ((features >>> VIRTIO_NET_F_MRG_RXBUF) & 1) === 1;
    this.inOrder = ((hi >>> (VIRTIO_F_IN_ORDER - 32)) & 1) === 1;
    this.packed = ((hi >>> (VIRTIO_F_RING_PACKED - 32)) & 1) === 1;
    const indirect = ((features >>> VIRTIO_F_INDIRECT_DESC) & 1) === 1;
    const eventIdx = ((features >>> VIRTIO_F_EVENT_IDX) & 1) === 1;
    const size = i[W_SIZE]!;
    // The walk stores at most `size` segments per chain (it refuses longer ones); nextMore appends
    // a frame's further chains after the first: room for two rings' worth.
    if (this.chain.addr.length < 2 * size) this.chain = new Chain(2 * size);
    dq.size = size;
    const base = i[W_LAST_AVAIL]! & 0xffff;
    this.broken = false;
    // The session located and checked the parts (inside one region each, aligned: ring.ts locate()).
    if (this.packed) {
      const pq = this.pq;
      // Packed: descriptor ring, driver and device event suppression areas (SET_VRING_ADDR's desc, avail, used).
      pq.enableAt(size, i[W_DESC]!, i[W_AVAIL]!, i[W_USED]!);
      pq.configure(indirect, eventIdx);
      // Every buffer before the base was returned: the used side continues from the same place.
      const pos = base & 0x7fff;
      const wrap = base >>> 15;
      pq.resume(pos < size ? pos : 0, wrap, pos < size ? pos : 0, wrap);
      // We poll: the device event suppression structure says DISABLE (§2.8.10).
      pq.setNotify(false);
    } else {
      dq.enableAt(i[W_DESC]!, i[W_AVAIL]!, i[W_USED]!);
      dq.configure(indirect, eventIdx);
      // Resume at the base; used.idx where the front-end's ring has it (it may have been used before a reconnect).
      dq.resume(base);
      // We poll: ask for no kicks (§2.7.10; under EVENT_IDX avail_event stays behind instead).
      dq.setNotify(false);
    }
    this.callFd = i[W_CALL_FD]!;
  }

  /** Cold: drop this ring's hold on its mapping (unmapped when no ring of this thread uses it). */
  private releaseMemory(): void {
    if (this.guardId >= 0) this.native.unguardMapping(this.guardId);
    this.guardId = -1;
    if (this.memKey === null) return;
    unmapFile(this.native, this.memKey);
    this.memKey = null;
    this.memGen = -1;
    this.dq.setMemory(GuestMemory.empty());
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.u32 = new Uint32Array(0);
  }

  /**
   * At most how many chains next() may take now: split, the avail ring's
   * count (-1: the front-end moved avail.idx more than a ring ahead: counted,
   * nothing taken); packed, the ring size (next() finds where they end).
   */
  available(): number {
    if (this.packed) return this.broken ? 0 : this.pq.size;
    const n = this.dq.pollAvail();
    if (n < 0) this.counts[E_AVAIL_IDX]++;
    return n;
  }

  /**
   * Load the avail entries and first descriptors of the next `n` chains (split rings; n at most
   * available()) in one tight loop before they are walked: the front-end wrote these lines on its
   * own CPU, and a walk per chain is too long for the CPU to run several chains' misses at once, so
   * the walk waited for each chain's lines in turn. Here the loads of a whole burst are in flight
   * together (DPDK's vhost prefetches the avail ring with rte_prefetch0 before its burst). Reads
   * only: a head past the table is skipped, nothing is trusted or kept but the sum; the walk
   * validates every descriptor as before. Packed rings: nothing (their walk reads the ring in order).
   */
  touchDescriptors(n: number): void {
    if (this.packed) return;
    const dq = this.dq;
    const u16 = this.u16;
    const u32 = this.u32;
    const ring = (dq.avail + AVAIL_RING_) >>> 1;
    const mask = dq.mask;
    const size = dq.size;
    const desc = dq.desc >>> 2;
    const pos = dq.lastAvail;
    let t = 0;
    for (let k = 0; k < n; k++) {
      const head = u16[ring + ((pos + k) & mask)]!;
      if (head < size) t += u32[desc + (head << 2)]! & 1;
    }
    this.touched = t;
  }

  /**
   * Take the next available chain and walk it with the device core's walk
   * (virtio 1.2 §2.7.5 / §2.8.6), translating each buffer; segments into
   * `chain`. Returns 0, an E_* kind (malformed: not counted, the caller
   * counts it and still returns the chain with used()), or NO_CHAIN (nothing
   * available; split: the caller checked available() first).
   */
  next(): number {
    this.chain.n = 0;
    return this.walkNext();
  }

  /**
   * next() for the further chains of one frame (txBurst under MRG_RXBUF): the chain's segments are
   * appended to `chain` after those of the chains already taken (from the segment count before
   * the call on; nRead, writeBytes and the rest are this chain's), so a frame's chains are all
   * walked once and then written. NO_ROOM when the segments do not fit in `chain` (not the
   * chain's fault: nothing counted; a legitimate front-end posts one descriptor per buffer).
   */
  nextMore(): number {
    return this.walkNext();
  }

  private walkNext(): number {
    const c = this.chain;
    let err: number;
    if (this.packed) {
      const pq = this.pq;
      if (this.broken || !pq.isAvail()) return NO_CHAIN;
      err = pq.walk(c);
      if (err === PWALK_BROKEN_) {
        this.broken = true;
        this.counts[E_NEXT]++;
        return NO_CHAIN;
      }
      this.curId = pq.chainId;
      this.curDescs = pq.chainDescs;
      pq.take(pq.chainDescs);
    } else {
      const head = this.dq.nextHead();
      this.curId = head;
      err = this.dq.walk(head, c);
    }
    if (err === 0) return 0;
    if (err === WALK_FULL_) return c.n === 0 ? E_LENGTH : NO_ROOM;
    return KIND_OF[err]!;
  }

  /**
   * Take up to `n` chains (n at most available()) for as long as each is one descriptor with
   * exactly `flags` (0: readable; VRING_DESC_F_WRITE: writable) inside the mapping's first region,
   * `minLen` to `maxLen` bytes long: the device core's takeSimple (split §2.7.5, packed §2.8.6),
   * which reads and validates each descriptor once, in one loop, so a whole burst's descriptor
   * reads are in flight at once. Their id, offset (`hdr` bytes in) and length less `hdr` go into
   * `b`. Stops before the first other chain, which stays available for next() to walk and check.
   */
  takeSimple(n: number, hdr: number, minLen: number, maxLen: number, b: SimpleChains, flags: number): number {
    if (this.packed) return this.broken ? 0 : this.pq.takeSimple(n, hdr, minLen, maxLen, b, flags);
    return this.dq.takeSimple(n, hdr, minLen, maxLen, b, flags);
  }

  /** Give back the last `k` chains takeSimple took and nothing used: available again. */
  untake(k: number): void {
    if (this.packed) this.pq.untake(k);
    else this.dq.untake(k);
  }

  /**
   * Remember the avail side's position: rewind() goes back to it, so chains
   * next() takes after it can be looked at (their sizes added up) without
   * being used. Nothing may be used() between mark() and rewind().
   */
  mark(): void {
    this.marked = this.position();
  }

  /** Back to mark(): the chains taken since are available again (nothing was written to the ring). */
  rewind(): void {
    this.seek(this.marked);
  }

  /** The avail side's position (split: lastAvail; packed: availPos | availWrap << 15), for seek(). */
  position(): number {
    return this.packed ? this.pq.availPos | (this.pq.availWrap << 15) : this.dq.lastAvail;
  }

  /** Back to a position() taken in this burst: the chains taken since are available again. */
  seek(p: number): void {
    if (this.packed) {
      this.pq.availPos = p & 0x7fff;
      this.pq.availWrap = p >>> 15;
    } else this.dq.lastAvail = p;
  }

  /** Return the chain next() took, with `len` bytes written into it. */
  used(len: number): void {
    if (this.packed) this.pq.addUsed(this.curId, len, this.curDescs);
    else this.dq.addUsed(this.curId, len);
  }

  /** Of the chain next() took: its id (split: head; packed: buffer id) and descriptors spanned, for usedAs(). */
  get heldId(): number {
    return this.curId;
  }
  get heldDescs(): number {
    return this.curDescs;
  }

  /**
   * Return a chain taken earlier in this burst (its heldId/heldDescs then), with `len` bytes
   * written into it: several chains held at once (a frame over several of them, MRG_RXBUF)
   * are returned in the order they were taken, as used() would have.
   */
  usedAs(id: number, descs: number, len: number): void {
    if (this.packed) this.pq.addUsed(id, len, descs);
    else this.dq.addUsed(id, len);
  }

  /**
   * Return `n` chains of one descriptor each at once, ids[k] with lens[k] bytes written (the
   * chains takeSimple took, in the order taken): the device core's addUsedRun, one call per burst
   * with the entries' stores in one tight loop (DPDK's vhost writes a burst's used entries from
   * its shadow used ring at once too), instead of a usedAs() call per chain.
   */
  usedRun(ids: Uint32Array, lens: Uint32Array, n: number): void {
    if (this.packed) this.pq.addUsedRun(ids, lens, n);
    else this.dq.addUsedRun(ids, lens, n);
  }

  /** Publish used entries; call the front-end unless it suppressed it (§2.7.7, §2.7.10; packed §2.8.10). */
  publish(): void {
    if ((this.packed ? this.pq.publish() : this.dq.publish()) && this.callFd >= 0) {
      this.native.eventfdWrite(this.callFd, 1);
      this.counts[ERROR_KINDS]++;
    }
  }
}
