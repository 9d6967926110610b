/**
 * One probe thread (a worker of probe.ts): pin to its CPU, warm the loop up
 * (so the measured pass runs optimised, allocation-free code), wait for the other
 * threads, then run the measured loop with V8's GC profiler on, and report.
 */
import { readFileSync } from "node:fs";
import { GCProfiler } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { clockMs, pinCurrentThread } from "@tpdk/eal";
import { OUT_END_MS, OUT_SLOTS, OUT_START_MS, spinLoop } from "./loop.js";

export interface ProbeWorkerData {
  cpu: number;
  durationMs: number;
  warmupMs: number;
  thresholdMs: number;
  /** Gap starts and lengths, ms: two Float64Arrays of `capacity` each over this buffer. */
  gaps: SharedArrayBuffer;
  capacity: number;
  /** Int32 [0]: set to 1 (and notified) when every thread is ready. */
  go: SharedArrayBuffer;
  /** process.hrtime()[0] on the probe's main thread: the shared clock's origin. */
  hrBaseSec: number;
}

export interface ProbeWorkerReport {
  cpu: number;
  pinned: boolean;
  pinNote: string;
  /** spinLoop's out array, start/end converted to the shared clock. */
  out: number[];
  involuntarySwitches: number;
  gcs: number;
}

/** Milliseconds since hrBaseSec on process.hrtime()'s clock, the same in every thread (outside the loop only). */
function sharedMs(baseSec: number): number {
  const t = process.hrtime();
  return (t[0] - baseSec) * 1e3 + t[1] * 1e-6;
}

function involuntarySwitches(): number {
  try {
    const m = /^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(readFileSync("/proc/thread-self/status", "utf8"));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const d = workerData as ProbeWorkerData;
const pin = pinCurrentThread(d.cpu);
const starts = new Float64Array(d.gaps, 0, d.capacity);
const lens = new Float64Array(d.gaps, d.capacity * 8, d.capacity);
const out = new Float64Array(OUT_SLOTS);
// Warm up with many 1 ms calls, not one long one: a single long call runs
// on-stack-replaced code, in which V8 does not remove process.hrtime()'s
// array (measured: ~190 scavenges/s); a function optimised from its entry
// allocates nothing (0 GCs in the measured loop, reported as `gcs`).
const warmEnd = clockMs() + d.warmupMs;
for (let i = 0; i < 50 || clockMs() < warmEnd; i++) spinLoop(1, d.thresholdMs, starts, lens, out);

const go = new Int32Array(d.go);
parentPort!.postMessage("ready");
Atomics.wait(go, 0, 0, 60_000); // the main thread stores 1 and notifies when every thread is ready

const sw0 = involuntarySwitches();
const offset = sharedMs(d.hrBaseSec) - clockMs();
const prof = new GCProfiler();
prof.start();
spinLoop(d.durationMs, d.thresholdMs, starts, lens, out);
const gcs = prof.stop()?.statistics.length ?? NaN;
const sw1 = involuntarySwitches();

const n = out[0]!;
for (let i = 0; i < n; i++) starts[i]! += offset;
out[OUT_START_MS]! += offset;
out[OUT_END_MS]! += offset;
const report: ProbeWorkerReport = {
  cpu: d.cpu,
  pinned: pin.pinned,
  pinNote: pin.pinned ? `affinity ${pin.affinity}` : (pin.reason ?? "not pinned"),
  out: [...out],
  involuntarySwitches: sw1 - sw0,
  gcs,
};
parentPort!.postMessage(report);
