import { native, nativeMissingReason } from "@tpdk/native";
import { compilesMissingInlines, tracePhases } from "@tpdk/testing/child";
import { describe, expect, it } from "vitest";

/**
 * net_vhost's rxBurst against a front-end played by the script in a memfd (data-path.test.ts's
 * set-up, @tpdk/testing/vhost-user's memfdFrontend, in a child): first a front-end that sends a
 * frame now and then (most polls find nothing, as in the first milliseconds of traffic, when
 * TurboFan compiles rxBurst), then bursts of 32.
 */
const script = `
import { Mbufs } from "@tpdk/mbuf";
import { native as n } from "@tpdk/native";
import { BUF, GPA, Q, memfdFrontend } from "@tpdk/testing/vhost-user";
const t = memfdFrontend(n, 0, "nvhost-inl");
const { rx, pool } = t;
const mb = new Mbufs(t.mem);
for (let i = 0; i < Q; i++) for (let b = 0; b < 60; b++) t.g8[BUF(i) + 12 + b] = (i + b) & 0xff;
let next = 0;
// A 60-byte frame after its 12-byte header in buffer i, on the front-end's TX ring (1).
const post = () => {
  t.post(1, next, GPA + BUF(next), 72, 0);
  next = (next + 1) % Q;
};
const out = new Uint32Array(32);
let got = 0;
const poll = () => { const k = rx.rxBurst(out, 32); for (let j = 0; j < k; j++) mb.free(out[j]); got += k; };
for (let i = 0; i < 20000; i++) { if (i % 16 === 0) post(); poll(); }
for (let i = 0; i < 4000; i++) { for (let j = 0; j < 32; j++) post(); poll(); }
if (got !== 1250 + 4000 * 32 || pool.inUse() !== 0) throw new Error("frames " + got + ", mbufs out " + pool.inUse());
t.close();
console.log("=== done");
`;

/**
 * V8 weighs a call site by its calls per call of the function it compiles, from the feedback of the
 * calls so far, and inlines at most 920 bytes of bytecode into one function. rxBurst is compiled in
 * traffic's first milliseconds, when its per-frame call sites had run a fraction of a time per call:
 * the once-per-burst callees took the budget, and RX's `copy` and Mbufs' accessors stayed calls, or
 * not, run by run (10-50 ns a frame; bench/notes/net-vhost.md "Session 37: net_vhost used runs
 * stored unless equal; the inlining variant placed"). copyRun, called once per run of frames, weighs
 * them per frame: they are inlined into it whatever the first polls found.
 */
describe.skipIf(!native)(`net_vhost rxBurst: the per-frame copy fits V8's inlining budget${native ? "" : ` (skipped: ${nativeMissingReason})`}`, () => {
  it("copy and the mbuf fields (initSegment) are inlined where the run's frames are copied, after a start with sparse frames", async () => {
    // Compiles on the main thread (--no-concurrent-recompilation), as tx-inlining.test's: a compile thread's
    // trace lines can land inside an "Inlining ... into ..." line and hide a name (helper-123, session 38).
    const { before } = await tracePhases(script, ["--trace-turbo-inlining", "--trace-opt", "--no-concurrent-recompilation"], "done", 110_000);
    // The function whose loop copies the run (copyRun; rxBurst itself before it had one): every TurboFan
    // compile of it, the first included, inlines the per-frame callees. Before copyRun, rxBurst's first
    // compile here (the sparse start) inlined none of them; a later recompile did.
    const r = compilesMissingInlines(before, "copyRun", "rxBurst", ["copy", "initSegment"]);
    expect(r.compiles, `${r.holder} compiled by TurboFan`).toBeGreaterThan(0);
    expect(r.missing).toEqual([]);
  }, 120_000);
});
