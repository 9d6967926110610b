import { describe, expect, it } from "vitest";
import { workerReport } from "@tpdk/testing/child";
import { Memory } from "@tpdk/eal";
import { createRingForTest } from "@tpdk/testing/ring";
import type { RingOptions } from "./layout.js";
import type { StressJob, StressResult } from "./stress-worker.js";

// Workers run compiled code: build first (pnpm build).
const WORKER = new URL("../dist/stress-worker.js", import.meta.url);

interface Case {
  label: string;
  opts: RingOptions;
  producers: number;
  consumers: number;
  perProducer: number;
  count: number;
  start: number;
}

const CASES: Case[] = [
  { label: "2x2 MP/MC, 1024 slots", opts: {}, producers: 2, consumers: 2, perProducer: 150_000, count: 1024, start: 0 },
  { label: "2x2 MP/MC, 64 slots, indices wrap 2^32", opts: {}, producers: 2, consumers: 2, perProducer: 100_000, count: 64, start: 0xffff0000 },
  { label: "1x1 SP/SC, 256 slots, indices wrap 2^32", opts: { sp: true, sc: true }, producers: 1, consumers: 1, perProducer: 300_000, count: 256, start: 0xfffe0000 },
  { label: "1x2 SP/MC, 128 slots", opts: { sp: true }, producers: 1, consumers: 2, perProducer: 200_000, count: 128, start: 0x7fff0000 },
];

/** Resolves with the worker's report; a hung worker is terminated and reported, never waited on forever. */
function runWorker(job: StressJob, hangMs: number): Promise<StressResult> {
  return workerReport(WORKER, job, hangMs, (): StressResult => ({ role: job.role, id: job.id, count: 0, sum: 0, fails: 0, error: `hung for ${hangMs} ms` }));
}

describe("Ring multi-thread stress", () => {
  it.each(CASES)("$label: every value dequeued exactly once", { timeout: 180_000 }, async (c) => {
    const total = c.producers * c.perProducer;
    const mem = Memory.create(8 << 20);
    const ring = createRingForTest(mem, "stress", c.count, c.opts, c.start);
    const seen = mem.reserve("seen", total);
    const words = mem.reserve("words", 64);
    const base = {
      sab: mem.sab,
      ringOffset: ring.offset,
      producers: c.producers,
      perProducer: c.perProducer,
      maxBurst: 32,
      seenOffset: seen.offset,
      consumedWord: words.offset >>> 2,
      idleWord: (words.offset >>> 2) + 1,
      // Progress, not time: a worker fails when nothing has moved for 10 s (a lost wake-up, a
      // livelock), however slowly a loaded machine lets the values through.
      stallMs: 10_000,
    };
    const jobs: Promise<StressResult>[] = [];
    // The hang guard only catches a worker that never answers (blocked in a wait for good).
    for (let i = 0; i < c.consumers; i++) jobs.push(runWorker({ ...base, role: "consumer", id: i }, 170_000));
    for (let i = 0; i < c.producers; i++) jobs.push(runWorker({ ...base, role: "producer", id: i }, 170_000));
    const results = await Promise.all(jobs);

    expect(results.filter((r) => r.error).map((r) => `${r.role} ${r.id}: ${r.error}`)).toEqual([]);
    const prod = results.filter((r) => r.role === "producer");
    const cons = results.filter((r) => r.role === "consumer");
    const expectedSum = (total * (total - 1)) / 2;
    expect(prod.reduce((a, r) => a + r.count, 0)).toBe(total);
    expect(cons.reduce((a, r) => a + r.count, 0)).toBe(total);
    expect(prod.reduce((a, r) => a + r.sum, 0)).toBe(expectedSum);
    expect(cons.reduce((a, r) => a + r.sum, 0)).toBe(expectedSum);
    let bad = 0;
    for (let v = 0; v < total; v++) if (mem.u8[seen.offset + v] !== 1) bad++;
    expect(bad).toBe(0);
    expect(ring.empty()).toBe(true);
    if (c.consumers > 1) for (const r of cons) expect(r.count).toBeGreaterThan(0);
  });
});
