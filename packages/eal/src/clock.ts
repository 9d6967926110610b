/**
 * A monotonic clock in milliseconds on performance.now()'s scale (since this
 * thread's time origin), that does not allocate in optimized code, on each Node
 * this runs on: the reading comes from whichever of two sources the running
 * Node's optimizing compiler leaves allocation-free (CLOCK_FROM_PERFORMANCE_NOW).
 *
 * Node 20 (V8 11): performance.now() and Date.now() allocate on every call (a
 * scavenge every few million reads: measured 622 scavenges in 20M calls),
 * which a busy-polling loop that reads the clock each pass turns into steady
 * garbage collection. process.hrtime() indexed at once does not (its array is
 * optimised away: 2 scavenges in the same 20M calls, ~34 ns a call).
 *
 * Node 26 (V8 14) the other way round: TurboFan inlines process.hrtime() (238 bytes of
 * bytecode) but no longer removes its [sec, nsec] array (32 B a call, also with clockMs()
 * and hrtime() inlined into storeClockMs()), while performance.now() reads without
 * allocating in optimized code (CLOCK_FROM_PERFORMANCE_NOW).
 * Bytes a call in a warmed loop (session 33, bench/notes/gc.md "Session 33: the clock under
 * Node 26"), Node 20 / 24 / 26: storeClockMs() as it was (hrtime) 0.03 / 0.03 / 32, performance.now()
 * 16 / 0.03 / 0.03, Date.now() 16 / - / 16.
 */
import { getHeapSpaceStatistics } from "node:v8";

const start = process.hrtime();
const startSec = start[0];
const startNsec = start[1];
/** performance.now() at the moment `start` was read: aligns the two scales. */
const base = performance.now();

/**
 * Read performance.now() rather than process.hrtime(): V8 13 and later (Node 24: both read
 * allocation-free; Node 26, V8 14: only performance.now(), a method over a native clock read
 * whose double optimized code keeps unboxed). V8 11 (Node 20) keeps hrtime(): there
 * performance.now() is JavaScript over its own clock read and returns a boxed double. Node 22
 * (V8 12) was not measured and keeps hrtime(), whose array V8 11 and 13 both remove. Decided once
 * as the module loads; clockMs() then takes one branch, the other has no type feedback and is not
 * compiled in.
 */
const CLOCK_FROM_PERFORMANCE_NOW = Number(process.versions.v8.split(".")[0]) >= 13;

/** Milliseconds on this thread's performance.now() scale, without allocating (hot-path safe). */
export function clockMs(): number {
  if (CLOCK_FROM_PERFORMANCE_NOW) return performance.now();
  const t = process.hrtime();
  return base + (t[0] - startSec) * 1e3 + (t[1] - startNsec) * 1e-6;
}

/**
 * Bytecode that V8 does not inline a function past (`--max-inlined-bytecode-size`, V8 11 / Node 20):
 * storeClockMs() is written longer than this so that no caller inlines it.
 */
export const NEVER_INLINED_BYTECODE = 460;

/**
 * clockMs() written into `cell[0]`, for a loop that reads the clock every pass (the device
 * thread's latency wires): a call that returns nothing, and that TurboFan never inlines, so
 * neither the double nor process.hrtime()'s array crosses a call whatever the caller's
 * compile inlines.
 *
 * Why never inlined: a hot caller that inlines a clock read spends its inlining budget
 * (--max-inlined-bytecode-size-cumulative, 920 bytes of bytecode per compile) on its other
 * calls first, and then leaves clockMs() (64 B) or process.hrtime() (244 B) out of line: an
 * out-of-line clockMs() returns its double boxed, 16 B per call, and an out-of-line hrtime()
 * returns a fresh array, 64 B per call. A small store function does not help: V8 inlines
 * functions under 28 bytes of bytecode regardless of the budget, and its clockMs() call is then
 * the boundary. Called out of line, this function's own compile inlines clockMs() and
 * process.hrtime() (308 bytes, well within the budget) and allocates nothing. Measured in a
 * child process, a DeviceLoop with the latency runs' wires, pass() from an optimized loop,
 * young-space bytes per pass (median of 7 x 20,000 passes): with readClock() calling clockMs(),
 * 16 B in 5 of 16 children (the allocation stacks on clockMs) and 64 B in 2 (on hrtime); through
 * this function, 0 in 12 of 12 (bench/notes/gc.md "Session 24: GC"; vhost's device-clock-alloc.test.ts
 * forces the case). The branch below never runs (a clock cell has one element): it is only
 * there to make the bytecode longer than NEVER_INLINED_BYTECODE.
 */
export function storeClockMs(cell: Float64Array): void {
  cell[0] = clockMs();
  if (cell.length === 0) {
    let h = 0;
    h = (h * 31 + 1) | 0; h = (h * 31 + 2) | 0; h = (h * 31 + 3) | 0; h = (h * 31 + 4) | 0;
    h = (h * 31 + 5) | 0; h = (h * 31 + 6) | 0; h = (h * 31 + 7) | 0; h = (h * 31 + 8) | 0;
    h = (h * 31 + 9) | 0; h = (h * 31 + 10) | 0; h = (h * 31 + 11) | 0; h = (h * 31 + 12) | 0;
    h = (h * 31 + 13) | 0; h = (h * 31 + 14) | 0; h = (h * 31 + 15) | 0; h = (h * 31 + 16) | 0;
    h = (h * 31 + 17) | 0; h = (h * 31 + 18) | 0; h = (h * 31 + 19) | 0; h = (h * 31 + 20) | 0;
    h = (h * 31 + 21) | 0; h = (h * 31 + 22) | 0; h = (h * 31 + 23) | 0; h = (h * 31 + 24) | 0;
    h = (h * 31 + 25) | 0; h = (h * 31 + 26) | 0; h = (h * 31 + 27) | 0; h = (h * 31 + 28) | 0;
    h = (h * 31 + 29) | 0; h = (h * 31 + 30) | 0; h = (h * 31 + 31) | 0; h = (h * 31 + 32) | 0;
    h = (h * 31 + 33) | 0; h = (h * 31 + 34) | 0; h = (h * 31 + 35) | 0; h = (h * 31 + 36) | 0;
    h = (h * 31 + 37) | 0; h = (h * 31 + 38) | 0; h = (h * 31 + 39) | 0; h = (h * 31 + 40) | 0;
    h = (h * 31 + 41) | 0; h = (h * 31 + 42) | 0; h = (h * 31 + 43) | 0; h = (h * 31 + 44) | 0;
    h = (h * 31 + 45) | 0; h = (h * 31 + 46) | 0; h = (h * 31 + 47) | 0; h = (h * 31 + 48) | 0;
    cell[0] = h;
  }
}

/** warmStoreClockMs(): calls per measured batch. */
const WARM_BATCH = 4096;

/**
 * warmStoreClockMs(): the young generation's growth over a batch under which it counts as clean: 2 B a call.
 * The batch's two reads (getHeapSpaceStatistics()'s objects) add 2.5-3.5 KB of it; any allocation per call is
 * 8 B or more, 32 KB a batch (baseline code's boxed double: 64 KB; Node 26's Maglev code: 360 KB).
 */
const CLEAN_BATCH_GROWTH = 2 * WARM_BATCH;

/**
 * warmStoreClockMs(): the batches it runs before its deadline may end it. Calls, not time, decide
 * V8's tier-up: a function is optimized once its runs have used up an interrupt budget charged by
 * the bytecode they execute (see below), so storeClockMs() is optimized after a number of calls
 * (16,000-22,000: 4-6 batches under Node 20, 7 under Node 26, the two clean ones counted) however long they take; a wall-clock
 * deadline only measures how much CPU the thread got meanwhile. The compile itself runs on a background
 * thread, whose wait is time (Node 26: 18-21 batches in all on an idle machine, more under load): the
 * deadline covers that. 32 batches (131,072 calls, ~20-40 ms where V8 cannot
 * optimize) leave room for batches a scavenge spoiled. Before session 28 the deadline alone ended it: on a loaded machine (CPU hogs at
 * autogroup -20, the thread ~1 % of a CPU) 500 ms went by before the tier-up, open() returned
 * with the function in baseline code, and the first 20,000 reads allocated 240-660 KB (vhost's
 * device-clock-warm.test.ts, 3 of 3 runs).
 */
const WARM_MIN_BATCHES = 32;

/**
 * Calls storeClockMs(cell) until its TurboFan code runs, for a thread that reads the clock from a
 * cold path (cold: before its first pass). Returns true when two batches running of WARM_BATCH
 * calls each grew the young generation by less than CLEAN_BATCH_GROWTH bytes (under 2 B a call), false
 * if that did not happen within `maxMs` and WARM_MIN_BATCHES batches, whichever ends later (e.g. under
 * --jitless or --no-opt).
 *
 * Why: storeClockMs() is never inlined, so it is optimized only on its own, and its 516 bytes of
 * bytecode (the point of it) make V8 11 wait 6 interrupt-budget ticks (3 + 516 / 150,
 * --ticks-before-optimization, --bytecode-size-allowance-per-tick): 16,000-22,000 calls. Until
 * then it runs in baseline code, where its clockMs() call returns a boxed double (16 B a call;
 * process.hrtime()'s array too while clockMs() is unoptimized). A device thread in a throughput run
 * reads the clock every ~0.2-0.5 ms, so that took 4-11 s: through a pipeline run's whole 2 s window,
 * 40-90 KB/s of device-thread garbage (the allocation stacks on clockMs < storeClockMs < spin,
 * bench/notes/gc.md "Session 25: GC"), and a device scavenge in the window whenever the start-up left
 * less young space than that (the full bench of a9eba66: 2 of 87 configurations). Warmed, the
 * same calls allocate nothing from the first pass (vhost's device-clock-warm.test.ts).
 *
 * A scavenge inside a batch makes its growth negative: such a batch does not count as clean.
 *
 * The young generation (youngGenerationUsed), not the whole heap: what it checks is that the calls
 * allocate nothing, and what running code allocates (a boxed double, hrtime()'s array) goes there, while
 * V8's compiles (this function's own loop compiled on-stack, 2-16 KB under Node 24 and 26) add to old,
 * code and trusted space, and the old spaces' accounting moves by up to 440 KB with no GC under Node 26
 * (bench/notes/gc.md "Session 34: a window for compiled code's allocations", "Session 35: kick-count-alloc's
 * 320 KB under Node 26"). used_heap_size counted all of it: a batch could read unclean for a compile, or
 * clean when an old-space drop offset the calls' garbage. Batches to warm were the same either way
 * (bench/notes/gc.md "Session 35: warmStoreClockMs judged by the young generation").
 */
export function warmStoreClockMs(cell: Float64Array, maxMs = 500): boolean {
  const deadline = clockMs() + maxMs;
  for (let clean = 0, batches = 0; clean < 2; batches++) {
    if (batches >= WARM_MIN_BATCHES && clockMs() > deadline) return false;
    const before = youngGenerationUsed();
    for (let i = 0; i < WARM_BATCH; i++) storeClockMs(cell);
    const grown = youngGenerationUsed() - before;
    clean = grown >= 0 && grown < CLEAN_BATCH_GROWTH ? clean + 1 : 0;
  }
  return true;
}

/**
 * Bytes in use in V8's young generation (new space and new large-object space), where running code's
 * allocations go; a scavenge empties it. Cold path only: each read allocates 2.5-3.5 KB of statistics objects.
 */
function youngGenerationUsed(): number {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === "new_space" || s.space_name === "new_large_object_space") used += s.space_used_size;
  }
  return used;
}
