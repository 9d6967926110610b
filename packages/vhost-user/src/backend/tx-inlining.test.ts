import { native, nativeMissingReason } from "@tpdk/native";
import { compilesMissingInlines, tracePhases } from "@tpdk/testing/child";
import { describe, expect, it } from "vitest";

/**
 * net_vhost's txBurst into a front-end played by the script in a memfd (@tpdk/testing/vhost-user's
 * memfdFrontend, data-path.test.ts's set-up, in a child; MRG_RXBUF as DPDK's virtio-user offers it):
 * the front-end keeps its RX ring (0) full of 2 KiB writable buffers, reposting each one used. First
 * the flushes of the first milliseconds of traffic: one frame a call, now and then two to four (so
 * the takeSimple run, which needs two, runs in one call of eight), then bursts of 32.
 */
const script = `
import { Mbufs } from "@tpdk/mbuf";
import { native as n } from "@tpdk/native";
import { BUF, GPA, Q, memfdFrontend } from "@tpdk/testing/vhost-user";
const t = memfdFrontend(n, 2 ** 15, "nvhost-txinl");
const { tx, pool } = t;
const mb = new Mbufs(t.mem);
let next = 0;
// Buffer i (its descriptor i) on the front-end's RX ring, device-writable (VRING_DESC_F_WRITE).
const repost = (k) => {
  for (let j = 0; j < k; j++) {
    t.post(0, next, GPA + BUF(next), 2048, 2);
    next = (next + 1) % Q;
  }
};
repost(Q);
const pkts = new Uint32Array(32);
let offered = 0, sent = 0;
const flush = (k) => {
  for (let j = 0; j < k; j++) {
    const m = pool.alloc();
    mb.append(m, 60);
    pkts[j] = m;
  }
  const s = tx.txBurst(pkts, k);
  for (let j = s; j < k; j++) mb.free(pkts[j]);
  offered += k;
  sent += s;
  repost(s);
};
for (let i = 0; i < 20000; i++) flush(i % 8 === 0 ? 2 + (i % 3) : 1);
for (let i = 0; i < 4000; i++) flush(32);
// 17,500 single frames, 2,500 flushes of two to four (7,499 frames), 128,000 in bursts: every one sent.
if (sent !== offered || offered !== 152999 || pool.inUse() !== 0) throw new Error("sent " + sent + " of " + offered + ", mbufs out " + pool.inUse());
t.close();
console.log("=== done");
`;

/**
 * V8 weighs a call site by its calls per call of the function it compiles, from the feedback of the
 * calls so far, and inlines at most 920 bytes of bytecode into one function. txBurst is compiled in
 * traffic's first milliseconds, when the takeSimple run's per-frame call (writeOneBuffer, and in it
 * writeOneBufferHeader, copy and Mbufs' accessors) had run a fraction of a time per call: the
 * once-per-burst callees took the budget, and the per-frame ones stayed calls, or not, run by run
 * (bench/notes/net-vhost.md "Session 37: net_vhost used runs stored unless equal; the inlining
 * variant placed": writeOneBuffer inlined into txBurst in 2 of 12 runs). writeRun, called once per
 * run of frames, weighs them per frame: they are inlined into it whatever the first flushes held.
 *
 * Mbufs.free is not checked: by the time writeRun is compiled free has optimized code of its own,
 * and V8 counts a candidate's bytecode with what that code inlined (88 + 737-778 bytes: prefree,
 * pool, the mempool's put), more than the budget leaves; it stays a call per frame (in the run's
 * loop as it was in txBurst's), inlined only in a run where free was not optimized yet.
 *
 * --no-concurrent-recompilation: the compile threads' trace lines interleave with the main thread's
 * (a "[marking ..." line inside an "Inlining ... into ..." line hid dataAddr in 1 of 3 concurrent
 * runs here); synchronous compiles keep the trace whole and read the same kind of feedback (the
 * first compiles still land in the flushes of one frame).
 */
describe.skipIf(!native)(`net_vhost txBurst: the per-frame write fits V8's inlining budget${native ? "" : ` (skipped: ${nativeMissingReason})`}`, () => {
  it("writeOneBuffer, its header stores, copy and the mbuf accessors are inlined where the run's frames are written, after a start with one-frame flushes", async () => {
    const { before } = await tracePhases(script, ["--trace-turbo-inlining", "--trace-opt", "--no-concurrent-recompilation"], "done", 110_000);
    // The function whose loop writes the run (writeRun; txBurst itself before it had one): every
    // TurboFan compile of it, the first included, inlines the per-frame callees. Before writeRun,
    // txBurst's one compile here (the one-frame flushes) inlined none of writeOneBuffer, its header
    // stores or copy.
    const r = compilesMissingInlines(before, "writeRun", "txBurst", ["writeOneBuffer", "writeOneBufferHeader", "copy", "dataLen", "dataAddr"]);
    expect(r.compiles, `${r.holder} compiled by TurboFan`).toBeGreaterThan(0);
    expect(r.missing).toEqual([]);
  }, 120_000);
});
