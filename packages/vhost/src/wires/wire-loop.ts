import { type Memory, TpdkError } from "@tpdk/eal";
import { QueuedRxWire } from "./queued-rx.js";
import type { CheckOptions } from "./wire-sink.js";
import { WIRE_KIND_LOOP } from "./wire-stats.js";
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
 * Each loop wire owns an inbound queue (FrameQueue in EAL memory, see
 * QueuedRxWire) of frames the peer's driver transmitted that are on their
 * way to this device: the peer's consume() copies the frame in, this wire's ready()/produce()
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
export class LoopWire extends QueuedRxWire implements Wire {
  readonly kind = "loop";
  readonly lossless = false;
  readonly peer: number;
  /** Where consume() sends frames: the peer once connected (a wire starts as its own peer). */
  private out: LoopWire;

  constructor(o: LoopOptions, mem: Memory, statsBase: number, statsOffset: number) {
    super(mem, statsBase, statsOffset, WIRE_KIND_LOOP, o, LOOP_QUEUE_BYTES, LOOP_QUEUE_FRAMES, LOOP_QUEUE_BYTES, `wire=loop,peer=${o.peer}`);
    this.peer = o.peer;
    this.out = this;
  }

  /** Send what this wire's driver transmits to `peer` (cold; connectLoopWires calls it). */
  connect(peer: LoopWire): void {
    this.out = peer;
  }

  consume(u8: Uint8Array, addr: number, len: number): void {
    this.checker.consume(u8, addr, len);
    const peer = this.out;
    const at = peer.rx.push(len, 0);
    if (at < 0) {
      peer.rxOverflow(len);
      return;
    }
    if (u8 === this.u8) u8.copyWithin(at, addr, addr + len);
    else this.u8.set(u8.subarray(addr, addr + len), at); // not EAL memory: only tests do this
  }

  exhausted(): boolean {
    return false;
  }

  flush(): void {}

  close(): void {
    this.rx.clear();
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
