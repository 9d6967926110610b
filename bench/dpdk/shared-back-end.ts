import type { BestOptions } from "../pipeline/spawn.js";
import { maybeWaitIdle } from "../pipeline/spawn.js";
import type { FrontEndKind } from "./commands.js";
import { type ContenderRun, bestPair } from "./compare.js";
import { type DpdkRunOptions, runPairClient, startPairServer, stopPairServer } from "./testpmd.js";

/**
 * Front-ends in turn against ONE running DPDK back-end instance.
 *
 * On this host a back-end instance has a level of its own: every front-end
 * facing one instance ran at ~14.8 Mpps, facing another ~10.5 then ~7.5,
 * drifting as it ran (bench README, "Session 13: what sets a burst-32 run's
 * level"). A new back-end per run therefore measures which level each run
 * drew as much as the front-end. Here one instance faces DPDK's front-end,
 * tpdk's, DPDK's, ... and each tpdk run is set against the DPDK runs just
 * before and after it (`bracketRatios`): the ratio of runs that met the same
 * back-end state. Used by the vhost-user section and `vu-shared.js`.
 *
 *   back-end instance 1:  DPDK b1 | tpdk b1 | DPDK b1 | DPDK b32 | tpdk b32 | DPDK b32
 *                                     ^ over the mean of its two neighbours
 */

/** One front-end run of an instance's sequence. */
export interface Turn {
  /** What the run is reported as: "dpdk", or a tpdk side's name (vu-shared: a worktree). */
  side: string;
  kind: FrontEndKind;
  /** The run's options: its burst, its l2fwd, its tag (the front-end's --file-prefix). */
  opts: DpdkRunOptions;
}

/** A turn's outcome: its run, or (run null) why it failed. */
export interface TurnResult {
  turn: Turn;
  run: ContenderRun | null;
  error: string | null;
}

/** Let the back-end's count settle after a front-end stops, so the next one's frames are what moves it. */
const SETTLE_MS = 1000;

/**
 * Start a back-end with `server` (its burst: backEndBurst), run every turn
 * against it in order, stop it. A failed turn is recorded and the sequence
 * goes on; once the back-end itself is gone the remaining turns fail with
 * that. Waits for idle CPUs (best.waitIdleS) once, before the back-end
 * starts: it busy-polls a CPU from then on. Each turn gets the pairs' retry
 * rule (bestPair: up to 1 + best.retries attempts while the CPU share is low).
 */
export async function faceInTurn(
  server: DpdkRunOptions,
  turns: readonly Turn[],
  best: BestOptions,
  report: (r: TurnResult, index: number) => void = () => {},
  /** Run after each turn's report, the back-end still running (vu-shared's --line-move). */
  between: (index: number) => Promise<void> = async () => {},
): Promise<TurnResult[]> {
  const out: TurnResult[] = [];
  const failAll = (from: number, why: string): void => {
    for (let i = from; i < turns.length; i++) {
      out.push({ turn: turns[i]!, run: null, error: why });
      report(out[i]!, i);
    }
  };
  await maybeWaitIdle(best);
  let s: Awaited<ReturnType<typeof startPairServer>>;
  try {
    s = await startPairServer(server, "dpdk", "front-end");
  } catch (e) {
    failAll(0, `the back-end did not start: ${(e as Error).message}`);
    return out;
  }
  const perTurn: BestOptions = { ...best, waitIdleS: 0 };
  try {
    for (let i = 0; i < turns.length; i++) {
      const turn = turns[i]!;
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) {
        failAll(i, "the back-end exited");
        break;
      }
      try {
        out.push({ turn, run: await bestPair(() => runPairClient(s, turn.opts, turn.kind), perTurn), error: null });
      } catch (e) {
        out.push({ turn, run: null, error: (e as Error).message });
      }
      report(out[i]!, i);
      await between(i);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
  } finally {
    await stopPairServer(s);
  }
  return out;
}

/**
 * For each measured non-DPDK turn of one instance's sequence: its rate over
 * the mean of the measured DPDK turns at the same burst right before and
 * right after it (one of them when the other is missing; none: no ratio).
 */
export function bracketRatios(seq: readonly TurnResult[]): { index: number; ratio: number }[] {
  const out: { index: number; ratio: number }[] = [];
  const dpdkAt = (j: number, burst: number): number | null => {
    const r = seq[j];
    return r && r.turn.side === "dpdk" && r.turn.opts.burst === burst && r.run !== null && r.run.mpps > 0 ? r.run.mpps : null;
  };
  for (let i = 0; i < seq.length; i++) {
    const r = seq[i]!;
    if (r.turn.side === "dpdk" || r.run === null) continue;
    const around = [dpdkAt(i - 1, r.turn.opts.burst), dpdkAt(i + 1, r.turn.opts.burst)].filter((x): x is number => x !== null);
    if (around.length === 0) continue;
    out.push({ index: i, ratio: r.run.mpps / (around.reduce((a, b) => a + b, 0) / around.length) });
  }
  return out;
}
