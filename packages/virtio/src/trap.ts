import {
  TRAP_DONE, TRAP_IDLE, TRAP_OFFSET, TRAP_OP, TRAP_REQUEST, TRAP_SEQ, TRAP_SPACE, TRAP_STATE, TRAP_VALUE, TRAP_WIDTH,
} from "./transport.js";

/**
 * The driver's half of the trap protocol (transport.ts, "Register accesses
 * are traps"), once for every client: virtio-pmd's SharedMemoryTransport and
 * the device tests' TrapClient. Each client only adds how it waits (a
 * deadline with Atomics.wait, or pumping an in-thread device loop). Cold
 * path. `region` is the transport region's byte offset; `i32`/`u32` views
 * over the whole shared memory.
 */

/** Fill the mailbox and post the request; the caller then rings the doorbell and waits for trapAnswered(). */
export function trapPost(
  i32: Int32Array, u32: Uint32Array, region: number, op: number, space: number, offset: number, width: number, value: number,
): void {
  const st = (region + TRAP_STATE) >>> 2;
  if (Atomics.load(i32, st) !== TRAP_IDLE) {
    // A previous trap was withdrawn after a timeout and the device answered late: clear it.
    Atomics.store(i32, st, TRAP_IDLE);
  }
  u32[(region + TRAP_OP) >>> 2] = op;
  u32[(region + TRAP_SPACE) >>> 2] = space;
  u32[(region + TRAP_OFFSET) >>> 2] = offset;
  u32[(region + TRAP_WIDTH) >>> 2] = width;
  u32[(region + TRAP_VALUE) >>> 2] = value >>> 0;
  u32[(region + TRAP_SEQ) >>> 2] = (u32[(region + TRAP_SEQ) >>> 2]! + 1) >>> 0;
  // Publishes the fields above (seq-cst store); pairs with the device's Atomics.load of the state.
  Atomics.store(i32, st, TRAP_REQUEST);
}

/** True once the device answered; pairs with the device's Atomics.store(TRAP_DONE) after it wrote TRAP_VALUE. */
export function trapAnswered(i32: Int32Array, region: number): boolean {
  return Atomics.load(i32, (region + TRAP_STATE) >>> 2) === TRAP_DONE;
}

/**
 * Give up on a posted trap: withdraw the request so a late device cannot
 * perform a stale access. Returns true when the device answered meanwhile
 * (then take the answer with trapTake).
 */
export function trapWithdraw(i32: Int32Array, region: number): boolean {
  return Atomics.compareExchange(i32, (region + TRAP_STATE) >>> 2, TRAP_REQUEST, TRAP_IDLE) === TRAP_DONE;
}

/** The answer of a completed trap; the mailbox is idle again. */
export function trapTake(i32: Int32Array, u32: Uint32Array, region: number): number {
  const v = u32[(region + TRAP_VALUE) >>> 2]!;
  Atomics.store(i32, (region + TRAP_STATE) >>> 2, TRAP_IDLE);
  return v;
}
