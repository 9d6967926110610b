import { describe, expect, it } from "vitest";
import { writeHeader } from "./rx-frame.js";

describe("writeHeader", () => {
  it.each([
    [12, 0],
    [12, 1],
    [12, 2],
    [10, 0],
    [10, 3],
  ])("writes a %i-byte header at offset %i mod 4: zeros, num_buffers little-endian, nothing around it", (hdr, mis) => {
    const buf = new ArrayBuffer(64);
    const u8 = new Uint8Array(buf);
    const u32 = new Uint32Array(buf);
    u8.fill(0xaa);
    const a = 16 + mis;
    writeHeader(u8, u32, a, hdr, 0x0203);
    const want = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...(hdr === 12 ? [0x03, 0x02] : [])];
    expect([...u8.slice(a, a + hdr)]).toEqual(want);
    expect(u8[a - 1]).toBe(0xaa);
    expect(u8[a + hdr]).toBe(0xaa);
  });
});
