/**
 * Preloaded into every thread of a run-one child (`node --require
 * gc-probe.cjs`; worker threads inherit --require): observes this thread's
 * garbage collections and reports each on a BroadcastChannel, so run-one can
 * count them per thread without the lcore or device code knowing.
 *
 * A busy-polling thread never returns to its event loop, so its entries are
 * delivered only when its loop ends (at stop); their startTime still says
 * when each GC happened, which is what the window attribution needs.
 */
import { PerformanceObserver, performance } from "node:perf_hooks";
import { BroadcastChannel, isMainThread, workerData } from "node:worker_threads";

export const GC_CHANNEL = "tpdk-bench-gc";

export interface GcEntry {
  thread: "main" | "device" | "lcore";
  /** Start, ms since the epoch (performance.timeOrigin + startTime). */
  t: number;
  /** Pause, ms. */
  d: number;
}

function threadLabel(): GcEntry["thread"] {
  if (isMainThread) return "main";
  // The vhost device thread's workerData is its LoopConfig (has ctlOffset and devices); lcores run on piscina workers.
  const wd = workerData as { ctlOffset?: unknown; devices?: unknown } | null | undefined;
  return wd && typeof wd === "object" && "ctlOffset" in wd && "devices" in wd ? "device" : "lcore";
}

if (process.env.TPDK_BENCH_GC_PROBE === "1") {
  const thread = threadLabel();
  const ch = new BroadcastChannel(GC_CHANNEL);
  (ch as unknown as { unref(): void }).unref();
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const m: GcEntry = { thread, t: performance.timeOrigin + e.startTime, d: e.duration };
      ch.postMessage(m);
    }
  });
  obs.observe({ entryTypes: ["gc"] });
}
