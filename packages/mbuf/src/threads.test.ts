import { describe, expect, it } from "vitest";
import { workerReport } from "@tpdk/testing/child";
import { LCORE_ID_ANY, Memory } from "@tpdk/eal";
import { Ring } from "@tpdk/ring";
import { Mempool } from "./mempool.js";
import type { PoolJob, PoolReport } from "./pool-worker.js";

// Workers run compiled code: build first (pnpm build).
const WORKER = new URL("../dist/pool-worker.js", import.meta.url);

function runWorker(job: PoolJob, hangMs: number): Promise<PoolReport> {
  return workerReport(WORKER, job, hangMs, (): PoolReport => ({ id: job.id, allocated: 0, freed: 0, given: 0, received: 0, allocFailures: 0, error: `hung for ${hangMs} ms` }));
}

describe("Mempool across threads", () => {
  it.each([
    { label: "4 workers (lcores 0, 1, 2 and LCORE_ID_ANY), cache 64", lcores: [0, 1, 2, LCORE_ID_ANY], n: 4096, cacheSize: 64, rounds: 3000 },
    { label: "2 workers (lcores 5, 9), cache 256", lcores: [5, 9], n: 2048, cacheSize: 256, rounds: 4000 },
  ])("$label: no mbuf has two owners, counts return to full", async (c) => {
    const mem = Memory.create(32 << 20);
    const pool = Mempool.create(mem, "mt", { n: c.n, cacheSize: c.cacheSize, dataRoomSize: 256 });
    const rings = c.lcores.map((_, i) => Ring.create(mem, `in${i}`, 512, { sc: true }));
    const own = mem.reserve("own", 4 * c.n);
    const words = mem.reserve("words", 64);
    const reports = await Promise.all(
      c.lcores.map((lcore, id) =>
        runWorker(
          {
            sab: mem.sab,
            poolName: "mt",
            lcore,
            id,
            workers: c.lcores.length,
            rounds: c.rounds,
            ringOffsets: rings.map((r) => r.offset),
            ownOffset: own.offset,
            doneWord: words.offset >>> 2,
            idleWord: (words.offset >>> 2) + 1,
            timeoutMs: 30_000,
          },
          40_000,
        ),
      ),
    );
    expect(reports.filter((r) => r.error).map((r) => `worker ${r.id}: ${r.error}`)).toEqual([]);
    const sum = (f: (r: PoolReport) => number) => reports.reduce((a, r) => a + f(r), 0);
    expect(sum((r) => r.freed)).toBe(sum((r) => r.allocated));
    expect(sum((r) => r.received)).toBe(sum((r) => r.given));
    expect(sum((r) => r.given)).toBeGreaterThan(0);
    for (const r of reports) expect(r.allocated).toBeGreaterThan(c.rounds);
    // Every mbuf is back: in the ring or in some lcore's cache, owned by nobody.
    expect(pool.available()).toBe(c.n);
    expect(pool.inUse()).toBe(0);
    expect(new Int32Array(mem.sab, own.offset, c.n).every((o) => o === 0)).toBe(true);
    // The lcore caches were really in play (LCORE_ID_ANY has none).
    const cached = c.lcores.filter((l) => l !== LCORE_ID_ANY).reduce((a, l) => a + pool.cacheCount(l), 0);
    expect(cached).toBeGreaterThan(0);
    expect(pool.ringCount() + cached).toBe(c.n);
  });
});
