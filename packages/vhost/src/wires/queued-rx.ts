import type { Memory } from "@tpdk/eal";
import { FrameQueue, reserveWireZone } from "./frame-queue.js";
import { FrameChecker, type CheckOptions } from "./wire-sink.js";
import { S_GENERATED, S_GENERATED_BYTES, S_KIND, S_MISSED, S_OVERFLOW } from "./wire-stats.js";

/**
 * The RX half shared by the wires whose frames arrive on the device thread
 * between passes and wait in a FrameQueue in EAL memory (loop, udp): the
 * Wire's ready/frameLength/peek/produce/drop drain that queue and count
 * generated and missed; TX goes through a FrameChecker. A subclass fills
 * the queue (push, then copy in) and calls rxOverflow() when it is full.
 *
 * The queue sits at the start of the wire's zone (reserveWireZone);
 * `zoneBase + rxBytes ..` is the subclass's (udp keeps its send queue there).
 *
 * Accounting on every such wire: generated = produced + missed, where missed
 * includes overflow (a frame that found the queue full).
 */
export abstract class QueuedRxWire {
  protected readonly f64: Float64Array;
  /** The stats block (Float64 index). */
  protected readonly s: number;
  protected readonly u8: Uint8Array;
  protected readonly checker: FrameChecker;
  /** Frames on their way to this wire's device. */
  protected readonly rx: FrameQueue;
  /** Byte offset of the wire's zone in EAL memory. */
  protected readonly zoneBase: number;
  readonly needsClock: boolean;

  /** Cold: reserves the zone of `zoneBytes` (the RX queue takes its first `rxBytes`). */
  constructor(
    mem: Memory, statsBase: number, statsOffset: number, kindCode: number, o: CheckOptions,
    rxBytes: number, rxFrames: number, zoneBytes: number, what: string,
  ) {
    this.f64 = mem.f64;
    this.s = statsBase;
    this.u8 = mem.u8;
    mem.f64[statsBase + S_KIND] = kindCode;
    this.checker = new FrameChecker(mem.f64, statsBase, o);
    this.needsClock = this.checker.latency;
    this.zoneBase = reserveWireZone(mem, statsOffset, zoneBytes, what);
    this.rx = new FrameQueue(this.zoneBase, rxBytes, rxFrames);
  }

  ready(): number {
    return this.rx.count();
  }

  frameLength(): number {
    return this.rx.frontLength();
  }

  peek(u8: Uint8Array, addr: number, max: number): number {
    const q = this.rx;
    const src = q.frontOffset();
    const len = q.frontLength();
    const n = len < max ? len : max;
    if (u8 === this.u8) u8.copyWithin(addr, src, src + n);
    else for (let k = 0; k < n; k++) u8[addr + k] = this.u8[src + k]!; // not EAL memory: only tests do this
    return n;
  }

  produce(u8: Uint8Array, addr: number): void {
    const q = this.rx;
    const src = q.frontOffset();
    const len = q.frontLength();
    if (u8 === this.u8) u8.copyWithin(addr, src, src + len);
    else u8.set(this.u8.subarray(src, src + len), addr); // not EAL memory: only tests do this
    q.pop();
    this.f64[this.s + S_GENERATED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += len;
  }

  drop(): void {
    const q = this.rx;
    this.f64[this.s + S_GENERATED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += q.frontLength();
    this.f64[this.s + S_MISSED]! += 1;
    q.pop();
  }

  /** Frames received and not yet taken by the device. */
  queued(): number {
    return this.rx.count();
  }

  /** A frame of `len` bytes found the RX queue full (the device is not taking frames): offered and missed at once. */
  protected rxOverflow(len: number): void {
    const f = this.f64;
    const s = this.s;
    f[s + S_GENERATED]! += 1;
    f[s + S_GENERATED_BYTES]! += len;
    f[s + S_MISSED]! += 1;
    f[s + S_OVERFLOW]! += 1;
  }
}
