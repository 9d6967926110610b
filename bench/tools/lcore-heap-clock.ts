/**
 * A forwarding loop for TPDK_BENCH_LCORE_URL that runs the real one (or the
 * module in TPDK_HEAP_SAMPLE_INNER) with a heap clock: every
 * TPDK_HEAP_CLOCK_PASSES loop passes (default 2^20) the lcore reads its own
 * young generation's used bytes (new_space, through node's v8 binding) and the
 * time, and at the loop's return writes them to TPDK_HEAP_CLOCK_OUT: when the
 * lcore allocated in its young generation (what tips a scavenge into a
 * window), which the sampling heap profiler cannot tell (it names functions,
 * has no clock, and at a small interval slows the loop).
 *
 *   TPDK_BENCH_LCORE_URL=file://$PWD/bench/dist/tools/lcore-heap-clock.js \
 *   TPDK_HEAP_CLOCK_OUT=/tmp/lcore.clock node bench/dist/tools/lcore-gc.js --trace /tmp/run.txt ...
 *   node bench/dist/tools/lcore-heap-clock.js /tmp/lcore.clock /tmp/run.txt   # young bytes per interval, window time
 *
 * The passes are counted in the loop's backoff (idle() and reset(), one call
 * per pass), so the loop itself is unchanged; a read allocates only the
 * time's heap number (the summary subtracts the most frequent step).
 */
import { readFileSync, writeFileSync, writeSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";
import { isMainThread } from "node:worker_threads";
import type { Backoff, LcoreContext } from "@tpdk/eal";

const MAX_READS = 1 << 16;
/** Per read: epoch ms, new_space used and available bytes. */
const reads = new Float64Array(3 * MAX_READS);
let nReads = 0;

/** TPDK_HEAP_CLOCK_MARK: a read that finds more young bytes than this since the last one writes a line to fd 1. */
const markBytes = Number(process.env.TPDK_HEAP_CLOCK_MARK || 0);

/**
 * node's own v8 binding (what v8.getHeapSpaceStatistics() reads, one space at a time into a
 * Float64Array): a read then allocates nothing but the time's heap number, where the public
 * call allocates ~2.5 KB of objects, which at a read every few ms fills the young generation itself.
 * process.binding is deprecated (DEP0111) and may go in a later node: a lab tool, not the product.
 */
interface V8Binding {
  updateHeapSpaceStatisticsBuffer(space: number): void;
  heapSpaceStatisticsBuffer: Float64Array;
  kSpaceUsedSizeIndex: number;
  kSpaceAvailableSizeIndex: number;
}
let binding: V8Binding;
let stats: Float64Array;
let NEW_SPACE = -1;
let USED = 0;
let AVAILABLE = 0;
/** On the lcore, before its first read (the summary on the main thread needs none of it). */
function bindStats(): void {
  if (NEW_SPACE >= 0) return;
  binding = (process as unknown as { binding(name: string): V8Binding }).binding("v8");
  NEW_SPACE = getHeapSpaceStatistics().findIndex((s) => s.space_name === "new_space");
  stats = binding.heapSpaceStatisticsBuffer;
  USED = binding.kSpaceUsedSizeIndex;
  AVAILABLE = binding.kSpaceAvailableSizeIndex;
}

const ticks = process.env.TPDK_HEAP_CLOCK_TICKS === "1";
const TICK_READS = 64;
const TICK = Buffer.from("tpdk-heap-clock-tick\n");

function read(): void {
  if (nReads >= MAX_READS) return;
  const i = 3 * nReads++;
  reads[i] = Date.now();
  binding.updateHeapSpaceStatisticsBuffer(NEW_SPACE);
  reads[i + 1] = stats[USED]!;
  reads[i + 2] = stats[AVAILABLE]!;
  // Every TICK_READS-th read (TPDK_HEAP_CLOCK_TICKS=1) a fixed line on fd 1, from a buffer made once: the
  // trace's --trace-opt / --trace-deopt lines between two ticks came in those reads' interval.
  if (ticks && nReads % TICK_READS === 0) writeOut(TICK);
  if (markBytes > 0 && i > 0) {
    const d = reads[i + 1]! - reads[i - 2]!;
    // Synchronous, so that it lands between V8's own --trace-opt / --trace-deopt lines of this thread.
    if (d > markBytes || d < 0) writeOut(Buffer.from(`tpdk-heap-clock ${reads[i]} young ${d < 0 ? "scavenge" : `+${d}`} B (read ${nReads})\n`));
  }
}

/** A line on fd 1, synchronously; fd 1 is a non-blocking pipe, which V8's own traces can fill: wait and retry on EAGAIN. */
const NAP = new Int32Array(new SharedArrayBuffer(4));
function writeOut(line: Buffer): void {
  for (let tries = 0; ; tries++) {
    try {
      writeSync(1, line);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN" || tries > 5000) throw e;
      Atomics.wait(NAP, 0, 0, 1);
    }
  }
}

/**
 * The lcore's backoff with a pass counter: idle() and reset() forward, every `every` calls of each a read.
 * Each method's first PRIME_READS calls read too, so the read's branch has type feedback before the loop
 * is optimized (a first read later would deoptimize the loop: "Insufficient type feedback").
 * idle() and reset() keep a counter each, written out twice: each method's branch gets its own
 * type feedback, and the loop inlines both.
 */
const PRIME_READS = 64;
class ClockedBackoff {
  private nIdle = 0;
  private nReset = 0;
  private everyIdle = 1;
  private everyReset = 1;
  private primedIdle = 0;
  private primedReset = 0;
  constructor(private readonly inner: Backoff, private readonly every: number) {}
  idle(): void {
    if (++this.nIdle >= this.everyIdle) {
      this.nIdle = 0;
      if (++this.primedIdle === PRIME_READS) this.everyIdle = this.every;
      read();
    }
    this.inner.idle();
  }
  reset(): void {
    if (++this.nReset >= this.everyReset) {
      this.nReset = 0;
      if (++this.primedReset === PRIME_READS) this.everyReset = this.every;
      read();
    }
    this.inner.reset();
  }
}

export async function l2fwdLoop(ctx: LcoreContext, arg: unknown): Promise<unknown> {
  const innerUrl = process.env.TPDK_HEAP_SAMPLE_INNER || import.meta.resolve("@tpdk/l2fwd/lcore-loop");
  const out = process.env.TPDK_HEAP_CLOCK_OUT || "/tmp/lcore.clock";
  const every = Number(process.env.TPDK_HEAP_CLOCK_PASSES || 1 << 20);
  const inner = (await import(innerUrl)) as { l2fwdLoop: (c: LcoreContext, a: unknown) => Promise<unknown> };
  bindStats();
  // Reads back to back, before the loop: their rows (the file's "self" line) are left out of the summary.
  const selfStart = nReads;
  for (let k = 0; k < 8; k++) read();
  const backoff = new ClockedBackoff(ctx.backoff, every) as unknown as Backoff;
  const c: LcoreContext = {
    lcoreId: ctx.lcoreId,
    cpu: ctx.cpu,
    pinned: ctx.pinned,
    mem: ctx.mem,
    busyPoll: ctx.busyPoll,
    stopped: () => ctx.stopped(),
    backoff,
  };
  const value = await inner.l2fwdLoop(c, arg);
  read();
  const rows: string[] = [`self ${selfStart} ${selfStart + 8}`];
  for (let r = 0; r < nReads; r++) rows.push(`${reads[3 * r]} ${reads[3 * r + 1]} ${reads[3 * r + 2]}`);
  writeFileSync(out, rows.join("\n") + "\n");
  return value;
}

/** Young bytes allocated per interval (drops = scavenges, counted from 0), on the window's time scale. */
export function clockSummary(clock: string, run: string | null, quiet = true): string[] {
  const lines = clock.trim().split("\n");
  const s1 = Number(lines[0]!.split(" ")[2]);
  const rows = lines.slice(1).map((l) => l.split(" ").map(Number) as [number, number, number]);
  // A read's own cost: the most frequent step between reads (most intervals allocate nothing else).
  const counts = new Map<number, number>();
  for (let i = s1 + 1; i < rows.length; i++) {
    const d = rows[i]![1] - rows[i - 1]![1];
    if (d >= 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let self = 0;
  let best = 0;
  for (const [d, c] of counts) if (c > best) [self, best] = [d, c];
  let from = rows[0]![0];
  let to = Infinity;
  const w = run?.split("\n").find((l) => l.startsWith("tpdk-vu-window-epoch-ms "));
  if (w) [from, to] = w.split(" ").slice(1).map(Number) as [number, number];
  const out = [`self cost of a read: ${self} B (young); times in s from the window's start`];
  let total = 0;
  let inWin = 0;
  for (let i = s1 + 1; i < rows.length; i++) {
    const [t, y, avail] = rows[i]!;
    const [, py] = rows[i - 1]!;
    const dy = y >= py ? y - py - self : y; // a drop: a scavenge in between (y is what came after it, roughly)
    const s = (t - from) / 1000;
    total += dy;
    if (t >= from && t < to) inWin += dy;
    if (!quiet || dy > 256 || y < py) out.push(`${s.toFixed(2).padStart(8)} s ${String(Math.round(dy)).padStart(9)} B young${y < py ? " (scavenge)" : ""}  available ${avail}`);
  }
  out.push(`young after the first read, reads' own left out: ${Math.round(total)} B; in the window: ${Math.round(inWin)} B (${rows.length - s1 - 1} reads)`);
  return out;
}

if (isMainThread && process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const clock = readFileSync(process.argv[2] ?? "/tmp/lcore.clock", "utf8");
  const run = process.argv[3] ? readFileSync(process.argv[3], "utf8") : null;
  for (const line of clockSummary(clock, run)) console.log(line);
}
