import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  CSUM_BAD_IP, CSUM_BAD_UDP, CSUM_OK, L3_OFF, L4_OFF, MAX_FRAME_LEN, MIN_FRAME_LEN, PAYLOAD_MAGIC, PAYLOAD_OFF,
  PL_HEADER_LEN, PL_SEQ, PL_STREAM, PL_TIMESTAMP, buildUdpFrame, checksum, copyBytes, fold16, onesSum, readF64, readU16,
  readU32, tpdkPayloadOffset, verifyIpv4Udp, writeF64,
} from "./frame.js";
import { assertProperty } from "@tpdk/testing/property";

/** Independent reference: add 16-bit words one at a time with end-around carry (RFC 1071, section 4.1 style). */
function refSum(bytes: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i]! << 8) + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
    if (s > 0xffff) s = (s & 0xffff) + 1;
  }
  return s;
}

/** Reference check of a frame built by us: both checksums verify from scratch. */
function refValid(f: Uint8Array): { ip: boolean; udp: boolean } {
  const ip = refSum(f.slice(L3_OFF, L3_OFF + 20)) === 0xffff;
  const udpLen = (f[L4_OFF + 4]! << 8) | f[L4_OFF + 5]!;
  const pseudo = [...f.slice(L3_OFF + 12, L3_OFF + 20), 0, 17, udpLen >> 8, udpLen & 0xff];
  const udp = refSum([...pseudo, ...f.slice(L4_OFF, L4_OFF + udpLen)]) === 0xffff;
  return { ip, udp };
}

describe("checksum", () => {
  it("matches the RFC 1071 worked example", () => {
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(fold16(onesSum(b, 0, b.length))).toBe(0xddf2);
    expect(checksum(b, 0, b.length)).toBe(0x220d);
  });

  it("agrees with a word-at-a-time reference on random data, odd lengths and offsets", () => {
    // Bounded (@tpdk/testing/property): a case ~0.07 ms alone, ~1.1 ms with two CPU hogs at autogroup -10
    // (session 29); all 300 cases required (~25 ms of CPU alone).
    assertProperty(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(7), (bytes, skip) => {
        const off = Math.min(skip, bytes.length);
        const len = bytes.length - off;
        // Both give 0 only for all-zero data, else the value in 1..0xffff congruent mod 0xffff.
        expect(fold16(onesSum(bytes, off, len))).toBe(refSum(bytes.slice(off)));
      }),
      { numRuns: 300, seed: 2903, limitMs: 20_000, minCases: 300 },
    );
  }, 60_000);

  it("checksum of data plus its checksum verifies", () => {
    // Bounded (@tpdk/testing/property): a case ~0.04 ms alone, ~0.7 ms with two CPU hogs at autogroup -10
    // (session 29); all 200 cases required (~10 ms of CPU alone).
    assertProperty(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 200 }), (bytes) => {
        const b = Uint8Array.from(bytes.length % 2 ? [...bytes, 0] : bytes);
        b[0] = 0;
        b[1] = 0;
        const c = checksum(b, 0, b.length);
        b[0] = c >> 8;
        b[1] = c & 0xff;
        expect(refSum(b)).toBe(0xffff);
      }),
      { numRuns: 200, seed: 2904, limitMs: 20_000, minCases: 200 },
    );
  }, 60_000);
});

describe("buildUdpFrame", () => {
  const sizes = [60, 61, 62, 63, 64, 100, 511, 512, 1000, 1514, 4097, MAX_FRAME_LEN];
  const seqs = [0, 1, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

  it("writes valid IPv4 and UDP checksums for many sizes, sequence numbers, ports and timestamps", () => {
    for (const length of sizes) {
      for (const seq of seqs) {
        for (const timestamp of [0, 1_700_000_000_123.456, Math.PI]) {
          const f = buildUdpFrame({ length, seq, timestamp, stream: seq & 0xffff, srcPort: (seq * 7) & 0xffff });
          expect(f.length).toBe(length);
          expect(refValid(f)).toEqual({ ip: true, udp: true });
          expect(verifyIpv4Udp(f, 0, f.length)).toBe(CSUM_OK);
        }
      }
    }
  });

  it("lays out Ethernet, IPv4, UDP and the payload header as documented", () => {
    const f = buildUdpFrame({
      length: 128, dstMac: [1, 2, 3, 4, 5, 6], srcMac: [2, 0, 0, 0, 1, 7], stream: 0xbeef, seq: 0x01020304,
      timestamp: 1234.5, srcPort: 4000, dstPort: 5000,
    });
    expect([...f.slice(0, 12)]).toEqual([1, 2, 3, 4, 5, 6, 2, 0, 0, 0, 1, 7]);
    expect(readU16(f, 12)).toBe(0x0800);
    expect(f[14]).toBe(0x45);
    expect(readU16(f, 16)).toBe(128 - 14); // IPv4 total length
    expect(f[22]).toBe(64); // TTL
    expect(f[23]).toBe(17); // UDP
    expect([...f.slice(26, 34)]).toEqual([198, 18, 0, 1, 198, 18, 0, 2]);
    expect(readU16(f, 34)).toBe(4000);
    expect(readU16(f, 36)).toBe(5000);
    expect(readU16(f, 38)).toBe(128 - 34); // UDP length
    expect(PAYLOAD_OFF).toBe(42);
    expect(readU32(f, 42)).toBe(PAYLOAD_MAGIC);
    expect(String.fromCharCode(...f.slice(42, 46))).toBe("tpdk");
    expect(readU16(f, PAYLOAD_OFF + PL_STREAM)).toBe(0xbeef);
    expect(readU32(f, PAYLOAD_OFF + PL_SEQ)).toBe(0x01020304);
    expect(new DataView(f.buffer).getFloat64(PAYLOAD_OFF + PL_TIMESTAMP)).toBe(1234.5); // big-endian
    expect(readF64(f, PAYLOAD_OFF + PL_TIMESTAMP)).toBe(1234.5);
    for (let i = PAYLOAD_OFF + PL_HEADER_LEN; i < 128; i++) expect(f[i]).toBe(i & 0xff);
  });

  it("fits the payload header in the smallest frame and rejects sizes out of range", () => {
    expect(PAYLOAD_OFF + PL_HEADER_LEN).toBe(MIN_FRAME_LEN);
    expect(tpdkPayloadOffset(buildUdpFrame({ length: 60 }), 0, 60)).toBe(PAYLOAD_OFF);
    expect(() => buildUdpFrame({ length: 59 })).toThrow(RangeError);
    expect(() => buildUdpFrame({ length: MAX_FRAME_LEN + 1 })).toThrow(RangeError);
  });
});

describe("verifyIpv4Udp and tpdkPayloadOffset", () => {
  it("reports a flipped bit in the IP header or the payload", () => {
    const good = buildUdpFrame({ length: 200, seq: 5 });
    const ip = good.slice();
    ip[L3_OFF + 8]! ^= 1; // TTL
    expect(verifyIpv4Udp(ip, 0, ip.length)).toBe(CSUM_BAD_IP);
    const udp = good.slice();
    udp[150]! ^= 0x80;
    expect(verifyIpv4Udp(udp, 0, udp.length)).toBe(CSUM_BAD_UDP);
    const none = udp.slice();
    none[L4_OFF + 6] = 0;
    none[L4_OFF + 7] = 0; // "no checksum" is fine
    expect(verifyIpv4Udp(none, 0, none.length)).toBe(CSUM_OK);
  });

  it("works at an offset inside a larger buffer", () => {
    const f = buildUdpFrame({ length: 77, seq: 9 });
    const big = new Uint8Array(1000);
    big.set(f, 333);
    expect(verifyIpv4Udp(big, 333, 77)).toBe(CSUM_OK);
    expect(tpdkPayloadOffset(big, 333, 77)).toBe(PAYLOAD_OFF);
  });

  it("calls frames foreign when they are not IPv4/UDP with our magic", () => {
    const f = buildUdpFrame({ length: 64 });
    expect(tpdkPayloadOffset(f, 0, 59)).toBe(-1); // too short for the header
    const arp = f.slice();
    arp[13] = 0x06;
    expect(tpdkPayloadOffset(arp, 0, 64)).toBe(-1);
    const tcp = f.slice();
    tcp[L3_OFF + 9] = 6;
    expect(tpdkPayloadOffset(tcp, 0, 64)).toBe(-1);
    const other = f.slice();
    other[PAYLOAD_OFF]! ^= 1;
    expect(tpdkPayloadOffset(other, 0, 64)).toBe(-1);
  });
});

describe("byte helpers", () => {
  it("writeF64/readF64 round-trip big-endian", () => {
    const b = new Uint8Array(11);
    for (const v of [0, -0, 1.5, 1e300, performance.timeOrigin + performance.now(), NaN]) {
      writeF64(b, 3, v);
      expect(Object.is(readF64(b, 3), v)).toBe(true);
      expect(Object.is(new DataView(b.buffer).getFloat64(3, false), v)).toBe(true);
    }
  });

  it("copyBytes copies any length between unaligned offsets", () => {
    const src = Uint8Array.from({ length: 600 }, (_, i) => (i * 13) & 0xff);
    for (const len of [0, 1, 3, 4, 5, 63, 64, 65, 513]) {
      for (const [s, d] of [[0, 0], [1, 2], [3, 7], [17, 5]] as const) {
        const dst = new Uint8Array(700);
        copyBytes(new DataView(dst.buffer), d, new DataView(src.buffer), s, len);
        expect([...dst.slice(d, d + len)]).toEqual([...src.slice(s, s + len)]);
        expect(dst[d + len]).toBe(0);
        if (d > 0) expect(dst[d - 1]).toBe(0);
      }
    }
  });
});
