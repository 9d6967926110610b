import { describe, expect, it, vi } from "vitest";
import { frame, rig, toMbuf, type Rig } from "@tpdk/testing/virtio-pmd";
import { TxQueue } from "./txq.js";

// Split ring, IN_ORDER push batch meeting a full ring (the same contract as packed.test.ts "IN_ORDER
// TX, ring full"): one reclaim per burst, at its top; the general loop, which push frames never run,
// is not entered (entered first long after txBurst was optimized, it deoptimized it: bench/notes/gc.md,
// "Session 11: GC (what still allocated on the lcore: deopts mid-run)").

function xs(r: Rig, name: string): number {
  return r.port.xstats().find((s) => s.name === name)!.value;
}

describe("split TX, IN_ORDER push batch, ring full", () => {
  it("sends what fits after one reclaim, counts tx_q0_ring_full, ends the burst; once the device used them the next burst sends the rest", () => {
    const r = rig();
    const frames = (n: number, seed: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => toMbuf(r, frame(64, seed + i)));
    // 60 of 64 descriptors in flight, none used yet: 4 free, below the free threshold (64 / 4).
    const first = frames(60, 0);
    expect(r.txq.txBurst(first, 30)).toBe(30);
    expect(r.txq.txBurst(first, 30, 30)).toBe(30);
    const more = frames(8, 100);
    const reclaim = vi.spyOn(TxQueue.prototype as unknown as { reclaim(): void }, "reclaim");
    try {
      expect(r.txq.txBurst(more, 8)).toBe(4);
      expect(reclaim).toHaveBeenCalledTimes(1);
      expect(xs(r, "tx_q0_ring_full")).toBe(1);
      expect(xs(r, "tx_q0_push_packets")).toBe(64);
      // The device takes all 64: the next burst reclaims at the top and sends the other 4.
      r.dev.drainTx(r.txVq);
      reclaim.mockClear();
      expect(r.txq.txBurst(more, 4, 4)).toBe(4);
      expect(reclaim).toHaveBeenCalledTimes(1);
      expect(xs(r, "tx_q0_ring_full")).toBe(1);
      expect(xs(r, "tx_q0_push_packets")).toBe(68);
    } finally {
      reclaim.mockRestore();
    }
    r.dev.drainTx(r.txVq);
    r.port.stop(20);
    expect(r.pool.available()).toBe(r.pool.size);
  });
});
