import { afterAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ownedTempDir } from "@tpdk/testing/owned";
import { UsageError, assertNoUnknownKeys, parseDevargs } from "@tpdk/eal";
import { describeWireSpec, parseWireSpec } from "./wires.js";
import { wireSpec as spec } from "@tpdk/testing/vhost";

const FIXTURE = fileURLToPath(new URL("../../../../test/fixtures/wires/le-us.pcap", import.meta.url));
const tmp = ownedTempDir("wire-spec");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function error(devargs: string): string {
  try {
    spec(devargs);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error(`no error for ${devargs}`);
}

describe("parseWireSpec: wire and defaults", () => {
  it("gives a sink without wire=", () => {
    expect(spec("virtio0")).toEqual({ kind: "sink", check: false, latency: false });
  });

  it("rejects an unknown wire", () => {
    expect(error("virtio3,wire=tap")).toBe("virtio3: wire=tap is not a wire; use wire=gen, wire=sink, wire=pcap, wire=loop or wire=udp");
  });

  it("gen defaults: 64-byte frames (60 without FCS), unlimited, unpaced, one flow, broadcast", () => {
    expect(spec("virtio0,wire=gen")).toEqual({
      kind: "gen", check: false, latency: false, frameLengths: [60], count: null, rate: null, flows: 1, srcMac: null,
      dstMac: [255, 255, 255, 255, 255, 255], timestamp: false, seed: null,
    });
  });

  it("consumes its keys and leaves the rest for the caller's unknown-key report", () => {
    const d = parseDevargs("virtio0,wire=gen,size=128,foo=1,check=1");
    parseWireSpec(d.name, d.args);
    expect([...d.args.keys()]).toEqual(["foo"]);
    expect(() => assertNoUnknownKeys(d.args)).toThrow(/^virtio0: unknown key 'foo'; known keys: .*\bsize\b.*\btx_pcap\b/);
  });

  it("rejects keys of another wire kind with the fix", () => {
    expect(error("virtio1,wire=sink,size=64")).toBe(
      "virtio1: size= applies to wire=gen only, and this device has wire=sink; remove size= or use wire=gen",
    );
    expect(error("virtio1,rx_pcap=x.pcap")).toBe(
      "virtio1: rx_pcap= applies to wire=pcap only, and this device has wire=sink; remove rx_pcap= or use wire=pcap",
    );
    expect(error("virtio1,wire=pcap,tx_pcap=/tmp/x.pcap,rate=5")).toMatch(/rate= applies to wire=gen only/);
  });

  it("check= and latency= apply to every wire", () => {
    expect(spec("virtio0,check=1,latency=1")).toEqual({ kind: "sink", check: true, latency: true });
    expect(spec("virtio0,wire=gen,latency=1")).toMatchObject({ kind: "gen", latency: true });
    expect(error("virtio0,check=yes")).toBe("virtio0: check=yes must be 0 or 1");
    expect(error("virtio0,latency=2")).toBe("virtio0: latency=2 must be 0 or 1");
  });
});

describe("parseWireSpec: gen keys", () => {
  it("size: one size or a ':' list, counted with the FCS", () => {
    expect(spec("virtio0,wire=gen,size=64:512:1518")).toMatchObject({ frameLengths: [60, 508, 1514] });
    expect(spec("virtio0,wire=gen,size=9018")).toMatchObject({ frameLengths: [9014] });
    const hint = "use 64..9018 (Ethernet frame size including the 4-byte FCS) or a list such as size=64:512:1518";
    expect(error("virtio0,wire=gen,size=abc")).toBe(`virtio0: size=abc is not a frame size; ${hint}`);
    expect(error("virtio0,wire=gen,size=60")).toBe(`virtio0: size=60: 60 is out of range; ${hint}`);
    expect(error("virtio0,wire=gen,size=64:9019")).toBe(`virtio0: size=64:9019: 9019 is out of range; ${hint}`);
    expect(error("virtio0,wire=gen,size=64::128")).toBe(`virtio0: size=64::128 is not a frame size; ${hint}`);
    expect(error("virtio0,wire=gen,size=1e3")).toMatch(/is not a frame size/);
    expect(error(`virtio0,wire=gen,size=${new Array(65).fill(64).join(":")}`)).toMatch(/has 65 sizes; at most 64$/);
  });

  it("count: a whole number >= 1, k/M/G suffixes", () => {
    expect(spec("virtio0,wire=gen,count=1000")).toMatchObject({ count: 1000 });
    expect(spec("virtio0,wire=gen,count=10M")).toMatchObject({ count: 10_000_000 });
    expect(spec("virtio0,wire=gen,count=1.5k")).toMatchObject({ count: 1500 });
    const msg = "virtio0: count=0 is not a frame count; use a whole number >= 1 such as count=1000 or count=10M, or leave it out for unlimited";
    expect(error("virtio0,wire=gen,count=0")).toBe(msg);
    for (const bad of ["-1", "abc", "1.0001k", "0x10", "1.5"]) expect(error(`virtio0,wire=gen,count=${bad}`)).toMatch(/is not a frame count/);
  });

  it("rate: packets per second, up to 100M", () => {
    expect(spec("virtio0,wire=gen,rate=1000")).toMatchObject({ rate: 1000 });
    expect(spec("virtio0,wire=gen,rate=2.5M")).toMatchObject({ rate: 2_500_000 });
    expect(spec("virtio0,wire=gen,rate=0.5")).toMatchObject({ rate: 0.5 });
    expect(spec("virtio0,wire=gen,rate=100M")).toMatchObject({ rate: 100e6 });
    expect(error("virtio0,wire=gen,rate=0")).toBe(
      "virtio0: rate=0 is not a packet rate; use packets per second up to 100M, e.g. rate=1000 or rate=2.5M, or leave it out for unpaced",
    );
    for (const bad of ["101M", "fast", "-5", "1e6"]) expect(error(`virtio0,wire=gen,rate=${bad}`)).toMatch(/is not a packet rate/);
  });

  it("flows: 1..65536", () => {
    expect(spec("virtio0,wire=gen,flows=65536")).toMatchObject({ flows: 65536 });
    expect(spec("virtio0,wire=gen,flows=1")).toMatchObject({ flows: 1 });
    expect(error("virtio0,wire=gen,flows=0")).toBe("virtio0: flows=0 is not a flow count; use 1..65536 (UDP source ports 9, 10, ...)");
    for (const bad of ["65537", "many", "2.5"]) expect(error(`virtio0,wire=gen,flows=${bad}`)).toMatch(/is not a flow count/);
  });

  it("src_mac / dst_mac: six hex bytes; the source must be unicast", () => {
    expect(spec("virtio0,wire=gen,src_mac=02:AA:00:00:00:01,dst_mac=01-00-5e-00-00-01")).toMatchObject({
      srcMac: [2, 0xaa, 0, 0, 0, 1], dstMac: [1, 0, 0x5e, 0, 0, 1],
    });
    expect(error("virtio0,wire=gen,dst_mac=02:00:00:00:01")).toBe(
      "virtio0: dst_mac=02:00:00:00:01 is not a MAC address; use six hex bytes such as dst_mac=02:00:00:00:01:00",
    );
    expect(error("virtio0,wire=gen,src_mac=zz:00:00:00:00:01")).toMatch(/src_mac=zz:00:00:00:00:01 is not a MAC address/);
    expect(error("virtio0,wire=gen,src_mac=ff:ff:ff:ff:ff:ff")).toBe(
      "virtio0: src_mac=ff:ff:ff:ff:ff:ff is a multicast address; a source MAC must be unicast (even first byte), e.g. 02:00:00:00:01:00",
    );
  });

  it("timestamp: 0 or 1; seed: 0..2^32-1", () => {
    expect(spec("virtio0,wire=gen,timestamp=1,seed=4294967295")).toMatchObject({ timestamp: true, seed: 4294967295 });
    expect(spec("virtio0,wire=gen,timestamp=0,seed=0")).toMatchObject({ timestamp: false, seed: 0 });
    expect(error("virtio0,wire=gen,timestamp=on")).toBe("virtio0: timestamp=on must be 0 or 1");
    expect(error("virtio0,wire=gen,seed=4294967296")).toBe("virtio0: seed=4294967296 is not a seed; use a whole number 0..4294967295");
    expect(error("virtio0,wire=gen,seed=-1")).toMatch(/is not a seed/);
  });
});

describe("parseWireSpec: pcap keys and files", () => {
  it("reads rx_pcap on the main thread and carries the frames in a cloneable spec", () => {
    const s = spec(`virtio0,wire=pcap,rx_pcap=${FIXTURE},infinite_rx=1`);
    if (s.kind !== "pcap" || !s.rx) throw new Error("expected a pcap spec with rx");
    expect(s.rx.path).toBe(FIXTURE);
    expect(s.rx.infinite).toBe(true);
    expect([...s.rx.offsets]).toEqual([0, 60, 124, 220]);
    expect(s.tx).toBeNull();
    const c = structuredClone(s);
    expect(c).toEqual(s);
    expect(describeWireSpec(s)).toBe(`pcap rx_pcap=${FIXTURE} (3 frames, forever)`);
  });

  it("opens tx_pcap for writing before anything starts", () => {
    const out = path.join(tmp, "out.pcap");
    const s = spec(`virtio0,wire=pcap,tx_pcap=${out}`);
    expect(s).toMatchObject({ kind: "pcap", rx: null, tx: { path: out } });
    expect(fs.existsSync(out)).toBe(true);
  });

  it("needs at least one file, and rx_pcap for infinite_rx", () => {
    expect(error("virtio2,wire=pcap")).toBe(
      "virtio2: wire=pcap needs rx_pcap=FILE (frames to receive), tx_pcap=FILE (where transmitted frames go) or both",
    );
    expect(error(`virtio2,wire=pcap,tx_pcap=${path.join(tmp, "a.pcap")},infinite_rx=1`)).toBe(
      "virtio2: infinite_rx=1 needs rx_pcap=FILE to replay",
    );
    expect(error(`virtio2,wire=pcap,rx_pcap=${FIXTURE},infinite_rx=2`)).toBe("virtio2: infinite_rx=2 must be 0 or 1");
  });

  it("names the vdev, key and file for a missing, truncated or malformed rx_pcap", () => {
    const missing = path.join(tmp, "missing.pcap");
    expect(error(`virtio0,wire=pcap,rx_pcap=${missing}`)).toBe(
      `virtio0: rx_pcap=${missing} cannot be read: no such file or directory; give the path of a classic pcap file`,
    );
    const cut = path.join(tmp, "cut.pcap");
    fs.writeFileSync(cut, fs.readFileSync(FIXTURE).subarray(0, 120));
    expect(error(`virtio0,wire=pcap,rx_pcap=${cut}`)).toBe(
      `virtio0: rx_pcap=${cut} is truncated: record 2 at byte 100 needs 64 bytes but 4 remain; the capture was cut short (still being written?), use a complete one`,
    );
    const linux = path.join(tmp, "sll.pcap");
    const b = Uint8Array.from(fs.readFileSync(FIXTURE));
    b[20] = 113; // LINKTYPE_LINUX_SLL
    fs.writeFileSync(linux, b);
    expect(error(`virtio0,wire=pcap,rx_pcap=${linux}`)).toBe(
      `virtio0: rx_pcap=${linux} has link type 113; only Ethernet (LINKTYPE_ETHERNET = 1) is supported`,
    );
    const empty = path.join(tmp, "empty.pcap");
    fs.writeFileSync(empty, fs.readFileSync(FIXTURE).subarray(0, 24));
    expect(error(`virtio0,wire=pcap,rx_pcap=${empty}`)).toBe(`virtio0: rx_pcap=${empty} holds no frames; capture some first`);
    expect(error(`virtio0,wire=pcap,rx_pcap=${tmp}`)).toBe(
      `virtio0: rx_pcap=${tmp} is a directory, not a pcap file; give the path of a classic pcap file`,
    );
  });

  it("names the file for a tx_pcap that cannot be written", () => {
    const p = path.join(tmp, "nodir", "x.pcap");
    expect(error(`virtio0,wire=pcap,tx_pcap=${p}`)).toBe(
      `virtio0: tx_pcap=${p} cannot be written: no such file or directory; choose a writable file path`,
    );
    expect(error(`virtio0,wire=pcap,tx_pcap=${tmp}`)).toBe(
      `virtio0: tx_pcap=${tmp} cannot be written: is a directory; choose a writable file path`,
    );
  });

  it("refuses to write over its own input", () => {
    const copy = path.join(tmp, "in.pcap");
    fs.copyFileSync(FIXTURE, copy);
    const alias = path.join(tmp, ".", "in.pcap");
    expect(error(`virtio0,wire=pcap,rx_pcap=${copy},tx_pcap=${alias}`)).toBe(
      `virtio0: rx_pcap and tx_pcap both name ${alias}; writing would destroy the input, give tx_pcap another file`,
    );
    fs.symlinkSync(copy, path.join(tmp, "link.pcap"));
    expect(error(`virtio0,wire=pcap,rx_pcap=${copy},tx_pcap=${path.join(tmp, "link.pcap")}`)).toMatch(/both name/);
    expect(fs.statSync(copy).size).toBe(fs.statSync(FIXTURE).size); // untouched
  });
});

describe("describeWireSpec", () => {
  it("prints the keys as given", () => {
    expect(describeWireSpec(spec("virtio0,wire=gen,size=64:1518,count=5,rate=1k,flows=4,timestamp=1,seed=7,check=1"))).toBe(
      "gen size=64:1518 count=5 rate=1000 flows=4 timestamp=1 seed=7 check=1",
    );
    expect(describeWireSpec(spec("virtio0,latency=1"))).toBe("sink latency=1");
  });
});
