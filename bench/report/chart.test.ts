import * as vega from "vega";
import * as vl from "vega-lite";
import { describe, expect, it } from "vitest";
import { chartSpec } from "./chart.js";
import type { BenchResults } from "./results.js";

// Issue 13: DPDK is measured at a few bursts only; the chart must draw it as
// points there (with their min-max), never as a line across the log axis.

const TPDK_BURSTS = [1, 2, 4, 8, 16, 32, 64];
const DPDK = [
  { burst: 1, median: 1.8, min: 1.7, max: 1.9 },
  { burst: 32, median: 12.2, min: 11.9, max: 12.6 },
];

function results(): BenchResults {
  const throughput = TPDK_BURSTS.flatMap((burst) =>
    ["push", "chained"].map((txPath) => ({ runs: 3, config: { burst, txPath, frameSize: 64 }, mpps: { median: burst / 8 + 1, min: burst / 8 + 0.9, max: burst / 8 + 1.1 } })),
  );
  const rows = DPDK.map((d) => ({ burst: d.burst, dpdk: { n: 3, median: d.median, min: d.min, max: d.max } }));
  return {
    meta: { date: "2026-12-03T16:00:00.000Z", cpu: "cpu", node: "v20", fake: false },
    throughput,
    dpdk: { skipped: null, rows },
  } as unknown as BenchResults;
}

interface Drawn {
  marktype: string;
  datum: { series: string; burst: number; mpps: number; min: number; max: number };
}

/** Every item of every mark in the rendered scenegraph, with its mark type. */
async function drawn(r: BenchResults): Promise<Drawn[]> {
  const view = new vega.View(vega.parse(vl.compile(chartSpec(r)).spec), { renderer: "none" });
  await view.runAsync();
  const out: Drawn[] = [];
  type Node = { marktype?: string; items?: Node[]; datum?: Drawn["datum"] };
  const walk = (n: Node, marktype: string | undefined): void => {
    for (const it of n.items ?? []) {
      if (it.marktype !== undefined) walk(it, it.marktype);
      else {
        if (marktype && marktype !== "group" && it.datum && "series" in it.datum) out.push({ marktype, datum: it.datum });
        walk(it, marktype);
      }
    }
  };
  walk((view.scenegraph() as unknown as { root: Node }).root, undefined);
  view.finalize();
  return out;
}

describe("bench chart", () => {
  it("draws DPDK only as points (and min-max rules) at the bursts it was measured at, no line or band", async () => {
    const items = await drawn(results());
    const dpdk = items.filter((i) => i.datum.series.startsWith("DPDK"));
    expect(dpdk.filter((i) => i.marktype === "line" || i.marktype === "area")).toEqual([]);
    const points = dpdk.filter((i) => i.marktype === "symbol");
    expect(points.map((p) => [p.datum.burst, p.datum.mpps]).sort((a, b) => a[0]! - b[0]!)).toEqual(DPDK.map((d) => [d.burst, d.median]));
    const rules = dpdk.filter((i) => i.marktype === "rule");
    expect(rules.map((p) => [p.datum.burst, p.datum.min, p.datum.max]).sort((a, b) => a[0]! - b[0]!)).toEqual(DPDK.map((d) => [d.burst, d.min, d.max]));
  });

  it("draws tpdk's sweep as lines through every measured burst (the check above sees lines)", async () => {
    const items = await drawn(results());
    const lines = items.filter((i) => i.marktype === "line" && i.datum.series === "tpdk push");
    expect(lines.map((l) => l.datum.burst).sort((a, b) => a - b)).toEqual(TPDK_BURSTS);
  });
});
