import type { Mbufs } from "@tpdk/mbuf";
import { describe, expect, it } from "vitest";
import { FREE_BATCH, FreeBatcher } from "./frame-steps.js";

/** An Mbufs stand-in that records each bulk free (the handles copied at the call: the batcher reuses its arrays). */
function recorder(): { mbufs: Mbufs; calls: string[] } {
  const calls: string[] = [];
  const mbufs = {
    freeBulk(src: Uint32Array, n: number, off = 0) {
      calls.push(`free ${Array.from(src.subarray(off, off + n)).join(",")}`);
    },
    fastFreeBulk(pool: number, src: Uint32Array, n: number, off = 0) {
      calls.push(`fast${pool} ${Array.from(src.subarray(off, off + n)).join(",")}`);
    },
  } as unknown as Mbufs;
  return { mbufs, calls };
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
    b.flush(); // nothing held: no call
    expect(calls.length).toBe(3);
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
