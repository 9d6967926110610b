import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ownedTempDir, runOwned } from "@tpdk/testing/owned";
import { SCRIPTED_PORTS_PREAMBLE } from "@tpdk/testing/l2fwd";

// The built packages (dist/): the test command builds first.

/**
 * l2fwdLoop on this thread over one scripted port (a QueueAttacher, as prime-paths.test.ts's): rxBurst
 * hands out full bursts, every 5th pass 7 frames (the TX buffer path: buffered, sent in the loop when
 * full, flushed at the drain); txBurst takes one frame less than asked in every 64th pass (a full TX
 * ring now and then, as a loaded chained burst-32 pipeline meets it). The young generation is 32 MB
 * (no scavenge in the run) and the heap's growth is read over passes 600,000..1,600,000, some 15,600
 * sends that drop a frame. Prints { grown, rx, tx, dropped }.
 *
 * Nothing is compiled in the window (bench/notes/gc.md "Session 39: the unit tests' margins"): the heap
 * is read in one branch that also runs at pass 100, before the scripted rxBurst is optimized, so the
 * read at the window's start is not the first run of a branch in optimized code (until session 39 it
 * was: rxBurst deoptimized there and was compiled again inside the window, Maglev then TurboFan under
 * Node 26, with the loop's flush and prefree: 37,160 B of 64 KB, against 9,776 under Node 20); and the
 * window starts at pass 600,000, after the TX buffers' flush is compiled by TurboFan (Node 26: between
 * passes 300,000 and 600,000). prefree's TurboFan compile still lands in the burst-32 window under 26:
 * 2,112 B there, 584-624 B in the others.
 */
const script = (burst: number): string => `
import { getHeapStatistics } from "node:v8";
${SCRIPTED_PORTS_PREAMBLE}
const P = 100, W0 = 600000, W1 = 1600000;
const heap = new Float64Array(3);
let reads = 0;
let rot = 0;
let pass = 0;
const i32 = mem.i32;
class ScriptedRx {
  queueId = 0;
  rxBurst(dst, n, off) {
    const k = pass % 5 === 4 && n > 7 ? 7 : n;
    for (let j = 0; j < k; j++) dst[off + j] = frames[(rot + j) & 63];
    rot = (rot + k + 1) & 63;
    if (pass === P || pass === W0 || pass === W1) heap[reads++] = getHeapStatistics().used_heap_size;
    Atomics.store(i32, CTRL_STOP, pass >= W1 ? 1 : 0);
    pass++;
    return k;
  }
}
class ShortTx {
  queueId = 0;
  txBurst(src, n, off) { return (pass & 63) === 0 ? n - 1 : n; }
  fence() {}
}
const rx = new ScriptedRx();
const tx = new ShortTx();
registerQueueAttacher({ rx: (m, port) => (port === 0 ? rx : null), tx: (m, port) => (port === 0 ? tx : null) });
const statsOffset = reserveStats(mem, 1);
const backoff = new Backoff(new Int32Array(new SharedArrayBuffer(64)), 3, true, { idleIndex: 5 });
backoff.prime();
const arg = { rxPorts: [0], dst: [0], macs: [[2, 0, 0, 0, 0, 9]], macUpdating: true, burst: ${burst}, statsOffset, drainPasses: 32 };
await l2fwdLoop({ mem, backoff }, arg);
const c = readCounters(mem, statsOffset, [0])[0];
console.log(JSON.stringify({ grown: heap[2] - heap[1], rx: c.rx, tx: c.tx, dropped: c.dropped }));
`;

async function run(burst: number): Promise<{ grown: number; rx: number; tx: number; dropped: number }> {
  // A file, not -e: the loop's module graph loads as in the lcore worker.
  const dir = ownedTempDir("drop-count");
  const file = join(dir, "run.mjs");
  writeFileSync(file, script(burst));
  try {
    // Every call a function of its own (no inlining), and TxBuffers.dropFrom never optimized: how
    // the pipeline's lcore runs it for its first few thousand calls. By either optimizing compiler:
    // from Node 22 on Maglev compiles and inlines too, and with TurboFan's flags alone dropFrom ran in
    // Maglev code (which does not box the count) from before the window under Node 26 (session 39:
    // the test passed with the count moved back into dropFrom; Maglev's inlining alone kept burst 1
    // passing). Synchronous compiles, so that the loop is optimized long before the window whatever
    // the machine's load.
    const flags = ["--no-turbo-inlining", "--no-maglev-inlining", "--turbo-filter=-dropFrom", "--maglev-filter=-dropFrom", "--no-concurrent-recompilation", "--no-concurrent-osr", "--min-semi-space-size=32", "--max-semi-space-size=32"];
    const r = await runOwned(process.execPath, [...flags, file], { timeoutMs: 60_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { grown: number; rx: number; tx: number; dropped: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The GC target (no collection in any measured window on any thread). TxBuffers.dropFrom (the frames
 * a full TX ring did not take: freed, counted dropped) added to the dropped counter, a Float64Array
 * element; a full TX ring is rare, so V8 does not inline dropFrom into the optimized loop and it runs
 * in baseline code for its first few thousand calls, where that read-modify-write allocates two
 * HeapNumbers (32 B) at every call: the chained burst-32 pipeline's lcore garbage in a window (bench
 * README "Session 23: GC"). The callers count now, in the loop's optimized code. ~15,600 dropping
 * sends at 32 B would be ~500 KB; the run's own bookkeeping is 0.6-2.1 KB.
 */
describe("l2fwdLoop's drops at a full TX ring", () => {
  for (const burst of [32, 1]) {
    it(`burst ${burst}: counted without allocating, with dropFrom unoptimized (under 64 KB over 1,000,000 passes); every frame accounted for`, async () => {
      const { grown, rx, tx, dropped } = await run(burst);
      expect(dropped).toBeGreaterThan(15_000);
      expect(tx + dropped).toBe(rx);
      expect(grown).toBeLessThan(64 * 1024);
    });
  }
});
