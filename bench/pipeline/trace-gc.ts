import type { GcMark, GcThread } from "./gc-probe.cjs";
import type { GcCounts } from "./types.js";

/** One --trace-gc line: isolate, ms since the isolate started, pause ms, forced ("testing"). */
export interface TraceGc {
  isolate: string;
  t: number;
  pauseMs: number;
  forced: boolean;
  kind: string;
}

// [pid:0x7f2184000f00]       38 ms: Mark-Compact 4.5 (5.7) -> 3.2 (8.0) MB, 4.16 / 0.00 ms  (...) testing; GC in old space requested
const LINE = /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+(?:\.\d+)?) ms: ([A-Za-z-]+(?: \([a-z ]+\))?) .*?MB, (\d+(?:\.\d+)?) \/ [\d.]+ ms.*$/;

export function parseTraceGc(text: string): TraceGc[] {
  const out: TraceGc[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({ isolate: m[1]!, t: Number(m[2]), kind: m[3]!, pauseMs: Number(m[4]), forced: /\btesting\b/.test(line) });
  }
  return out;
}

export interface GcAttribution {
  window: GcCounts;
  total: GcCounts;
  /** False when some isolate could not be matched to a thread (its GCs are not counted). */
  complete: boolean;
}

/**
 * Count GCs per thread, overall and inside [from, to) (ms since the epoch).
 * Each isolate is matched to the thread whose mark has the same number of
 * forced GCs; its clock offset is the mark's wall-clock time minus the trace
 * time of its last forced GC. The marking GCs themselves are not counted.
 */
export function attributeGcs(trace: readonly TraceGc[], marks: readonly GcMark[], from: number, to: number): GcAttribution {
  const byIsolate = new Map<string, TraceGc[]>();
  for (const g of trace) {
    const a = byIsolate.get(g.isolate);
    if (a) a.push(g);
    else byIsolate.set(g.isolate, [g]);
  }
  const zero = (): GcCounts => ({ main: 0, lcore: 0, device: 0, maxPauseMs: 0 });
  const window = zero();
  const total = zero();
  let complete = true;
  const matched = new Set<GcMark>();
  for (const gcs of byIsolate.values()) {
    const forced = gcs.filter((g) => g.forced);
    const mark = marks.find((m) => m.marks === forced.length);
    if (!mark) {
      complete = false;
      continue;
    }
    matched.add(mark);
    const thread: GcThread = mark.thread;
    const offset = mark.t - forced[forced.length - 1]!.t;
    for (const g of gcs) {
      if (g.forced) continue;
      const at = g.t + offset;
      total[thread]++;
      if (g.pauseMs > total.maxPauseMs) total.maxPauseMs = g.pauseMs;
      if (at >= from && at < to) {
        window[thread]++;
        if (g.pauseMs > window.maxPauseMs) window.maxPauseMs = g.pauseMs;
      }
    }
  }
  if (matched.size !== marks.length) complete = false;
  return { window, total, complete };
}

/** gc-probe.cts GC_MARK_LINE (a value import would have vitest parse the .cts, as run-one's GC_CHANNEL). */
const GC_MARK_LINE = "tpdk-bench-gc-mark ";

/** The marks a process's threads wrote to stderr (gc-probe.cts, TPDK_BENCH_GC_MARK_STDERR=1). */
export function parseGcMarks(text: string): GcMark[] {
  const out: GcMark[] = [];
  for (const line of text.split("\n")) {
    const at = line.indexOf(GC_MARK_LINE);
    if (at < 0) continue;
    try {
      out.push(JSON.parse(line.slice(at + GC_MARK_LINE.length)) as GcMark);
    } catch {
      // a torn line: that thread's GCs stay unattributed (complete: false)
    }
  }
  return out;
}
