import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ownedTempDir, runOwned } from "@tpdk/testing/owned";
import { SCRIPTED_PORTS_PREAMBLE } from "@tpdk/testing/l2fwd";

// The built packages (dist/): the test command builds first.

/**
 * l2fwdLoop on this thread over one port whose queues are scripted (a QueueAttacher, as net_vhost
 * registers): rxBurst hands out up to SCHED[pass] frames (fixed mbufs of a real pool), txBurst takes
 * all. The script is the packed vhost-user pair at burst 32 seen by the loop: 300,000 passes of full
 * bursts (every one sent straight from the RX array, the TX buffers always empty: the loop optimized
 * having never run them), then what comes at a random moment of a real run: 100 bursts of 7 (at burst 1:
 * of 1), then 100 passes that find nothing (the idle path, the TX fence). The last entry stops the loop.
 * With dropFirst, txBurst takes one frame less than asked in those full-burst passes (a full TX ring
 * at traffic start, as chained b32 meets it). Branch-free on purpose, so no deopt is the fake queues' own.
 */
const script = (burst: number, dropFirst = false): string => `
${SCRIPTED_PORTS_PREAMBLE}
const FULL = 300000;
const sched = new Uint8Array(FULL + 200);
sched.fill(${burst}, 0, FULL);
sched.fill(7, FULL, FULL + 100);
// sched[FULL + 100 ..] stays 0: empty passes (the idle path, the TX fence)
// dropFirst: every send of the full bursts leaves one frame (a full TX ring), the later ones none.
const txShort = new Uint8Array(sched.length);
if (${dropFirst}) txShort.fill(1, 0, FULL);
let rot = 0;
const stopAt = new Int32Array(sched.length + 1);
stopAt[sched.length - 1] = 1;
const i32 = mem.i32;
let pass = 0;
let fences = 0;
class ScriptedRx {
  queueId = 0;
  rxBurst(dst, n, off) {
    const want = sched[pass];
    const k = want < n ? want : n;
    // Rotating through the 64 frames by k + 1 (odd at burst 32), so the dropped ones (the tail of a
    // send) are spread over all of them: ~4,700 frees each, far from refcnt 1.
    for (let j = 0; j < k; j++) dst[off + j] = frames[(rot + j) & 63];
    rot = (rot + k + 1) & 63;
    Atomics.store(i32, CTRL_STOP, stopAt[pass]);
    pass++;
    return k;
  }
}
class TakeAllTx {
  queueId = 0;
  txBurst(src, n, off) { return n - txShort[pass - 1]; }
  fence() { fences++; }
}
const rx = new ScriptedRx();
const tx = new TakeAllTx();
registerQueueAttacher({ rx: (m, port) => (port === 0 ? rx : null), tx: (m, port) => (port === 0 ? tx : null) });
const statsOffset = reserveStats(mem, 1);
const backoff = new Backoff(new Int32Array(new SharedArrayBuffer(64)), 3, false, { idleIndex: 5 });
backoff.prime();
const arg = { rxPorts: [0], dst: [0], macs: [[2, 0, 0, 0, 0, 9]], macUpdating: true, burst: ${burst}, statsOffset, drainPasses: 32 };
console.log("=== loop");
await l2fwdLoop({ mem, backoff }, arg);
const c = readCounters(mem, statsOffset, [0])[0];
console.log("=== done passes " + pass + " rx " + c.rx + " tx " + c.tx + " dropped " + c.dropped + " fences " + fences);
`;

async function run(burst: number, dropFirst = false): Promise<{ out: string; rx: number; tx: number; dropped: number; fences: number }> {
  // A file, not -e: the loop's module graph loads as in the lcore worker.
  const dir = ownedTempDir("prime-paths");
  const file = join(dir, "run.mjs");
  writeFileSync(file, script(burst, dropFirst));
  try {
    // Synchronous TurboFan compiles: "optimized before the short bursts" is the script's doing, not the machine's load.
    const r = await runOwned(process.execPath, ["--no-concurrent-recompilation", "--trace-opt", "--trace-deopt", file], { timeoutMs: 60_000 });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const done = /=== done passes \d+ rx (\d+) tx (\d+) dropped (\d+) fences (\d+)/.exec(r.stdout);
    expect(done, r.stdout.slice(-2000)).not.toBeNull();
    const [rx, tx, dropped, fences] = done!.slice(1).map(Number) as [number, number, number, number];
    return { out: r.stdout.slice(r.stdout.indexOf("=== loop")), rx, tx, dropped, fences };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const loopDeopts = (out: string): string[] => out.split("\n").filter((l) => /deoptimiz/.test(l) && /<JSFunction l2fwdLoop\b/.test(l));
const loopOptimized = (out: string): boolean => /completed (optimizing|compiling).*<JSFunction l2fwdLoop\b/.test(out);

/**
 * At burst 32 on the vhost-user pair every poll returns a full burst, sent straight from the RX array:
 * the TX buffer path (a short burst buffered, the buffer filled and sent inside the loop, a partial
 * buffer flushed at the drain) and the idle path (`++empty`, the TX fence) had no type feedback when
 * the loop was optimized, and the first short burst, seconds into a run, deoptimized it ("Insufficient
 * type feedback", TxBuffers.flush inlined at the drain): vu-ab packed b32 (bench README "Session 20:
 * GC"), that deopt in the window in 5 of 20 runs, an lcore scavenge 10-40 ms after it in 4. The loop now
 * primes those paths with its first passes that find input.
 */
describe("l2fwdLoop's first short burst after steady full bursts", () => {
  it("burst 32: no deopt of the loop; every frame received was sent", async () => {
    const { out, rx, tx, dropped, fences } = await run(32);
    expect(loopOptimized(out), out.slice(-2000)).toBe(true);
    expect(loopDeopts(out)).toEqual([]);
    // The priming passes ask for 31 of 32 half the time.
    expect(rx).toBeGreaterThan(300000 * 31);
    expect(tx).toBe(rx);
    expect(dropped).toBe(0);
    expect(fences).toBeGreaterThan(0);
  });

  it("burst 1: no deopt of the loop (the idle path primed); every frame received was sent", async () => {
    const { out, rx, tx, dropped } = await run(1);
    expect(loopOptimized(out), out.slice(-2000)).toBe(true);
    expect(loopDeopts(out)).toEqual([]);
    expect(tx).toBe(rx);
    expect(dropped).toBe(0);
  });

  it("burst 32, every send short until the loop is optimized: the first full send deoptimizes nothing", async () => {
    const { out, rx, tx, dropped } = await run(32, true);
    expect(loopOptimized(out), out.slice(-2000)).toBe(true);
    expect(loopDeopts(out)).toEqual([]);
    expect(dropped).toBeGreaterThan(290000);
    expect(tx + dropped).toBe(rx);
  });
});
