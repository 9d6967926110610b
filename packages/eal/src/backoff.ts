/**
 * Idle policy for poll loops. The machines tpdk runs on have few CPUs, and two
 * busy-polling threads sharing one CPU run ~1000x slower (each burns its whole
 * time slice before the other can publish anything). So a loop that found no
 * work spins a little (cheap, keeps latency low when the peer is on another
 * CPU), then sleeps in Atomics.wait with a short timeout that grows from
 * ~20 µs to ~1 ms, and drops back to spinning as soon as it does useful work.
 *
 * The sleep waits on a "wake word" in shared memory. A peer that publishes
 * work may wake the sleeper early with Backoff.wake (add 1, then notify). No
 * wakeup is lost: idle() remembers the word's value from its previous call and
 * skips the sleep if the word moved since, so a wake that lands between the
 * caller's last poll and the sleep only costs one more poll pass. Without a
 * wake the sleeper still re-polls within the current timeout (<= ~1 ms).
 *
 * With busyPoll (`--busy-poll`) idle() never sleeps: only for benchmarks where
 * every polling thread has its own CPU.
 *
 * Hot path: idle() and reset() allocate nothing and do at most one
 * Atomics.store (the idle count, past the spin passes), one Atomics.load and
 * one Atomics.wait. The sleeps' timeouts are fractional milliseconds, and
 * optimized code that passes a double to a builtin such as Atomics.wait may
 * box it in a new HeapNumber per call (measured: about 2 bytes per sleep on
 * average; bench README "Session 22: GC"), so they are read from a frozen
 * array made once, whose elements are already boxed numbers, rather than
 * computed per sleep.
 */
export const BACKOFF_SPIN_PASSES = 64;
export const BACKOFF_MIN_WAIT_MS = 0.02;
export const BACKOFF_MAX_WAIT_MS = 1;
/**
 * idle() calls prime() makes past the spin passes: the last BACKOFF_PRIME_SLEEPS sleep, the others
 * find the wake word moved. V8 gives a function its feedback vector only after some calls, so the
 * sleeps come last (a feedback vector that saw only the capped 1 ms wait took it for a Smi, and the
 * first 0.02 ms wait of a run deoptimized: "not a Smi").
 */
export const BACKOFF_PRIME_CALLS = 64;
export const BACKOFF_PRIME_SLEEPS = 8;

export interface BackoffOptions {
  /** Empty polls before the first sleep (default 64). */
  spinPasses?: number;
  /** First sleep, in ms (default 0.02 = 20 µs). */
  minWaitMs?: number;
  /** Longest sleep, in ms (default 1). */
  maxWaitMs?: number;
  /**
   * Index in `i32` of a word where each idle() past the spin passes is
   * counted (Atomics.store; with busyPoll too), so that another thread can
   * tell this one went idle (the EAL lcore slot's idle count). Default: none.
   */
  idleIndex?: number;
}

/** Most timeouts a backoff steps through (2^63 times minWaitMs: no real maxWaitMs is further). */
const MAX_WAIT_STEPS = 64;

/**
 * The sleeps' timeouts: minWaitMs, then each the double of the last, capped at maxWaitMs. Cold (once
 * per Backoff). Frozen: V8 keeps a frozen array's elements tagged, so the hot path's element load
 * hands Atomics.wait an existing number object instead of boxing a double.
 */
function waitSteps(minWaitMs: number, maxWaitMs: number): readonly number[] {
  const steps = [minWaitMs];
  while (steps.length < MAX_WAIT_STEPS) {
    const last = steps[steps.length - 1]!;
    const next = last * 2 < maxWaitMs ? last * 2 : maxWaitMs;
    if (next === last) break;
    steps.push(next);
  }
  return Object.freeze(steps);
}

export class Backoff {
  readonly busyPoll: boolean;
  private readonly i32: Int32Array;
  private readonly index: number;
  private readonly spinPasses: number;
  private spins = 0;
  private readonly idleIndex: number;
  private idles = 0;
  /** The sleeps' timeouts in ms: minWaitMs doubling up to maxWaitMs (frozen: tagged elements, see above). */
  private readonly waits: readonly number[];
  /** Index in `waits` of the next sleep's timeout; the last index once the timeout is capped. */
  private waitStep = 0;
  private readonly lastStep: number;
  private seen: number;
  /** Diagnostics: number of sleeps so far (Atomics.wait calls). */
  sleeps = 0;

  /**
   * @param i32 an Int32Array over shared memory (e.g. `mem.i32`)
   * @param index the wake word's index in `i32`
   * @param busyPoll when true, idle() only spins
   */
  constructor(i32: Int32Array, index: number, busyPoll = false, opts: BackoffOptions = {}) {
    if (!Number.isInteger(index) || index < 0 || index >= i32.length) throw new RangeError(`wake word ${index} is outside the array`);
    this.i32 = i32;
    this.index = index;
    this.busyPoll = busyPoll;
    this.spinPasses = opts.spinPasses ?? BACKOFF_SPIN_PASSES;
    this.waits = waitSteps(opts.minWaitMs ?? BACKOFF_MIN_WAIT_MS, opts.maxWaitMs ?? BACKOFF_MAX_WAIT_MS);
    this.lastStep = this.waits.length - 1;
    this.idleIndex = opts.idleIndex ?? -1;
    if (this.idleIndex >= i32.length) throw new RangeError(`idle word ${this.idleIndex} is outside the array`);
    if (this.idleIndex >= 0) this.idles = Atomics.load(i32, this.idleIndex);
    this.seen = Atomics.load(i32, index);
  }

  /** The wake word's index (peers pass it to Backoff.wake). */
  get wakeIndex(): number {
    return this.index;
  }

  /** Call after a poll pass that found nothing to do. */
  idle(): void {
    if (this.spins < this.spinPasses) {
      this.spins++;
      return;
    }
    if (this.idleIndex >= 0) {
      // Pairs with launchedLcoreIdle's Atomics.load (a device learning the lcore went idle).
      this.idles = (this.idles + 1) & 0x3fffffff;
      Atomics.store(this.i32, this.idleIndex, this.idles);
    }
    if (this.busyPoll) return;
    const v = Atomics.load(this.i32, this.index);
    if (v !== this.seen) {
      // Woken (or about to be) since the last look: poll again before sleeping.
      this.seen = v;
      return;
    }
    // Pairs with Backoff.wake: returns early on notify or when the word already moved.
    Atomics.wait(this.i32, this.index, v, this.waits[this.waitStep]!);
    this.sleeps++;
    if (this.waitStep < this.lastStep) this.waitStep++;
  }

  /**
   * Run idle()'s path past the spin passes BACKOFF_PRIME_CALLS times, so that it has type feedback
   * before a poll loop that inlines idle() is optimized: the calls find the wake word moved (this
   * backoff's own word, moved here: no sleep), then the last BACKOFF_PRIME_SLEEPS sleep with the
   * wait doubling from minWaitMs to maxWaitMs (both sides of its cap; ~3.3 ms in all with the
   * defaults). Cold: once per thread, before its loop (the EAL's lcore threads do it before their
   * first launch). An lcore under steady traffic can stay within the spin passes until long after
   * its loop was optimized; its first longer idle spell then deoptimized the loop ("Insufficient type
   * feedback for generic named access", 2 of 18 traced pipeline runs; the passes interpreted until it
   * is optimized again allocate: bench README, "Session 18: GC"). Leaves the backoff spinning with
   * the shortest sleep and `sleeps` as it was; the idle count moves (an idle lcore, which it is).
   */
  prime(): void {
    const sleeps = this.sleeps;
    for (let k = 0; k < BACKOFF_PRIME_CALLS; k++) {
      this.spins = this.spinPasses;
      if (k < BACKOFF_PRIME_CALLS - BACKOFF_PRIME_SLEEPS) Atomics.add(this.i32, this.index, 1);
      this.idle();
    }
    this.sleeps = sleeps;
    this.reset();
  }

  /** Call after a poll pass that did useful work: back to spinning, shortest sleep. */
  reset(): void {
    this.spins = 0;
    this.waitStep = 0;
  }

  /**
   * Wake a thread sleeping in idle() on word `index` (cold-ish: one atomic add
   * and a notify syscall only when someone waits; call once per burst at most).
   */
  static wake(i32: Int32Array, index: number): void {
    Atomics.add(i32, index, 1);
    Atomics.notify(i32, index);
  }
}
