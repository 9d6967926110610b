import { TpdkError } from "./errors.js";
import { MAX_LCORE } from "./lcore-id.js";
import { CONTROL_WORD_BASE } from "./memory.js";
import type { Memory } from "./memory.js";

/**
 * EAL control state in shared memory.
 *
 * Header control words (Int32 indices into mem.i32, fixed, no lookup needed):
 *   CTRL_STOP        0 = run, 1 = lcores should return (eal.stop())
 *   CTRL_PIN_WARNED  0/1: the "running unpinned" warning was printed
 *   CTRL_LAUNCH_PENDING  lcores of the current launch not yet in their entry function
 *   CTRL_LAUNCHED    1 from the moment every lcore of a launch has entered its
 *                    entry function until the first one returns; else 0
 *   CTRL_LAUNCH_MASK_LO/HI  the lcore ids of the last launch (bit k of LO: id k,
 *                    of HI: id 32 + k), written before CTRL_LAUNCH_PENDING
 *
 * Zone "eal.lcores" (reserved by Eal.init): one 64-byte cache line per
 * possible lcore id, so wake words of different lcores never share a line:
 *   +0  wake word: the lcore's Backoff sleeps on it; peers Backoff.wake() it
 *   +4  idle count: the lcore's Backoff counts each idle() past its spin
 *       passes here (the loop found nothing BACKOFF_SPIN_PASSES times in a
 *       row), Atomics.store; only that lcore writes it
 */
export const CTRL_STOP = CONTROL_WORD_BASE + 0;
export const CTRL_PIN_WARNED = CONTROL_WORD_BASE + 1;
export const CTRL_LAUNCH_PENDING = CONTROL_WORD_BASE + 2;
export const CTRL_LAUNCHED = CONTROL_WORD_BASE + 3;
export const CTRL_LAUNCH_MASK_LO = CONTROL_WORD_BASE + 4;
export const CTRL_LAUNCH_MASK_HI = CONTROL_WORD_BASE + 5;

export const LCORE_ZONE = "eal.lcores";
export const LCORE_SLOT_BYTES = 64;
export const LCORE_ZONE_BYTES = MAX_LCORE * LCORE_SLOT_BYTES;

/** Reserve the EAL control zone (Eal.init). */
export function reserveControlZone(mem: Memory): void {
  mem.reserve(LCORE_ZONE, LCORE_ZONE_BYTES, LCORE_SLOT_BYTES);
}

/**
 * Int32 index (into mem.i32) of lcore `id`'s wake word. Cold: look it up once,
 * then wake with `Backoff.wake(mem.i32, index)` after publishing work.
 */
export function lcoreWakeIndex(mem: Memory, id: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= MAX_LCORE) throw new TpdkError("EINVAL", `lcore id ${id} out of range 0..${MAX_LCORE - 1}`);
  return (mem.zone(LCORE_ZONE).offset + id * LCORE_SLOT_BYTES) >>> 2;
}

/** Int32 index (into mem.i32) of lcore `id`'s idle count (cold: look it up once). */
export function lcoreIdleIndex(mem: Memory, id: number): number {
  return lcoreWakeIndex(mem, id) + 1;
}

/**
 * While the lcores of a launch run (CTRL_LAUNCHED): how many they are, with
 * their idle counts in `into[0..n)` in lcore id order; 0 when none runs or
 * memory has no EAL lcore zone (a device thread without an EAL). Another
 * thread (a software device) reads this to learn whether the application's
 * lcores have gone idle: a count that moved means that lcore found nothing to
 * do BACKOFF_SPIN_PASSES passes in a row since. Cold (allocation-free; a few
 * Atomics.loads): call it about once per ms.
 */
export function launchedLcoreIdle(mem: Memory, zoneOffset: number, into: Int32Array): number {
  const i32 = mem.i32;
  if (zoneOffset < 0 || Atomics.load(i32, CTRL_LAUNCHED) === 0) return 0;
  let n = 0;
  for (let half = 0; half < 2; half++) {
    const bits = Atomics.load(i32, half === 0 ? CTRL_LAUNCH_MASK_LO : CTRL_LAUNCH_MASK_HI);
    for (let k = 0; k < 32; k++) {
      if ((bits & (1 << k)) === 0) continue;
      const id = half * 32 + k;
      // Pairs with the lcore's Atomics.store of its idle count in Backoff.idle().
      into[n++] = Atomics.load(i32, ((zoneOffset + id * LCORE_SLOT_BYTES) >>> 2) + 1);
    }
  }
  return n;
}

/** Offset of the EAL lcore zone in `mem`, or -1 when it has none (cold). */
export function lcoreZoneOffset(mem: Memory): number {
  try {
    return mem.zone(LCORE_ZONE).offset;
  } catch {
    return -1;
  }
}

/** True once eal.stop() was called (one Atomics.load). */
export function stopRequested(mem: Memory): boolean {
  return Atomics.load(mem.i32, CTRL_STOP) !== 0;
}

/**
 * True while every lcore of the last launch is inside its entry function
 * (rte_eal_mp_remote_launch has handed each its function and none has
 * returned): one Atomics.load, pairs with the lcore threads' stores. A
 * software device reads it to start its wires with the forwarding (a peer
 * starts sending once the application polls), see @tpdk/vhost rxAfterLaunch.
 */
export function lcoresLaunched(mem: Memory): boolean {
  return Atomics.load(mem.i32, CTRL_LAUNCHED) !== 0;
}
