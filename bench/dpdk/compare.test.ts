import { describe, expect, it } from "vitest";
import type { GapMove } from "../lib/host-level.js";
import { type CompareOptions, addRun, alternate, burstRow, newBurstAcc } from "./compare.js";

const opts = (repeat: number, bursts: number[], lines: string[]): CompareOptions => ({
  bursts,
  repeat,
  warmupS: 0,
  durationS: 0,
  queueSize: 256,
  spawn: { timeoutMs: 0, cpuProf: "", minCpuShare: 0, retries: 0, waitIdleS: 0 },
  progress: (l) => lines.push(l),
});

describe("alternate", () => {
  it("runs DPDK then tpdk at each burst of each repetition, one row per burst, failures noted in their row", async () => {
    const lines: string[] = [];
    const order: string[] = [];
    let tpdkCalls = 0;
    const rows = await alternate(opts(2, [1, 32], lines), "t", {
      dpdk: async (b) => (order.push(`D${b}`), { mpps: b === 1 ? 4 : 10, cpuShare: 0.99 }),
      tpdk: async (b) => {
        order.push(`T${b}`);
        if (++tpdkCalls === 4) throw new Error("no traffic");
        return { mpps: b === 1 ? 5 : 8, cpuShare: 0.98 };
      },
    });
    expect(order).toEqual(["D1", "T1", "D32", "T32", "D1", "T1", "D32", "T32"]);
    expect(rows.map((r) => [r.burst, r.dpdkRuns, r.tpdkRuns, r.ratio, r.failures])).toEqual([
      [1, [4, 4], [5, 5], 1.25, []],
      [32, [10, 10], [8], 0.8, ["tpdk: no traffic"]],
    ]);
    expect(rows[0]!.pairRatios).toBeUndefined();
    expect(rows[0]!.lineMoves).toBeUndefined();
    expect(lines.some((l) => l.includes("tpdk FAILED: no traffic"))).toBe(true);
  });

  it("with a line move after every run (net-vhost): each measured tpdk run's row records the gaps before and after it", async () => {
    const lines: string[] = [];
    const ats: string[] = [];
    // Gaps after D1, T1, D32, T32 (the host turns fast after T1), then D1, T1 (failed), D32, T32 (a gap not measured).
    const g = (m: number): GapMove => ({ medianNs: m, p10Ns: m - 20, p90Ns: m + 20 });
    const gaps = [g(450), g(460), g(150), g(148), g(152), g(149), g(440), null];
    let tpdkCalls = 0;
    const rows = await alternate(
      opts(2, [1, 32], lines),
      "t",
      {
        dpdk: async (b) => ({ mpps: b === 1 ? 4 : 10, cpuShare: 0.99 }),
        tpdk: async (b) => {
          if (++tpdkCalls === 3) throw new Error("no traffic");
          return { mpps: b === 1 ? 5 : 8, cpuShare: 0.98 };
        },
      },
      async (at) => (ats.push(at), gaps[ats.length - 1] ?? null),
    );
    expect(ats.length).toBe(8);
    expect(ats[1]).toBe("[t 1/4] rep 1/2 burst=1 after tpdk: line move");
    expect(rows[0]!.lineMoves).toEqual([{ before: g(450), after: g(460), level: "usual" }]);
    expect(rows[1]!.lineMoves).toEqual([
      { before: g(150), after: g(148), level: "fast" },
      { before: g(440), after: null, level: "usual" },
    ]);
  });
});

describe("burstRow", () => {
  it("takes the median per-run ratio when there are any, else tpdk's median over DPDK's", () => {
    const a = newBurstAcc();
    addRun(a, "dpdk", { mpps: 10, cpuShare: 1 });
    addRun(a, "dpdk", { mpps: 4, cpuShare: 1 });
    addRun(a, "tpdk", { mpps: 6, cpuShare: 1 });
    expect(burstRow(32, a).ratio).toBe(6 / 7);
    a.ratios.push(0.9, 1.5, 1);
    const r = burstRow(32, a);
    expect(r.ratio).toBe(1);
    expect(r.pairRatios).toEqual([0.9, 1.5, 1]);
  });
});
