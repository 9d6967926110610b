// Over 400 lines on purpose: rte_ring's four enqueue/dequeue variants (bulk/burst x SP/MP, SC/MC) are
// written out one by one so each hot loop stays monomorphic and allocation-free; they share one layout.
import { TpdkError, type Memory } from "@tpdk/eal";
import {
  CONS_HEAD,
  CONS_TAIL,
  H_CAPACITY,
  H_FLAGS,
  H_MAGIC,
  H_MASK,
  H_SIZE,
  PROD_HEAD,
  PROD_TAIL,
  RING_ALIGN,
  RING_F_EXACT_SZ,
  RING_F_SC_DEQ,
  RING_F_SP_ENQ,
  RING_MAGIC,
  SLOTS,
  ringFlags,
  ringGeometry,
  type RingOptions,
} from "./layout.js";

/** Busy polls of a predecessor's tail before the waiter starts sleeping. */
const TAIL_SPINS = 64;
/** Sleep while a predecessor (probably descheduled) has not published its tail, ms. */
const TAIL_WAIT_MS = 0.02;

/**
 * rte_ring: a bounded FIFO of u32 values in EAL shared memory, usable from
 * every thread that maps the memory. A `Ring` object is a per-thread view:
 * create one per thread with `Ring.attach`/`Ring.lookup` (never share it).
 *
 * Enqueue reserves slots by moving prod.head, writes them, then publishes by
 * moving prod.tail; dequeue does the same on the consumer side. Multi-producer
 * (MP) reservation uses compare-and-swap on the head and publishes tails in
 * reservation order; single-producer (SP) needs neither. All calls take
 * caller-owned Uint32Arrays and allocate nothing.
 */
export class Ring {
  /** Byte offset of the ring region in EAL memory. */
  readonly offset: number;
  /** Slot count (a power of two). */
  readonly size: number;
  /** Usable entries: size - 1, or the requested count with exactSize. */
  readonly capacity: number;
  readonly flags: number;

  private readonly mask: number;
  private readonly i32: Int32Array;
  private readonly u32: Uint32Array;
  private readonly sp: boolean;
  private readonly sc: boolean;
  // Int32 word indices of the four indices and of slot 0.
  private readonly wProdHead: number;
  private readonly wProdTail: number;
  private readonly wConsHead: number;
  private readonly wConsTail: number;
  private readonly wSlots: number;
  /** SP: this thread's copy of cons.tail; only refreshed when the ring looks full. */
  private consTailSeen: number;
  /** SC: this thread's copy of prod.tail; only refreshed when the ring looks empty. */
  private prodTailSeen: number;
  /** Start index of the last successful reservation (out-parameter of reserve*). */
  private rsv = 0;

  private constructor(mem: Memory, offset: number) {
    const u32 = mem.u32;
    const w = offset >>> 2;
    this.offset = offset;
    this.size = u32[w + (H_SIZE >>> 2)]!;
    this.mask = u32[w + (H_MASK >>> 2)]!;
    this.capacity = u32[w + (H_CAPACITY >>> 2)]!;
    this.flags = u32[w + (H_FLAGS >>> 2)]!;
    this.i32 = mem.i32;
    this.u32 = u32;
    this.sp = (this.flags & RING_F_SP_ENQ) !== 0;
    this.sc = (this.flags & RING_F_SC_DEQ) !== 0;
    this.wProdHead = w + (PROD_HEAD >>> 2);
    this.wProdTail = w + (PROD_TAIL >>> 2);
    this.wConsHead = w + (CONS_HEAD >>> 2);
    this.wConsTail = w + (CONS_TAIL >>> 2);
    this.wSlots = w + (SLOTS >>> 2);
    this.consTailSeen = Atomics.load(this.i32, this.wConsTail);
    this.prodTailSeen = Atomics.load(this.i32, this.wProdTail);
  }

  /** Bytes a ring of `count` needs (header, index lines and slots). */
  static bytesFor(count: number, opts: RingOptions | number = {}): number {
    const flags = typeof opts === "number" ? opts : ringFlags(opts);
    const g = ringGeometry(count, flags);
    if (!g) throw badCount(count, flags);
    return SLOTS + 4 * g.size;
  }

  /**
   * Reserve a zone named `name` and initialise a ring in it (main thread, cold).
   * Without `exactSize`, `count` must be a power of two and count-1 entries
   * are usable (as rte_ring_create). Throws EINVAL, EEXIST, ENOMEM.
   */
  static create(mem: Memory, name: string, count: number, opts: RingOptions = {}): Ring {
    const flags = ringFlags(opts);
    const zone = mem.reserve(name, Ring.bytesFor(count, flags), RING_ALIGN);
    return Ring.init(mem, zone.offset, count, flags);
  }

  /**
   * Initialise a ring at `offset` inside memory someone else reserved (e.g. a
   * mempool's zone). `offset` must be 64-byte aligned (128 recommended) and
   * `Ring.bytesFor(count, flags)` bytes long. Nobody may use the region yet.
   */
  static init(mem: Memory, offset: number, count: number, flags = 0): Ring {
    initRingRegion(mem, offset, count, flags, 0);
    return new Ring(mem, offset);
  }

  /** A per-thread view of the ring initialised at `offset`. Throws EINVAL if there is none. */
  static attach(mem: Memory, offset: number): Ring {
    if (!Number.isInteger(offset) || offset <= 0 || offset % 64 !== 0 || !mem.contains(offset, SLOTS)) {
      throw new TpdkError("EINVAL", `no ring at offset ${offset}: bad offset`);
    }
    if (Atomics.load(mem.u32, (offset + H_MAGIC) >>> 2) !== RING_MAGIC) {
      throw new TpdkError("EINVAL", `no ring at offset ${offset}: bad magic`);
    }
    return new Ring(mem, offset);
  }

  /** A per-thread view of the ring created under `name`. Throws ENOENT. */
  static lookup(mem: Memory, name: string): Ring {
    return Ring.attach(mem, mem.zone(name).offset);
  }

  // ---- enqueue ---------------------------------------------------------

  /**
   * Enqueue exactly `n` values from `src[srcOff..]`, or nothing.
   * Returns n on success, 0 when fewer than n slots are free.
   */
  enqueueBulk(src: Uint32Array, n: number, srcOff = 0): number {
    return this.enqueueN(src, n, srcOff, true);
  }

  /** Enqueue up to `n` values from `src[srcOff..]`; returns how many (0..n). */
  enqueueBurst(src: Uint32Array, n: number, srcOff = 0): number {
    return this.enqueueN(src, n, srcOff, false);
  }

  /** Enqueue one u32 value; false when the ring is full. */
  enqueue(v: number): boolean {
    const got = this.sp ? this.reserveSp(1, true) : this.reserveMp(1, true);
    if (got === 0) return false;
    const head = this.rsv;
    this.u32[this.wSlots + (head & this.mask)] = v;
    this.publishProd(head, 1);
    return true;
  }

  private enqueueN(src: Uint32Array, n: number, srcOff: number, fixed: boolean): number {
    if (n <= 0) return 0;
    const got = this.sp ? this.reserveSp(n, fixed) : this.reserveMp(n, fixed);
    if (got === 0) return 0;
    const head = this.rsv;
    const idx = head & this.mask;
    copyIn(this.u32, this.wSlots, idx, Math.min(got, this.size - idx), src, srcOff, got);
    this.publishProd(head, got);
    return got;
  }

  /** SP: claim up to n slots; sets this.rsv to the first index. */
  private reserveSp(n: number, fixed: boolean): number {
    const i32 = this.i32;
    // Only this thread ever writes prod.head on an SP ring: a plain read is current.
    const head = i32[this.wProdHead]!;
    let free = ringFree(this.capacity, this.consTailSeen, head);
    if (free < n) {
      // Looks full: refresh our copy of cons.tail. Pairs with the consumer's
      // Atomics.store(cons.tail) in publishCons, made after it read the slots,
      // so every slot below the value we see may be overwritten.
      this.consTailSeen = Atomics.load(i32, this.wConsTail);
      free = ringFree(this.capacity, this.consTailSeen, head);
      if (free < n) {
        if (fixed || free <= 0) return 0;
        n = free;
      }
    }
    i32[this.wProdHead] = (head + n) | 0;
    this.rsv = head;
    return n;
  }

  /**
   * MP: claim up to n slots with a CAS on prod.head; sets this.rsv.
   * cons.tail is read fresh on every call rather than from a per-thread copy:
   * other producers move the head, so a copy taken while this thread sat idle
   * could be ~2^32 entries stale and alias to a plausible value.
   */
  private reserveMp(n: number, fixed: boolean): number {
    const i32 = this.i32;
    const cap = this.capacity;
    // Pairs with the compareExchange of other producers below.
    let head = Atomics.load(i32, this.wProdHead);
    let want: number;
    for (;;) {
      // Pairs with the consumers' Atomics.store(cons.tail): slots below it are free.
      const free = ringFree(cap, Atomics.load(i32, this.wConsTail), head);
      want = n;
      if (free < n) {
        if (fixed || free <= 0) return 0;
        want = free;
      }
      // A stale head only makes `free` look larger; the CAS then fails and we retry.
      const seen = Atomics.compareExchange(i32, this.wProdHead, head, (head + want) | 0);
      if (seen === head) break;
      head = seen;
    }
    this.rsv = head;
    return want;
  }

  /** Make slots [head, head+n) visible to consumers: one store per burst. */
  private publishProd(head: number, n: number): void {
    const i32 = this.i32;
    if (!this.sp) waitTail(i32, this.wProdTail, head);
    // Pairs with the consumer's Atomics.load(prod.tail) in reserveSc/reserveMc:
    // the slot writes above happen-before any read that sees this tail.
    Atomics.store(i32, this.wProdTail, (head + n) | 0);
  }

  // ---- dequeue ---------------------------------------------------------

  /**
   * Dequeue exactly `n` values into `dst[dstOff..]`, or nothing.
   * Returns n on success, 0 when fewer than n entries are queued.
   */
  dequeueBulk(dst: Uint32Array, n: number, dstOff = 0): number {
    return this.dequeueN(dst, n, dstOff, true);
  }

  /** Dequeue up to `n` values into `dst[dstOff..]`; returns how many (0..n). */
  dequeueBurst(dst: Uint32Array, n: number, dstOff = 0): number {
    return this.dequeueN(dst, n, dstOff, false);
  }

  /** Dequeue one value (a u32), or -1 when the ring is empty. */
  dequeue(): number {
    const got = this.sc ? this.reserveSc(1, true) : this.reserveMc(1, true);
    if (got === 0) return -1;
    const head = this.rsv;
    const v = this.u32[this.wSlots + (head & this.mask)]!;
    this.publishCons(head, 1);
    return v;
  }

  private dequeueN(dst: Uint32Array, n: number, dstOff: number, fixed: boolean): number {
    if (n <= 0) return 0;
    const got = this.sc ? this.reserveSc(n, fixed) : this.reserveMc(n, fixed);
    if (got === 0) return 0;
    const head = this.rsv;
    const idx = head & this.mask;
    copyOut(this.u32, this.wSlots, idx, Math.min(got, this.size - idx), dst, dstOff, got);
    this.publishCons(head, got);
    return got;
  }

  /** SC: claim up to n entries; sets this.rsv. */
  private reserveSc(n: number, fixed: boolean): number {
    const i32 = this.i32;
    // Only this thread writes cons.head on an SC ring.
    const head = i32[this.wConsHead]!;
    let entries = (this.prodTailSeen - head) | 0;
    if (entries < n) {
      // Looks empty: refresh our copy of prod.tail. Pairs with the producer's
      // Atomics.store(prod.tail) in publishProd, made after it wrote the slots.
      this.prodTailSeen = Atomics.load(i32, this.wProdTail);
      entries = (this.prodTailSeen - head) | 0;
      if (entries < n) {
        if (fixed || entries <= 0) return 0;
        n = entries;
      }
    }
    i32[this.wConsHead] = (head + n) | 0;
    this.rsv = head;
    return n;
  }

  /** MC: claim up to n entries with a CAS on cons.head; sets this.rsv. */
  private reserveMc(n: number, fixed: boolean): number {
    const i32 = this.i32;
    // Pairs with the compareExchange of other consumers below.
    let head = Atomics.load(i32, this.wConsHead);
    let want: number;
    for (;;) {
      // Pairs with the producers' Atomics.store(prod.tail): slots below it are written.
      const entries = (Atomics.load(i32, this.wProdTail) - head) | 0;
      want = n;
      if (entries < n) {
        if (fixed || entries <= 0) return 0;
        want = entries;
      }
      const seen = Atomics.compareExchange(i32, this.wConsHead, head, (head + want) | 0);
      if (seen === head) break;
      head = seen;
    }
    this.rsv = head;
    return want;
  }

  /** Hand slots [head, head+n) back to producers: one store per burst. */
  private publishCons(head: number, n: number): void {
    const i32 = this.i32;
    if (!this.sc) waitTail(i32, this.wConsTail, head);
    // Pairs with the producer's Atomics.load(cons.tail) in reserveSp/reserveMp:
    // our slot reads above happen-before its overwrite of those slots.
    Atomics.store(i32, this.wConsTail, (head + n) | 0);
  }

  // ---- state (snapshots: exact only when nobody is mid-operation) ---------

  /** Entries queued (published by producers, not yet released by consumers). */
  count(): number {
    // cons.tail first: prod.tail read later can only be larger, so the
    // difference is never negative; clamp as rte_ring_count does.
    const ct = Atomics.load(this.i32, this.wConsTail);
    const pt = Atomics.load(this.i32, this.wProdTail);
    const c = (pt - ct) | 0;
    return c > this.capacity ? this.capacity : c;
  }

  /** Free entries: capacity - count(). */
  freeCount(): number {
    return this.capacity - this.count();
  }

  empty(): boolean {
    return this.count() === 0;
  }

  full(): boolean {
    return this.count() === this.capacity;
  }

  /** True when this ring was created single-producer / single-consumer. */
  get isSp(): boolean {
    return this.sp;
  }
  get isSc(): boolean {
    return this.sc;
  }
}

/**
 * The slot copies of enqueueN and dequeueN: n values between the caller's
 * array at `off` and the slots from index `idx` (slot 0 at word `slots`), in
 * at most two contiguous runs so the loops need no masking: `first` to the
 * slots' end, the rest from slot 0. Small on purpose: inlined into the bursts,
 * with the type feedback primed below.
 */
function copyIn(u32: Uint32Array, slots: number, idx: number, first: number, src: Uint32Array, off: number, n: number): void {
  const base = slots + idx;
  for (let i = 0; i < first; i++) u32[base + i] = src[off + i]!;
  const wrapBase = slots - first;
  for (let i = first; i < n; i++) u32[wrapBase + i] = src[off + i]!;
}

function copyOut(u32: Uint32Array, slots: number, idx: number, first: number, dst: Uint32Array, off: number, n: number): void {
  const base = slots + idx;
  for (let i = 0; i < first; i++) dst[off + i] = u32[base + i]!;
  const wrapBase = slots - first;
  for (let i = first; i < n; i++) dst[off + i] = u32[wrapBase + i]!;
}

/**
 * Run both copies across a ring's end, once per thread as the module loads
 * (cold: 16 copies of 4 values each way on scratch arrays), more times than
 * the calls after which V8 gives a function its feedback vector (8). The
 * second run of a copy starts only when a copy first crosses the slots' end,
 * which bursts that divide the ring size never do: that loop then had no
 * type feedback, and its first crossing, seconds into a run, deoptimized the
 * optimized burst around it (--trace-deopt, "Insufficient type feedback for
 * binary operation" in enqueueN/dequeueN and their callers). One masked loop
 * instead had nothing to prime but was slower: SP/SC burst 32 100 -> 111 ns
 * per enqueue+dequeue pair (bench/notes/gc.md, "Session 12: mechanisms and GC").
 */
function primeCopies(): void {
  const slots = new Uint32Array(8);
  const arr = new Uint32Array(4);
  for (let r = 0; r < 16; r++) {
    copyIn(slots, 0, 6, 2, arr, 0, 4);
    copyOut(slots, 0, 6, 2, arr, 0, 4);
  }
}
primeCopies();

/**
 * Free slots for a producer at `head`: capacity - (head - consTail), in int32
 * arithmetic. Each operation is truncated with `| 0` on its own so TurboFan
 * compiles it as a wrapping int32 op; `(capacity + consTail - head) | 0` left
 * the inner sum unwrapped, compiled as an overflow-checked int32 add, and the
 * first call with consTail past 2^31 - 1 - capacity (the indices wrap to
 * negative) deoptimized reserveSp/reserveMp and the optimized burst around
 * them ("deopt-eager, reason: overflow", --trace-deopt; ring-wrap.test.ts).
 */
function ringFree(capacity: number, consTail: number, head: number): number {
  return (capacity + ((consTail - head) | 0)) | 0;
}

/**
 * MP/MC publish order: wait until every reservation made before ours has
 * published (tail == our head). Spin briefly, then sleep in short slices: on
 * an oversubscribed machine the predecessor may be descheduled.
 */
function waitTail(i32: Int32Array, w: number, head: number): void {
  let spins = 0;
  for (;;) {
    // Pairs with the predecessor's Atomics.store of this tail.
    const t = Atomics.load(i32, w);
    if (t === head) return;
    if (++spins > TAIL_SPINS) Atomics.wait(i32, w, t, TAIL_WAIT_MS);
  }
}

function badCount(count: number, flags: number): TpdkError {
  return new TpdkError(
    "EINVAL",
    flags & RING_F_EXACT_SZ
      ? `ring count ${count} must be an integer in 1..${(1 << 30) - 1} with exactSize`
      : `ring count ${count} must be a power of two in 2..${1 << 30} (or pass exactSize)`,
  );
}

/**
 * Write a ring header at `offset` with all four indices at `startIndex`
 * (0 in production; tests start near 2^32 to exercise wrap-around).
 */
export function initRingRegion(mem: Memory, offset: number, count: number, flags: number, startIndex: number): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > 7) throw new TpdkError("EINVAL", `bad ring flags ${flags}`);
  const g = ringGeometry(count, flags);
  if (!g) throw badCount(count, flags);
  const bytes = SLOTS + 4 * g.size;
  if (!Number.isInteger(offset) || offset <= 0 || offset % 64 !== 0 || !mem.contains(offset, bytes)) {
    throw new TpdkError("EINVAL", `ring region at ${offset} (${bytes} bytes) is not 64-byte aligned inside memory`);
  }
  const u32 = mem.u32;
  const w = offset >>> 2;
  u32.fill(0, w, w + (SLOTS >>> 2));
  u32[w + (H_SIZE >>> 2)] = g.size;
  u32[w + (H_MASK >>> 2)] = g.size - 1;
  u32[w + (H_CAPACITY >>> 2)] = g.capacity;
  u32[w + (H_FLAGS >>> 2)] = flags;
  const s = startIndex | 0;
  mem.i32[w + (PROD_HEAD >>> 2)] = s;
  mem.i32[w + (PROD_TAIL >>> 2)] = s;
  mem.i32[w + (CONS_HEAD >>> 2)] = s;
  // The magic goes last: attach() in another thread that sees it sees the rest.
  Atomics.store(mem.i32, w + (CONS_TAIL >>> 2), s);
  Atomics.store(u32, w + (H_MAGIC >>> 2), RING_MAGIC);
}
