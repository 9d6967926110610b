import { afterAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ownedTempDir } from "@tpdk/testing/owned";
import { buildUdpFrame } from "./frame.js";
import { PcapWriter, packFrames, parsePcap, readPcap } from "./pcap-file.js";
// @ts-expect-error: a plain .mjs script, no types
import { LENGTHS, ORIG, fixtureFrame } from "../../../../test/fixtures/wires/make-fixtures.mjs";

/** A device whose every write fails with ENOSPC (Linux); without it the disk-full tests are skipped. */
const HAS_DEV_FULL = fs.existsSync("/dev/full");

const FIXTURES = fileURLToPath(new URL("../../../../test/fixtures/wires", import.meta.url));
const tmp = ownedTempDir("pcap");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect((e as { code?: string }).code).toBe("EUSAGE");
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

/** A little-endian µs file header, optionally altered, then raw record bytes. */
function fileWith(opts: { magic?: number; major?: number; snaplen?: number; network?: number }, ...records: number[][]): Uint8Array {
  const h = new DataView(new ArrayBuffer(24));
  h.setUint32(0, opts.magic ?? 0xa1b2c3d4, true);
  h.setUint16(4, opts.major ?? 2, true);
  h.setUint16(6, 4, true);
  h.setUint32(16, opts.snaplen ?? 65535, true);
  h.setUint32(20, opts.network ?? 1, true);
  return Uint8Array.from([...new Uint8Array(h.buffer), ...records.flat()]);
}

function record(incl: number, orig = incl, usec = 0, dataLen = incl): number[] {
  const r = new DataView(new ArrayBuffer(16));
  r.setUint32(0, 1, true);
  r.setUint32(4, usec, true);
  r.setUint32(8, incl, true);
  r.setUint32(12, orig, true);
  return [...new Uint8Array(r.buffer), ...new Array<number>(dataLen).fill(0xab)];
}

describe("readPcap fixtures", () => {
  for (const name of ["le-us", "be-us", "le-ns", "be-ns"]) {
    it(`reads ${name}.pcap: frames, lengths, snaplen cut and timestamps`, () => {
      const c = readPcap(path.join(FIXTURES, `${name}.pcap`));
      expect(c.byteOrder).toBe(name.slice(0, 2));
      expect(c.resolution).toBe(name.slice(3));
      expect(c.linkType).toBe(1);
      expect(c.snaplen).toBe(96);
      expect(c.records.length).toBe(3);
      c.records.forEach((r, k) => {
        expect([...r.data]).toEqual([...(fixtureFrame(k) as Uint8Array)]);
        expect(r.data.length).toBe(LENGTHS[k]);
        expect(r.origLen).toBe(ORIG[k]);
        expect(r.tsSec).toBe(1700000000 + Math.floor(k * 1.5));
        expect(r.tsNsec).toBe((123456 + (k % 2) * 500000) * 1000);
      });
    });
  }
});

describe("PcapWriter", () => {
  it("round-trips frames of many sizes through readPcap, with µs timestamps", () => {
    const file = path.join(tmp, "rt.pcap");
    const w = new PcapWriter(file, { bufferBytes: 4096 }); // small buffer: many flushes
    const frames: Uint8Array[] = [];
    const times: number[] = [];
    for (let k = 0; k < 300; k++) {
      const f = buildUdpFrame({ length: 60 + ((k * 37) % 1455), seq: k });
      frames.push(f);
      times.push(1_700_000_000_000 + k * 1.234567);
      // Write from inside a bigger buffer at an odd offset, as from EAL memory.
      const host = new Uint8Array(f.length + 11);
      host.set(f, 5);
      w.write(host, 5, f.length, times[k]!);
    }
    w.close();
    expect(w.errors).toBe(0);
    expect(w.written).toBe(300);
    const c = readPcap(file);
    expect(c).toMatchObject({ byteOrder: "le", resolution: "us", linkType: 1, snaplen: 65535 });
    expect(c.records.map((r) => [...r.data])).toEqual(frames.map((f) => [...f]));
    c.records.forEach((r, k) => {
      expect(r.origLen).toBe(frames[k]!.length);
      expect(r.tsNsec % 1000).toBe(0); // written in µs
      expect(Math.abs(r.tsSec * 1e6 + r.tsNsec / 1000 - times[k]! * 1000)).toBeLessThanOrEqual(1);
    });
  });

  it("writes a valid empty capture and cuts frames at snaplen", () => {
    const empty = path.join(tmp, "empty.pcap");
    new PcapWriter(empty).close();
    expect(fs.statSync(empty).size).toBe(24);
    expect(readPcap(empty).records).toEqual([]);
    const cut = path.join(tmp, "cut.pcap");
    const w = new PcapWriter(cut, { snaplen: 100 });
    w.writeFrame(buildUdpFrame({ length: 300 }), 5000);
    w.close();
    const r = readPcap(cut).records[0]!;
    expect(r.data.length).toBe(100);
    expect(r.origLen).toBe(300);
  });

  it.skipIf(!HAS_DEV_FULL)("counts a failed write (disk full) instead of throwing" + (HAS_DEV_FULL ? "" : " (skipped: no /dev/full on this system)"), () => {
    const w = new PcapWriter("/dev/full", { bufferBytes: 4096 });
    const f = buildUdpFrame({ length: 1000 });
    for (let k = 0; k < 10; k++) w.writeFrame(f, 1);
    w.flush();
    w.close();
    expect(w.errors).toBe(10);
    expect(w.written).toBe(0);
    expect((w.lastError as { code?: string }).code).toBe("ENOSPC");
  });

  it("reports a path it cannot open with a UsageError naming it", () => {
    const p = path.join(tmp, "no-such-dir", "x.pcap");
    expect(usageMessage(() => new PcapWriter(p))).toBe(`${p} cannot be written: no such file or directory`);
  });
});

describe("readPcap errors name the file and the problem", () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["short", Uint8Array.from([0xd4, 0xc3, 0xb2]), /is truncated: 3 bytes, shorter than the 24-byte pcap file header$/],
    ["notpcap", Uint8Array.from(new Array(40).fill(0x41)), /is not a pcap file \(magic 0x41414141\)$/],
    ["pcapng", fileWith({ magic: 0x0a0d0d0a }), /is a pcapng file; only classic pcap is read \(convert with: editcap -F pcap IN OUT\)$/],
    ["version", fileWith({ major: 3 }), /has pcap version 3\.4; only 2\.x is read$/],
    ["linktype", fileWith({ network: 113 }), /has link type 113; only Ethernet \(LINKTYPE_ETHERNET = 1\) is supported$/],
    ["fcs", fileWith({ network: 1 | (1 << 26) | (4 << 28) }), /frames carry a 4-byte FCS/],
    ["cuthdr", fileWith({}, record(60).slice(0, 10)), /is truncated: record 1 header at byte 24 is cut short \(file ends at 34\)$/],
    ["cutdata", fileWith({}, record(60), record(100, 100, 0, 50)), /is truncated: record 2 at byte 100 needs 100 bytes but 50 remain$/],
    ["snaplen", fileWith({ snaplen: 64 }, record(65)), /record 1 at byte 24 claims 65 captured bytes, more than the snaplen 64$/],
    ["tiny", fileWith({}, record(10)), /record 1 at byte 24 has 10 bytes, less than an Ethernet header$/],
    ["orig", fileWith({}, record(60, 59)), /record 1 at byte 24 has original length 59 < captured 60$/],
    ["usec", fileWith({}, record(60, 60, 1_000_000)), /record 1 at byte 24 has microseconds 1000000 out of range$/],
  ];
  for (const [name, bytes, re] of cases) {
    it(name, () => {
      const file = path.join(tmp, `${name}.pcap`);
      fs.writeFileSync(file, bytes);
      const msg = usageMessage(() => readPcap(file));
      expect(msg.startsWith(`${file} `)).toBe(true);
      expect(msg).toMatch(re);
    });
  }

  it("missing file and directory", () => {
    const missing = path.join(tmp, "missing.pcap");
    expect(usageMessage(() => readPcap(missing))).toBe(`${missing} cannot be read: no such file or directory`);
    expect(usageMessage(() => readPcap(tmp))).toBe(`${tmp} is a directory, not a pcap file`);
  });

  it("parsePcap takes a name for messages", () => {
    expect(usageMessage(() => parsePcap(new Uint8Array(4), "capture.pcap"))).toMatch(/^capture\.pcap is truncated/);
  });
});

describe("packFrames", () => {
  it("concatenates frames with n+1 offsets", () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = Uint8Array.of(4);
    const p = packFrames([a, b, new Uint8Array(0)]);
    expect([...p.bytes]).toEqual([1, 2, 3, 4]);
    expect([...p.offsets]).toEqual([0, 3, 4, 4]);
  });
});
