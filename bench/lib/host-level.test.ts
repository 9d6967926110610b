import { describe, expect, it } from "vitest";
import { FAST_LEVEL_BELOW_NS, type GapMove, aroundText, gapLevel, levelCell, levelSummary, leveledRatios, runLevel } from "./host-level.js";

/** A gap of median `m` ns, its batches' p10 and p90 near it unless given. */
const g = (m: number, p10 = m - 20, p90 = m + 20): GapMove => ({ medianNs: m, p10Ns: p10, p90Ns: p90 });

describe("gapLevel", () => {
  it("names session 30's and 31's gaps: fast (p10-p90 121-178 ns), usual (368-605)", () => {
    for (const x of [g(150, 121, 161), g(166, 160, 178), g(119, 116, 129)]) expect(gapLevel(x)).toBe("fast");
    for (const x of [g(443, 388, 601), g(412, 372, 503), g(490, 447, 605), g(408, 368, 508)]) expect(gapLevel(x)).toBe("usual");
  });

  it("a gap whose batches straddle the threshold is mixed (session 31: median 427, p10 163, after a run at the fast level's rate)", () => {
    expect(gapLevel(g(427, 163, 466))).toBe("mixed");
    expect(gapLevel(g(180, 140, 320))).toBe("mixed");
  });

  it("the threshold itself is usual: fast needs p90 below it, usual p10 at or above it", () => {
    expect(gapLevel(g(FAST_LEVEL_BELOW_NS, FAST_LEVEL_BELOW_NS, 400))).toBe("usual");
    expect(gapLevel(g(200, 150, FAST_LEVEL_BELOW_NS - 1))).toBe("fast");
    expect(gapLevel(g(250, 150, FAST_LEVEL_BELOW_NS))).toBe("mixed");
  });
});

describe("runLevel", () => {
  it("both gaps at one level: that level; at two, or either mixed: mixed", () => {
    expect(runLevel(g(450), g(470))).toBe("usual");
    expect(runLevel(g(150), g(146))).toBe("fast");
    expect(runLevel(g(442), g(146))).toBe("mixed");
    expect(runLevel(g(150), g(460))).toBe("mixed");
    expect(runLevel(g(422), g(427, 163, 466))).toBe("mixed");
  });

  it("one gap measured: its level; none: unknown", () => {
    expect(runLevel(null, g(150))).toBe("fast");
    expect(runLevel(g(450), null)).toBe("usual");
    expect(runLevel(null, null)).toBe("unknown");
    expect(runLevel(g(Number.NaN), null)).toBe("unknown");
  });
});

describe("leveledRatios", () => {
  it("run i sits between the gap after run i-1 and the gap after run i", () => {
    // dpdk, tpdk, dpdk, tpdk, dpdk: gaps after each of the five runs.
    const gaps = [g(450), g(460), g(150), null, g(148)];
    expect(
      leveledRatios(
        [
          { index: 1, ratio: 0.9 },
          { index: 3, ratio: 1.02 },
        ],
        gaps,
      ),
    ).toEqual([
      { index: 1, ratio: 0.9, before: g(450), after: g(460), level: "usual" },
      { index: 3, ratio: 1.02, before: g(150), after: null, level: "fast" },
    ]);
  });

  it("no gaps measured (--line-move 0): every run unknown", () => {
    expect(leveledRatios([{ index: 1, ratio: 0.9 }], [])).toEqual([{ index: 1, ratio: 0.9, before: null, after: null, level: "unknown" }]);
  });
});

describe("aroundText", () => {
  it("the two gaps' medians and the run's level; a mixed gap with its p10 and p90; a gap not measured a dash", () => {
    expect(aroundText({ before: g(422), after: g(427, 163, 466), level: "mixed" })).toBe("422 / 427 (p10 163, p90 466) ns: mixed");
    expect(aroundText({ before: g(450), after: g(460), level: "usual" })).toBe("450 / 460 ns: usual");
    expect(aroundText({ before: null, after: g(150), level: "fast" })).toBe("– / 150 ns: fast");
  });
});

describe("levelSummary", () => {
  it("per level the run count, the median and the ratios in run order; an empty level a dash", () => {
    const runs = [
      { ratio: 0.88, level: "usual" as const },
      { ratio: 1.02, level: "fast" as const },
      { ratio: 0.95, level: "usual" as const },
      { ratio: 1.04, level: "fast" as const },
      { ratio: 0.92, level: "usual" as const },
    ];
    expect(levelSummary(runs)).toBe("usual level: 3, median 92 % (88 95 92); fast: 2, median 103 % (102 104); mixed: 0, -");
  });

  it("mixed runs apart; unknown only when some run has it", () => {
    expect(levelSummary([{ ratio: 0.9, level: "mixed" }])).toBe("usual level: 0, -; fast: 0, -; mixed: 1, median 90 % (90)");
    expect(levelSummary([{ ratio: 0.9, level: "unknown" }])).toBe("usual level: 0, -; fast: 0, -; mixed: 0, -; unknown: 1, median 90 % (90)");
  });
});

describe("levelCell", () => {
  it("the range of the gaps' medians and the level, or the runs per level (with ratios: each level's median)", () => {
    expect(levelCell([{ before: g(430), after: g(470), level: "usual" }])).toBe("430–470 ns: usual");
    expect(
      levelCell([
        { before: g(450), after: g(460), level: "usual" },
        { before: g(460), after: g(150), level: "mixed" },
        { before: g(148), after: g(152), level: "fast" },
        { before: g(440), after: g(470), level: "usual" },
      ]),
    ).toBe("148–470 ns: usual 2, fast 1, mixed 1");
    expect(
      levelCell([
        { ratio: 0.86, before: g(450), after: g(460), level: "usual" },
        { ratio: 1.02, before: g(148), after: g(152), level: "fast" },
        { ratio: 0.9, before: g(440), after: g(470), level: "usual" },
      ]),
    ).toBe("148–470 ns: usual 2 88 %, fast 1 102 %");
    expect(levelCell([{ ratio: 0.9, before: g(440), after: g(470), level: "usual" }])).toBe("440–470 ns: usual");
    expect(levelCell([{ before: g(450), after: null, level: "usual" }])).toBe("450 ns: usual");
    expect(levelCell([{ before: null, after: null, level: "unknown" }])).toBe("–");
    expect(levelCell([])).toBe("–");
  });
});
