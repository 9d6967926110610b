import { describe, expect, it } from "vitest";
import {
  addrPayload, decodeAddr, decodeHeader, decodeMemTable, decodeState, decodeU64, encode, memTablePayload, statePayload, u64Payload,
} from "./message.js";
import { FLAG_NEED_REPLY, GET_FEATURES, HEADER_BYTES, MAX_REGIONS, REGION_BYTES } from "./protocol.js";

describe("vhost-user messages", () => {
  it("encodes the 12-byte header little-endian with version 1", () => {
    const m = encode(GET_FEATURES, FLAG_NEED_REPLY, u64Payload(0x1_0000_0001));
    expect(m.length).toBe(HEADER_BYTES + 8);
    expect([...m.subarray(0, 12)]).toEqual([1, 0, 0, 0, 0x09, 0, 0, 0, 8, 0, 0, 0]);
    expect([...m.subarray(12)]).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
    expect(decodeHeader(m.subarray(0, 12))).toEqual({ request: GET_FEATURES, flags: 0x9, size: 8 });
  });

  it("rejects a header of another version", () => {
    const m = encode(GET_FEATURES, 0);
    m[4] = 2;
    expect(decodeHeader(m.subarray(0, 12))).toBeNull();
  });

  it("round-trips state, address and memory table payloads (desc, used, avail order)", () => {
    expect(decodeState(statePayload({ index: 3, num: 4096 }))).toEqual({ index: 3, num: 4096 });
    const a = { index: 1, flags: 0, desc: 0x1000_0000_4000, used: 0x1000_0000_8000, avail: 0x1000_0000_6000, log: 0 };
    const p = addrPayload(a);
    expect(new DataView(p.buffer).getUint32(16, true)).toBe(0x8000); // used comes before avail
    expect(decodeAddr(p)).toEqual(a);
    const regions = [
      { guestPhysAddr: 0, memorySize: 0xc0000, userspaceAddr: 0x7f00_0000_0000, mmapOffset: 0 },
      { guestPhysAddr: 0x100000, memorySize: 0x0ff00000, userspaceAddr: 0x7f00_0010_0000, mmapOffset: 0xc0000 },
    ];
    const t = memTablePayload(regions);
    expect(t.length).toBe(8 + 2 * REGION_BYTES);
    expect(decodeMemTable(t)).toEqual(regions);
  });

  it("refuses payloads of the wrong size, too many regions, and u64s past 2^53", () => {
    expect(decodeU64(new Uint8Array(7))).toBeNull();
    expect(decodeState(new Uint8Array(9))).toBeNull();
    expect(decodeAddr(new Uint8Array(39))).toBeNull();
    const big = u64Payload(0);
    big[7] = 0xff;
    expect(decodeU64(big)).toBeNull();
    const t = new Uint8Array(8 + (MAX_REGIONS + 1) * REGION_BYTES);
    new DataView(t.buffer).setUint32(0, MAX_REGIONS + 1, true);
    expect(decodeMemTable(t)).toBeNull();
    const short = new Uint8Array(8 + REGION_BYTES);
    new DataView(short.buffer).setUint32(0, 2, true);
    expect(decodeMemTable(short)).toBeNull();
  });
});
