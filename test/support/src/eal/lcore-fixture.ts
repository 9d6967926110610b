// Lcore entry functions for eal.test.ts (loaded by lcore workers from dist/).
import { TpdkError } from "@tpdk/eal";
import type { LcoreContext } from "@tpdk/eal";
import { currentTid, lcoreId } from "@tpdk/eal";

export interface CountResult {
  lcoreId: number;
  tlsLcoreId: number;
  passes: number;
  pinned: boolean;
  sleeps: number;
}

/** Write [ctx.lcoreId, lcoreId()] into slot lcoreId of zone `arg.zone`, then count passes until stopped. */
export async function countUntilStopped(ctx: LcoreContext, arg: { zone: string }): Promise<CountResult> {
  const z = ctx.mem.zone(arg.zone);
  const w = (z.offset >>> 2) + ctx.lcoreId * 4;
  Atomics.store(ctx.mem.i32, w, ctx.lcoreId);
  Atomics.store(ctx.mem.i32, w + 1, lcoreId());
  Atomics.store(ctx.mem.i32, w + 2, 1); // "started" marker the test waits for
  let passes = 0;
  while (!ctx.stopped()) {
    passes++;
    Atomics.store(ctx.mem.i32, w + 3, passes);
    ctx.backoff.idle(); // never any work: sleeps most of the time
  }
  return { lcoreId: ctx.lcoreId, tlsLcoreId: lcoreId(), passes, pinned: ctx.pinned, sleeps: ctx.backoff.sleeps };
}

/** Lcore 1 throws; the others run until stopped. */
export async function failOnLcore1(ctx: LcoreContext): Promise<number> {
  if (ctx.lcoreId === 1) throw new TpdkError("EBOOM", "boom on purpose");
  let passes = 0;
  while (!ctx.stopped()) {
    passes++;
    ctx.backoff.idle();
  }
  return passes;
}

/** Returns its argument at once. */
export async function echo(ctx: LcoreContext, arg: unknown): Promise<{ lcoreId: number; arg: unknown }> {
  return { lcoreId: ctx.lcoreId, arg };
}

/** Report the zones this thread sees, then reserve `arg.reserve` + lcore id and return its zone. */
export async function zonesSeen(ctx: LcoreContext, arg: { reserve: string }) {
  const seen = ctx.mem.zones();
  const own = ctx.mem.reserve(`${arg.reserve}${ctx.lcoreId}`, 100, 256);
  return { seen, own };
}

/** When this module was evaluated on the thread (once per thread: the lcore threads outlive launches). */
const loadedAt = Date.now();
let runs = 0;

/** Which thread runs the entry, when its module was loaded, and how many launches this thread has run it. */
export async function threadState(): Promise<{ tid: number; loadedAt: number; runs: number }> {
  runs++;
  return { tid: currentTid(), loadedAt, runs };
}
