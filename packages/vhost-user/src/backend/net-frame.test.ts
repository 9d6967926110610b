import { describe, expect, it } from "vitest";
import { copy, HDR_NUM_BUFFERS, writeOneBufferHeader } from "./net-frame.js";

/** A view that counts the stores made through it (by word index), reads passed through. */
function counting(u32: Uint32Array): { view: Uint32Array; stores: number[] } {
  const stores: number[] = [];
  const view = new Proxy(u32, {
    set(t, k, v) {
      stores.push(Number(k));
      t[Number(k)] = v as number;
      return true;
    },
  });
  return { view, stores };
}

describe("net_vhost's one-buffer header (writeOneBufferHeader)", () => {
  it("writes no offloads and num_buffers 1 over whatever the buffer held", () => {
    const u32 = new Uint32Array(8).fill(0xffffffff);
    writeOneBufferHeader(u32, 2);
    const u8 = new Uint8Array(u32.buffer);
    expect([...u8.subarray(8, 20)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(u8[8 + HDR_NUM_BUFFERS]).toBe(1);
    expect([u32[1], u32[5]]).toEqual([0xffffffff, 0xffffffff]);
  });

  it("stores only the words that differ (DPDK's ASSIGN_UNLESS_EQUAL): a header already in place is only read", () => {
    const u32 = new Uint32Array(8);
    const c = counting(u32);
    writeOneBufferHeader(c.view, 2);
    // Zeros: only num_buffers' word differs.
    expect(c.stores).toEqual([4]);
    c.stores.length = 0;
    writeOneBufferHeader(c.view, 2);
    expect(c.stores).toEqual([]);
    u32[3] = 0x00010000; // gso_size or csum_start left by someone
    writeOneBufferHeader(c.view, 2);
    expect(c.stores).toEqual([3]);
    expect([u32[2], u32[3], u32[4]]).toEqual([0, 0, 1 << 16]);
  });
});

describe("net_vhost's frame copy (copy)", () => {
  it("copies exactly len bytes at every length 0-80 and every alignment of either side, nothing outside", () => {
    const src = new Uint8Array(256);
    for (let b = 0; b < src.length; b++) src[b] = (b * 7 + 3) & 0xff;
    const src32 = new Uint32Array(src.buffer);
    const dst = new Uint8Array(256);
    const dst32 = new Uint32Array(dst.buffer);
    for (let len = 0; len <= 80; len++) {
      for (let s = 64; s < 68; s++) {
        for (let d = 16; d < 20; d++) {
          dst.fill(0xee);
          copy(dst, dst32, d, src, src32, s, len);
          for (let b = 0; b < dst.length; b++) {
            const want = b >= d && b < d + len ? src[s + b - d] : 0xee;
            if (dst[b] !== want) expect({ len, s, d, b, got: dst[b] }).toEqual({ len, s, d, b, got: want });
          }
        }
      }
    }
    for (let b = 0; b < src.length; b++) expect(src[b]).toBe((b * 7 + 3) & 0xff);
  });

  it("stores each destination word once when both sides are 4-aligned alike (four words a step, then the 0-3 left)", () => {
    const src = new Uint8Array(256);
    for (let b = 0; b < src.length; b++) src[b] = b;
    for (let words = 0; words <= 20; words++) {
      const dst32 = new Uint32Array(64);
      const c = counting(dst32);
      // No byte stores either: the byte views are never written in the word path.
      const dst8 = new Proxy(new Uint8Array(dst32.buffer), { set: () => { throw new Error("byte store"); } });
      copy(dst8, c.view, 32, src, new Uint32Array(src.buffer), 128, words * 4);
      expect(c.stores.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: words }, (_, k) => 8 + k));
      expect([...new Uint8Array(dst32.buffer, 32, words * 4)]).toEqual([...src.subarray(128, 128 + words * 4)]);
    }
  });
});
