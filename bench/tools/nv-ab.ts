/**
 * Back-ends in turn against the same DPDK front-end (the bench's net-vhost section, for A/Bs):
 * each run starts its back-end (DPDK's testpmd net_vhost, or tpdk's l2fwd on net_vhost from a
 * given tree) and the generating front-end (testpmd net_virtio_user flowgen, burst 32), measures
 * what comes back, and stops both. The sides repeat, e.g.
 * --sides dpdk,/work/wt-base,dpdk,/work/wt-change: each tpdk run is compared with the mean of
 * DPDK's runs just before and after it (`bracketRatios`, as vu-shared), because the host's level drifts within minutes.
 *
 *   node bench/dist/tools/nv-ab.js --sides dpdk,/work/wt-base,dpdk,/work/wt-change [--burst 32]
 *        [--runs 9] [--warmup 2] [--duration 5] [--node-flag F]... [--keep DIR]
 *
 * --runs counts runs in all (one side after another); end on dpdk so every tpdk run is bracketed.
 * Each run's line ends with its measured window (epoch s) and the back-end's pid, as perf-budget.js
 * takes a column (`--col LABEL,FROM..TO,MPPS,pid=PID`): record the batch under `perf record -C 0 -k
 * realtime` with `--node-flag --perf-basic-prof` for a budget per run (bench/notes/net-vhost.md,
 * Session 36). --node-flag F (repeatable): an extra node/V8 flag for tpdk's l2fwd (e.g.
 * --trace-turbo-inlining); --keep DIR: each back-end's whole output in DIR/<run>-<side>.txt.
 * Run it under the bench lock at autogroup -20.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { GENERATOR_BURST } from "../dpdk/net-vhost.js";
import { type TurnResult, bracketRatios } from "../dpdk/shared-back-end.js";
import { type DpdkRunOptions, detectDpdk, runVhostPair } from "../dpdk/testpmd.js";
import { agg } from "../lib/summary.js";
import { checkArgs, opt, positiveInt, validNodeFlags } from "./args.js";

const USAGE =
  "usage: node bench/dist/tools/nv-ab.js --sides dpdk,/work/wt-base,dpdk,/work/wt-change [--burst 32] [--runs 9] [--warmup 2] [--duration 5] [--node-flag F]... [--keep DIR]\n" +
  "  back-ends in turn (DPDK's testpmd net_vhost, tpdk's l2fwd net_vhost from a tree) facing the same DPDK\n" +
  "  flowgen front-end; each tpdk run against the mean of the DPDK runs around it. Run under the bench lock.\n" +
  "  Each run's line gives its window (epoch s) and the back-end's pid for perf-budget.js --col.\n" +
  "  --node-flag F: an extra node/V8 flag for tpdk's l2fwd (repeatable); --keep DIR: each back-end's output in DIR/<run>-<side>.txt.";

checkArgs("nv-ab", USAGE, { values: ["--sides", "--burst", "--runs", "--warmup", "--duration", "--keep"], repeatable: ["--node-flag"] });

const sides = opt("--sides", "dpdk").split(",");
const burst = positiveInt("nv-ab", "--burst", "32");
const runs = positiveInt("nv-ab", "--runs", "9");
const warmupS = positiveInt("nv-ab", "--warmup", "2");
const durationS = positiveInt("nv-ab", "--duration", "5");
const nodeFlags = validNodeFlags("nv-ab");
const keepDir = opt("--keep", "");
if (process.argv.includes("--keep") && (!keepDir || keepDir.startsWith("-"))) {
  console.error("nv-ab: option --keep needs a directory after it (e.g. --keep /tmp/nv-keep)");
  process.exit(2);
}
if (keepDir) mkdirSync(keepDir, { recursive: true });
if (sides[0] !== "dpdk") {
  console.error("nv-ab: option --sides must start with dpdk (each tpdk run is compared with the DPDK runs around it)");
  process.exit(2);
}
const env = detectDpdk();
if (!env.testpmd || !env.hugepages) {
  console.error(`nv-ab: needs dpdk-testpmd and free hugepages (${env.testpmd ? "no hugepages" : "dpdk-testpmd not found"})`);
  process.exit(2);
}

const base: DpdkRunOptions = { burst, generatorBurst: GENERATOR_BURST, hugepages: true, testpmd: env.testpmd, l2fwd: [], tag: String(process.pid), warmupS, durationS };
const done: TurnResult[] = [];
for (let k = 0; k < runs; k++) {
  const side = sides[k % sides.length]!;
  const kind = side === "dpdk" ? "dpdk" : "tpdk";
  const keepFile = keepDir ? join(keepDir, `${k + 1}-${kind === "dpdk" ? "dpdk" : basename(side)}.txt`) : "";
  const opts: DpdkRunOptions = {
    ...base,
    l2fwd: [process.execPath, ...nodeFlags, join(side, "apps/l2fwd/bin/tpdk-l2fwd.js")],
    ...(keepFile ? { serverOutput: (d: string) => appendFileSync(keepFile, d) } : {}),
  };
  try {
    const r = await runVhostPair(opts, kind, "back-end");
    done.push({ turn: { side, kind, opts }, run: { mpps: r.pps / 1e6, cpuShare: r.cpuShare }, error: null });
    const w = r.windowEpochMs ? ` window ${(r.windowEpochMs[0] / 1000).toFixed(3)}..${(r.windowEpochMs[1] / 1000).toFixed(3)} pid=${r.serverPid}` : "";
    console.log(`run ${k + 1} ${side} b${burst}: ${(r.pps / 1e6).toFixed(2)} Mpps cpu ${(100 * r.cpuShare).toFixed(0)}%${w}`);
  } catch (e) {
    done.push({ turn: { side, kind, opts }, run: null, error: String(e) });
    console.log(`run ${k + 1} ${side}: failed: ${String(e).slice(0, 300)}`);
  }
}

/** Each tpdk run over the mean of the DPDK runs right before and after it (the vhost-user section's rule). */
const ratios = new Map<string, number[]>();
const mpps = new Map<string, number[]>();
for (const r of done) if (r.run !== null) (mpps.get(r.turn.side) ?? mpps.set(r.turn.side, []).get(r.turn.side)!).push(r.run.mpps);
for (const { index, ratio } of bracketRatios(done)) {
  const side = done[index]!.turn.side;
  (ratios.get(side) ?? ratios.set(side, []).get(side)!).push(ratio);
}
console.log(`summary (burst ${burst}, ${runs} runs, ${warmupS} s warm-up, ${durationS} s window):`);
for (const [side, a] of mpps) {
  const m = agg(a);
  const r = ratios.get(side);
  const rs = r ? `; against the DPDK runs around each: median ${(100 * agg(r).median).toFixed(0)} % (${r.map((x) => (100 * x).toFixed(0)).join(" ")})` : "";
  console.log(`  ${side}: median ${m.median.toFixed(2)} Mpps (${m.min.toFixed(2)}-${m.max.toFixed(2)}), runs ${a.map((x) => x.toFixed(2)).join(" ")}${rs}`);
}
