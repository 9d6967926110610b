import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { runOwned } from "./e2e/owned.js";

/**
 * A script run in a fresh node, for checks of compiled code: no deopt after a phase, no GC in a window,
 * nothing allocated. A fresh process compiles and allocates for the script alone, unlike vitest's own
 * isolate. The script prints `=== <marker>` where its checked phase starts; built packages (dist/) are
 * imported by URL, as worker threads load them (the test command builds first).
 */
export interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `script` (an ES module) in a child node; bare imports resolve from the test-support package.
 * The child is owned and bounded (runOwned): SIGKILLed by PID after `timeoutMs` or when the test
 * process dies first, never left running.
 */
export async function runChild(script: string, flags: readonly string[] = [], timeoutMs = 60_000): Promise<ChildRun> {
  const r = await runOwned(process.execPath, [...flags, "--input-type=module", "-e", script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)), timeoutMs,
  });
  const stderr = r.timedOut ? `${r.stderr}\n(killed after ${timeoutMs} ms)` : r.stderr;
  return { status: r.status, stdout: r.stdout, stderr };
}

/**
 * Source for a child script (interpolate it at the script's top level, after its imports): an async
 * `gcWindow(measure, good, attempts = 3, collectFirst = true)` that runs `measure()` in a window watched by a GC observer, up to
 * `attempts` windows, until one saw no GC and `good(value)`: a scavenge the bookkeeping around a window
 * happens to trigger then does not count, while code that allocates fails all three (attempts 1: one
 * window, for a measure that must not be repeated, such as a function's first calls). Returns
 * `{ gcs, value }` of the last window. The script must import PerformanceObserver from
 * node:perf_hooks. Shared by the allocation tests (kick-fd, doorbell-kick-alloc, kick-count-alloc,
 * backoff-alloc, device-tick-alloc, device-clock-alloc, eal clock, vhost device-clock-warm).
 *
 * collectFirst: each window starts after a full collection and a settle, from an empty young generation
 * (the child must run with --expose-gc; gcWindow throws otherwise): without it the set-up's garbage left
 * the young generation near full under Node 26, and a
 * scavenge ("allocation failure") fell in the first window of backoff-alloc, device-tick-alloc,
 * device-clock-alloc and kick-count-alloc in every idle run: one of the three attempts spent before any
 * load (bench/notes/gc.md "Session 39: the unit tests' margins"). Every caller but two collects first.
 * kick-fd and doorbell-kick-alloc pass false: they read used_heap_size, which moves after a full collection (Node 20: 156-171 KB over the window with it,
 * 9.9 KB without, of 256 KB allowed); their first window saw a scavenge in 1 of 2 Node 26 runs.
 */
export const GC_WINDOW_JS = `
async function gcWindow(measure, good, attempts = 3, collectFirst = true) {
  if (collectFirst && typeof gc !== "function") throw new Error("gcWindow: collectFirst needs the child run with --expose-gc");
  let gcs = -1, value;
  for (let attempt = 0; attempt < attempts && !(gcs === 0 && good(value)); attempt++) {
    if (collectFirst) {
      gc();
      for (let t = 0; t < 3; t++) await new Promise((res) => setImmediate(res));
    }
    let seen = 0;
    const obs = new PerformanceObserver((list) => { seen += list.getEntries().length; });
    obs.observe({ entryTypes: ["gc"] });
    value = measure();
    for (let t = 0; t < 3; t++) await new Promise((res) => setImmediate(res));
    obs.disconnect();
    gcs = seen;
  }
  return { gcs, value };
}
`;

/**
 * Source for a child script (interpolate it at the script's top level; the script must import
 * getHeapSpaceStatistics from node:v8): `youngHeapUsed()`, the bytes in use in V8's young generation
 * (new space and new large-object space), where every allocation of running code goes: a boxed double,
 * an array, a closure. A window's growth of it is what the window's code allocated (one read's own
 * objects, ~1 KB, fall in the window: the limit leaves room for them). Not used_heap_size: it also counts
 * what V8's compilers add to old, code and trusted space, and V8 14 (Node 26) tiers a measuring loop up
 * through Maglev and TurboFan with on-stack replacement inside a window: 8-12 KB of compiled code in the
 * first 20,000 calls of a loop that allocates nothing (bench/notes/gc.md "Session 34: a window for
 * compiled code's allocations"); and V8's accounting of the old spaces moves with no GC and nothing
 * allocated by the window's code: by 170-440 KB within one window in 1-3 of 50 loaded Node 26 runs, with
 * concurrent sweeping on or off (session 35), which in a difference of two windows (20,000 calls less
 * 2,000) reads as growth or shrinkage. A scavenge empties the young space: read it in a window watched for GCs.
 * Also `youngGrownBy(run, k)`: the young generation's growth over `run(k)` (the allocation tests that
 * subtract a short run's growth from a long one's: kick-count-alloc, backoff-alloc, device-tick-alloc,
 * device-clock-alloc).
 */
export const YOUNG_HEAP_JS = `
function youngHeapUsed() {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) if (s.space_name === "new_space" || s.space_name === "new_large_object_space") used += s.space_used_size;
  return used;
}
function youngGrownBy(run, k) {
  const before = youngHeapUsed();
  run(k);
  return youngHeapUsed() - before;
}
`;

/**
 * The most a window of 20,000 calls may add to the young generation (youngHeapUsed) when the calls
 * themselves allocate nothing: room for the window's one-off objects (the heap reads' own, and what a
 * compile inside the window leaves there: up to 4.5 KB seen under Node 24 in a whole-suite run, session 34),
 * far below any allocation per call (8 B, the smallest heap object, is 160 KB over 20,000 calls; the clock
 * bugs these windows caught were 16-32 B a call).
 */
export const YOUNG_WINDOW_LIMIT = 16 * 1024;

/**
 * Source for a child script run with --allow-natives-syntax (interpolate it at the script's top
 * level): `isTurboFanned(f)`, true when f runs TurboFan code, and `isOptimized(f)`, true when it runs
 * TurboFan or Maglev code. Not %GetOptimizationStatus's bits: they moved between V8 versions (V8 11,
 * Node 20: 16 optimized, 32 Maglev, 64 TurboFan; V8 14, Node 26: 16 Maglev, 32 TurboFan, no
 * "optimized" bit), so `& 16` read a TurboFan-compiled loop as unoptimized under Node 26 and a
 * Maglev-compiled function as optimized (session 33). The %ActiveTierIs* natives mean the same in both.
 */
export const V8_TIERS_JS = `
function isTurboFanned(f) { return %ActiveTierIsTurbofan(f); }
function isOptimized(f) { return %ActiveTierIsTurbofan(f) || %ActiveTierIsMaglev(f); }
`;

/** stdout before and from the line `=== <marker>` (null when the marker never printed). */
export function splitAt(stdout: string, marker: string): { before: string; after: string } | null {
  const at = stdout.indexOf(`=== ${marker}`);
  return at < 0 ? null : { before: stdout.slice(0, at), after: stdout.slice(at) };
}

/**
 * runChild (with V8's optimizing compiles synchronous), then splitAt `marker`: throws (with the
 * child's stderr, or its last output) when the child failed or never reached the marker.
 */
export async function tracePhases(script: string, flags: readonly string[], marker: string, timeoutMs = 60_000): Promise<{ before: string; after: string }> {
  // TurboFan compiles on the main thread when it decides to (not on a background thread whose job a loaded
  // machine may not finish before the phase starts): "optimized before the phase" is then the script's doing,
  // not the machine's (the fresh-clone CIs of 2026-12-05 11:19 and 11:29 UTC each failed one such check).
  const r = await runChild(script, ["--no-concurrent-recompilation", ...flags], timeoutMs);
  if (r.status !== 0) throw new Error(`child exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  const parts = splitAt(r.stdout, marker);
  if (parts === null) throw new Error(`child never printed "=== ${marker}": ${r.stdout.slice(-2000)}`);
  return parts;
}

/** The script's `=== done ...` line in `after` (undefined when missing). */
export function doneLine(after: string): string | undefined {
  return after.split("\n").find((l) => l.startsWith("=== done"));
}

/** The counts of a script's last line `=== done sent <n> dropped <m>` in `after` (throws when missing). */
export function doneCounts(after: string): { sent: number; dropped: number; delivered?: number } {
  const done = /=== done sent (\d+) dropped (\d+)(?: delivered (\d+))?/.exec(after);
  if (done === null) throw new Error(`no "=== done" line: ${after.slice(-2000)}`);
  const counts = { sent: Number(done[1]), dropped: Number(done[2]) };
  // "delivered": what the device took from the TX ring, when the script counts it.
  return done[3] === undefined ? counts : { ...counts, delivered: Number(done[3]) };
}

/** --trace-opt: whether `name` was optimized (TurboFan) in `out`. */
export function optimized(out: string, name: string): boolean {
  return new RegExp(`completed (optimizing|compiling).*<JSFunction ${name}\\b`).test(out);
}

/**
 * --trace-turbo-inlining (with --trace-opt): the functions TurboFan inlined into each of its compiles of
 * `fn`, in compile order, each list in the order V8 inlined them. Maglev's compiles (V8 12+, Node 22 on:
 * "(target MAGLEV)") inline nothing here and are not listed.
 */
export function turbofanInlined(out: string, fn: string): string[][] {
  const compiling = new RegExp(`\\[compiling method .*<JSFunction ${fn}\\b`);
  const completed = new RegExp(`\\[completed compiling .*<JSFunction ${fn}\\b`);
  const inlining = new RegExp(`^Inlining .*<SharedFunctionInfo (\\w+)>\\} into .*<SharedFunctionInfo ${fn}>`);
  const compiles: string[][] = [];
  let cur: string[] | null = null;
  for (const l of out.split("\n")) {
    if (compiling.test(l) && !l.includes("MAGLEV")) cur = [];
    const m = inlining.exec(l);
    if (m && cur) cur.push(m[1]!);
    if (completed.test(l) && cur) {
      compiles.push(cur);
      cur = null;
    }
  }
  return compiles;
}

/**
 * --trace-turbo-inlining (with --trace-opt): whether every TurboFan compile of the function holding a loop
 * inlines `callees`. The holder is `holder` when the trace has a compile of it, else `fallback` (the
 * function the loop lived in before it had one of its own: the check then fails on the old code).
 * Returns the holder, its compile count, and one line per callee a compile left out ("holder's compile
 * k of n inlines f"); none when all were inlined. The net_vhost rx/tx-inlining tests.
 */
export function compilesMissingInlines(out: string, holder: string, fallback: string, callees: readonly string[]): { holder: string; compiles: number; missing: string[] } {
  const fn = turbofanInlined(out, holder).length > 0 ? holder : fallback;
  const compiles = turbofanInlined(out, fn);
  const missing = compiles.flatMap((inlined, k) =>
    callees.filter((f) => !inlined.includes(f)).map((f) => `${fn}'s compile ${k + 1} of ${compiles.length} inlines ${f}`));
  return { holder: fn, compiles: compiles.length, missing };
}

/** --trace-deopt: the lines deoptimizing a function whose trace line matches `functions`. */
export function deoptsOf(out: string, functions: RegExp): string[] {
  return out.split("\n").filter((l) => /deoptimiz/.test(l) && functions.test(l));
}

/** --trace-gc: the lines of a scavenge or a full collection. */
export function gcsOf(out: string): string[] {
  return out.split("\n").filter((l) => /Scavenge|Mark-Compact|Mark-sweep/i.test(l));
}

/**
 * The first message of a worker thread running `url` with `workerData`; the worker is then
 * terminated. A worker silent for `hangMs` is terminated and `hung()` stands for its report, so a
 * test is never left waiting; a worker's error rejects.
 */
export function workerReport<R>(url: URL, workerData: unknown, hangMs: number, hung: () => R): Promise<R> {
  return new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData });
    const timer = setTimeout(() => {
      resolve(hung());
      void w.terminate();
    }, hangMs);
    w.once("message", (r: R) => {
      clearTimeout(timer);
      resolve(r);
      void w.terminate();
    });
    w.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
