/**
 * What ran when a GC came: each thread's GCs and V8 deoptimizations of one
 * kept run on the measured window's time scale (seconds from the window's
 * start, "IN" when inside it).
 *
 *   cd /tmp/keep && node /path/bench/dist/tools/vu-ab.js ... --node-flag --log-deopt --node-flag --logfile=v8.log --keep /tmp/keep
 *   node bench/dist/tools/deopt-times.js /tmp/keep/1-wt-x-b32.txt ...
 *
 * (or lcore-gc.js --node-flag --log-deopt --node-flag --logfile=v8.log --trace FILE, run in FILE's
 * directory). The kept file holds the window (first line), the threads' GC marks and V8's
 * --trace-gc lines; V8 writes each isolate's --log-deopt lines (code-deopt, µs since the isolate
 * started, the same origin as --trace-gc's ms) to isolate-<address>-<pid>-v8.log in the working
 * directory, found here next to the kept file. A deopt of code optimized in the warm-up, on a path the
 * warm-up never ran (no type feedback), sends the hot loop back to the interpreter until it is
 * optimized again, and interpreted code boxes every Float64Array counter above 2^30: a scavenge
 * may follow (bench README, "Session 11: GC").
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseGcMarks } from "../pipeline/trace-gc.js";

const GC_LINE = /^\[(\d+):(0x[0-9a-f]+)\]\s+(\d+(?:\.\d+)?) ms: ([A-Za-z-]+(?: \([a-z ]+\))?) (.*)$/;
const WINDOW = "tpdk-vu-window-epoch-ms ";

export interface TimedEvent {
  thread: string;
  /** Seconds from the window's start. */
  s: number;
  inWindow: boolean;
  what: string;
}

/** The GCs and deopts of a kept run (its text, and a reader for the per-isolate logs by file name). */
export function deoptTimes(text: string, readLog: (name: string) => string | null): TimedEvent[] {
  const lines = text.split("\n");
  const w = lines.find((l) => l.startsWith(WINDOW));
  if (!w) throw new Error("no window line (keep the run with vu-ab.js --keep or lcore-gc.js --trace)");
  const [from, to] = w.slice(WINDOW.length).split(" ").map(Number) as [number, number];
  const marks = parseGcMarks(text);
  const byIsolate = new Map<string, { pid: string; addr: string; gcs: { t: number; forced: boolean; what: string }[] }>();
  for (const l of lines) {
    const m = GC_LINE.exec(l);
    if (!m) continue;
    const key = `${m[1]}:${m[2]}`;
    const e = byIsolate.get(key) ?? byIsolate.set(key, { pid: m[1]!, addr: m[2]!, gcs: [] }).get(key)!;
    e.gcs.push({ t: Number(m[3]), forced: /\btesting\b/.test(l), what: `GC ${m[4]} ${m[5]!.slice(0, 60)}` });
  }
  const out: TimedEvent[] = [];
  for (const { pid, addr, gcs } of byIsolate.values()) {
    const forced = gcs.filter((g) => g.forced);
    const mark = marks.find((m) => m.marks === forced.length);
    if (!mark || forced.length === 0) continue;
    const offset = mark.t - forced[forced.length - 1]!.t;
    const at = (ms: number, what: string): void => {
      const t = ms + offset;
      out.push({ thread: mark.thread, s: (t - from) / 1000, inWindow: t >= from && t < to, what });
    };
    for (const g of gcs) if (!g.forced) at(g.t, g.what);
    const log = readLog(`isolate-${addr}-${pid}-v8.log`);
    for (const l of log?.split("\n") ?? []) {
      if (!l.startsWith("code-deopt,")) continue;
      // code-deopt,<µs>,<size>,<code>,<inlining id>,<script offset>,<kind>,<location>,<reason>
      const f = l.split(",");
      at(Number(f[1]) / 1000, `deopt ${f[6]} ${f[7]} ${f.slice(8).join(",")}`);
    }
  }
  return out.sort((a, b) => a.s - b.s);
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const files = process.argv.slice(2);
  if (files.length === 0 || files.includes("--help") || files.includes("-h")) {
    console.log("usage: node bench/dist/tools/deopt-times.js KEPT.txt...  (files vu-ab.js --keep wrote, their v8 logs beside them)");
    process.exit(files.length === 0 ? 2 : 0);
  }
  const missing = files.find((f) => !existsSync(f));
  if (missing !== undefined) {
    console.error(`deopt-times: no such kept run file: ${missing} (vu-ab.js --keep DIR writes them)`);
    process.exit(2);
  }
  for (const file of files) {
    const dir = dirname(file);
    const ev = deoptTimes(readFileSync(file, "utf8"), (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : null));
    console.log(`== ${file}`);
    // Node's own start-up deopts (node:internal, node:path) are left out.
    for (const e of ev) {
      if (/<node:/.test(e.what)) continue;
      console.log(`  ${e.thread.padEnd(6)} ${e.s.toFixed(3).padStart(8)} s ${e.inWindow ? "IN " : "   "}${e.what}`);
    }
  }
}
