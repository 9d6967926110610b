/**
 * `pnpm bench`: the pipeline throughput sweep, the IN_ORDER / MRG_RXBUF
 * sweep, latency at a fixed offered rate and the side-by-side with DPDK's
 * testpmd pair. Progress on stderr, tables on stdout, results in
 * <out>/<name>.json, .md and .svg. See bench/README.md.
 *
 *   node bench/dist/run.js [--quick] [options]     (--help for all)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, type } from "node:os";
import { join, resolve } from "node:path";
import { type CompareOptions, compareWithDpdk, type DpdkSection, TPDK_SHAPE } from "./dpdk/compare.js";
import { detectDpdk } from "./dpdk/testpmd.js";
import { type NetVhostSection, compareBackEnds, netVhostCommands } from "./dpdk/net-vhost.js";
import { type VhostUserSection, compareFrontEnds, vhostUserCommands } from "./dpdk/vhost-user.js";
import { allowedCpus } from "@tpdk/eal";
import { fakeJitterRun, jitterNote, jitterProgress, jitterTable } from "./jitter/report.js";
import { runJitter } from "./jitter/spawn.js";
import { aggregateJitter } from "./jitter/stats.js";
import type { JitterRun } from "./jitter/types.js";
import type { LineMovesAround } from "./lib/host-level.js";
import { type Agg, agg } from "./lib/summary.js";
import { type BenchOptions, OptionError, USAGE, parseOptions } from "./options.js";
import { summarizeKeys } from "./pipeline/aggregate.js";
import { fakeResult } from "./pipeline/fake.js";
import { buildPlan, configKey, describe } from "./pipeline/plan.js";
import { type BestOptions, type RunFailure, isFailure, maybeWaitIdle, runBest } from "./pipeline/spawn.js";
import type { RunConfig, RunResult } from "./pipeline/types.js";
import { renderChartSvg } from "./report/chart.js";
import { markdownReport } from "./report/markdown.js";
import type { BenchResults, JitterSection, Meta } from "./report/results.js";
import { dpdkTable, featuresTable, latencyTable, netVhostTable, targets, throughputTable, vhostUserTable } from "./report/sections.js";
import { renderText } from "./report/table.js";
import { cpuModel } from "./lib/machine.js";

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function gitCommit(): string {
  try {
    // Bounded (10 s each; a git that hangs on a lock gives "" like no git at all).
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, killSignal: "SIGKILL" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000, killSignal: "SIGKILL" }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "";
  }
}

function fmtEta(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** The CPUs the pipeline runs on: lcore 0 on CPU 0, the device thread on the first other CPU (Eal.serviceCpu). */
function pipelineCpus(): number[] {
  const other = allowedCpus().find((c) => c !== 0);
  return other === undefined ? [0] : [0, other];
}

/** One run of the machine-jitter probe (after the same wait for idle CPUs as a pipeline run). */
async function jitterRep(o: BenchOptions, rep: number, into: JitterSection): Promise<void> {
  const cpus = pipelineCpus();
  let r: JitterRun | { error: string };
  if (o.fake) r = fakeJitterRun(cpus, o.jitterDurationMs, rep);
  else {
    await maybeWaitIdle(bestOptions(o));
    r = await runJitter({ durationMs: o.jitterDurationMs, warmupMs: 300, cpus, thresholdUs: 5 }, o.timeoutMs);
  }
  const tag = `[jitter] rep ${rep + 1}/${o.repeat} bare pinned loop ${o.jitterDurationMs} ms`;
  if ("error" in r) {
    into.failures.push(r.error);
    progress(`${tag}  FAILED: ${r.error.split("\n")[0]}`);
    return;
  }
  into.runs.push(r);
  progress(`${tag}  ${jitterProgress(r)}`);
}

async function runPipeline(
  o: BenchOptions,
  configs: readonly RunConfig[],
  jitter: JitterSection | null,
): Promise<{ results: RunResult[]; failures: RunFailure[] }> {
  const results: RunResult[] = [];
  const failures: RunFailure[] = [];
  const total = configs.length * o.repeat;
  const t0 = performance.now();
  let done = 0;
  // Repetitions are the outer loop: drift in the machine's load spreads over every configuration.
  for (let rep = 0; rep < o.repeat; rep++) {
    // The jitter probe runs right before this repetition's latency runs (or at the end without any).
    let jitterDone = jitter === null;
    for (const c of configs) {
      if (!jitterDone && c.kind === "latency") {
        await jitterRep(o, rep, jitter!);
        jitterDone = true;
      }
      const r = o.fake ? fakeResult(c, rep) : await runBest(c, bestOptions(o));
      done++;
      const eta = ((performance.now() - t0) / done) * (total - done);
      const tag = `[${String(done).padStart(String(total).length)}/${total}] rep ${rep + 1}/${o.repeat} ${describe(c)}`;
      if (isFailure(r)) {
        failures.push(r);
        progress(`${tag}  FAILED: ${r.error.split("\n")[0]}`);
        continue;
      }
      results.push(r);
      const lat = r.latency ? `  p50 ${r.latency.p50.toFixed(1)} p99 ${r.latency.p99.toFixed(1)} µs` : "";
      const gc = r.gcWindow.lcore + r.gcWindow.device > 0 ? `  GC lcore ${r.gcWindow.lcore} device ${r.gcWindow.device}` : "";
      progress(`${tag}  ${r.mpps.toFixed(2)} Mpps${lat}${gc}  cpu ${(100 * r.cpuShare).toFixed(0)}%${r.attempts > 1 ? ` (${r.attempts} attempts)` : ""}  (eta ${fmtEta(eta)})`);
    }
    if (!jitterDone) await jitterRep(o, rep, jitter!);
  }
  return { results, failures };
}

const idleState = { busy: false };

function bestOptions(o: BenchOptions): BestOptions {
  return {
    idleState,
    timeoutMs: o.timeoutMs,
    cpuProf: o.cpuProf,
    minCpuShare: o.minCpuShare,
    retries: o.retries,
    waitIdleS: o.waitIdleS,
    onWait: (idle) => progress(`  (waiting for idle CPUs: ${(100 * idle).toFixed(0)} % idle now)`),
  };
}

function compareOptions(o: BenchOptions): CompareOptions {
  return { bursts: o.dpdkBursts, repeat: o.repeat, warmupS: o.dpdkWarmupS, durationS: o.dpdkDurationS, queueSize: o.queueSize, spawn: bestOptions(o), progress, lineMoveMs: o.lineMoveMs };
}

function fakeDpdk(o: BenchOptions): DpdkSection {
  const rows = o.dpdkBursts.map((burst) => {
    const d = [1, 2, 3].map((i) => 4 + 9 * (1 - 1 / burst) + 0.2 * i);
    const t = [1, 2, 3].map((i) => fakeResult({ ...fakeConfig(burst), durationMs: 1000 }, i).mpps);
    const da = agg(d);
    const ta = agg(t);
    return { burst, dpdk: da, tpdk: ta, ratio: ta.median / da.median, dpdkCpu: agg([1]), tpdkCpu: agg([1]), dpdkRuns: d, tpdkRuns: t, failures: [] };
  });
  return { skipped: null, env: detectDpdk(), commands: { vhost: "dpdk-testpmd ... (synthetic)", virtio: "dpdk-testpmd ... (synthetic)" }, tpdkShape: TPDK_SHAPE, rows, tpdkResults: [] };
}

/** Synthetic vhost-user rows (--fake). */
function fakeVhostUser(o: BenchOptions): VhostUserSection {
  const env = detectDpdk();
  const slower = (a: Agg): Agg => ({ ...a, median: 0.6 * a.median, min: 0.6 * a.min, max: 0.6 * a.max });
  // The host's level around each of the three tpdk runs (--line-move): two at the usual level, one at the fast.
  const lineMoves: LineMovesAround[] = [
    { before: { medianNs: 448, p10Ns: 421, p90Ns: 540 }, after: { medianNs: 462, p10Ns: 437, p90Ns: 561 }, level: "usual" },
    { before: { medianNs: 462, p10Ns: 437, p90Ns: 561 }, after: { medianNs: 471, p10Ns: 446, p90Ns: 575 }, level: "usual" },
    { before: { medianNs: 149, p10Ns: 141, p90Ns: 166 }, after: { medianNs: 153, p10Ns: 144, p90Ns: 170 }, level: "fast" },
  ];
  const rows = o.vuRings.flatMap((ring) =>
    fakeDpdk(o).rows.map((row) => ({
      ...row,
      ring,
      tpdk: slower(row.tpdk),
      tpdkRuns: row.tpdkRuns.map((x) => 0.6 * x),
      ratio: (0.6 * row.tpdk.median) / row.dpdk.median,
      ...(o.lineMoveMs > 0 ? { lineMoves } : {}),
    })),
  );
  return { skipped: null, env, commands: vhostUserCommands(o.dpdkBursts, env.hugepages), rows };
}

/** Synthetic net-vhost rows (--fake). */
function fakeNetVhost(o: BenchOptions): NetVhostSection {
  const env = detectDpdk();
  const v = fakeVhostUser(o);
  return { skipped: null, env, commands: netVhostCommands(o.dpdkBursts, env.hugepages), rows: v.rows };
}

function fakeConfig(burst: number): RunConfig {
  return { kind: "throughput", burst, txPath: "push", frameSize: 64, inOrder: true, mrgRxbuf: true, eventIdx: null, queueSize: 1024, rate: null, warmupMs: 0, durationMs: 1000, memoryMb: 256 };
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (e instanceof OptionError) {
      process.stderr.write(`bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const start = performance.now();
  const meta: Meta = {
    date: new Date().toISOString(),
    cpu: cpuModel(),
    cpus: cpus().length,
    node: process.version,
    v8: process.versions.v8,
    os: `${type()} ${release()}`,
    commit: gitCommit(),
    loadavgStart: loadavg(),
    loadavgEnd: [],
    elapsedS: 0,
    fake: o.fake,
    quick: o.quick,
    options: o,
  };
  const plan = buildPlan(o);
  progress(`tpdk bench${o.fake ? " (SYNTHETIC: --fake)" : ""}: ${meta.cpu}, ${meta.cpus} CPUs, Node ${meta.node}, load ${meta.loadavgStart.map((x) => x.toFixed(2)).join(" ")}`);
  progress(`${plan.configs.length} pipeline configurations x ${o.repeat} repetition(s)${o.only.includes("jitter") ? ` + jitter probe (${o.jitterDurationMs} ms)` : ""}${o.only.includes("dpdk") ? ` + DPDK comparison (bursts ${o.dpdkBursts.join(",")})` : ""}${o.only.includes("vhost-user") ? ` + vhost-user front-ends (bursts ${o.dpdkBursts.join(",")})` : ""}${o.only.includes("net-vhost") ? ` + net_vhost back-ends (bursts ${o.dpdkBursts.join(",")})` : ""}`);
  if (cpus().length < 2) progress("warning: fewer than 2 CPUs: the lcore and the device thread share one; numbers will be low");

  const jitter: JitterSection | null = o.only.includes("jitter") ? { runs: [], summary: null, failures: [] } : null;
  const { results, failures } = await runPipeline(o, plan.configs, jitter);
  if (jitter) jitter.summary = aggregateJitter(jitter.runs);
  let dpdk: DpdkSection | null = null;
  if (o.only.includes("dpdk")) {
    dpdk = o.fake
      ? fakeDpdk(o)
      : await compareWithDpdk(compareOptions(o));
    if (dpdk.skipped) progress(dpdk.skipped);
  }
  let vhostUser: VhostUserSection | null = null;
  if (o.only.includes("vhost-user")) {
    vhostUser = o.fake ? fakeVhostUser(o) : await compareFrontEnds(compareOptions(o), o.vuRings, o.vuTpdkRuns);
    if (vhostUser.skipped) progress(vhostUser.skipped);
  }
  let netVhost: NetVhostSection | null = null;
  if (o.only.includes("net-vhost")) {
    netVhost = o.fake ? fakeNetVhost(o) : await compareBackEnds(compareOptions(o));
    if (netVhost.skipped) progress(netVhost.skipped);
  }

  const byKey = new Map(plan.configs.map((c) => [configKey(c), c]));
  meta.loadavgEnd = loadavg();
  meta.elapsedS = (performance.now() - start) / 1000;
  const r: BenchResults = {
    meta,
    throughput: summarizeKeys(plan.sections.throughput, byKey, results, failures),
    features: summarizeKeys(plan.sections.features, byKey, results, failures),
    latency: summarizeKeys(plan.sections.latency, byKey, results, failures),
    jitter,
    dpdk,
    vhostUser,
    netVhost,
    failures,
    runs: results,
  };

  const outDir = resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, o.name);
  writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 1)}\n`);
  writeFileSync(`${base}.svg`, await renderChartSvg(r));
  writeFileSync(`${base}.md`, markdownReport(r, `${o.name}.svg`));

  const print = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  if (o.fake) print("\nSYNTHETIC RESULTS (--fake): nothing was measured.");
  if (r.throughput.length > 0) print(`\nThroughput (IN_ORDER and MRG_RXBUF on; median (min-max) of ${o.repeat})\n${renderText(throughputTable(r.throughput))}`);
  if (r.features.length > 0) print(`\nIN_ORDER x MRG_RXBUF, 64 B\n${renderText(featuresTable(r.features))}`);
  if (jitter?.summary) print(`\nMachine jitter: a bare pinned loop per CPU (stalls per second by length; "wait": a frame arriving at a random instant)\n${renderText(jitterTable(jitter.summary))}\n${jitterNote(jitter.summary)}`);
  for (const e of jitter?.failures ?? []) print(`jitter probe failed: ${e.split("\n")[0]}`);
  if (r.latency.length > 0) print(`\nLatency\n${renderText(latencyTable(r.latency))}`);
  const dt = dpdkTable(r);
  if (dt) print(`\nAgainst DPDK (${dpdk?.env?.hugeNote ?? ""})\n${renderText(dt)}`);
  const vt = vhostUserTable(r);
  if (vt) print(`\nvhost-user: one DPDK back-end, DPDK's front-end against tpdk's (64 B; ${vhostUser?.env?.hugeNote ?? ""})\n${renderText(vt)}`);
  if (vhostUser?.skipped) print(`\n${vhostUser.skipped}`);
  const nt = netVhostTable(r);
  if (nt) print(`\nnet_vhost: one DPDK front-end, DPDK's back-end against tpdk's (64 B; ${netVhost?.env?.hugeNote ?? ""})\n${renderText(nt)}`);
  if (netVhost?.skipped) print(`\n${netVhost.skipped}`);
  const checks = targets(r);
  if (checks.some((t) => t.met !== null)) {
    print("\nTargets");
    for (const t of checks) print(`  ${t.met === null ? "-  " : t.met ? "ok " : "NO "} ${t.target}: ${t.measured}`);
  }
  if (failures.length > 0) print(`\n${failures.length} run(s) failed; see ${base}.md`);
  print(`\nWrote ${base}.json, ${base}.md, ${base}.svg (${(meta.elapsedS / 60).toFixed(1)} min)`);
  const nothing = results.length === 0 && (jitter?.runs.length ?? 0) === 0 && !(vhostUser?.rows.some((row) => row.dpdk.n + row.tpdk.n > 0) ?? false) && !(netVhost?.rows.some((row) => row.dpdk.n + row.tpdk.n > 0) ?? false);
  return (failures.length > 0 || (jitter?.failures.length ?? 0) > 0) && nothing ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
