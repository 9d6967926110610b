import type { Wire } from "./wire.js";
import * as F from "./frame.js";
import { readI32, readU16, tpdkPayloadOffset, verifyIpv4Udp, writeU32, writeUdpFrame } from "./frame.js";
import { deviceClock } from "../clock.js";
import { histRecord } from "./latency-histogram.js";
import * as W from "./wire-stats.js";
import { S_EXHAUSTED, S_KIND, S_LATENCY_ON, WIRE_KIND_SINK } from "./wire-stats.js";

// Hot-path constants: module-local copies of imported ones (bench/README.md, "Hot-path constants").
const { CSUM_OK, MIN_FRAME_LEN, PAYLOAD_OFF, PL_SEQ, PL_STREAM, PL_TIMESTAMP } = F;
const {
  S_BAD_CHECKSUM, S_DUPLICATED, S_FOREIGN, S_HIST, S_LOST, S_RECEIVED, S_RECEIVED_BYTES, S_REORDERED,
  S_UNTRACKED,
} = W;

/** Streams whose sequence numbers are tracked per wire; frames of later streams count as untracked. */
export const MAX_STREAMS = 64;
/** Rounds of FrameChecker.primeSequence (see there). */
const SEQUENCE_PRIMES = 16;
/** This thread has primed FrameChecker.sequence (see primeSequence). */
let sequencePrimed = false;
/** Sequence numbers remembered behind the highest seen, per stream (bitmap window). */
export const SEQ_WINDOW = 1024;
const WINDOW_WORDS = SEQ_WINDOW >>> 5;
const WINDOW_MASK = SEQ_WINDOW - 1;

export interface CheckOptions {
  /** Verify IPv4 and UDP checksums of frames that carry our magic. */
  check: boolean;
  /** Record send-to-receive latency of timestamped frames. */
  latency: boolean;
}

/**
 * The receiving half every wire shares: counts what the driver transmits to
 * the wire and checks frames that carry the tpdk payload header.
 *
 * Sequence accounting per stream (streams start at sequence 0):
 *  - seq above the highest seen H: the numbers in between count as lost;
 *  - seq == H, or below H and already seen within SEQ_WINDOW: duplicated;
 *  - seq below H, not seen yet, within the window: reordered, and one lost is
 *    taken back (it filled a gap);
 *  - seq more than SEQ_WINDOW below H: reordered, and one lost taken back
 *    (too old to tell a late frame from a duplicate; late is far more likely).
 * So once traffic stops, lost = frames never seen below the highest, and
 * received(ours) = distinct + duplicated.
 */
export class FrameChecker {
  private readonly f64: Float64Array;
  private readonly s: number;
  private readonly check: boolean;
  /** Send-to-receive latency is recorded: consume() reads the device clock. */
  readonly latency: boolean;
  /** performance.timeOrigin of this thread: deviceClock is relative to it. */
  private readonly origin: number;
  private readonly ids = new Int32Array(MAX_STREAMS);
  private nStreams = 0;
  /** Highest sequence number seen per stream, as an int32 (see consume). */
  private readonly highest = new Int32Array(MAX_STREAMS);
  /** Sequence numbers advanced past per stream (from 0), to tell "before the start" from "late". */
  private readonly covered = new Float64Array(MAX_STREAMS);
  private readonly window = new Uint32Array(MAX_STREAMS * WINDOW_WORDS);
  private readonly tsView = new DataView(new ArrayBuffer(8));
  private lastId = -1;
  private lastSlot = -1;

  constructor(f64: Float64Array, statsBase: number, opts: CheckOptions) {
    this.f64 = f64;
    this.s = statsBase;
    this.check = opts.check;
    this.latency = opts.latency;
    this.origin = performance.timeOrigin;
    f64[statsBase + S_LATENCY_ON] = opts.latency ? 1 : 0;
    if (!sequencePrimed) {
      sequencePrimed = true;
      FrameChecker.primeSequence();
    }
  }

  /**
   * Run every branch of sequence() (a gap, a gap past the window, a late frame
   * inside and outside the window, both kinds of duplicate) on a scratch
   * checker, once per thread, when its first checker is made (cold). A frame
   * stream can run in order for seconds: the first lost frame then took a
   * branch the optimized consume() had no type feedback for, and deoptimized
   * it mid-run on the device thread (--trace-deopt: wire-sink.js `if (d > 1)
   * f[s + S_LOST] += d - 1`); the bursts interpreted until it was optimized
   * again boxed their counters: garbage, a scavenge (bench/notes/gc.md,
   * "Session 12: mechanisms and GC"). More rounds than the calls after which
   * V8 gives a function its feedback vector (8).
   */
  private static primeSequence(): void {
    const c = new FrameChecker(new Float64Array(S_HIST), 0, { check: false, latency: false });
    let h = 0;
    c.sequence(1, 0);
    for (let r = 0; r < SEQUENCE_PRIMES; r++) {
      c.sequence(1, h + 1); // in order
      c.sequence(1, h + 4); // a gap of 2
      c.sequence(1, h + 3); // late, inside the window
      c.sequence(1, h + 3); // a duplicate inside the window
      c.sequence(1, h + 4); // a duplicate of the highest
      h += 4 + SEQ_WINDOW + 8;
      c.sequence(1, h); // a gap past the window
      c.sequence(1, h - SEQ_WINDOW - 2); // late, outside the window
      c.sequence(1, (h - 0x40000000) | 0); // before the stream's start
    }
    FrameChecker.primeRun();
  }

  /**
   * Run consumeRun()'s branches (a foreign frame, a frame of another stream
   * and a gap, each handed to sequence(), between in-order frames) on a
   * scratch checker, for the reason primeSequence() gives: a branch the
   * optimized code never took deoptimizes it when first taken mid-run.
   */
  private static primeRun(): void {
    const c = new FrameChecker(new Float64Array(S_HIST), 0, { check: false, latency: false });
    const n = 6;
    const u8 = new Uint8Array(n * MIN_FRAME_LEN);
    const addrs = new Uint32Array(n);
    const lens = new Uint32Array(n).fill(MIN_FRAME_LEN);
    const streams = [1, 1, 1, 0, 2, 1];
    for (let k = 0; k < n; k++) {
      addrs[k] = k * MIN_FRAME_LEN;
      writeUdpFrame(u8, addrs[k]!, { length: MIN_FRAME_LEN, stream: streams[k]! });
    }
    u8[addrs[3]! + PAYLOAD_OFF] = 0; // no magic: foreign
    for (let r = 0; r < SEQUENCE_PRIMES; r++) {
      // Stream 1: 5r, 5r+1, a gap to 5r+3, (foreign, stream 2: r), 5r+4; the next round goes on in order.
      const seqs = [5 * r, 5 * r + 1, 5 * r + 3, 0, r, 5 * r + 4];
      for (let k = 0; k < n; k++) writeU32(u8, addrs[k]! + PAYLOAD_OFF + PL_SEQ, seqs[k]!);
      c.consumeRun(u8, addrs, lens, n);
    }
  }

  /** Count and check one transmitted frame at u8[addr .. addr+len). Hot path. */
  consume(u8: Uint8Array, addr: number, len: number): void {
    const f = this.f64;
    const s = this.s;
    f[s + S_RECEIVED]! += 1;
    f[s + S_RECEIVED_BYTES]! += len;
    const pl = tpdkPayloadOffset(u8, addr, len);
    if (pl < 0) {
      f[s + S_FOREIGN]! += 1;
      return;
    }
    const p = addr + pl;
    if (this.check && verifyIpv4Udp(u8, addr, len) !== CSUM_OK) f[s + S_BAD_CHECKSUM]! += 1;
    if (this.latency) {
      // Inline big-endian f64 read: a helper returning a double could box it per frame.
      const v = this.tsView;
      const t = p + PL_TIMESTAMP;
      for (let i = 0; i < 8; i++) v.setUint8(i, u8[t + i]!);
      const ts = v.getFloat64(0);
      if (ts > 0) histRecord(f, s + S_HIST, Math.round((this.origin + deviceClock[0]! - ts) * 1e6));
    }
    // The sequence number as an int32 (it is only compared modulo 2^32 and masked): read as a u32,
    // a stream past 2^31 frames (215 s at 10 Mpps) deoptimized consume ("lost precision") and boxed
    // every number from then on, a scavenge every ~125k frames (wire-sink-wrap.test.ts).
    this.sequence(readU16(u8, p + PL_STREAM), readI32(u8, p + PL_SEQ));
  }

  /**
   * consume() for a run of frames (Wire.consumeRun): the same counts as n
   * calls of consume() in order, one call where consume() made two per frame
   * (on the AMD host a JS call's pushes wait in the store buffer behind the
   * device's stores; bench/notes/pipeline.md, "Session 21: pipeline"). The commonest
   * frame, ours, of the stream of the frame before and one above its highest
   * (sequence()'s d === 1), is counted here with that stream's highest and
   * advance in locals; any other goes to sequence(). Hot path.
   */
  consumeRun(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): void {
    if (this.check || this.latency) {
      for (let k = 0; k < n; k++) this.consume(u8, addrs[k]!, lens[k]!);
      return;
    }
    const highest = this.highest;
    const covered = this.covered;
    const window = this.window;
    let bytes = 0;
    let foreign = 0;
    // The stream sequence() saw last (lastId, lastSlot: always a tracked one, or none), its highest,
    // and the in-order frames counted since that are not yet in highest[] and covered[].
    let id0 = this.lastId;
    let slot = this.lastSlot;
    let w = slot * WINDOW_WORDS;
    let h = slot >= 0 ? highest[slot]! : 0;
    let ahead = 0;
    for (let k = 0; k < n; k++) {
      const addr = addrs[k]!;
      const len = lens[k]!;
      bytes += len;
      const pl = tpdkPayloadOffset(u8, addr, len);
      if (pl < 0) {
        foreign++;
        continue;
      }
      const p = addr + pl;
      const id = readU16(u8, p + PL_STREAM);
      const seq = readI32(u8, p + PL_SEQ);
      if (id === id0 && ((seq - h) | 0) === 1) {
        // sequence() with d === 1: nothing skipped, seq's window bit set.
        const b = seq & WINDOW_MASK;
        window[w + (b >>> 5)]! |= 1 << (b & 31);
        h = seq;
        ahead++;
        continue;
      }
      if (ahead !== 0) {
        highest[slot] = h;
        covered[slot]! += ahead;
        ahead = 0;
      }
      this.sequence(id, seq);
      id0 = this.lastId;
      slot = this.lastSlot;
      w = slot * WINDOW_WORDS;
      h = slot >= 0 ? highest[slot]! : 0;
    }
    if (ahead !== 0) {
      highest[slot] = h;
      covered[slot]! += ahead;
    }
    const f = this.f64;
    const s = this.s;
    f[s + S_RECEIVED]! += n;
    f[s + S_RECEIVED_BYTES]! += bytes;
    if (foreign !== 0) f[s + S_FOREIGN]! += foreign;
  }

  private slotOf(id: number): number {
    if (id === this.lastId) return this.lastSlot;
    let slot = -1;
    const n = this.nStreams;
    for (let i = 0; i < n; i++) {
      if (this.ids[i] === id) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      if (n === MAX_STREAMS) return -1;
      slot = n;
      this.ids[slot] = id;
      this.highest[slot] = -1; // the stream's first frame is expected to be 0
      this.nStreams = n + 1;
    }
    this.lastId = id;
    this.lastSlot = slot;
    return slot;
  }

  private sequence(id: number, seq: number): void {
    const f = this.f64;
    const s = this.s;
    const slot = this.slotOf(id);
    if (slot < 0) {
      f[s + S_UNTRACKED]! += 1;
      return;
    }
    const w = slot * WINDOW_WORDS;
    const h = this.highest[slot]!;
    const d = (seq - h) | 0; // signed distance modulo 2^32
    if (d > 0) {
      // New highest: clear the window bits of the skipped numbers and of seq, then mark seq.
      if (d > 1) f[s + S_LOST]! += d - 1;
      if (d >= SEQ_WINDOW) {
        this.window.fill(0, w, w + WINDOW_WORDS);
      } else {
        for (let k = 1; k <= d; k++) {
          const b = (h + k) & WINDOW_MASK;
          this.window[w + (b >>> 5)]! &= ~(1 << (b & 31));
        }
      }
      const b = seq & WINDOW_MASK;
      this.window[w + (b >>> 5)]! |= 1 << (b & 31);
      this.highest[slot] = seq;
      this.covered[slot]! += d;
      return;
    }
    if (d === 0) {
      f[s + S_DUPLICATED]! += 1;
      return;
    }
    const age = -d;
    if (age >= this.covered[slot]!) {
      f[s + S_REORDERED]! += 1; // below the stream's start: never counted lost
      return;
    }
    if (age < SEQ_WINDOW) {
      const b = seq & WINDOW_MASK;
      const i = w + (b >>> 5);
      const bit = 1 << (b & 31);
      if ((this.window[i]! & bit) !== 0) {
        f[s + S_DUPLICATED]! += 1;
        return;
      }
      this.window[i]! |= bit;
    }
    f[s + S_REORDERED]! += 1;
    if (f[s + S_LOST]! > 0) f[s + S_LOST]! -= 1;
  }
}

/**
 * wire=sink: supplies nothing, swallows and checks what the driver transmits.
 * Its input is empty, hence finite and wholly offered: exhausted() is true
 * from the start, so "every wire exhausted" means "all finite traffic sent".
 */
export class SinkWire implements Wire {
  readonly kind = "sink";
  readonly lossless = false;
  readonly needsClock: boolean;
  private readonly checker: FrameChecker;

  constructor(f64: Float64Array, statsBase: number, opts: CheckOptions) {
    f64[statsBase + S_KIND] = WIRE_KIND_SINK;
    f64[statsBase + S_EXHAUSTED] = 1;
    this.checker = new FrameChecker(f64, statsBase, opts);
    this.needsClock = this.checker.latency;
  }

  ready(): number {
    return 0;
  }
  frameLength(): number {
    return 0;
  }
  produce(_u8: Uint8Array, _addr: number): void {}
  drop(): void {}
  consume(u8: Uint8Array, addr: number, len: number): void {
    this.checker.consume(u8, addr, len);
  }
  consumeRun(u8: Uint8Array, addrs: Uint32Array, lens: Uint32Array, n: number): void {
    this.checker.consumeRun(u8, addrs, lens, n);
  }
  exhausted(): boolean {
    return true;
  }
  flush(): void {}
  close(): void {}
}
