import * as MB from "@tpdk/mbuf";
import * as L from "./layout.js";

// Per-frame steps the split and packed queues share (rxq.ts/packed-rx-*.ts, txq.ts/packed-txq.ts).
// Small on purpose: each is called once per frame in a burst loop and inlined there by V8
// (kept only because a vhost-user A/B against DPDK's back-end showed no loss;
// bench/notes/packed-front-end.md "Packed rings: budget against DPDK's front-end").
// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { M_BUF_ADDR, M_DATA_LEN, M_DATA_OFF, M_NB_SEGS, M_NEXT, M_PKT_LEN, M_PORT, M_REFCNT, MBUF_PORT_INVALID, PKTMBUF_HEADROOM } = MB;
const { S_BROADCAST, S_MULTICAST, S_SIZE_BINS } = L;

/** The size bin of a frame of `s` bytes (DPDK's virtio size_bins: <64, 64, 65-127, ..., 1024-1518, >1518). */
export function sizeBinOf(s: number): number {
  if (s === 64) return 1;
  if (s > 64 && s < 1024) return 27 - Math.clz32(s);
  if (s < 64) return 0;
  return s < 1519 ? 6 : 7;
}

/**
 * The IN_ORDER push batch's test (split and packed TX): the address of `m`'s
 * virtio-net header in its headroom, or -1 when `m` does not go in the batch
 * (longer than `maxFrame`, chained, shared (refcnt != 1), headroom shorter
 * than the header, header not 4-aligned): the general loop takes it then.
 * The header is zeroed (zeroHeader) before the address is returned.
 */
export function pushHeader(u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, m: number, hdr: number, maxFrame: number): number {
  const dataOff = u16[(m + M_DATA_OFF) >>> 1]!;
  const h = u32[(m + M_BUF_ADDR) >>> 2]! + dataOff - hdr;
  if (u32[(m + M_PKT_LEN) >>> 2]! > maxFrame || u16[(m + M_NB_SEGS) >>> 1] !== 1 || dataOff < hdr || u16[(m + M_REFCNT) >>> 1] !== 1 || (h & 3) !== 0) return -1;
  zeroHeader(u8, u32, h, hdr);
  return h;
}

/**
 * Zero the `hdr`-byte virtio-net header at `h` where it is not already zero
 * (virtio 1.2 §5.1.6.2.1, num_buffers included): a recycled mbuf's headroom
 * usually is, and skipping the stores keeps the line clean (DPDK measured up
 * to 20 % on small packets). A 4-aligned 12-byte header is compared word by
 * word (bench/README.md, "push-path header": as cheap as three word stores,
 * where byte compares cost six times more). Its stores are primed as the
 * module loads (primeFrameSteps).
 */
export function zeroHeader(u8: Uint8Array, u32: Uint32Array, h: number, hdr: number): void {
  if ((h & 3) === 0 && hdr === 12) {
    const w = h >>> 2;
    if (u32[w] !== 0) u32[w] = 0;
    if (u32[w + 1] !== 0) u32[w + 1] = 0;
    if (u32[w + 2] !== 0) u32[w + 2] = 0;
  } else {
    for (let i = 0; i < hdr; i++) if (u8[h + i] !== 0) u8[h + i] = 0;
  }
}

/**
 * The split IN_ORDER push batch's test for the 12-byte header (txq.ts; the batch runs only with
 * it, VERSION_1 or MRG_RXBUF): pushHeader's test, the header zeroed by zeroHeader12 (`compare`: the
 * queue's choice, TxQueue.quietHeader).
 */
export function pushHeader12(u16: Uint16Array, u32: Uint32Array, m: number, maxFrame: number, compare: boolean): number {
  const dataOff = u16[(m + M_DATA_OFF) >>> 1]!;
  const h = u32[(m + M_BUF_ADDR) >>> 2]! + dataOff - 12;
  if (u32[(m + M_PKT_LEN) >>> 2]! > maxFrame || u16[(m + M_NB_SEGS) >>> 1] !== 1 || dataOff < 12 || u16[(m + M_REFCNT) >>> 1] !== 1 || (h & 3) !== 0) return -1;
  zeroHeader12(u32, h >>> 2, compare);
  return h;
}

/**
 * The 12-byte header at word `w` (4-aligned) zeroed (the split push batch; packed keeps
 * zeroHeader's compare-and-skip, which is what `compare` does here in one compare).
 *
 * Under MRG_RXBUF (`compare` false): three word stores. The back-end writes `num_buffers` (word 2)
 * into every buffer it fills (virtio 1.2 §5.1.6.4), so a forwarded frame's header line is stored
 * into anyway, and the two other words go to that same line; compared first they cost as much
 * ("push-path header").
 *
 * Without MRG_RXBUF (`compare` true, the queue's choice, made once per queue): only a header that is
 * not all zero is stored. DPDK's vhost then writes nothing into the line (its `num_buffers` store
 * is for mergeable rings only, the other fields compare-and-skip), and the RX touch only loads it
 * (rxq.ts), so a recycled mbuf's header line stays shared between the CPUs instead of moving to
 * this one and back every frame (bench/notes/both-rings.md, "Session 26: the header line without
 * MRG_RXBUF"). A device that stores `num_buffers` = 1 without MRG_RXBUF (QEMU and Linux's
 * vhost-net since 2025) gets its 1 replaced by 0: §5.1.6.2.1, "The driver MUST set num_buffers to
 * zero", compare-and-skip, never skip.
 *
 * Small enough that the split push batch inlines every call: it calls it five times, and
 * zeroHeader's per-word compares and byte loop (142 bytes of bytecode each) used up V8's inlining
 * budget for txBurst (920 bytes in all), so zeroHeader and sizeBinOf ran as calls of their own
 * (bench/notes/both-rings.md, "Session 22: burst 32 (split TX, packed stores: dropped)";
 * tx-inlining.test.ts). Its stores are primed as the
 * module loads (primeFrameSteps).
 */
export function zeroHeader12(u32: Uint32Array, w: number, compare: boolean): void {
  if (compare && (u32[w]! | u32[w + 1]! | u32[w + 2]!) === 0) return;
  u32[w] = 0;
  u32[w + 1] = 0;
  u32[w + 2] = 0;
}

/**
 * Buffer `s` (`len` bytes written) as a later segment of a mergeable frame
 * (virtio 1.2 §5.1.6.4: only the first buffer carries the header, so its data
 * starts where the header would be), linked after `prev`.
 */
export function linkRxSegment(u16: Uint16Array, u32: Uint32Array, prev: number, s: number, len: number, hdr: number): void {
  u16[(s + M_DATA_OFF) >>> 1] = PKTMBUF_HEADROOM - hdr;
  u16[(s + M_DATA_LEN) >>> 1] = len;
  u16[(s + M_NB_SEGS) >>> 1] = 1;
  u16[(s + M_PORT) >>> 1] = MBUF_PORT_INVALID;
  u32[(s + M_PKT_LEN) >>> 2] = 0;
  u32[(s + M_NEXT) >>> 2] = 0;
  u32[(prev + M_NEXT) >>> 2] = s;
}

/**
 * One frame's per-packet statistics in the queue's counters at `st` (DPDK's
 * virtio_update_packet_stats): its size bin, and broadcast or multicast by
 * the destination address at `a` (the frame's first byte). The batched paths
 * sum these per burst instead (the same totals).
 */
export function countFrame(u8: Uint8Array, f64: Float64Array, st: number, pktLen: number, a: number): void {
  f64[st + S_SIZE_BINS + sizeBinOf(pktLen)] += 1;
  if ((u8[a]! & 1) !== 0) {
    if ((u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff) f64[st + S_BROADCAST] += 1;
    else f64[st + S_MULTICAST] += 1;
  }
}

/** A size-bin run's count field: sizeRun's accumulator is (bin + 1) * SIZE_RUN + count. */
const SIZE_RUN = 1 << 24;

/**
 * Size bins summed per burst (the split RX and TX loops, frame by frame and four at a time):
 * the burst's first bin is counted in the caller's local accumulator `acc` (a burst is mostly
 * one size), any other bin straight into the queue's counters at `st`. `acc` is 0 (nothing
 * yet) or (bin + 1) * SIZE_RUN + count, a small integer: one local rather than two, so the
 * three steps below are the one copy of the logic each loop inlines. sizeRun: `c` frames of bin
 * `b`; returns the new accumulator.
 */
export function sizeRun(f64: Float64Array, st: number, acc: number, b: number, c: number): number {
  if (acc >>> 24 === b + 1) return acc + c;
  if (acc === 0) return (b + 1) * SIZE_RUN + c;
  f64[st + S_SIZE_BINS + b] += c;
  return acc;
}

/**
 * Broadcast and multicast frames among four whose destination addresses start at a0..a3 in
 * `u8`, as bcast * 8 + mcast (each 0..4). The batches of four (split RX and TX) call it only
 * when one of the four has the group bit (the OR of the four first bytes), rare on the data
 * path; the one copy of that walk.
 */
export function castQuad(u8: Uint8Array, a0: number, a1: number, a2: number, a3: number): number {
  let c = 0;
  for (let j = 0; j < 4; j++) {
    const a = j === 0 ? a0 : j === 1 ? a1 : j === 2 ? a2 : a3;
    if ((u8[a]! & 1) !== 0) c += (u8[a]! & u8[a + 1]! & u8[a + 2]! & u8[a + 3]! & u8[a + 4]! & u8[a + 5]!) === 0xff ? 8 : 1;
  }
  return c;
}

/**
 * sizeRun for four frames of lengths l0..l3: one run step when they have one size, else one add
 * each (sizeBins4, a call of its own: rare, and its four sizeBinOf would take V8's inlining budget
 * of the burst that inlines this).
 */
export function sizeRun4(f64: Float64Array, st: number, acc: number, l0: number, l1: number, l2: number, l3: number): number {
  if (l0 === l1 && l0 === l2 && l0 === l3) return sizeRun(f64, st, acc, sizeBinOf(l0), 4);
  sizeBins4(f64, st, l0, l1, l2, l3);
  return acc;
}

/** One frame each into the size bins of l0..l3 (sizeRun4's mixed case). */
export function sizeBins4(f64: Float64Array, st: number, l0: number, l1: number, l2: number, l3: number): void {
  f64[st + S_SIZE_BINS + sizeBinOf(l0)] += 1;
  f64[st + S_SIZE_BINS + sizeBinOf(l1)] += 1;
  f64[st + S_SIZE_BINS + sizeBinOf(l2)] += 1;
  f64[st + S_SIZE_BINS + sizeBinOf(l3)] += 1;
}

/** The run's count added to its bin (once per burst, after the loops). */
export function sizeRunEnd(f64: Float64Array, st: number, acc: number): void {
  if (acc !== 0) f64[st + S_SIZE_BINS + (acc >>> 24) - 1] += acc & (SIZE_RUN - 1);
}

/**
 * Run the statistics steps above over every size bin, both run cases, mixed quads and the three
 * destination kinds, once per thread as the module loads (cold: scratch arrays, 16 times each,
 * more than the calls after which V8 gives a function its feedback vector). A benchmark or a
 * warm-up of one frame size leaves the other bins' compares and the mixed-size paths without type
 * feedback; the first frame of another size, long after the bursts were optimized, then
 * deoptimized sizeBinOf, sizeRun4, txBurst and rxBurst (--trace-deopt, "Insufficient type
 * feedback"; frame-size-deopt.test.ts).
 *
 * The header zeroings too, with headers of zero and non-zero words (a small num_buffers, and a
 * word past 2^31: a load of it is not a small integer): facing a device that leaves every header
 * 0 (DPDK's vhost without MRG_RXBUF), their stores would not run before the bursts are optimized,
 * and the first header with a 1 in it (a device that stores num_buffers = 1 without MRG_RXBUF,
 * an application's frame) deoptimized txBurst there (quiet-header-deopt.test.ts).
 */
function primeFrameSteps(): void {
  const f64 = new Float64Array(S_SIZE_BINS + 8);
  const u8 = new Uint8Array(24).fill(0xff, 0, 6).fill(1, 8, 9);
  const lens = [60, 64, 65, 128, 256, 512, 1024, 1518, 1519, 9000];
  const hdr32 = new Uint32Array(5);
  const hdr8 = new Uint8Array(hdr32.buffer);
  for (let r = 0; r < 16; r++) {
    let acc = 0;
    for (const len of lens) {
      acc = sizeRun(f64, 0, acc, sizeBinOf(len), 1);
      acc = sizeRun4(f64, 0, acc, len, len, len, len);
      acc = sizeRun4(f64, 0, acc, 64, len, 60, 1518);
      countFrame(u8, f64, 0, len, 8 * (r % 3));
    }
    sizeRunEnd(f64, 0, acc);
    castQuad(u8, 0, 8, 16, 16);
    for (const word of [0, 1 << 16, 0xffffffff]) {
      for (const compare of [true, false]) {
        hdr32.fill(word);
        zeroHeader12(hdr32, 1, compare);
      }
      hdr32.fill(word);
      zeroHeader(hdr8, hdr32, 4, 12);
      hdr32.fill(word);
      zeroHeader(hdr8, hdr32, 5, 12);
      zeroHeader(hdr8, hdr32, 4, 10);
    }
  }
}
primeFrameSteps();

/** Mbufs a FreeBatcher gathers per batch before one freeBulk or fastFreeBulk. */
export const FREE_BATCH = 64;
/**
 * A FreeBatcher's first flushes that call both frees even with a batch empty (a count of 0 frees
 * nothing), far more than the ~8 calls after which V8 gives flush its feedback vector.
 */
export const FREE_PRIMES = 64;

/**
 * The IN_ORDER TX reclaim's free batching (split and packed; DPDK's
 * virtio_xmit_cleanup_inorder(_packed) with RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE):
 * add(m, fp) takes a reclaimed mbuf with the pool id `fp` the push path proved
 * it fast-freeable for (0 for any other). Fast ones gather in one batch per
 * pool run, returned by Mbufs.fastFreeBulk without touching them; the rest go
 * through Mbufs.freeBulk. flush() returns what is held (once per reclaim).
 * Made once per queue: its state lives in fields, nothing is allocated per burst.
 */
export class FreeBatcher {
  private readonly mbufs: MB.Mbufs;
  private readonly arr = new Uint32Array(FREE_BATCH);
  private readonly fastArr = new Uint32Array(FREE_BATCH);
  private n = 0;
  private nfast = 0;
  private fastId = 0;
  /**
   * Flushes left that run both branches (FREE_PRIMES). A queue's reclaims can leave only one kind
   * held at the flush until the reclaim that inlines flush is optimized (only fast ones on the push
   * path; only slow ones until the first push-eligible frame), and the first flush of the other kind,
   * whenever it comes, deoptimized the reclaim ("Insufficient type feedback", bench README "Session
   * 21: GC").
   */
  private primes = FREE_PRIMES;

  constructor(mbufs: MB.Mbufs) {
    this.mbufs = mbufs;
  }

  add(m: number, fp: number): void {
    if (fp !== 0) {
      let nfast = this.nfast;
      if (fp !== this.fastId || nfast === FREE_BATCH) {
        if (nfast !== 0) this.mbufs.fastFreeBulk(this.fastId, this.fastArr, nfast);
        nfast = 0;
        this.fastId = fp;
      }
      this.fastArr[nfast] = m;
      this.nfast = nfast + 1;
    } else {
      const n = this.n;
      this.arr[n] = m;
      if (n + 1 === FREE_BATCH) {
        this.mbufs.freeBulk(this.arr, FREE_BATCH);
        this.n = 0;
      } else this.n = n + 1;
    }
  }

  flush(): void {
    const primes = this.primes;
    if ((this.n | primes) !== 0) {
      this.mbufs.freeBulk(this.arr, this.n);
      this.n = 0;
    }
    if ((this.nfast | primes) !== 0) {
      // While primed with nothing fast held yet, fastId is 0 (no pool): fastFreeBulk of 0 looks up none.
      this.mbufs.fastFreeBulk(this.fastId, this.fastArr, this.nfast);
      this.nfast = 0;
    }
    if (primes !== 0) this.primes = primes - 1;
  }
}

/**
 * Take the lines of descriptors `first`, `first + 1`, ... (`n` of them, wrapping at `size`) of the
 * 16-byte descriptor table at byte `desc` (64-aligned; split or packed: both keep the address's high
 * word at byte 4) for writing, one store per 64-byte line: the high address word, 0, as every path
 * here writes it (32-bit guest addresses). The caller writes every one of these descriptors next
 * and the device reads none of them before the caller's publish (a packed device polls only the
 * flags, which this leaves alone). Why: the device's CPU read (split) or wrote (packed) these lines
 * last, so the first store into each waits for its line to come back; made one line after another,
 * the next line's stores queue behind that wait and the store buffer fills (perf: the first
 * descriptor store of the refill and the stores after TX's descriptor stores). These stores come
 * first, together, so the lines' transfers overlap (bench/notes/both-rings.md, "Session 20: burst
 * 32 on the AMD host").
 */
export function touchDescLines(u32: Uint32Array, desc: number, first: number, n: number, size: number): void {
  let d = first;
  while (n > 0) {
    const a = desc + 16 * d;
    u32[(a + 4) >>> 2] = 0;
    // Descriptors from d to the end of its line, or of the table (a packed ring of any size).
    let step = 4 - ((a >>> 4) & 3);
    if (d + step > size) step = size - d;
    n -= step;
    d += step;
    if (d >= size) d -= size;
  }
}
