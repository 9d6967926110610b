import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { KickForwarder } from "./kick-forwarder.js";
import { until } from "@tpdk/testing/until";

const DOORBELL = 3;
const NOTIFY = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The data path's kick (virtio-pmd queue-base.ts kick()): notify word, then doorbell add + notify. */
function kick(i32: Int32Array): void {
  Atomics.add(i32, NOTIFY, 1);
  Atomics.add(i32, DOORBELL, 1);
  Atomics.notify(i32, DOORBELL);
}

/** A forwarder whose `forward` counts the notify word's moves, as the transport's forwardKicks does. */
function rig() {
  const i32 = new Int32Array(new SharedArrayBuffer(64));
  const seen = { forwards: 0, kicks: 0, last: 0 };
  const f = new KickForwarder(i32, DOORBELL, () => {
    seen.forwards++;
    const w = Atomics.load(i32, NOTIFY);
    if (w !== seen.last) {
      seen.last = w;
      seen.kicks++;
    }
  });
  return { i32, seen, f };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

describe("KickForwarder", () => {
  it("forwards a kick published by another thread, woken by its doorbell notify (no timer)", async () => {
    const { i32, seen, f } = rig();
    f.start();
    stops.push(() => f.stop());
    // Idle: nothing wakes the main thread (a 1 ms timer would have looked ~50 times).
    await sleep(50);
    expect(f.wakeCount).toBe(0);
    expect(seen.kicks).toBe(0);
    const w = new Worker(
      `const { workerData } = require("node:worker_threads");
       const i32 = new Int32Array(workerData);
       Atomics.add(i32, ${NOTIFY}, 1); Atomics.add(i32, ${DOORBELL}, 1); Atomics.notify(i32, ${DOORBELL});`,
      { eval: true, workerData: i32.buffer },
    );
    await new Promise((r) => w.once("exit", r));
    await until(() => seen.kicks === 1, 5000, "the first kick forwarded");
    expect(seen.kicks).toBe(1);
    expect(f.wakeCount).toBeGreaterThanOrEqual(1);
    // And again: the wait was re-armed after the wake.
    kick(i32);
    await until(() => seen.kicks === 2, 5000, "the second kick forwarded");
    expect(seen.kicks).toBe(2);
  });

  it("a kick that lands while forwarding is forwarded too (the doorbell read before the notify words)", async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    let forwards = 0;
    let moved = 0;
    let last = 0;
    const f = new KickForwarder(i32, DOORBELL, () => {
      forwards++;
      const w = Atomics.load(i32, NOTIFY);
      if (w !== last) {
        last = w;
        moved++;
      }
      // The first forward after start races a kick: published after the doorbell was read.
      if (forwards === 1) kick(i32);
    });
    f.start();
    stops.push(() => f.stop());
    // The wait saw the doorbell moved ("not-equal") and forwarded again at once, before any event-loop turn.
    expect(forwards).toBe(2);
    expect(moved).toBe(1);
  });

  it("a driver that kicks without pause does not hold the main thread: the event loop still turns", async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    let forwards = 0;
    const f = new KickForwarder(i32, DOORBELL, () => {
      forwards++;
      kick(i32); // every forward finds the doorbell moved again
    });
    f.start();
    stops.push(() => f.stop());
    let turned = false;
    setTimeout(() => (turned = true), 0);
    await until(() => turned, 2000, "a turn of the event loop (a 0 ms timer)");
    expect(forwards).toBeGreaterThan(1);
    f.stop();
    const after = forwards;
    await sleep(20);
    expect(forwards).toBe(after);
  });

  it("stop: no forward after it, even for a kick that comes later; start again forwards once per kick", async () => {
    const { i32, seen, f } = rig();
    f.start();
    f.stop();
    expect(f.active).toBe(false);
    const before = seen.forwards;
    kick(i32);
    await sleep(20);
    expect(seen.forwards).toBe(before);
    expect(seen.kicks).toBe(0);
    // Restarted: the kick made while stopped is forwarded at start, new kicks by wakes; the old wait stays inert.
    f.start();
    stops.push(() => f.stop());
    expect(seen.kicks).toBe(1);
    const forwards = seen.forwards;
    kick(i32);
    await until(() => seen.kicks === 2, 5000, "the kick after the restart forwarded");
    await sleep(20);
    expect(seen.kicks).toBe(2);
    // One wake, one forward (a second, stale waiter would have forwarded twice).
    expect(seen.forwards - forwards).toBe(1);
    f.stop();
    f.stop(); // idempotent
  });
});
