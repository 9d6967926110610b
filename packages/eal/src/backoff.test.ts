import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";
import { pingPong } from "@tpdk/testing/eal";

describe("Backoff", () => {
  it("spins spinPasses times, then sleeps; reset() goes back to spinning", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    const b = new Backoff(i32, 3, false, { spinPasses: 4, minWaitMs: 0.01, maxWaitMs: 0.05 });
    for (let k = 0; k < 4; k++) b.idle();
    expect(b.sleeps).toBe(0);
    b.idle();
    b.idle();
    expect(b.sleeps).toBe(2);
    b.reset();
    for (let k = 0; k < 4; k++) b.idle();
    expect(b.sleeps).toBe(2);
    b.idle();
    expect(b.sleeps).toBe(3);
  });

  it("busy-poll mode never sleeps", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    const b = new Backoff(i32, 0, true, { spinPasses: 1 });
    for (let k = 0; k < 10_000; k++) b.idle();
    expect(b.sleeps).toBe(0);
    expect(b.busyPoll).toBe(true);
  });

  it("a wake that lands before the sleep is not lost", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    // A 5 s first sleep would show up as sleeps=1 (and a slow test) if the wake were missed.
    const b = new Backoff(i32, 5, false, { spinPasses: 2, minWaitMs: 5000 });
    b.idle();
    b.idle();
    Backoff.wake(i32, 5); // peer publishes work between our poll and our sleep
    const t0 = Date.now();
    b.idle();
    expect(b.sleeps).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(i32[5]).toBe(1);
    expect(b.wakeIndex).toBe(5);
  });

  it("rejects a wake word outside the array", () => {
    expect(() => new Backoff(new Int32Array(new SharedArrayBuffer(8)), 2)).toThrow(RangeError);
  });
});

describe("Backoff on one CPU (two threads ping-pong through a shared word)", () => {
  // Both threads pinned to CPU 0 (when taskset exists): each must yield the CPU
  // for the other to move. Bounded by a deadline inside the workers; the
  // figures are printed, not asserted.
  it("10k round trips complete with wakes", async () => {
    const r = await pingPong({ rounds: 10_000, cpus: [0, 0], maxMs: 50_000 });
    console.log(`pingpong ${r.mode}: ${r.rounds} rounds in ${r.ms.toFixed(0)} ms (${((r.ms * 1000) / r.rounds).toFixed(1)} µs/round), sleeps ${r.sleeps.join("+")}, cpus ${r.affinity}`);
    expect(r.timedOut).toBe(false);
    expect(r.rounds).toBe(10_000);
    expect(r.sleeps[0] + r.sleeps[1]).toBeGreaterThan(0);
  });

  it("10k round trips complete on timeouts alone (no wakes)", async () => {
    const r = await pingPong({ rounds: 10_000, cpus: [0, 0], wake: false, maxMs: 50_000 });
    console.log(`pingpong ${r.mode}: ${r.rounds} rounds in ${r.ms.toFixed(0)} ms (${((r.ms * 1000) / r.rounds).toFixed(1)} µs/round), sleeps ${r.sleeps.join("+")}, cpus ${r.affinity}`);
    expect(r.timedOut).toBe(false);
    expect(r.rounds).toBe(10_000);
  });
});

describe("Backoff idle count", () => {
  it("counts each idle() past the spin passes in its idle word (busy-poll too); reset() starts the spins again", () => {
    for (const busy of [false, true]) {
      const i32 = new Int32Array(new SharedArrayBuffer(64));
      const b = new Backoff(i32, 0, busy, { spinPasses: 3, minWaitMs: 0.01, maxWaitMs: 0.01, idleIndex: 1 });
      for (let k = 0; k < 3; k++) b.idle();
      expect(Atomics.load(i32, 1)).toBe(0);
      b.idle();
      b.idle();
      expect(Atomics.load(i32, 1)).toBe(2);
      b.reset();
      for (let k = 0; k < 3; k++) b.idle();
      expect(Atomics.load(i32, 1)).toBe(2);
      b.idle();
      expect(Atomics.load(i32, 1)).toBe(3);
    }
  });
});
