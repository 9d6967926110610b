/**
 * The host's level, named from the line move (line-move.ts) measured in the gaps around a run.
 * Pure functions: vu-shared.js's summary and the vhost-user and net-vhost sections use them, their test checks them.
 *
 * This host runs at two levels (bench/notes/levels.md "Session 30: packed burst 32, the host's speed
 * in the slow seconds"): at the fast one a cache line moves between the two vCPUs about three times faster,
 * and both front-ends run fast (DPDK 19-20 Mpps at burst 32, against 8-11 at the usual level). A
 * tpdk run's ratio to the DPDK runs around it is only comparable with ratios drawn at the same level.
 */
import { agg } from "./summary.js";

/**
 * A line-move round trip below this is the host's fast level, at or above it the usual one.
 * Session 30's gaps read 145-155 ns (p10-p90 121-161) at the fast level and 422-482 ns (p10-p90
 * 388-601) at the usual one, 443-471 in a whole hold of 14 gaps; 300 ns sits between the two with
 * some 2x to the fast level's highest batch and 1.3x to the usual level's lowest (session 31's
 * gaps: fast p90 129-178, usual p10 368-464).
 */
export const FAST_LEVEL_BELOW_NS = 300;

/** One gap's line move: the round trip's median, 10th and 90th percentile over its batches, whole ns. */
export interface GapMove {
  medianNs: number;
  p10Ns: number;
  p90Ns: number;
}

/**
 * A gap's level, or "mixed" when the host changed level within the gap: the batches straddle the
 * threshold (p10 below it, p90 at or above). Session 31: a gap of median 427 ns had p10 163 after a
 * tpdk run at the fast level's rate (17.05 Mpps between DPDK runs of 10.64 and 9.99).
 */
export type GapLevel = "fast" | "usual" | "mixed";

/** A run's level from the gaps just before and after it: "mixed" when they disagree or one is mixed, "unknown" when neither was measured. */
export type RunLevel = GapLevel | "unknown";

/** The level one gap's line move names: fast when 90 % of its batches are below the threshold, usual when 90 % are at or above it, else mixed. */
export function gapLevel(g: GapMove): GapLevel {
  if (g.p90Ns < FAST_LEVEL_BELOW_NS) return "fast";
  if (g.p10Ns >= FAST_LEVEL_BELOW_NS) return "usual";
  return "mixed";
}

/**
 * A run's level from the line moves of the gaps just before and after it (null: that gap was not
 * measured, e.g. the measurement failed): both at one level, that level; at two, or either gap
 * mixed, "mixed" (the host changed level somewhere around the run); one measured, its level; none,
 * "unknown".
 */
export function runLevel(before: GapMove | null, after: GapMove | null): RunLevel {
  const levels = [before, after].filter((g): g is GapMove => g !== null && Number.isFinite(g.medianNs)).map(gapLevel);
  if (levels.length === 0) return "unknown";
  return levels.every((l) => l === levels[0]) ? levels[0]! : "mixed";
}

/** The line moves of the gaps around one run and the level they name (JSON: the DPDK comparison rows' lineMoves). */
export interface LineMovesAround {
  /** The line move in the gap just before the run and just after it; null: not measured. */
  before: GapMove | null;
  after: GapMove | null;
  level: RunLevel;
}

/** A run's ratio (to the DPDK runs around it) with the line moves around it. */
export interface LeveledRatio extends LineMovesAround {
  ratio: number;
}

/**
 * Attach to each run's ratio the line moves of the gaps around it: `gaps[k]` is the line move
 * measured right after run k of the same back-end instance (null: not measured), so run i sits
 * between gaps[i - 1] and gaps[i].
 */
export function leveledRatios(ratios: readonly { index: number; ratio: number }[], gaps: readonly (GapMove | null)[]): (LeveledRatio & { index: number })[] {
  return ratios.map(({ index, ratio }) => {
    const before = gaps[index - 1] ?? null;
    const after = gaps[index] ?? null;
    return { index, ratio, before, after, level: runLevel(before, after) };
  });
}

/**
 * One run's gaps for a progress line: "422 / 427 ns (p10 163, p90 466): mixed" (a gap's median; its
 * p10 and p90 when the gap itself is mixed; "–" for a gap not measured).
 */
export function aroundText(a: LineMovesAround): string {
  const one = (g: GapMove | null): string => (g === null ? "–" : `${g.medianNs.toFixed(0)}${gapLevel(g) === "mixed" ? ` (p10 ${g.p10Ns.toFixed(0)}, p90 ${g.p90Ns.toFixed(0)})` : ""}`);
  return `${one(a.before)} / ${one(a.after)} ns: ${a.level}`;
}

const LEVEL_ORDER: readonly RunLevel[] = ["usual", "fast", "mixed", "unknown"];

/**
 * Ratios split by level, one line: "usual level: 3, median 91 % (88 92 95); fast: 2, median 102 %
 * (101 104); mixed: 0, -" (the count is the number of runs, each a pair with the DPDK runs around
 * it; the list in run order). "unknown" only when some run has it.
 */
export function levelSummary(runs: readonly Pick<LeveledRatio, "ratio" | "level">[]): string {
  const pc = (x: number): string => (100 * x).toFixed(0);
  return LEVEL_ORDER.filter((l) => l !== "unknown" || runs.some((r) => r.level === "unknown"))
    .map((l, i) => {
      const r = runs.filter((x) => x.level === l).map((x) => x.ratio);
      const name = i === 0 ? `${l} level` : l;
      return r.length === 0 ? `${name}: 0, -` : `${name}: ${r.length}, median ${pc(agg(r).median)} % (${r.map(pc).join(" ")})`;
    })
    .join("; ");
}

/**
 * The line moves of a set of runs (the gaps' medians) and the level they name, for a table cell: "430–470 ns: usual";
 * runs at more than one level: the runs per level, "150–470 ns: usual 2, fast 1", and with every
 * run's ratio each level's median, "150–470 ns: usual 2 88 %, fast 1 102 %"; "–" when none was measured.
 */
export function levelCell(runs: readonly (LineMovesAround & { ratio?: number })[]): string {
  const ns = runs.flatMap((r) => [r.before?.medianNs ?? null, r.after?.medianNs ?? null]).filter((x): x is number => x !== null && Number.isFinite(x));
  if (ns.length === 0) return "–";
  const lo = Math.min(...ns).toFixed(0);
  const hi = Math.max(...ns).toFixed(0);
  const range = lo === hi ? `${lo} ns` : `${lo}–${hi} ns`;
  const present = LEVEL_ORDER.filter((l) => runs.some((r) => r.level === l));
  if (present.length === 1) return `${range}: ${present[0]}`;
  const withRatios = runs.every((r) => r.ratio !== undefined);
  const per = (l: RunLevel): string => {
    const at = runs.filter((r) => r.level === l);
    return `${l} ${at.length}${withRatios ? ` ${(100 * agg(at.map((r) => r.ratio!)).median).toFixed(0)} %` : ""}`;
  };
  return `${range}: ${present.map(per).join(", ")}`;
}
