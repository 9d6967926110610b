import type { Wire } from "./wire.js";
import { copyBytes } from "./frame.js";
import { PcapWriter, type PackedFrames } from "./pcap-file.js";
import { UNPACED_DUE } from "./wire-gen.js";
import { FrameChecker, type CheckOptions } from "./wire-sink.js";
import {
  S_EXHAUSTED, S_GENERATED, S_GENERATED_BYTES, S_KIND, S_MISSED, S_WRITE_ERRORS, WIRE_KIND_PCAP, recordWriteError,
} from "./wire-stats.js";

export interface PcapOptions extends CheckOptions {
  /** Frames to offer (validated on the main thread), or null. */
  rx: (PackedFrames & { path: string; infinite: boolean }) | null;
  /** File to write transmitted frames to, or null. */
  tx: { path: string } | null;
}

/**
 * wire=pcap: offers the frames of a capture in file order, once or forever
 * (unpaced: capture timestamps are ignored), and/or writes what the driver
 * transmits to a pcap file. Transmitted frames are also counted and checked
 * like a sink's.
 */
export class PcapWire implements Wire {
  readonly kind = "pcap";
  readonly lossless = true;
  /** A file: read as the application sends (demand.ts), as DPDK's net_pcap reads it as the application polls. */
  readonly onDemand: boolean;
  readonly needsClock: boolean;
  private readonly f64: Float64Array;
  private readonly s: number;
  private readonly checker: FrameChecker;
  private readonly srcView: DataView;
  private readonly offsets: Uint32Array;
  private readonly nFrames: number;
  private readonly infinite: boolean;
  private readonly writer: PcapWriter | null;
  private next = 0; // index of the next frame to offer
  /**
   * Frames offered so far, in a Float64Array cell: an endless replay (loop)
   * passes 2^31 within minutes, and a counter field that outgrows a small
   * integer deopts the hot path once it does.
   */
  private readonly offered = new Float64Array(1);
  // Placeholders of the final types, not null (see PcapWriter.srcView).
  private dstU8: Uint8Array = new Uint8Array(0);
  private dstView: DataView = new DataView(new ArrayBuffer(0));

  constructor(o: PcapOptions, f64: Float64Array, statsBase: number) {
    this.f64 = f64;
    this.s = statsBase;
    f64[statsBase + S_KIND] = WIRE_KIND_PCAP;
    this.checker = new FrameChecker(f64, statsBase, o);
    if (o.rx) {
      const b = o.rx.bytes;
      this.srcView = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.offsets = o.rx.offsets;
      this.nFrames = o.rx.offsets.length - 1;
      this.infinite = o.rx.infinite;
    } else {
      this.srcView = new DataView(new ArrayBuffer(0));
      this.offsets = new Uint32Array(1);
      this.nFrames = 0;
      this.infinite = false;
    }
    this.onDemand = this.nFrames > 0;
    if (this.nFrames === 0) f64[statsBase + S_EXHAUSTED] = 1; // nothing to offer: vacuously done
    // The main thread proved the path writable; a failure here still throws (cold, at device set-up).
    this.writer = o.tx ? new PcapWriter(o.tx.path) : null;
    // Record times in tx_pcap come from the pass clock.
    this.needsClock = this.checker.latency || this.writer !== null;
  }

  ready(): number {
    if (this.nFrames === 0) return 0;
    if (this.infinite) return UNPACED_DUE;
    const left = this.nFrames - this.offered[0]!;
    return left < UNPACED_DUE ? left : UNPACED_DUE;
  }

  frameLength(): number {
    const i = this.next;
    return this.offsets[i + 1]! - this.offsets[i]!;
  }

  peek(u8: Uint8Array, addr: number, max: number): number {
    const i = this.next;
    const start = this.offsets[i]!;
    const len = this.offsets[i + 1]! - start;
    const n = len < max ? len : max;
    const src = this.srcView;
    for (let k = 0; k < n; k++) u8[addr + k] = src.getUint8(start + k);
    return n;
  }

  produce(u8: Uint8Array, addr: number): void {
    if (u8 !== this.dstU8) {
      // Once per destination array (normally once: EAL memory), not per frame.
      this.dstU8 = u8;
      this.dstView = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    const i = this.next;
    const start = this.offsets[i]!;
    const len = this.offsets[i + 1]! - start;
    copyBytes(this.dstView, addr, this.srcView, start, len);
    this.f64[this.s + S_GENERATED_BYTES]! += len;
    this.advance();
  }

  drop(): void {
    const i = this.next;
    this.f64[this.s + S_MISSED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += this.offsets[i + 1]! - this.offsets[i]!;
    this.advance();
  }

  consume(u8: Uint8Array, addr: number, len: number): void {
    this.checker.consume(u8, addr, len);
    const w = this.writer;
    if (w !== null) {
      w.stampFromDeviceClock();
      const before = w.errors;
      w.writeRecord(u8, addr, len);
      if (w.errors !== before) this.countErrors(w);
    }
  }

  exhausted(): boolean {
    return !this.infinite && this.offered[0]! >= this.nFrames;
  }

  flush(): void {
    const w = this.writer;
    if (w !== null) {
      w.flush();
      this.countErrors(w);
    }
  }

  close(): void {
    const w = this.writer;
    if (w !== null) {
      w.close();
      this.countErrors(w);
    }
  }

  /** Publish the writer's error count and last error (cold: after a failed write, flush, close). */
  private countErrors(w: PcapWriter): void {
    this.f64[this.s + S_WRITE_ERRORS] = w.errors;
    if (w.errors !== 0) recordWriteError(this.f64, this.s, w.lastError);
  }

  private advance(): void {
    this.offered[0]! += 1;
    this.f64[this.s + S_GENERATED] = this.offered[0]!;
    if (++this.next === this.nFrames) {
      this.next = 0;
      if (!this.infinite) this.f64[this.s + S_EXHAUSTED] = 1;
    }
  }
}
