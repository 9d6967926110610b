import { clockMs } from "@tpdk/eal";

/** Slots of spinLoop's `out` array. */
export const OUT_GAPS = 0;
export const OUT_LOOPS = 1;
export const OUT_DROPPED = 2;
export const OUT_DROPPED_MS = 3;
export const OUT_START_MS = 4;
export const OUT_END_MS = 5;
export const OUT_SLOTS = 6;

/**
 * The probe's busy loop, cyclictest-style without the sleep: read the clock,
 * and when the time since the previous read exceeds `thresholdMs` record the
 * gap (start on clockMs()'s scale, length) in the caller's arrays; stop after
 * `durationMs`. Nothing in the loop allocates (clockMs reads process.hrtime()
 * indexed at once, which V8 optimises away; plain numbers; stores into
 * preallocated Float64Arrays), so the only things that can stop it are the
 * guest kernel and the hypervisor. Gaps beyond the arrays' capacity are
 * counted and summed in `out` instead of stored. Call it many times briefly
 * before the measured call (worker.ts): only code optimised from the
 * function's entry, not on-stack replacement, drops hrtime()'s array. The period of one pass
 * (~35-40 ns: one clock read) is the probe's resolution.
 */
export function spinLoop(durationMs: number, thresholdMs: number, starts: Float64Array, lens: Float64Array, out: Float64Array): void {
  const cap = starts.length;
  let n = 0;
  let loops = 0;
  let dropped = 0;
  let droppedMs = 0;
  const t0 = clockMs();
  const until = t0 + durationMs;
  let prev = t0;
  for (;;) {
    const now = clockMs();
    const gap = now - prev;
    if (gap > thresholdMs) {
      if (n < cap) {
        starts[n] = prev;
        lens[n] = gap;
        n++;
      } else {
        dropped++;
        droppedMs += gap;
      }
    }
    prev = now;
    loops++;
    if (now >= until) break;
  }
  out[OUT_GAPS] = n;
  out[OUT_LOOPS] = loops;
  out[OUT_DROPPED] = dropped;
  out[OUT_DROPPED_MS] = droppedMs;
  out[OUT_START_MS] = t0;
  out[OUT_END_MS] = prev;
}
