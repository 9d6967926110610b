import { describe, expect, it } from "vitest";
import { deoptsOf, optimized, tracePhases } from "@tpdk/testing/child";
import { BACKOFF_SPIN_PASSES, Backoff } from "./backoff.js";

/**
 * A poll loop's pass that inlines idle() and reset() (as l2fwdLoop does): 200,000 passes that never
 * idle more than 7 in a row (within the spin passes: a loaded lcore), so `pass` is optimized with
 * idle()'s path past the spins never run; then 100 idle passes in a row (the first longer idle
 * spell). Child process under --trace-opt --trace-deopt; PRIME says whether Backoff.prime() ran first.
 */
const script = (prime: boolean): string => `
const { Backoff } = await import("@tpdk/eal");
const i32 = new Int32Array(new SharedArrayBuffer(64));
const b = new Backoff(i32, 3, false, { idleIndex: 5 });
if (${prime}) b.prime();
function pass(idle) {
  if (idle) b.idle();
  else b.reset();
}
for (let i = 0; i < 200000; i++) pass((i & 7) !== 0);
console.log("=== idle spell");
for (let i = 0; i < 100; i++) pass(true);
console.log("=== done sleeps " + b.sleeps + " idles " + Atomics.load(i32, 5));
`;

const FLAGS = ["--trace-opt", "--trace-deopt"];
const passDeopts = (out: string): string[] => deoptsOf(out, /<JSFunction pass\b/);

describe("Backoff.prime", () => {
  it("without it, the first idle spell past the spin passes deoptimizes the loop that inlined idle()", async () => {
    const { before, after } = await tracePhases(script(false), FLAGS, "idle spell", 30_000);
    expect(optimized(before, "pass")).toBe(true);
    expect(passDeopts(after).length).toBeGreaterThan(0);
  });

  it("with it (the EAL's lcore threads), no deopt; sleeps as many as without", async () => {
    const { before, after } = await tracePhases(script(true), FLAGS, "idle spell", 30_000);
    expect(optimized(before, "pass")).toBe(true);
    expect(passDeopts(after)).toEqual([]);
    // The first phase ends on 7 idle passes (199,999 & 7 = 7): of the 100 the first BACKOFF_SPIN_PASSES - 7
    // spin, the rest sleep; prime()'s own sleeps are not counted.
    expect(after).toContain(`=== done sleeps ${100 - (BACKOFF_SPIN_PASSES - 7)} `);
  });

  it("leaves the backoff spinning and its sleep count as it was", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    const b = new Backoff(i32, 3, false, { spinPasses: 4, minWaitMs: 0.01, maxWaitMs: 0.05, idleIndex: 5 });
    b.prime();
    expect(b.sleeps).toBe(0);
    for (let k = 0; k < 4; k++) b.idle();
    expect(b.sleeps).toBe(0);
    b.idle();
    expect(b.sleeps).toBe(1);
  });
});
