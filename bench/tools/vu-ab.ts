/**
 * Same-hour A/B of front-end builds on the vhost-user pair (bench README,
 * "vhost-user: same back-end, two front-ends"): the same DPDK back-end
 * command in every run, facing in turn DPDK's front-end (`dpdk`) and tpdk's
 * l2fwd from each given worktree, interleaved round by round, then medians
 * and ranges per side and burst.
 *
 *   node bench/dist/tools/vu-ab.js --sides dpdk,/work/wt-base,/work/wt-change [--bursts 1,32]
 *        [--rounds 5] [--packed] [--warmup 3] [--duration 5] [--node-flag F]... [--keep DIR] [--probe CMD]
 *
 * A worktree side runs `node <dir>/apps/l2fwd/bin/tpdk-l2fwd.js` (build it
 * first). One line per run as it ends, the summary at the end. Each tpdk
 * run is traced (testpmd.ts gcTrace): its line says the GCs of its lcore
 * and main thread inside the window ("GC l/m 0/0"; "?": some unattributed).
 * Run it under the bench lock, at autogroup nice -20 (bench README).
 *
 *   --node-flag F  (repeatable) an extra node/V8 flag for tpdk's l2fwd (--trace-deopt, --trace-gc-verbose, ...)
 *   --probe CMD    run CMD (a shell command) before each run and print its output on the run's line
 *                  (e.g. a cross-CPU ping-pong: what the host was doing when a run landed where it did)
 *   A side DIR+F1+F2 runs DIR's l2fwd with the node flags F1 and F2 on that side alone
 *   (/work/wt-base+--no-concurrent-recompilation: one build, two sets of V8 flags, interleaved).
 *   --keep DIR     write each tpdk run's whole traced output to DIR/<round>-<side>-b<burst>.txt, its
 *                  first line the window (ms since the epoch): find what ran when a GC came
 *   --help   this text
 */
import { execSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gcText } from "../dpdk/compare.js";
import { detectDpdk, runVhostPair } from "../dpdk/testpmd.js";
import { checkArgs, opt, optAll, positiveInt } from "./args.js";

const USAGE =
  "usage: node bench/dist/tools/vu-ab.js --sides dpdk,/work/wt-base,/work/wt-change [--bursts 1,32] [--rounds 5] [--packed] [--warmup 3] [--duration 5]\n" +
  "       [--node-flag F]... [--keep DIR] [--probe CMD]\n" +
  "  a side DIR+F1+F2 runs DIR's l2fwd with the node flags F1, F2 on that side alone;\n" +
  "  --probe CMD: a shell command run before each run, its output printed on the run's line;\n" +
  "  interleaved A/B of front-ends against one DPDK back-end (built worktrees; 'dpdk' is DPDK's testpmd front-end);\n" +
  "  tpdk runs report their lcore/main GCs inside the window. Run under the bench lock at autogroup -20.\n" +
  "  --node-flag: a V8/node flag for tpdk's l2fwd (repeatable: --trace-deopt, --log-deopt, --logfile=v8.log);\n" +
  "  --keep DIR: each tpdk run's whole traced output in DIR/<round>-<side>-b<burst>.txt (first line: the window).";
checkArgs("vu-ab", USAGE, {
  values: ["--sides", "--bursts", "--rounds", "--warmup", "--duration", "--keep", "--probe"],
  repeatable: ["--node-flag"],
  flags: ["--packed"],
});

const sides = opt("--sides", "dpdk").split(",");
const bursts = opt("--bursts", "1,32").split(",").map(Number);
const rounds = positiveInt("vu-ab", "--rounds", "5");
const packed = process.argv.includes("--packed");
const warmupS = positiveInt("vu-ab", "--warmup", "3");
const durationS = positiveInt("vu-ab", "--duration", "5");
const nodeFlags = optAll("--node-flag");
const keepDir = opt("--keep", "");
const probeCmd = opt("--probe", "");
if (keepDir) mkdirSync(keepDir, { recursive: true });

const env = detectDpdk();
if (!env.testpmd) {
  console.error("vu-ab: dpdk-testpmd not found");
  process.exit(2);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

const runs = new Map<string, number[]>();
const gcRuns = new Map<string, string[]>();
for (let r = 0; r < rounds; r++) {
  for (const burst of bursts) {
    for (const side of sides) {
      const [dir, ...sideFlags] = side.split("+");
      const l2fwd = side === "dpdk" ? ["tpdk-l2fwd"] : [process.execPath, join(dir!, "apps/l2fwd/bin/tpdk-l2fwd.js")];
      const keepFile = keepDir ? join(keepDir, `${r + 1}-${side.split("/").pop()!.replace(/[^\w.+=-]/g, "_")}-b${burst}.txt`) : "";
      const o = {
        burst, backEndBurst: 32, hugepages: env.hugepages, testpmd: env.testpmd, l2fwd, tag: String(process.pid), packed, warmupS, durationS, gcTrace: true,
        nodeFlags: [...nodeFlags, ...sideFlags],
        ...(keepFile ? { keepTrace: (t: string) => writeFileSync(keepFile, t) } : {}),
      };
      const key = `${side} b${burst}`;
      try {
        // The probe is a quick shell command (bounded: one that hangs is SIGKILLed after 10 s and the run reported failed).
        const probe = probeCmd ? ` probe ${execSync(probeCmd, { encoding: "utf8", timeout: 10_000, killSignal: "SIGKILL" }).trim()},` : "";
        const res = await runVhostPair(o, side === "dpdk" ? "dpdk" : "tpdk");
        const mpps = res.pps / 1e6;
        (runs.get(key) ?? runs.set(key, []).get(key)!).push(mpps);
        if (res.gc) (gcRuns.get(key) ?? gcRuns.set(key, []).get(key)!).push(gcText(res.gc));
        const gc = res.gc ? `, GC l/m ${gcText(res.gc)} (whole run ${res.gc.total.lcore}/${res.gc.total.main})` : "";
        console.log(`round ${r + 1} ${key}: ${mpps.toFixed(2)} Mpps,${probe} cpu ${(100 * res.cpuShare).toFixed(0)} %${gc}, per s ${res.samples.map((x) => x.toFixed(2)).join(" ")}`);
      } catch (e) {
        console.log(`round ${r + 1} ${key}: failed: ${String(e).slice(0, 400)}`);
      }
    }
  }
}
console.log(`summary (${packed ? "packed" : "split"}, ${warmupS} s warm-up, ${durationS} s window):`);
for (const [key, a] of runs) {
  const gc = gcRuns.get(key);
  console.log(`  ${key}: median ${median(a).toFixed(2)} Mpps (${Math.min(...a).toFixed(2)}-${Math.max(...a).toFixed(2)}), runs ${a.map((x) => x.toFixed(2)).join(" ")}${gc ? `; GC l/m ${gc.join(" ")}` : ""}`);
}
