import { describe, expect, it } from "vitest";
import { type TurnResult, bracketRatios } from "./shared-back-end.js";
import type { DpdkRunOptions } from "./testpmd.js";

/** A turn of `side` at `burst` that measured `mpps` (null: it failed). */
const run = (side: string, burst: number, mpps: number | null): TurnResult => ({
  turn: { side, kind: side === "dpdk" ? "dpdk" : "tpdk", opts: { burst } as DpdkRunOptions },
  run: mpps === null ? null : { mpps, cpuShare: 1 },
  error: mpps === null ? "failed" : null,
});

describe("bracketRatios", () => {
  it("sets each tpdk run against the mean of the DPDK runs right before and after it", () => {
    const seq = [run("dpdk", 1, 4), run("tpdk", 1, 5), run("dpdk", 1, 6), run("dpdk", 32, 10), run("tpdk", 32, 9), run("dpdk", 32, 8)];
    expect(bracketRatios(seq)).toEqual([
      { index: 1, ratio: 1 },
      { index: 4, ratio: 1 },
    ]);
  });

  it("uses only neighbours at the same burst that were measured", () => {
    // tpdk b32 follows DPDK b1 (another burst) and precedes a failed DPDK run: no ratio.
    expect(bracketRatios([run("dpdk", 1, 4), run("tpdk", 32, 9), run("dpdk", 32, null)])).toEqual([]);
    // One side missing: the other alone.
    expect(bracketRatios([run("dpdk", 32, 10), run("tpdk", 32, 8), run("dpdk", 32, null)])).toEqual([{ index: 1, ratio: 0.8 }]);
  });

  it("gives every tpdk side its own ratios, and none to a failed tpdk run", () => {
    const seq = [run("dpdk", 32, 10), run("/wt/a", 32, 9), run("dpdk", 32, 10), run("/wt/b", 32, 11), run("dpdk", 32, 12), run("/wt/a", 32, null), run("dpdk", 32, 10)];
    expect(bracketRatios(seq)).toEqual([
      { index: 1, ratio: 0.9 },
      { index: 3, ratio: 1 },
    ]);
  });

  it("does not bracket with a non-DPDK neighbour", () => {
    expect(bracketRatios([run("dpdk", 32, 10), run("/wt/a", 32, 9), run("/wt/b", 32, 7)])).toEqual([{ index: 1, ratio: 0.9 }]);
  });
});
