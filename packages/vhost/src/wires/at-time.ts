import { deviceClock } from "../clock.js";
import type { Wire } from "./wire.js";

/**
 * Drive a wire at a chosen time, as the device loop would in a pass at `now`
 * (ms on performance.now()'s scale): set deviceClock, then call. For tests
 * and tools that step wires by hand; the device loop sets the clock itself.
 */
export function readyAt(wire: Pick<Wire, "ready">, now: number): number {
  deviceClock[0] = now;
  return wire.ready();
}

/** consume() at time `now` (see readyAt). */
export function consumeAt(wire: Pick<Wire, "consume">, u8: Uint8Array, addr: number, len: number, now: number): void {
  deviceClock[0] = now;
  wire.consume(u8, addr, len);
}
