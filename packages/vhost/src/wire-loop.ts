import { type Memory, TpdkError } from "@tpdk/eal";
import { FrameQueue, reserveWireZone } from "./frame-queue.js";
import { FrameChecker, type CheckOptions } from "./wire-sink.js";
import {
  S_GENERATED, S_GENERATED_BYTES, S_KIND, S_MISSED, S_OVERFLOW, WIRE_KIND_LOOP,
} from "./wire-stats.js";
import type { Wire } from "./wire.js";

/** Frames a loop wire holds in flight towards its device (a power of two). */
export const LOOP_QUEUE_FRAMES = 1024;
/** Bytes of frames a loop wire holds in flight (1 MiB: 692 frames of 1514 bytes, all 1024 up to 1024 bytes). */
export const LOOP_QUEUE_BYTES = 1 << 20;

export interface LoopOptions extends CheckOptions {
  /** Device index (= port id, the position of the --vdev) of the other end. */
  peer: number;
}

/**
 * wire=loop: a cable between two devices of the same device thread. What
 * the driver transmits on this device is received on the peer's, and back.
 *
 * Each loop wire owns an inbound queue (FrameQueue in EAL memory) of frames
 * the peer's driver transmitted that are on their way to this device:
 * the peer's consume() copies the frame in, this wire's ready()/produce()
 * hand it to the device on its next RX pass (the same pass when this device
 * comes after the peer in the loop, the next one otherwise).
 *
 * A cable, not a queue with backpressure: not lossless. A frame that finds
 * no RX buffer at this device is missed (drop()), as is a frame that finds
 * the inbound queue full (the device is not taking frames: driver stopped,
 * link down, or the peer transmits more per pass than this device receives);
 * both count generated and missed on this wire, the latter also overflow.
 * So at every moment, on each loop wire:
 *   generated = produced + missed, and
 *   peer.received = generated + frames still queued here.
 * The input is whatever the peer sends: never exhausted.
 */
export class LoopWire implements Wire {
  readonly kind = "loop";
  readonly lossless = false;
  readonly needsClock: boolean;
  readonly peer: number;
  private readonly f64: Float64Array;
  private readonly s: number;
  private readonly u8: Uint8Array;
  private readonly checker: FrameChecker;
  /** Frames on their way to this wire's device. */
  readonly inbound: FrameQueue;
  /** Where consume() sends frames: the peer once connected (a wire starts as its own peer). */
  private out: LoopWire;

  constructor(o: LoopOptions, mem: Memory, statsBase: number, statsOffset: number) {
    this.peer = o.peer;
    this.f64 = mem.f64;
    this.s = statsBase;
    this.u8 = mem.u8;
    mem.f64[statsBase + S_KIND] = WIRE_KIND_LOOP;
    this.checker = new FrameChecker(mem.f64, statsBase, o);
    this.needsClock = this.checker.latency;
    const base = reserveWireZone(mem, statsOffset, LOOP_QUEUE_BYTES, `wire=loop,peer=${o.peer}`);
    this.inbound = new FrameQueue(base, LOOP_QUEUE_BYTES, LOOP_QUEUE_FRAMES);
    this.out = this;
  }

  /** Send what this wire's driver transmits to `peer` (cold; connectLoopWires calls it). */
  connect(peer: LoopWire): void {
    this.out = peer;
  }

  ready(_now: number): number {
    return this.inbound.count();
  }

  frameLength(): number {
    return this.inbound.frontLength();
  }

  peek(u8: Uint8Array, addr: number, max: number): number {
    const q = this.inbound;
    const src = q.frontOffset();
    const len = q.frontLength();
    const n = len < max ? len : max;
    if (u8 === this.u8) u8.copyWithin(addr, src, src + n);
    else for (let k = 0; k < n; k++) u8[addr + k] = this.u8[src + k]!; // not EAL memory: only tests do this
    return n;
  }

  produce(u8: Uint8Array, addr: number): void {
    const q = this.inbound;
    const src = q.frontOffset();
    const len = q.frontLength();
    if (u8 === this.u8) u8.copyWithin(addr, src, src + len);
    else u8.set(this.u8.subarray(src, src + len), addr); // not EAL memory: only tests do this
    q.pop();
    this.f64[this.s + S_GENERATED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += len;
  }

  drop(): void {
    const q = this.inbound;
    this.f64[this.s + S_GENERATED]! += 1;
    this.f64[this.s + S_GENERATED_BYTES]! += q.frontLength();
    this.f64[this.s + S_MISSED]! += 1;
    q.pop();
  }

  consume(u8: Uint8Array, addr: number, len: number, now: number): void {
    this.checker.consume(u8, addr, len, now);
    const peer = this.out;
    const at = peer.inbound.push(len, 0);
    if (at < 0) {
      peer.overflowed(len);
      return;
    }
    if (u8 === this.u8) u8.copyWithin(at, addr, addr + len);
    else this.u8.set(u8.subarray(addr, addr + len), at); // not EAL memory: only tests do this
  }

  /** A frame for this wire found its inbound queue full: offered and missed at once. */
  private overflowed(len: number): void {
    const f = this.f64;
    const s = this.s;
    f[s + S_GENERATED]! += 1;
    f[s + S_GENERATED_BYTES]! += len;
    f[s + S_MISSED]! += 1;
    f[s + S_OVERFLOW]! += 1;
  }

  /** Frames still on their way to this wire's device. */
  queued(): number {
    return this.inbound.count();
  }

  exhausted(): boolean {
    return false;
  }

  flush(): void {}

  close(): void {
    this.inbound.clear();
  }
}

/**
 * Join the loop wires among one device thread's wires (cold, at start-up):
 * `wires[i]` is device i's wire, `names[i]` its name. Each loop wire's peer
 * must be a device of this list whose wire is a loop naming it back (a wire
 * naming itself is a loopback plug). Throws TpdkError EINVAL otherwise;
 * packages/vdev checks the same earlier with validateWirePeers.
 */
export function connectLoopWires(wires: readonly Wire[], names: readonly string[]): void {
  for (let i = 0; i < wires.length; i++) {
    const w = wires[i];
    if (!(w instanceof LoopWire)) continue;
    const p = w.peer;
    const peer = wires[p];
    if (peer === undefined) {
      throw new TpdkError("EINVAL", `${names[i]}: wire=loop,peer=${p}: there is no device ${p} (devices 0..${wires.length - 1})`);
    }
    if (!(peer instanceof LoopWire) || peer.peer !== i) {
      throw new TpdkError("EINVAL", `${names[i]}: wire=loop,peer=${p}: ${names[p]} is not a loop wire with peer=${i}`);
    }
    w.connect(peer);
  }
}
