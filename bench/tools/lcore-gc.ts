/**
 * GCs on the forwarding lcore over a long window: one pipeline run (run-one,
 * the GC probe preloaded, --trace-gc), then the lcore's (and the device
 * thread's) collections inside the window, per minute, with their times.
 *
 *   node bench/dist/tools/lcore-gc.js [--duration S] [--warmup S] [--burst N] [--tx push|chained|indirect]
 *        [--size B] [--in-order 0|1] [--mrg 0|1] [--rate PPS] [--latency] [--lcore-url file:///module.js] [--node-flag FLAG]... [--trace FILE]
 *
 * --latency runs the pipeline's latency kind (timestamped frames, the sink's histogram; rate
 * 1 Mpps unless --rate says otherwise), as `pnpm bench`'s latency section does.
 * --lcore-url sets TPDK_BENCH_LCORE_URL (a modified l2fwdLoop, e.g.
 * lcore-heap-sample.js); --node-flag passes extra V8 flags (--trace-deopt ...);
 * --trace FILE keeps the child's whole stdout (the V8 traces) there.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ownedChild } from "@tpdk/testing/owned";
import { parseTraceGc } from "../pipeline/trace-gc.js";
import { checkArgs, oneOf, opt, optAll, positiveInt, seconds } from "./args.js";
import { RESULT_PREFIX, type RunConfig, type RunResult } from "../pipeline/types.js";

const RUN_ONE = fileURLToPath(new URL("../pipeline/run-one.js", import.meta.url));
const GC_PROBE = fileURLToPath(new URL("../pipeline/gc-probe.cjs", import.meta.url));

const USAGE =
  "usage: node bench/dist/tools/lcore-gc.js [--duration S] [--warmup S] [--burst N] [--tx push|chained|indirect]\n" +
  "       [--size B] [--in-order 0|1] [--mrg 0|1] [--rate PPS] [--latency] [--lcore-url file:///module.js] [--node-flag FLAG]... [--trace FILE]";
checkArgs("lcore-gc", USAGE, {
  values: ["--duration", "--warmup", "--burst", "--tx", "--size", "--in-order", "--mrg", "--rate", "--lcore-url", "--trace"],
  repeatable: ["--node-flag"],
  flags: ["--latency"],
});
const durationS = positiveInt("lcore-gc", "--duration", "30");
const latency = process.argv.includes("--latency");
const config: RunConfig = {
  kind: latency ? "latency" : "throughput",
  burst: positiveInt("lcore-gc", "--burst", "32"),
  txPath: oneOf<RunConfig["txPath"]>("lcore-gc", "--tx", "push", ["push", "chained", "indirect"]),
  frameSize: positiveInt("lcore-gc", "--size", "64"),
  inOrder: oneOf("lcore-gc", "--in-order", "1", ["0", "1"]) === "1",
  mrgRxbuf: oneOf("lcore-gc", "--mrg", "1", ["0", "1"]) === "1",
  eventIdx: null,
  queueSize: 1024,
  rate: opt("--rate", "") === "" ? (latency ? 1e6 : null) : positiveInt("lcore-gc", "--rate", ""),
  warmupMs: seconds("lcore-gc", "--warmup", "1") * 1000,
  durationMs: durationS * 1000,
  memoryMb: 256,
};
const lcoreUrl = opt("--lcore-url", "");
const traceFile = opt("--trace", "");

const args = ["--expose-gc", "--trace-gc", ...optAll("--node-flag"), "--require", GC_PROBE, RUN_ONE, JSON.stringify(config)];
const env: NodeJS.ProcessEnv = { ...process.env, TPDK_BENCH_GC_PROBE: "1" };
if (lcoreUrl) env.TPDK_BENCH_LCORE_URL = lcoreUrl;
// Owned: SIGKILLed by PID if this tool dies first.
const child = ownedChild(spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe", "pipe"] }));
// Bounded: the run is warm-up + window and its start-up and exit (seconds); a child still running a
// minute past that is hung and SIGKILLed by its PID (the close handler then reports the failure).
const limit = setTimeout(() => child.kill("SIGKILL"), config.warmupMs + config.durationMs + 60_000);
let trace = "";
let out = "";
let err = "";
child.stdout!.setEncoding("utf8").on("data", (d: string) => (trace += d));
(child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8").on("data", (d: string) => (out += d));
child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
child.on("close", (code) => {
  clearTimeout(limit);
  const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
  if (!line || code !== 0) {
    if (traceFile) writeFileSync(traceFile, trace);
    console.error(`run failed (exit ${code}): ${err.slice(-4000)}`);
    process.exit(1);
  }
  const r = JSON.parse(line.slice(RESULT_PREFIX.length)) as RunResult;
  if (traceFile) {
    // The window and the threads' marks first (the same lines vu-ab.js --keep writes), then V8's output.
    const marks = r.gcMarks.map((m) => `tpdk-bench-gc-mark ${JSON.stringify(m)}\n`).join("");
    writeFileSync(traceFile, `tpdk-vu-window-epoch-ms ${r.windowEpochMs[0]} ${r.windowEpochMs[1]}\n${marks}${trace}`);
  }
  const gcs = parseTraceGc(trace);
  const [from, to] = r.windowEpochMs;
  const byIsolate = new Map<string, typeof gcs>();
  for (const g of gcs) {
    const a = byIsolate.get(g.isolate) ?? [];
    a.push(g);
    byIsolate.set(g.isolate, a);
  }
  console.log(
    `${config.txPath} burst ${config.burst} ${config.frameSize} B: ${r.mpps.toFixed(2)} Mpps, window ${(r.windowMs / 1000).toFixed(1)} s, cpu share ${(100 * r.cpuShare).toFixed(0)} %, pkts/pass ${r.pktsPerPass.toFixed(1)}`,
  );
  for (const gs of byIsolate.values()) {
    const forced = gs.filter((g) => g.forced);
    const mark = r.gcMarks.find((m) => m.marks === forced.length);
    if (!mark) continue;
    const offset = mark.t - forced[forced.length - 1]!.t;
    const inWin = gs.filter((g) => !g.forced && g.t + offset >= from && g.t + offset < to);
    const all = gs.filter((g) => !g.forced);
    const perMin = (inWin.length * 60000) / r.windowMs;
    const kinds = new Map<string, number>();
    for (const g of inWin) kinds.set(g.kind, (kinds.get(g.kind) ?? 0) + 1);
    console.log(
      `  ${mark.thread.padEnd(6)} window: ${inWin.length} GCs (${perMin.toFixed(1)}/min) ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}; whole run: ${all.length}`,
    );
    if (inWin.length > 0 && inWin.length <= 40) {
      console.log(`    at s: ${inWin.map((g) => ((g.t + offset - from) / 1000).toFixed(1)).join(" ")}`);
    }
  }
});
