import type { Memory } from "@tpdk/eal";
import type { Wire } from "./wire.js";
import * as F from "./frame.js";
import { buildUdpFrame, defaultSrcMac, onesSum, pseudoHeaderSum } from "./frame.js";
import { deviceClock } from "../clock.js";
import { FrameChecker, type CheckOptions } from "./wire-sink.js";
import * as W from "./wire-stats.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { L3_OFF, L4_OFF, PAYLOAD_OFF, PL_SEQ, PL_TIMESTAMP, DEFAULT_UDP_PORT } = F;
const { S_EXHAUSTED, S_GENERATED, S_GENERATED_BYTES, S_MISSED } = W;

/**
 * Frames an unpaced wire (gen without rate=, pcap) reports due per pass: it is
 * always ready, this just bounds one pass's work. The device takes what it
 * can place; whatever it neither produces nor drops stays due.
 */
export const UNPACED_DUE = 256;

/** Frames up to this many bytes are copied from the template word by word. */
const WORD_COPY_MAX = 256;
/**
 * The words of a frame (4-byte aligned) that produce() patches: the UDP
 * source port (bytes 34-35: word 8's high half), the UDP checksum (40-41:
 * word 10's low half) and the sequence number (PAYLOAD_OFF + PL_SEQ = 48-51:
 * word 12). Every frame is at least 60 bytes, so all three lie inside it.
 */
const W_SPORT = L4_OFF >>> 2;
const W_CSUM = (L4_OFF + 6) >>> 2;
const W_SEQ = (PAYLOAD_OFF + PL_SEQ) >>> 2;

/** The UDP checksum field from a ones'-complement partial sum (0 is sent as 0xffff). */
function udpChecksum(sum: number): number {
  sum = (sum >>> 16) + (sum & 0xffff);
  sum = (sum >>> 16) + (sum & 0xffff);
  const c = ~sum & 0xffff;
  return c === 0 ? 0xffff : c;
}

/**
 * A frame's n words from the template w into u32 at word a, each stored once,
 * the patched ones (source port, checksum, sequence) with their final value:
 * a third fewer stores than the template copy plus byte patches. The buffer's
 * lines are the lcore CPU's (it last held the mbuf), so each store waits for
 * its line in the store buffer; fewer stores let more frames' lines be in
 * flight. Little-endian words, as the rings' typed-array views (virtio 1.x
 * rings are little-endian) already assume.
 */
function writeFrameWords(u32: Uint32Array, a: number, w: Uint32Array, n: number, sport: number, c: number, seq: number): void {
  for (let k = 0; k < W_SPORT; k++) u32[a + k] = w[k]!;
  // Bytes 34-35 (word 8, high half): the source port, big-endian.
  u32[a + W_SPORT] = ((w[W_SPORT]! & 0xffff) | ((sport >>> 8) << 16) | ((sport & 0xff) << 24)) >>> 0;
  u32[a + W_SPORT + 1] = w[W_SPORT + 1]!;
  // Bytes 40-41 (word 10, low half): the UDP checksum, big-endian.
  u32[a + W_CSUM] = ((w[W_CSUM]! & 0xffff0000) | (c >>> 8) | ((c & 0xff) << 8)) >>> 0;
  u32[a + W_CSUM + 1] = w[W_CSUM + 1]!;
  // Bytes 48-51 (word 12): the sequence number, big-endian.
  u32[a + W_SEQ] = ((seq >>> 24) | ((seq >>> 8) & 0xff00) | ((seq & 0xff00) << 8) | ((seq & 0xff) << 24)) >>> 0;
  for (let k = W_SEQ + 1; k < n; k++) u32[a + k] = w[k]!;
}

export interface GenOptions extends CheckOptions {
  /** Frame lengths in bytes without FCS, cycled (or drawn, with seed) frame by frame. */
  frameLengths: number[];
  /** Frames to offer in total; null = unlimited. */
  count: number | null;
  /** Frames per second; null = unpaced. */
  rate: number | null;
  /** UDP source ports used: DEFAULT_UDP_PORT + 0 .. flows-1 (mod 65536). */
  flows: number;
  /** Source MAC; null = defaultSrcMac(deviceIndex). */
  srcMac: number[] | null;
  dstMac: number[];
  /** Embed the send time in every frame. */
  timestamp: boolean;
  /** With a seed, each frame's length and flow are drawn from a xorshift32 stream instead of cycling. */
  seed: number | null;
}

/**
 * wire=gen: offers valid Ethernet/IPv4/UDP frames (frame.ts) at a paced or
 * unpaced rate, and checks what the driver transmits to it like a sink.
 *
 * Per frame the generator copies a template prepared at creation (one per
 * frame length), then patches the source port, the sequence number, the
 * timestamp and the UDP checksum: template sum (computed with those fields
 * zero) plus the patched words, folded. The IPv4 header never changes, so its
 * checksum is in the template. Nothing is allocated per frame.
 *
 * Sequence numbers advance on drop() too: a frame the device missed is a gap a
 * sink downstream counts as lost, so end-to-end loss includes device misses.
 */
export class GenWire implements Wire {
  readonly kind = "gen";
  /**
   * Without rate= the generator is as fast as the driver takes frames (frames
   * wait for RX buffers, like testpmd's txonly against a full ring), so the
   * device thread spends nothing on frames nobody could receive. With rate=
   * it is a paced line-rate source: a frame finding no buffer is missed.
   */
  readonly lossless: boolean;
  readonly needsClock: boolean;
  private readonly f64: Float64Array;
  private readonly s: number;
  private readonly checker: FrameChecker;
  private readonly templates: Uint8Array[];
  /** The templates as 32-bit words (a short frame is copied word by word: see produce). */
  private readonly templateWords: Uint32Array[];
  /** The device's views of EAL memory: produce() takes the word path only for these. */
  private readonly memU8: Uint8Array;
  private readonly memU32: Uint32Array;
  private readonly lengths: Int32Array;
  /** UDP checksum partial sums of the templates (pseudo-header + datagram with port/seq/timestamp zero). */
  private readonly baseSums: Int32Array;
  private readonly nSizes: number;
  private readonly flows: number;
  private readonly limit: number;
  private readonly perMs: number; // frames per ms; 0 = unpaced
  private readonly stamp: boolean;
  private readonly seeded: boolean;
  private readonly origin: number;
  private readonly tsView = new DataView(new ArrayBuffer(8));
  private rng: number;
  private sizeIdx = 0;
  private flow = 0;
  private seq = 0;
  /**
   * Frames offered so far, in a Float64Array cell: an unlimited generator
   * passes 2^31 within minutes, and a counter field that outgrows a small
   * integer deopts the hot path once it does.
   */
  private readonly offered = new Float64Array(1);
  /**
   * offered >= limit, kept where S_EXHAUSTED is set: exhausted() runs once per device tick
   * (1000 a second) and for seconds in baseline code, where reading offered[0] or the double
   * `limit` allocates a HeapNumber per call (DeviceLoop.tick).
   */
  private done: boolean;
  private t0 = NaN;

  constructor(o: GenOptions, mem: Memory, statsBase: number, deviceIndex: number) {
    const f64 = mem.f64;
    this.f64 = f64;
    this.memU8 = mem.u8;
    this.memU32 = mem.u32;
    this.s = statsBase;
    f64[statsBase + W.S_KIND] = W.WIRE_KIND_GEN;
    this.checker = new FrameChecker(f64, statsBase, o);
    const src = o.srcMac ?? defaultSrcMac(deviceIndex);
    this.nSizes = o.frameLengths.length;
    this.templates = [];
    this.templateWords = [];
    this.lengths = new Int32Array(this.nSizes);
    this.baseSums = new Int32Array(this.nSizes); // < 2^31 even for 9014-byte frames: stays a small integer
    for (let i = 0; i < this.nSizes; i++) {
      const len = o.frameLengths[i]!;
      const t = buildUdpFrame({ length: len, srcMac: src, dstMac: o.dstMac, srcPort: 0, stream: deviceIndex, seq: 0, timestamp: 0 });
      t[L4_OFF + 6] = 0;
      t[L4_OFF + 7] = 0;
      const udpLen = len - L4_OFF;
      this.baseSums[i] = onesSum(t, L4_OFF, udpLen, pseudoHeaderSum(t, L3_OFF, udpLen));
      this.templates.push(t);
      const words = new Uint32Array(len >>> 2);
      new Uint8Array(words.buffer).set(t.subarray(0, words.length << 2));
      this.templateWords.push(words);
      this.lengths[i] = len;
    }
    this.flows = o.flows;
    this.limit = o.count ?? Infinity;
    this.done = this.limit <= 0;
    this.perMs = o.rate === null ? 0 : o.rate / 1000;
    this.lossless = o.rate === null;
    this.needsClock = o.rate !== null || o.timestamp || this.checker.latency;
    this.stamp = o.timestamp;
    this.seeded = o.seed !== null;
    this.rng = (o.seed ?? 0) | 0 || 0x9e3779b9 | 0; // xorshift32 must not start at 0
    this.origin = performance.timeOrigin;
    if (this.seeded) this.pick();
  }

  ready(): number {
    const now = deviceClock[0]!;
    const left = this.limit - this.offered[0]!;
    if (left <= 0) return 0;
    if (this.perMs === 0) return left < UNPACED_DUE ? left : UNPACED_DUE;
    if (this.t0 !== this.t0) this.t0 = now; // first pass: frame 0 is due now
    // Frame k is due at t0 + k / rate.
    let target = Math.floor((now - this.t0) * this.perMs) + 1;
    if (target > this.limit) target = this.limit;
    const due = target - this.offered[0]!;
    return due > 0 ? due : 0;
  }

  frameLength(): number {
    return this.lengths[this.sizeIdx]!;
  }

  /** The next frame's headers up to the UDP ports (what the device steers by): the template with this frame's source port. */
  peek(u8: Uint8Array, addr: number, max: number): number {
    const t = this.templates[this.sizeIdx]!;
    let n = t.length < max ? t.length : max;
    if (n > L4_OFF + 4) n = L4_OFF + 4;
    for (let k = 0; k < n; k++) u8[addr + k] = t[k]!;
    if (n >= L4_OFF + 2) {
      const sport = (DEFAULT_UDP_PORT + this.flow) & 0xffff;
      u8[addr + L4_OFF] = sport >>> 8;
      u8[addr + L4_OFF + 1] = sport & 0xff;
    }
    return n;
  }

  produce(u8: Uint8Array, addr: number): void {
    const i = this.sizeIdx;
    const len = this.lengths[i]!;
    const sport = (DEFAULT_UDP_PORT + this.flow) & 0xffff;
    const seq = this.seq;
    const p = addr + PAYLOAD_OFF;
    let sum = this.baseSums[i]! + sport + (seq >>> 16) + (seq & 0xffff);
    if (this.stamp) {
      const v = this.tsView;
      v.setFloat64(0, this.origin + deviceClock[0]!); // big-endian: the pass's time, as ready() saw it
      sum += v.getUint16(0) + v.getUint16(2) + v.getUint16(4) + v.getUint16(6);
    }
    const c = udpChecksum(sum);
    if (len <= WORD_COPY_MAX && (addr & 3) === 0 && u8 === this.memU8) {
      const n = len >>> 2;
      writeFrameWords(this.memU32, addr >>> 2, this.templateWords[i]!, n, sport, c, seq);
      const t = this.templates[i]!;
      for (let k = n << 2; k < len; k++) u8[addr + k] = t[k]!;
    } else {
      u8.set(this.templates[i]!, addr);
      u8[addr + L4_OFF] = sport >>> 8;
      u8[addr + L4_OFF + 1] = sport & 0xff;
      u8[p + PL_SEQ] = seq >>> 24;
      u8[p + PL_SEQ + 1] = (seq >>> 16) & 0xff;
      u8[p + PL_SEQ + 2] = (seq >>> 8) & 0xff;
      u8[p + PL_SEQ + 3] = seq & 0xff;
      u8[addr + L4_OFF + 6] = c >>> 8;
      u8[addr + L4_OFF + 7] = c & 0xff;
    }
    if (this.stamp) {
      const v = this.tsView;
      for (let k = 0; k < 8; k++) u8[p + PL_TIMESTAMP + k] = v.getUint8(k);
    }
    this.f64[this.s + S_GENERATED_BYTES]! += len;
    this.advance();
  }

  /**
   * produce() for a run of buffers (the device's RX fast run, rx-path.ts):
   * frame j at addrs[j] + hdr while it is at most maxFrame bytes and hdr +
   * its length fits lens[j], which then becomes that total. Returns the
   * frames written. One call for the run, the position, sequence and
   * counters in locals: the frames' stores wait in the store buffer for
   * lines the lcore's CPU holds, and a call per frame pushes its stack frame
   * behind them. Frames the word path does not take (timestamps, seeded
   * sizes, long or unaligned frames) go through produce() one at a time.
   */
  produceRun(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number, hdr: number, maxFrame: number): number {
    const left = this.limit - this.offered[0]!;
    if (n > left) n = left;
    let j = 0;
    if (!this.stamp && !this.seeded && u8 === this.memU8) {
      const u32 = this.memU32;
      const lengths = this.lengths;
      const nSizes = this.nSizes;
      const flows = this.flows;
      let sizeIdx = this.sizeIdx;
      let flow = this.flow;
      let seq = this.seq;
      let bytes = 0;
      for (; j < n; j++) {
        const len = lengths[sizeIdx]!;
        const addr = addrs[j]! + hdr;
        if (len > maxFrame || lens[j]! < hdr + len || len > WORD_COPY_MAX || (len & 3) !== 0 || (addr & 3) !== 0) break;
        const sport = (DEFAULT_UDP_PORT + flow) & 0xffff;
        const c = udpChecksum(this.baseSums[sizeIdx]! + sport + (seq >>> 16) + (seq & 0xffff));
        writeFrameWords(u32, addr >>> 2, this.templateWords[sizeIdx]!, len >>> 2, sport, c, seq);
        lens[j] = hdr + len;
        bytes += len;
        seq = (seq + 1) | 0; // as advance()
        if (++sizeIdx === nSizes) sizeIdx = 0;
        if (++flow === flows) flow = 0;
      }
      if (j !== 0) {
        this.sizeIdx = sizeIdx;
        this.flow = flow;
        this.seq = seq;
        const f64 = this.f64;
        f64[this.s + S_GENERATED_BYTES]! += bytes;
        this.offered[0]! += j;
        f64[this.s + S_GENERATED] = this.offered[0]!;
        if (this.offered[0]! >= this.limit) this.finish();
      }
    }
    for (; j < n; j++) {
      const len = this.lengths[this.sizeIdx]!;
      if (len > maxFrame || lens[j]! < hdr + len) break;
      this.produce(u8, addrs[j]! + hdr);
      lens[j] = hdr + len;
    }
    return j;
  }

  drop(): void {
    this.f64[this.s + S_MISSED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += this.lengths[this.sizeIdx]!;
    this.advance();
  }

  consume(u8: Uint8Array, addr: number, len: number): void {
    this.checker.consume(u8, addr, len);
  }

  consumeRun(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): void {
    this.checker.consumeRun(u8, addrs, lens, n);
  }

  exhausted(): boolean {
    return this.done;
  }

  flush(): void {}
  close(): void {}

  private advance(): void {
    this.seq = (this.seq + 1) | 0; // int32 (a small integer to V8); written to the frame as u32
    this.offered[0]! += 1;
    this.f64[this.s + S_GENERATED] = this.offered[0]!;
    if (this.offered[0]! >= this.limit) this.finish();
    if (this.seeded) {
      this.pick();
    } else {
      if (++this.sizeIdx === this.nSizes) this.sizeIdx = 0;
      if (++this.flow === this.flows) this.flow = 0;
    }
  }

  /** The last frame was offered (cold: once). */
  private finish(): void {
    this.done = true;
    this.f64[this.s + S_EXHAUSTED] = 1;
  }

  /** Draw the next frame's length and flow (seeded mode). */
  private pick(): void {
    this.sizeIdx = this.nSizes === 1 ? 0 : (this.next() >>> 0) % this.nSizes;
    this.flow = this.flows === 1 ? 0 : (this.next() >>> 0) % this.flows;
  }

  /**
   * xorshift32, kept as a signed 32-bit value: an unsigned one above 2^31 is
   * not a small integer to V8 and would be boxed (allocated) per call.
   */
  private next(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x | 0;
    return this.rng;
  }
}
