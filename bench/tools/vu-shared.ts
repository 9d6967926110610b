/**
 * Front-ends in turn against ONE running DPDK back-end (bench README, "Session 13:
 * what sets a burst-32 run's level"). `vu-ab.js` starts a new back-end for every
 * run, and on this host a back-end instance has a level of its own (all its
 * front-ends at ~14.8 Mpps in one instance, ~10.5 then ~7.5 in another, drifting
 * as it runs), so a ratio of medians over separate back-ends measures which
 * levels the runs drew as much as the front-ends. Here each back-end instance
 * (the same command as vu-ab's) faces the sides in turn, and each tpdk run is
 * compared with the mean of DPDK's runs just before and after it on the same
 * back-end: the ratio of runs that met the same back-end state.
 *
 *   node bench/dist/tools/vu-shared.js --sides dpdk,/work/main [--burst 32] [--backends 3]
 *        [--runs 7] [--packed] [--warmup 3] [--duration 5]
 *
 * --runs is per back-end and should be odd (dpdk, tpdk, dpdk, ...: every tpdk run
 * between two DPDK runs). Run it under the bench lock at autogroup -20.
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { backEndCommand, frontEndCommand, type PairOptions, prefixOf, runtimeDir } from "../dpdk/commands.js";
import { RxSampler, windowRate } from "../dpdk/samples.js";
import { detectDpdk, stop } from "../dpdk/testpmd.js";
import { agg } from "../lib/summary.js";

const USAGE =
  "usage: node bench/dist/tools/vu-shared.js --sides dpdk,/work/main [--burst 32] [--backends 3] [--runs 7] [--packed] [--warmup 3] [--duration 5]\n" +
  "  front-ends in turn against one running DPDK back-end per instance; each tpdk run against the mean of the\n" +
  "  DPDK runs around it on the same back-end. Run under the bench lock at autogroup -20.";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}

function opt(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? "") : dflt;
}

function positiveInt(name: string, dflt: string): number {
  const v = Number(opt(name, dflt));
  if (!Number.isInteger(v) || v < 1) {
    console.error(`vu-shared: option ${name} must be a positive integer (got '${opt(name, dflt)}')`);
    process.exit(2);
  }
  return v;
}

const sides = opt("--sides", "dpdk").split(",");
const burst = positiveInt("--burst", "32");
const backends = positiveInt("--backends", "3");
const runsPer = positiveInt("--runs", "7");
const warmupS = positiveInt("--warmup", "3");
const durationS = positiveInt("--duration", "5");
const packed = process.argv.includes("--packed");
if (sides[0] !== "dpdk") {
  console.error("vu-shared: option --sides must start with dpdk (each tpdk run is compared with the DPDK runs around it)");
  process.exit(2);
}

const env = detectDpdk();
if (!env.testpmd || !env.hugepages) {
  console.error(`vu-shared: needs dpdk-testpmd and free hugepages (${env.testpmd ? "no hugepages" : "dpdk-testpmd not found"})`);
  process.exit(2);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Until the back-end's RX count moves between two samples after `from`, or `ms` pass. */
async function waitFlowing(sampler: RxSampler, from: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const s = sampler.samples;
    if (s.length >= from + 2 && s[s.length - 1]!.rx > s[s.length - 2]!.rx) return true;
    await sleep(50);
  }
  return false;
}

/** Per side: every run's Mpps; per tpdk side: each run over the mean of the DPDK runs around it. */
const mpps = new Map<string, number[]>();
const ratios = new Map<string, number[]>();
const base: PairOptions = { burst, backEndBurst: 32, hugepages: true, testpmd: env.testpmd, l2fwd: [], tag: String(process.pid), packed };

for (let b = 0; b < backends; b++) {
  const sock = `/tmp/tpdk-vu-shared-${process.pid}.sock`;
  rmSync(sock, { force: true });
  const beCmd = backEndCommand(base, sock);
  const be = spawn(beCmd[0]!, beCmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  const sampler = new RxSampler();
  be.stdout!.setEncoding("utf8").on("data", (d: string) => sampler.push(d, performance.now()));
  be.stderr!.resume();
  const line: { side: string; mpps: number }[] = [];
  try {
    const deadline = performance.now() + 10_000;
    while (!existsSync(sock)) {
      if (performance.now() > deadline || be.exitCode !== null) throw new Error("the back-end did not create its socket");
      await sleep(50);
    }
    for (let k = 0; k < runsPer; k++) {
      const side = sides[k % sides.length]!;
      const kind = side === "dpdk" ? "dpdk" : "tpdk";
      const o: PairOptions = { ...base, tag: `${process.pid}${b}${k}`, l2fwd: [process.execPath, join(side, "apps/l2fwd/bin/tpdk-l2fwd.js")] };
      const feCmd = frontEndCommand(kind, o, sock);
      const fe = spawn(feCmd[0]!, feCmd.slice(1), { stdio: ["ignore", "ignore", "ignore"] });
      try {
        if (!(await waitFlowing(sampler, sampler.samples.length, 20_000))) throw new Error(`no traffic through ${side}`);
        await sleep(warmupS * 1000);
        const from = sampler.samples.length - 1;
        await sleep(durationS * 1000 + 1100);
        const w = windowRate(sampler.samples, from);
        if (!w) throw new Error("the back-end printed too few statistics");
        line.push({ side, mpps: w.pps / 1e6 });
        (mpps.get(side) ?? mpps.set(side, []).get(side)!).push(w.pps / 1e6);
        console.log(`back-end ${b + 1} run ${k + 1} ${side} b${burst}: ${(w.pps / 1e6).toFixed(2)} Mpps, per s ${w.perSecond.map((x) => x.toFixed(2)).join(" ")}`);
      } finally {
        await stop(fe);
        rmSync(runtimeDir(prefixOf(o, "virtio")), { recursive: true, force: true });
      }
      // The back-end's counter stands still once the front-end is gone: the next run's flow starts from there.
      await sleep(1000);
    }
  } catch (e) {
    console.log(`back-end ${b + 1}: failed: ${String(e).slice(0, 300)}`);
  } finally {
    await stop(be);
    rmSync(sock, { force: true });
    rmSync(runtimeDir(prefixOf(base, "vhost")), { recursive: true, force: true });
  }
  for (let i = 0; i < line.length; i++) {
    if (line[i]!.side === "dpdk") continue;
    const around = [line[i - 1], line[i + 1]].filter((r) => r?.side === "dpdk").map((r) => r!.mpps);
    if (around.length === 0) continue;
    const r = line[i]!.mpps / (around.reduce((x, y) => x + y, 0) / around.length);
    (ratios.get(line[i]!.side) ?? ratios.set(line[i]!.side, []).get(line[i]!.side)!).push(r);
  }
}

console.log(`summary (${packed ? "packed" : "split"}, burst ${burst}, ${backends} back-end instances, ${warmupS} s warm-up, ${durationS} s window):`);
for (const [side, a] of mpps) {
  const r = ratios.get(side);
  const rs = r ? `; against the DPDK runs around each: median ${(100 * agg(r).median).toFixed(0)} % (${r.map((x) => (100 * x).toFixed(0)).join(" ")})` : "";
  const m = agg(a);
  console.log(`  ${side}: median ${m.median.toFixed(2)} Mpps (${m.min.toFixed(2)}-${m.max.toFixed(2)}), runs ${a.map((x) => x.toFixed(2)).join(" ")}${rs}`);
}
