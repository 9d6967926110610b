import { describe, expect, it } from "vitest";
import { HDR_NUM_BUFFERS, writeOneBufferHeader } from "./net-frame.js";

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
