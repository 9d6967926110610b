/**
 * Front-ends in turn against ONE running DPDK back-end (bench/dpdk/shared-back-end.ts,
 * the method of the bench's vhost-user section, says why), for A/Bs: the sides may
 * repeat dpdk, e.g. --sides dpdk,/work/wt-base,dpdk,/work/wt-change. Each tpdk run
 * is compared with the mean of DPDK's runs just before and after it on the same
 * back-end instance.
 *
 *   node bench/dist/tools/vu-shared.js --sides dpdk,/work/main [--burst 32] [--backends 3]
 *        [--runs 7] [--packed] [--warmup 3] [--duration 5] [--node-flag F]... [--keep DIR]
 *
 * --runs is per back-end and should be odd (dpdk, tpdk, dpdk, ...: every tpdk run
 * between two DPDK runs). Run it under the bench lock at autogroup -20.
 *
 * tpdk's l2fwd runs traced (--trace-gc and the GC probe, testpmd.ts gcTrace, as in the bench's
 * vhost-user section and vu-ab.js): each run's line and the summary say the GCs of its lcore and
 * main thread inside the window ("GC l/m 0/0"; the target is none). --node-flag F (repeatable)
 * passes an extra node/V8 flag to tpdk's l2fwd (--trace-deopt, ...). --keep DIR writes each tpdk
 * run's whole traced output (first line: the window, then the threads' GC marks and V8's traces) to
 * DIR/<instance>-<run>-<side>-b<burst>.txt, as vu-ab.js --keep does, for deopt-times.js; e.g. the
 * bench's packed burst-1 shape (run.js --only vhost-user --vu-rings packed --dpdk-bursts 1 --repeat 6
 * --vu-tpdk-runs 3), traced, run in DIR so V8's per-isolate --log-deopt files land beside the runs:
 *   cd DIR && node /work/main/bench/dist/tools/vu-shared.js --sides dpdk,/work/main --burst 1 --backends 6
 *     --runs 7 --packed --warmup 2 --node-flag --log-deopt --node-flag --logfile=v8.log --keep DIR
 *
 * --line-move MS (default 1000, 0: off): after every run, the back-end still running, a line bounced
 * between CPUs 0 and 1 (lib/line-move.ts) names the host's level; each tpdk run's ratio carries the
 * gaps before and after it ("usual", "fast", or "mixed" when they disagree or a gap's batches straddle
 * the threshold: lib/host-level.ts) and the
 * summary splits the ratios by it.
 *
 * A tpdk side may carry extra vdev keys for its front-end after colons (vu-sides.ts), so one
 * worktree can face the back-end in several port configurations in one batch:
 *   --sides dpdk,/work/main,dpdk,/work/main:tx_mode=indirect,dpdk,/work/main:tx_mode=chained
 * and the key node=PATH runs the side's l2fwd with another node binary than the tool's (the worktree's
 * native addon built for that Node: packages/native's build with that node), for tpdk under two Nodes:
 *   --sides dpdk,/work/wt-n20,dpdk,/work/wt-n26:node=/opt/node-26/bin/node
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gcText } from "../dpdk/compare.js";
import { type Turn, bracketRatios, faceInTurn } from "../dpdk/shared-back-end.js";
import { type DpdkRunOptions, detectDpdk } from "../dpdk/testpmd.js";
import { FAST_LEVEL_BELOW_NS, type GapMove, type LeveledRatio, aroundText, levelSummary, leveledRatios } from "../lib/host-level.js";
import { gapLineMove } from "../lib/line-move.js";
import { agg } from "../lib/summary.js";
import type { BestOptions } from "../pipeline/spawn.js";
import { checkArgs, nonNegativeInt, opt, positiveInt, validNodeFlags } from "./args.js";
import { type Side, keepStem, parseSide } from "./vu-sides.js";

const USAGE =
  "usage: node bench/dist/tools/vu-shared.js --sides dpdk,/work/main[:key=value...] [--burst 32] [--backends 3] [--runs 7] [--packed] [--warmup 3] [--duration 5] [--node-flag F]... [--keep DIR] [--line-move MS]\n" +
  "  a tpdk side's :key=value pairs are extra vdev keys for its front-end (tx_mode, indirect, event_idx, mrg_rxbuf, queue_size; one the common keys set replaces it),\n" +
  "  e.g. --sides dpdk,/work/main,dpdk,/work/main:tx_mode=indirect\n" +
  "  :node=PATH (absolute) runs that side's l2fwd with another node binary (the worktree's native addon built for it), e.g. /work/wt-n26:node=/opt/node-26/bin/node\n" +
  "  front-ends in turn against one running DPDK back-end per instance; each tpdk run against the mean of the\n" +
  "  DPDK runs around it on the same back-end, with its lcore / main GCs in the window (GC l/m).\n" +
  "  --keep DIR: each tpdk run's whole traced output in DIR/<instance>-<run>-<side>-b<burst>.txt (first line: the window).\n" +
  "  --line-move MS: after each run, a line bounced between CPUs 0 and 1 for MS ms (tools/line-move.js; default 1000, 0: off):\n" +
  "  the round trip names the host's level (~150 ns fast, 420-480 usual; bench/notes/levels.md, session 30): each tpdk run's ratio is\n" +
  "  labelled by the gaps before and after it (both fast or both usual; mixed when they disagree or one gap spans both) and the summary splits by it.\n" +
  "  Run under the bench lock at autogroup -20.";

checkArgs("vu-shared", USAGE, {
  values: ["--sides", "--burst", "--backends", "--runs", "--warmup", "--duration", "--line-move", "--keep"],
  repeatable: ["--node-flag"],
  flags: ["--packed"],
});

let sides: Side[] = [];
try {
  sides = opt("--sides", "dpdk").split(",").map(parseSide);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const burst = positiveInt("vu-shared", "--burst", "32");
const backends = positiveInt("vu-shared", "--backends", "3");
const runsPer = positiveInt("vu-shared", "--runs", "7");
const warmupS = positiveInt("vu-shared", "--warmup", "3");
const durationS = positiveInt("vu-shared", "--duration", "5");
const packed = process.argv.includes("--packed");
const lineMoveMs = nonNegativeInt("vu-shared", "--line-move", "1000"); // 0: off
const keepDir = opt("--keep", "");
if (process.argv.includes("--keep") && (!keepDir || keepDir.startsWith("-"))) {
  console.error("vu-shared: option --keep needs a directory after it (e.g. --keep /tmp/vu-keep)");
  process.exit(2);
}
if (keepDir) mkdirSync(keepDir, { recursive: true });
const nodeFlags = validNodeFlags("vu-shared");
if (sides[0]!.kind !== "dpdk") {
  console.error("vu-shared: option --sides must start with dpdk (each tpdk run is compared with the DPDK runs around it)");
  process.exit(2);
}

const env = detectDpdk();
if (!env.testpmd || !env.hugepages) {
  console.error(`vu-shared: needs dpdk-testpmd and free hugepages (${env.testpmd ? "no hugepages" : "dpdk-testpmd not found"})`);
  process.exit(2);
}

/** Per side: every run's Mpps; per tpdk side: each run over the mean of the DPDK runs around it, with the host's level around it. */
const mpps = new Map<string, number[]>();
const ratios = new Map<string, LeveledRatio[]>();
/** Per tpdk side: each run's GCs in the window, "lcore/main". */
const gcs = new Map<string, string[]>();
const add = <T>(m: Map<string, T[]>, k: string, v: T): void => void (m.get(k) ?? m.set(k, []).get(k)!).push(v);
// gcTrace: tpdk's runs only (DPDK's front-end is not a node process).
const base: DpdkRunOptions = { burst, backEndBurst: 32, hugepages: true, testpmd: env.testpmd, l2fwd: [], tag: String(process.pid), packed, warmupS, durationS, gcTrace: true, nodeFlags };
// No idle wait, no retries: the runs are compared with their neighbours on the same back-end.
const best: BestOptions = { timeoutMs: 0, cpuProf: "", minCpuShare: 0, retries: 0, waitIdleS: 0 };

for (let b = 0; b < backends; b++) {
  const turns: Turn[] = [];
  /** gaps[k]: the line move right after run k (null: not measured). */
  const gaps: (GapMove | null)[] = [];
  for (let k = 0; k < runsPer; k++) {
    const side = sides[k % sides.length]!;
    const l2fwd = [side.node || process.execPath, join(side.dir, "apps/l2fwd/bin/tpdk-l2fwd.js")];
    const keepFile = keepDir && side.kind === "tpdk" ? join(keepDir, `${b + 1}-${k + 1}-${keepStem(side)}-b${burst}.txt`) : "";
    const keep = keepFile ? { keepTrace: (t: string) => writeFileSync(keepFile, t) } : {};
    turns.push({ side: side.name, kind: side.kind, opts: { ...base, l2fwd, tpdkKeys: side.keys, ...keep } });
  }
  const res = await faceInTurn(
    { ...base, burst: 32 },
    turns,
    best,
    (r, k) => {
      if (r.run === null) console.log(`back-end ${b + 1} run ${k + 1} ${r.turn.side}: failed: ${r.error!.slice(0, 300)}`);
      else console.log(`back-end ${b + 1} run ${k + 1} ${r.turn.side} b${burst}: ${r.run.mpps.toFixed(2)} Mpps${r.run.gc ? `, GC l/m ${gcText(r.run.gc)} (whole run ${r.run.gc.total.lcore}/${r.run.gc.total.main})` : ""}`);
    },
    async (k) => {
      // A label, not a result: a failed measurement prints one line and the A/B goes on.
      if (lineMoveMs > 0) gaps[k] = await gapLineMove(lineMoveMs, `back-end ${b + 1} after run ${k + 1}: line move`, console.log);
    },
  );
  for (const r of res) {
    if (r.run) add(mpps, r.turn.side, r.run.mpps);
    if (r.run?.gc) add(gcs, r.turn.side, gcText(r.run.gc));
  }
  for (const l of leveledRatios(bracketRatios(res), gaps)) {
    const side = res[l.index]!.turn.side;
    add(ratios, side, l);
    if (lineMoveMs > 0) console.log(`back-end ${b + 1} run ${l.index + 1} ${side} b${burst} over the DPDK runs around it: ${(100 * l.ratio).toFixed(0)} %, line move ${aroundText(l)}`);
  }
}

console.log(`summary (${packed ? "packed" : "split"}, burst ${burst}, ${backends} back-end instances, ${warmupS} s warm-up, ${durationS} s window):`);
for (const [side, a] of mpps) {
  const r = ratios.get(side);
  const g = gcs.get(side);
  const rs =
    (r ? `; against the DPDK runs around each: median ${(100 * agg(r.map((x) => x.ratio)).median).toFixed(0)} % (${r.map((x) => (100 * x.ratio).toFixed(0)).join(" ")})` : "") +
    (g ? `; GC l/m in the window ${g.join(" ")}` : "");
  const m = agg(a);
  console.log(`  ${side}: median ${m.median.toFixed(2)} Mpps (${m.min.toFixed(2)}-${m.max.toFixed(2)}), runs ${a.map((x) => x.toFixed(2)).join(" ")}${rs}`);
  // The same ratios split by the host's level in the gaps around each run (lib/host-level.ts).
  if (r && lineMoveMs > 0) console.log(`    by the line move around each run (fast below ${FAST_LEVEL_BELOW_NS} ns): ${levelSummary(r)}`);
}
