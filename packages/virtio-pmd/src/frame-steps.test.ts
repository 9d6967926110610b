import type { Mbufs } from "@tpdk/mbuf";
import { describe, expect, it } from "vitest";
import { FREE_BATCH, FREE_PRIMES, FreeBatcher, castQuad, sizeBinOf, sizeRun, sizeRun4, sizeRunEnd, touchDescLines } from "./frame-steps.js";
import { S_SIZE_BINS } from "./layout.js";

/**
 * An Mbufs stand-in that records each bulk free (the handles copied at the call: the batcher reuses its
 * arrays). A call with a count of 0 (a primed flush's empty batch) frees nothing: counted apart, in `empty`.
 */
function recorder(): { mbufs: Mbufs; calls: string[]; empty: string[] } {
  const calls: string[] = [];
  const empty: string[] = [];
  const mbufs = {
    freeBulk(src: Uint32Array, n: number, off = 0) {
      if (n === 0) empty.push("free");
      else calls.push(`free ${Array.from(src.subarray(off, off + n)).join(",")}`);
    },
    fastFreeBulk(pool: number, src: Uint32Array, n: number, off = 0) {
      if (n === 0) empty.push(`fast${pool}`);
      else calls.push(`fast${pool} ${Array.from(src.subarray(off, off + n)).join(",")}`);
    },
  } as unknown as Mbufs;
  return { mbufs, calls, empty };
}

describe("FreeBatcher (IN_ORDER TX reclaim's free batching)", () => {
  it("returns fast mbufs per pool run and the rest through freeBulk, each batch at most FREE_BATCH, all at flush", () => {
    const { mbufs, calls } = recorder();
    const b = new FreeBatcher(mbufs);
    b.add(100, 3);
    b.add(101, 3);
    b.add(200, 0);
    b.add(102, 5); // another pool: pool 3's run goes back first
    b.add(201, 0);
    expect(calls).toEqual(["fast3 100,101"]);
    b.flush();
    expect(calls).toEqual(["fast3 100,101", "free 200,201", "fast5 102"]);
    b.flush(); // nothing held: nothing freed
    expect(calls.length).toBe(3);
  });

  it("runs both frees at each of its first FREE_PRIMES flushes (a count of 0 for an empty batch), then only for what it holds", () => {
    const { mbufs, calls, empty } = recorder();
    const b = new FreeBatcher(mbufs);
    b.add(100, 3);
    b.flush();
    // The slow batch empty: freeBulk with 0 (its call has type feedback before the reclaim is optimized).
    expect([calls, empty]).toEqual([["fast3 100"], ["free"]]);
    for (let i = 1; i < FREE_PRIMES; i++) b.flush();
    // Nothing held: both calls with 0 (the fast one names the last pool) while primed.
    expect(empty.length).toBe(1 + 2 * (FREE_PRIMES - 1));
    expect(empty.slice(-2)).toEqual(["free", "fast3"]);
    b.flush();
    b.add(200, 0);
    b.flush();
    expect(calls).toEqual(["fast3 100", "free 200"]);
    expect(empty.length).toBe(1 + 2 * (FREE_PRIMES - 1));
  });

  it("sends a full batch as soon as it fills, and starts the next batch empty", () => {
    const { mbufs, calls } = recorder();
    const b = new FreeBatcher(mbufs);
    for (let i = 1; i <= FREE_BATCH + 2; i++) {
      b.add(1000 + i, 0);
      b.add(2000 + i, 7);
    }
    const range = (base: number, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => base + from + k).join(",");
    expect(calls).toEqual([`free ${range(1000, 1, FREE_BATCH)}`, `fast7 ${range(2000, 1, FREE_BATCH)}`]);
    b.flush();
    expect(calls.slice(2)).toEqual([`free ${range(1000, FREE_BATCH + 1, FREE_BATCH + 2)}`, `fast7 ${range(2000, FREE_BATCH + 1, FREE_BATCH + 2)}`]);
  });
});

describe("sizeRun, sizeRun4, sizeRunEnd (size bins summed per burst)", () => {
  const st = 8;
  const bins = (f64: Float64Array): number[] => Array.from(f64.subarray(st + S_SIZE_BINS, st + S_SIZE_BINS + 8));
  /** The counts frame by frame (countFrame's bin step), for comparison. */
  const direct = (lens: number[]): number[] => {
    const out = [0, 0, 0, 0, 0, 0, 0, 0];
    for (const l of lens) out[sizeBinOf(l)]! += 1;
    return out;
  };
  it("counts the first bin in the accumulator and every other bin at once, the same totals as frame by frame", () => {
    const lens = [64, 64, 1514, 64, 300, 300, 300, 300, 64, 64, 64, 64, 60, 300, 64, 2000];
    const f64 = new Float64Array(st + S_SIZE_BINS + 16);
    let acc = 0;
    let i = 0;
    // Four at a time where four remain, as the split loops do, then frame by frame.
    for (; i + 4 <= 12; i += 4) acc = sizeRun4(f64, st, acc, lens[i]!, lens[i + 1]!, lens[i + 2]!, lens[i + 3]!);
    for (; i < lens.length; i++) acc = sizeRun(f64, st, acc, sizeBinOf(lens[i]!), 1);
    // The first one-size quad (300s) started the run: its later 300 is in the run too, every other
    // frame (the mixed quad, the 64s' quad, the single frames) went into the counters at once.
    expect(bins(f64)[sizeBinOf(300)]).toBe(0);
    expect(bins(f64)[sizeBinOf(64)]).toBe(8);
    expect(acc).not.toBe(0);
    sizeRunEnd(f64, st, acc);
    expect(bins(f64)).toEqual(direct(lens));
    expect(f64.reduce((a, b) => a + b, 0)).toBe(lens.length);
  });
  it("starts its run at any bin (bin 0 too) and adds nothing for an empty run", () => {
    for (const l of [10, 64, 100, 1514, 9000]) {
      const f64 = new Float64Array(st + S_SIZE_BINS + 16);
      let acc = sizeRun4(f64, st, 0, l, l, l, l);
      acc = sizeRun(f64, st, acc, sizeBinOf(l), 1);
      expect(f64.every((v) => v === 0)).toBe(true);
      sizeRunEnd(f64, st, acc);
      expect(bins(f64)).toEqual(direct([l, l, l, l, l]));
    }
    const f64 = new Float64Array(st + S_SIZE_BINS + 16);
    sizeRunEnd(f64, st, 0);
    expect(f64.every((v) => v === 0)).toBe(true);
  });
});

describe("castQuad", () => {
  it("counts broadcast and multicast among four frames as bcast * 8 + mcast", () => {
    const u8 = new Uint8Array(64);
    const addr = (a: number, bytes: number[]): void => u8.set(bytes, a);
    addr(0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // broadcast
    addr(8, [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]); // multicast
    addr(16, [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]); // unicast
    addr(24, [0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]); // group bit, not all ones: multicast
    expect(castQuad(u8, 0, 8, 16, 24)).toBe(1 * 8 + 2);
    expect(castQuad(u8, 0, 0, 0, 0)).toBe(4 * 8);
    expect(castQuad(u8, 16, 16, 16, 16)).toBe(0);
    expect(castQuad(u8, 8, 24, 8, 24)).toBe(4);
    expect(castQuad(u8, 16, 16, 16, 0)).toBe(8);
  });
});

describe("touchDescLines", () => {
  /** The descriptors whose high address word it stored into (a table at byte 64 filled with 0xff first). */
  function touched(first: number, n: number, size: number): number[] {
    const u32 = new Uint32Array(16 + 4 * size).fill(0xffffffff);
    touchDescLines(u32, 64, first, n, size);
    const out: number[] = [];
    for (let d = 0; d < size; d++) {
      const w = (64 + 16 * d) >>> 2;
      if (u32[w + 1] === 0) out.push(d);
      // Nothing else in the descriptor is written.
      expect([u32[w], u32[w + 2], u32[w + 3]]).toEqual([0xffffffff, 0xffffffff, 0xffffffff]);
    }
    return out;
  }

  it("one store per 64-byte line, at the range's first descriptor in each line", () => {
    expect(touched(0, 16, 16)).toEqual([0, 4, 8, 12]);
    expect(touched(1, 3, 16)).toEqual([1]);
    expect(touched(1, 4, 16)).toEqual([1, 4]);
    expect(touched(6, 7, 16)).toEqual([6, 8, 12]);
    expect(touched(0, 0, 16)).toEqual([]);
  });

  it("wraps at the table's end, also when the table ends mid-line (a packed ring of any size)", () => {
    expect(touched(14, 6, 16)).toEqual([0, 14]);
    expect(touched(4, 5, 6)).toEqual([0, 4]);
    expect(touched(5, 2, 6)).toEqual([0, 5]);
  });
});
