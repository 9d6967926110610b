// Notifying the device of a queue (virtio 1.2 §2.7.13, the driver's notification), written once for
// the lcore's kick (QueueBase.kick) and the main thread's backstop (txKickBackstop).
import { native } from "@tpdk/native";
import { Q_KICK_FD } from "./layout.js";

/**
 * Atomics.notify count: every waiter. `undefined` (ECMA-262 Atomics.notify: an undefined count is +∞),
 * not Infinity: Atomics.notify is a builtin call, and optimized code passing it a double (Infinity, or
 * a phi of 0 and Infinity) boxes it in a new HeapNumber at every kick, the lcore's steady garbage in a
 * pipeline window (~2,000 kicks/s; bench README "Session 22: GC"). A Smi or undefined allocates nothing.
 */
const WAKE_ALL = undefined;

/**
 * This thread's addon: a vhost-user queue's kick eventfd is written directly. Null (no addon: no
 * vhost-user port either): every kick goes through the doorbell. Every build path rebuilds the
 * addon (as eal's pin.ts relies on for setThreadAffinity), so a loaded one has eventfdKick.
 */
export const kickNative = native;

/**
 * The i32 index of a queue zone's kick-fd word (`zoneW`: the zone's u32 index), 0 when this thread
 * has no addon to write an eventfd with (the doorbell then): what notifyDevice takes as `kickFdI`.
 */
export function kickFdIndex(u32: Uint32Array, zoneW: number): number {
  return kickNative === null ? 0 : u32[zoneW + (Q_KICK_FD >>> 2)]! >>> 2;
}

/**
 * Notify the device `n` times (1, or 0 for QueueBase's priming no-op) through a queue zone's words
 * (i32 indices): the notify count, then the vhost-user kick eventfd when `kickFdI` is set (the fd
 * word and its in-flight count), else the built-in device's doorbell. The in-flight count around the
 * write pairs with the transport's close (vhost-user transport.ts closeKickFds): it stores -1 in the
 * fd word, then waits for the count to be 0 before it closes the eventfd, so this never writes to a
 * closed fd or to another file that reused its number. n = 0 writes to fd -1 (EBADF at once,
 * nothing written anywhere) and wakes nobody.
 */
export function notifyDevice(i32: Int32Array, notifyI: number, kickFdI: number, doorbellI: number, n: number): void {
  Atomics.add(i32, notifyI, n);
  if (kickFdI !== 0) {
    Atomics.add(i32, kickFdI + 1, 1);
    // Pairs with the transport's Atomics.store of the fd (startRings) or -1 (stopRings, close).
    const fd = Atomics.load(i32, kickFdI);
    kickNative!.eventfdKick(n === 0 || fd < 0 ? -1 : fd, n);
    Atomics.sub(i32, kickFdI + 1, 1);
  } else {
    // Backoff.wake semantics on the device's doorbell (see transport.ts ringDoorbell).
    Atomics.add(i32, doorbellI, n);
    Atomics.notify(i32, doorbellI, n === 0 ? 0 : WAKE_ALL);
  }
}
