import { describe, expect, it } from "vitest";
import type { DpdkRow } from "../dpdk/compare.js";
import type { GapMove } from "../lib/host-level.js";
import { agg } from "../lib/summary.js";
import { DEFAULTS } from "../options.js";
import { markdownReport } from "./markdown.js";
import type { BenchResults } from "./results.js";
import { comparisonTable } from "./sections.js";

/** A gap of median `m` ns (p10, p90 near it). */
const g = (m: number): GapMove => ({ medianNs: m, p10Ns: m - 20, p90Ns: m + 20 });

function row(burst: number, dpdk: number[], tpdk: number[]): DpdkRow {
  const d = agg(dpdk);
  const t = agg(tpdk);
  return { burst, dpdk: d, tpdk: t, ratio: t.median / d.median, dpdkCpu: agg([0.92]), tpdkCpu: agg([0.95]), dpdkRuns: dpdk, tpdkRuns: tpdk, failures: [] };
}

function vhostOnly(rows: DpdkRow[]): BenchResults {
  return {
    meta: {
      date: "2026-12-03T09:44:57.737Z", cpu: "cpu", cpus: 2, node: "v20", v8: "11", os: "Linux", commit: "abc", loadavgStart: [1, 1, 1], loadavgEnd: [1, 1, 1],
      elapsedS: 130, fake: false, quick: false, options: { ...DEFAULTS, only: ["vhost-user"], name: "vhost-user" },
    },
    throughput: [], features: [], latency: [], jitter: null, dpdk: null, failures: [], runs: [],
    vhostUser: { skipped: null, env: null, commands: { backEnd: "dpdk-testpmd BACK", dpdk: "dpdk-testpmd FRONT", tpdk: "node l2fwd FRONT" }, rows },
  };
}

describe("comparisonTable", () => {
  it("Mpps with the range, ns/pkt and Gbit/s (64 B + 20 B) of the medians, the ratio, CPU share and runs", () => {
    const t = comparisonTable([row(32, [12, 12.5, 11.8], [9, 8.6, 9.1])]);
    expect(t.header).toEqual(["burst", "DPDK Mpps", "tpdk Mpps", "DPDK ns/pkt", "tpdk ns/pkt", "DPDK Gbit/s", "tpdk Gbit/s", "tpdk/DPDK", "CPU % (DPDK/tpdk)", "runs (DPDK/tpdk)"]);
    expect(t.rows[0]).toEqual(["32", "12 (11.8–12.5)", "9 (8.60–9.10)", "83.3", "111", "8.06", "6.05", "75 %", "92/95", "3/3"]);
  });

  it("per-run ratios (one back-end instance faced in turn): their median, with their range", () => {
    const t = comparisonTable([{ ...row(32, [12, 12.5, 11.8], [9, 8.6, 9.1]), ratio: 0.83, pairRatios: [0.7, 0.83, 0.9] }]);
    expect(t.rows[0]![7]).toBe("83 % (70–90)");
    expect(comparisonTable([{ ...row(32, [12], [9]), ratio: 0.75, pairRatios: [0.75] }]).rows[0]![7]).toBe("75 %");
  });

  it("a side with no run shows dashes", () => {
    const t = comparisonTable([{ ...row(1, [5], []), failures: ["tpdk: no traffic"] }]);
    expect(t.rows[0]).toEqual(["1", "5", "–", "200", "–", "3.36", "–", "–", "92/95", "1/0 (+1 failed)"]);
  });
});

describe("markdownReport with only the vhost-user section", () => {
  it("has the section's table and command lines, and no pipeline method or targets", () => {
    const md = markdownReport(vhostOnly([row(1, [5.4, 5.5], [4, 4.2]), row(32, [12.3], [8.97])]), "x.svg");
    expect(md).toContain("## vhost-user: same back-end, two front-ends");
    expect(md).toContain("| 32 | 12.3 | 8.97 | 81.3 | 111 | 8.27 | 6.03 | 73 % | 92/95 | 1/1 |");
    expect(md).toContain("dpdk-testpmd BACK\ndpdk-testpmd FRONT\nnode l2fwd FRONT");
    expect(md).toContain("- DPDK comparisons: 2 s warm-up, then a 5 s window per run");
    expect(md).toContain("Each of the 3 back-end instances per ring layout runs DPDK's front-end, then tpdk's and DPDK's again (1 time) at each burst");
    expect(md).not.toContain("## Targets");
    expect(md).not.toContain("- Method: each configuration");
  });

  it("with line moves measured: the host's level beside each row's ratio, in the table, the method and the columns", () => {
    const usual = { ...row(32, [12.3, 12.1, 12.5], [8.97, 9.1, 8.8]), ratio: 0.73, pairRatios: [0.73, 0.75, 0.71] };
    usual.lineMoves = [
      { before: g(431), after: g(455), level: "usual" },
      { before: g(455), after: g(470), level: "usual" },
      { before: g(447), after: g(462), level: "usual" },
    ];
    const split = { ...row(1, [5.4, 9.8, 5.5], [4, 9.9, 4.2]), ratio: 0.76, pairRatios: [0.74, 1.01, 0.76] };
    split.lineMoves = [
      { before: g(450), after: g(460), level: "usual" },
      { before: g(150), after: g(146), level: "fast" },
      { before: g(148), after: g(452), level: "mixed" },
    ];
    const r = vhostOnly([split, usual]);
    const md = markdownReport(r, "x.svg");
    expect(md).toContain("| burst | DPDK Mpps | tpdk Mpps | DPDK ns/pkt | tpdk ns/pkt | DPDK Gbit/s | tpdk Gbit/s | tpdk/DPDK | line move (level) | CPU % (DPDK/tpdk) | runs (DPDK/tpdk) |");
    expect(md).toContain("| 32 | 12.3 (12.1–12.5) | 8.97 (8.80–9.10) | ");
    expect(md).toContain("| 73 % (71–75) | 431–470 ns: usual | 92/95 | 3/3 |");
    expect(md).toContain("| 76 % (74–101) | 146–460 ns: usual 1 74 %, fast 1 101 %, mixed 1 76 % | 92/95 | 3/3 |");
    expect(md).toContain("one cache line bounced between CPUs 0 and 1 for 1 s names the host's level");
    expect(md).toContain("- **line move (level)** (vhost-user, net-vhost): the median round trip");
    expect(md).toContain("fast below 300 ns");
    // Without line moves (--line-move 0, or results written before): no column, no text.
    const plain = markdownReport(vhostOnly([row(32, [12.3], [8.97])]), "x.svg");
    expect(plain).not.toContain("line move");
  });

  it("the net-vhost section: its own heading, table and the front-end's and both back-ends' command lines", () => {
    const r = vhostOnly([]);
    r.vhostUser = null;
    r.netVhost = { skipped: null, env: null, commands: { frontEnd: "dpdk-testpmd GEN", dpdk: "dpdk-testpmd VHOST", tpdk: "node l2fwd VHOST" }, rows: [row(32, [10], [5])] };
    const md = markdownReport(r, "x.svg");
    expect(md).toContain("## net_vhost: same front-end, two back-ends");
    expect(md).not.toContain("## vhost-user");
    expect(md).toContain("| 32 | 10 | 5 | 100 | 200 | 6.72 | 3.36 | 50 % | 92/95 | 1/1 |");
    expect(md).toContain("dpdk-testpmd GEN\ndpdk-testpmd VHOST\nnode l2fwd VHOST");
  });

  it("net-vhost with line moves measured: the level beside the ratio (no per-run ratios: runs per level)", () => {
    const r = vhostOnly([]);
    r.vhostUser = null;
    const nvRow = row(32, [10, 10.4], [5, 5.2]);
    nvRow.lineMoves = [
      { before: g(452), after: g(470), level: "usual" },
      { before: g(151), after: g(149), level: "fast" },
    ];
    r.netVhost = { skipped: null, env: null, commands: null, rows: [nvRow] };
    const md = markdownReport(r, "x.svg");
    expect(md).toContain("| 50 % | 149–470 ns: usual 1, fast 1 | 92/95 | 2/2 |");
    expect(md).toContain("After every run (no pair running) one cache line bounced between CPUs 0 and 1 for 1 s");
  });

  it("a skipped section says why", () => {
    const r = vhostOnly([]);
    r.vhostUser = { skipped: "vhost-user section skipped: dpdk-testpmd not found", env: null, commands: null, rows: [] };
    expect(markdownReport(r, "x.svg")).toContain("## vhost-user: same back-end, two front-ends\n\nvhost-user section skipped: dpdk-testpmd not found");
  });
});
