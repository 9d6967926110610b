// One bounded poll for tests: wait until a condition holds, sleeping between looks, and fail with
// what was awaited once the bound runs out. Before session 29 eight test files each had their own
// `until` (four argument orders, four poll intervals, half returning false instead of throwing,
// one with no description in its error).

/** How `until` polls. */
export interface UntilOptions {
  /** Sleep between two looks at the condition, in ms (default 10). */
  every?: number;
  /** Called on time-out: its last `logLines` lines go into the error (a peer's output, say). */
  log?: () => string;
  /** How many of `log()`'s last lines the error carries (default 15; Infinity: all of it). */
  logLines?: number;
  /** Looked at with each look at the condition: a reason to stop waiting at once (a peer that exited), or null. */
  stop?: () => string | null;
}

/**
 * Resolves once `cond()` returns true; looks at it first at once, then every `o.every` ms.
 * Rejects with "timed out after <ms> ms waiting for <what>" (and the tail of `o.log()`) when it
 * still does not hold `ms` after the call, or at once with "<reason> while waiting for <what>"
 * when `o.stop()` gives a reason. `cond` may do work of its own (repost buffers, read
 * counters): it runs once per look, never after the time-out.
 */
export async function until(cond: () => boolean, ms: number, what = "the condition", o: UntilOptions = {}): Promise<void> {
  const every = o.every ?? 10;
  const end = Date.now() + ms;
  const tail = (): string => (o.log ? `\n${o.log().split("\n").slice(-(o.logLines ?? 15)).join("\n")}` : "");
  while (!cond()) {
    const stop = o.stop?.() ?? null;
    if (stop !== null) throw new Error(`${stop} while waiting for ${what}${tail()}`);
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${tail()}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
