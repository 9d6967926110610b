import { describe, expect, it } from "vitest";
import { FAST_LEVEL_BELOW_NS, gapLevel, levelCell, levelSummary, leveledRatios, runLevel } from "./host-level.js";

describe("gapLevel", () => {
  it("names session 30's figures: 145-155 ns fast, 422-482 usual; the threshold itself usual", () => {
    for (const ns of [121, 145, 155, 161]) expect(gapLevel(ns)).toBe("fast");
    for (const ns of [388, 422, 443, 482, 601]) expect(gapLevel(ns)).toBe("usual");
    expect(gapLevel(FAST_LEVEL_BELOW_NS)).toBe("usual");
    expect(gapLevel(FAST_LEVEL_BELOW_NS - 1)).toBe("fast");
  });
});

describe("runLevel", () => {
  it("both gaps at one level: that level; at two: mixed", () => {
    expect(runLevel(450, 470)).toBe("usual");
    expect(runLevel(150, 146)).toBe("fast");
    expect(runLevel(442, 146)).toBe("mixed");
    expect(runLevel(150, 460)).toBe("mixed");
  });

  it("one gap measured: its level; none: unknown", () => {
    expect(runLevel(null, 150)).toBe("fast");
    expect(runLevel(450, null)).toBe("usual");
    expect(runLevel(null, null)).toBe("unknown");
    expect(runLevel(Number.NaN, null)).toBe("unknown");
  });
});

describe("leveledRatios", () => {
  it("run i sits between the gap after run i-1 and the gap after run i", () => {
    // dpdk, tpdk, dpdk, tpdk, dpdk: gaps after each of the five runs.
    const gaps = [450, 460, 150, null, 148];
    expect(
      leveledRatios(
        [
          { index: 1, ratio: 0.9 },
          { index: 3, ratio: 1.02 },
        ],
        gaps,
      ),
    ).toEqual([
      { index: 1, ratio: 0.9, beforeNs: 450, afterNs: 460, level: "usual" },
      { index: 3, ratio: 1.02, beforeNs: 150, afterNs: null, level: "fast" },
    ]);
  });

  it("no gaps measured (--line-move 0): every run unknown", () => {
    expect(leveledRatios([{ index: 1, ratio: 0.9 }], [])).toEqual([{ index: 1, ratio: 0.9, beforeNs: null, afterNs: null, level: "unknown" }]);
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
  it("the range of the gaps' line moves and the level, or the runs per level (with ratios: each level's median)", () => {
    expect(levelCell([{ beforeNs: 430, afterNs: 470, level: "usual" }])).toBe("430–470 ns: usual");
    expect(
      levelCell([
        { beforeNs: 450, afterNs: 460, level: "usual" },
        { beforeNs: 460, afterNs: 150, level: "mixed" },
        { beforeNs: 148, afterNs: 152, level: "fast" },
        { beforeNs: 440, afterNs: 470, level: "usual" },
      ]),
    ).toBe("148–470 ns: usual 2, fast 1, mixed 1");
    expect(
      levelCell([
        { ratio: 0.86, beforeNs: 450, afterNs: 460, level: "usual" },
        { ratio: 1.02, beforeNs: 148, afterNs: 152, level: "fast" },
        { ratio: 0.9, beforeNs: 440, afterNs: 470, level: "usual" },
      ]),
    ).toBe("148–470 ns: usual 2 88 %, fast 1 102 %");
    expect(levelCell([{ ratio: 0.9, beforeNs: 440, afterNs: 470, level: "usual" }])).toBe("440–470 ns: usual");
    expect(levelCell([{ beforeNs: 450, afterNs: null, level: "usual" }])).toBe("450 ns: usual");
    expect(levelCell([{ beforeNs: null, afterNs: null, level: "unknown" }])).toBe("–");
    expect(levelCell([])).toBe("–");
  });
});
