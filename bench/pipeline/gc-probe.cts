/**
 * Preloaded into every thread of a run-one child (`node --require
 * gc-probe.cjs --expose-gc --trace-gc ...`; worker threads inherit the
 * flags), so GCs can be counted per thread without the lcore or device code
 * knowing.
 *
 * V8's --trace-gc prints one line per GC, tagged with the isolate (one per
 * thread) and the ms since that isolate started, but says neither which
 * thread an isolate is nor when it started. So each thread marks its isolate
 * here, before it runs anything else: it forces 1 (main), 2 (device) or 3
 * (lcore) full GCs ("testing" in the trace) and reports the wall-clock time
 * right after them. The parent (trace-gc.ts) finds each isolate's thread by
 * its number of "testing" GCs and its clock offset from that time.
 *
 * (A PerformanceObserver for 'gc' entries would be simpler, but a thread that
 * busy-polls never runs its event loop, and entries queued meanwhile were
 * found to be lost when the thread ends.)
 */
import { writeSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { BroadcastChannel, isMainThread, workerData } from "node:worker_threads";

export const GC_CHANNEL = "tpdk-bench-gc";
/**
 * With TPDK_BENCH_GC_MARK_STDERR=1 each thread also writes its mark to
 * stderr as one line, this prefix then the JSON: for processes that are not
 * run-one (l2fwd in the vhost-user section), whose parent reads them there.
 */
export const GC_MARK_LINE = "tpdk-bench-gc-mark ";
export type GcThread = "main" | "device" | "lcore";
export const MARKS: Record<GcThread, number> = { main: 1, device: 2, lcore: 3 };

export interface GcMark {
  thread: GcThread;
  /** Forced GCs ("testing" lines in the trace). */
  marks: number;
  /** Wall clock (ms since the epoch) right after the last forced GC. */
  t: number;
}

function threadLabel(): GcThread {
  if (isMainThread) return "main";
  // The vhost device thread's workerData is its LoopConfig (ctlOffset, devices); lcores run on piscina workers.
  const wd = workerData as { ctlOffset?: unknown; devices?: unknown } | null | undefined;
  return wd && typeof wd === "object" && "ctlOffset" in wd && "devices" in wd ? "device" : "lcore";
}

const forceGc = (globalThis as { gc?: () => void }).gc;
if (process.env.TPDK_BENCH_GC_PROBE === "1" && typeof forceGc === "function") {
  const thread = threadLabel();
  const marks = MARKS[thread];
  for (let i = 0; i < marks; i++) forceGc();
  const m: GcMark = { thread, marks, t: performance.timeOrigin + performance.now() };
  // Other threads' marks reach run-one's main thread on the channel; its own is read from here.
  (globalThis as { __tpdkBenchGcMark?: GcMark }).__tpdkBenchGcMark = m;
  // Synchronous and unbuffered: the line is out before the thread runs anything else.
  if (process.env.TPDK_BENCH_GC_MARK_STDERR === "1") writeSync(2, `${GC_MARK_LINE}${JSON.stringify(m)}\n`);
  const ch = new BroadcastChannel(GC_CHANNEL);
  ch.postMessage(m);
  ch.close();
}
