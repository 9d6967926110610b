import { describe, expect, it } from "vitest";
import { writeHeader, writeHeaders } from "./rx-frame.js";

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

describe("writeHeaders", () => {
  it("with frameWord also stores the frame's first word (its line requested with the header's), nothing else", () => {
    const buf = new ArrayBuffer(512);
    const u8 = new Uint8Array(buf);
    const u32 = new Uint32Array(buf);
    const addrs = Uint32Array.of(116, 372);
    for (const frameWord of [false, true]) {
      u8.fill(0xaa);
      writeHeaders(u8, u32, addrs, 2, 12, frameWord);
      for (const a of addrs) {
        expect([...u8.slice(a, a + 12)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        expect([...u8.slice(a + 12, a + 16)]).toEqual(frameWord ? [0, 0, 0, 0] : [0xaa, 0xaa, 0xaa, 0xaa]);
        expect(u8[a - 1]).toBe(0xaa);
        expect(u8[a + 16]).toBe(0xaa);
      }
    }
  });

  it("leaves a frame that does not start 4-aligned alone (a header at 2 mod 4)", () => {
    const buf = new ArrayBuffer(256);
    const u8 = new Uint8Array(buf);
    const u32 = new Uint32Array(buf);
    u8.fill(0xaa);
    writeHeaders(u8, u32, Uint32Array.of(118), 1, 12, true);
    expect([...u8.slice(130, 134)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
  });
});
