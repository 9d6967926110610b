/**
 * The machine-jitter probe, in a process of its own: one pinned worker per
 * CPU (the pipeline's two: CPU 0 for the lcore, the service CPU for the
 * device thread) runs an allocation-free busy loop (loop.ts) at the same
 * time, and records every gap between two iterations longer than the
 * threshold: time the thread did not run although it never yields, i.e.
 * time the guest kernel or the hypervisor took the CPU away. What a
 * cyclictest or DPDK's jitter tools measure, on Node.
 *
 *   node bench/dist/jitter/probe.js '{"durationMs":5000,"warmupMs":300,"cpus":[0,1],"thresholdUs":5}'
 *
 * Prints one line `TPDK-JITTER-RESULT {JitterRun}` on stdout; exits 1 with a
 * message on stderr when the probe fails.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import { OUT_DROPPED, OUT_DROPPED_MS, OUT_END_MS, OUT_GAPS, OUT_LOOPS, OUT_START_MS } from "./loop.js";
import { stalledUnion, summarizeCpu, type Intervals } from "./stats.js";
import { JITTER_RESULT_PREFIX, type JitterConfig, type JitterRun } from "./types.js";
import type { ProbeWorkerData, ProbeWorkerReport } from "./worker.js";

const WORKER = new URL("./worker.js", import.meta.url);

/** Steal jiffies per CPU (/proc/stat "cpuN" lines, 8th field); null off Linux. */
function stealJiffies(): Map<number, { steal: number; total: number }> | null {
  try {
    const m = new Map<number, { steal: number; total: number }>();
    for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
      const r = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!r) continue;
      const f = r[2]!.trim().split(/\s+/).map(Number);
      m.set(Number(r[1]), { steal: f[7] ?? 0, total: f.slice(0, 8).reduce((a, b) => a + b, 0) });
    }
    return m;
  } catch {
    return null;
  }
}

/** Interrupts taken so far per CPU (/proc/interrupts: every row's count in that CPU's column); null off Linux. */
function interrupts(): Map<number, number> | null {
  try {
    const lines = readFileSync("/proc/interrupts", "utf8").split("\n");
    const cols = lines[0]!.trim().split(/\s+/).map((h) => Number(/^CPU(\d+)$/.exec(h)?.[1] ?? NaN));
    const m = new Map<number, number>(cols.map((c) => [c, 0]));
    for (const line of lines.slice(1)) {
      const f = line.trim().split(/\s+/).slice(1, 1 + cols.length);
      f.forEach((v, i) => {
        if (/^\d+$/.test(v)) m.set(cols[i]!, m.get(cols[i]!)! + Number(v));
      });
    }
    return m;
  } catch {
    return null;
  }
}

export function validateJitterConfig(x: unknown): JitterConfig {
  const c = x as JitterConfig;
  const ok =
    typeof c === "object" &&
    c !== null &&
    Number.isInteger(c.durationMs) && c.durationMs >= 100 && c.durationMs <= 600_000 &&
    Number.isInteger(c.warmupMs) && c.warmupMs >= 0 && c.warmupMs <= 60_000 &&
    Array.isArray(c.cpus) && c.cpus.length > 0 && c.cpus.every((n) => Number.isInteger(n) && n >= 0) &&
    typeof c.thresholdUs === "number" && c.thresholdUs > 0 && c.thresholdUs <= 1000;
  if (!ok) throw new Error(`bad jitter config ${JSON.stringify(x)}: want {durationMs, warmupMs, cpus: [..], thresholdUs}`);
  return c;
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error("usage: probe.js '<JitterConfig JSON>'");
  const cfg = validateJitterConfig(JSON.parse(raw) as unknown);
  const load = loadavg()[0]!;
  // Room for 100 stalls per ms: far more than any machine shows; the rest are counted, not stored.
  const capacity = Math.max(65_536, Math.ceil(cfg.durationMs * 100));
  const go = new SharedArrayBuffer(4);
  const go32 = new Int32Array(go);
  const hrBaseSec = process.hrtime()[0];
  const bufs = cfg.cpus.map(() => new SharedArrayBuffer(capacity * 16));
  let ready = 0;
  let cpu0 = process.cpuUsage();
  let steal0 = stealJiffies();
  let irq0 = interrupts();
  const reports = await Promise.all(
    cfg.cpus.map(
      (cpu, i) =>
        new Promise<ProbeWorkerReport>((resolve, reject) => {
          const data: ProbeWorkerData = {
            cpu,
            durationMs: cfg.durationMs,
            warmupMs: cfg.warmupMs,
            thresholdMs: cfg.thresholdUs / 1000,
            gaps: bufs[i]!,
            capacity,
            go,
            hrBaseSec,
          };
          const w = new Worker(WORKER, { workerData: data });
          w.on("message", (m: "ready" | ProbeWorkerReport) => {
            if (m !== "ready") {
              resolve(m);
              return;
            }
            if (++ready < cfg.cpus.length) return;
            cpu0 = process.cpuUsage();
            steal0 = stealJiffies();
            irq0 = interrupts();
            Atomics.store(go32, 0, 1); // pairs with the workers' Atomics.wait: all start together
            Atomics.notify(go32, 0);
          });
          w.on("error", reject);
          w.on("exit", (code) => reject(new Error(`probe worker for CPU ${cpu} exited with code ${code} before reporting`)));
        }),
    ),
  );
  const cpuUsed = process.cpuUsage(cpu0);
  const steal1 = stealJiffies();
  const irq1 = interrupts();

  const threads: Intervals[] = reports.map((r, i) => {
    const n = r.out[OUT_GAPS]!;
    return { starts: new Float64Array(bufs[i]!, 0, n), lens: new Float64Array(bufs[i]!, capacity * 8, n), n };
  });
  const from = Math.max(...reports.map((r) => r.out[OUT_START_MS]!));
  const to = Math.min(...reports.map((r) => r.out[OUT_END_MS]!));
  const union = to > from ? stalledUnion(threads, from, to) : { eitherMs: NaN, allMs: NaN, mergedMs: [] };
  const cpus = reports.map((r, i) => {
    const s0 = steal0?.get(r.cpu);
    const s1 = steal1?.get(r.cpu);
    const stealPct = s0 && s1 && s1.total > s0.total ? (100 * (s1.steal - s0.steal)) / (s1.total - s0.total) : null;
    const i0 = irq0?.get(r.cpu);
    const i1 = irq1?.get(r.cpu);
    const durationMs = r.out[OUT_END_MS]! - r.out[OUT_START_MS]!;
    return summarizeCpu({
      cpu: r.cpu,
      pinned: r.pinned,
      pinNote: r.pinNote,
      durationMs,
      loops: r.out[OUT_LOOPS]!,
      gapsUs: Array.from(threads[i]!.lens, (ms) => ms * 1000),
      dropped: r.out[OUT_DROPPED]!,
      droppedUs: r.out[OUT_DROPPED_MS]! * 1000,
      involuntarySwitches: r.involuntarySwitches,
      interruptsPerSecond: i0 !== undefined && i1 !== undefined ? (1000 * (i1 - i0)) / durationMs : null,
      stealPct,
      gcs: r.gcs,
    });
  });
  const either =
    cpus.length > 1 && to > from
      ? summarizeCpu({
          cpu: -1,
          pinned: cpus.every((c) => c.pinned),
          pinNote: "merged",
          durationMs: to - from,
          loops: Math.min(...cpus.map((c) => c.loops)),
          gapsUs: union.mergedMs.map((ms) => ms * 1000),
          dropped: 0,
          droppedUs: 0,
          involuntarySwitches: cpus.reduce((a, c) => a + c.involuntarySwitches, 0),
          interruptsPerSecond: null,
          stealPct: null,
          gcs: cpus.reduce((a, c) => a + c.gcs, 0),
        })
      : null;
  const run: JitterRun = {
    config: cfg,
    cpus,
    either,
    eitherLostPct: (100 * union.eitherMs) / (to - from),
    allLostPct: (100 * union.allMs) / (to - from),
    cpuShare: (cpuUsed.user + cpuUsed.system) / 1000 / (cfg.cpus.length * cfg.durationMs),
    load,
  };
  process.stdout.write(`${JITTER_RESULT_PREFIX}${JSON.stringify(run)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`jitter probe: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
