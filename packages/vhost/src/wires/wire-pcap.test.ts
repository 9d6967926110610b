import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { PROBE_BOUND, ownedTempDir, runOwned } from "@tpdk/testing/owned";
import { Memory } from "@tpdk/eal";
import { buildUdpFrame } from "./frame.js";
import { readPcap } from "./pcap-file.js";
import { UNPACED_DUE } from "./wire-gen.js";
import { WIRE_STATS_BYTES, createWire, parseWireSpec, readWireStats } from "./wires.js";
// @ts-expect-error: a plain .mjs script, no types
import { fixtureFrame } from "../../../../test/fixtures/wires/make-fixtures.mjs";
import { readyAt, consumeAt } from "./at-time.js";

/** A device whose every write fails with ENOSPC (Linux); without it the disk-full tests are skipped. */
const HAS_DEV_FULL = fs.existsSync("/dev/full");

const FIXTURE = fileURLToPath(new URL("../../../../test/fixtures/wires/be-ns.pcap", import.meta.url));
const tmp = ownedTempDir("wire-pcap");
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A probe of the tool (bounded: a tshark that hangs counts as missing, SIGKILLed at 10 s).
const hasTshark = spawnSync("tshark", ["-v"], { ...PROBE_BOUND, stdio: "ignore" }).status === 0;
if (!hasTshark) console.log("wire-pcap.test: tshark is not on PATH, skipping the tshark check (CI installs it via .ci/run)");

function setup(keys: Record<string, string>) {
  const spec = parseWireSpec("virtio0", new Map(Object.entries({ wire: "pcap", ...keys })));
  // What the device thread receives: a structured clone.
  const cloned = structuredClone(spec);
  const mem = Memory.create(1 << 20);
  const stats = mem.reserve("stats", WIRE_STATS_BYTES);
  const buf = mem.reserve("buf", 16384);
  const wire = createWire(cloned, mem, stats.offset, 0);
  const take = (): number[] => {
    const len = wire.frameLength();
    mem.u8.fill(0xee, buf.offset, buf.offset + 200);
    wire.produce(mem.u8, buf.offset + 1);
    return [...mem.u8.slice(buf.offset + 1, buf.offset + 1 + len)];
  };
  const send = (f: Uint8Array, now = 0): void => {
    mem.u8.set(f, buf.offset + 8192);
    consumeAt(wire, mem.u8, buf.offset + 8192, f.length, now);
  };
  return { wire, take, send, stats: () => readWireStats(mem, stats.offset) };
}

const expected = [0, 1, 2].map((k) => [...(fixtureFrame(k) as Uint8Array)]);

describe("wire=pcap rx_pcap", () => {
  it("offers the capture's frames once, in order, then is exhausted", () => {
    const { wire, take, stats } = setup({ rx_pcap: FIXTURE });
    expect(wire.exhausted()).toBe(false);
    expect(readyAt(wire, 0)).toBe(3);
    expect(wire.frameLength()).toBe(60);
    expect(take()).toEqual(expected[0]);
    expect(readyAt(wire, 0)).toBe(2);
    expect(take()).toEqual(expected[1]);
    expect(wire.frameLength()).toBe(96); // the captured bytes (the frame was cut at snaplen)
    expect(take()).toEqual(expected[2]);
    expect(readyAt(wire, 1)).toBe(0);
    expect(wire.exhausted()).toBe(true);
    expect(stats()).toMatchObject({ kind: "pcap", generated: 3, generatedBytes: 60 + 64 + 96, missed: 0, exhausted: true });
  });

  it("counts dropped frames as missed, and they still use up the capture", () => {
    const { wire, take, stats } = setup({ rx_pcap: FIXTURE });
    readyAt(wire, 0);
    wire.drop();
    expect(take()).toEqual(expected[1]);
    wire.drop();
    expect(wire.exhausted()).toBe(true);
    expect(stats()).toMatchObject({ generated: 3, missed: 2, generatedBytes: 220 });
  });

  it("replays forever with infinite_rx=1", () => {
    const { wire, take, stats } = setup({ rx_pcap: FIXTURE, infinite_rx: "1" });
    for (let k = 0; k < 100; k++) {
      expect(readyAt(wire, k)).toBe(UNPACED_DUE);
      if (k % 7 === 3) wire.drop();
      else expect(take()).toEqual(expected[k % 3]);
    }
    expect(wire.exhausted()).toBe(false);
    expect(stats()).toMatchObject({ generated: 100, exhausted: false });
  });

  it("with only tx_pcap offers nothing and is exhausted", () => {
    const { wire, stats } = setup({ tx_pcap: path.join(tmp, "only-tx.pcap") });
    expect(readyAt(wire, 0)).toBe(0);
    expect(wire.exhausted()).toBe(true);
    expect(stats().exhausted).toBe(true);
  });
});

describe("wire=pcap tx_pcap", () => {
  it("writes transmitted frames that readPcap and tshark read back unchanged", () => {
    const file = path.join(tmp, "tx.pcap");
    const { wire, send, stats } = setup({ tx_pcap: file, check: "1" });
    const frames = [60, 64, 128, 1514, 9014, 61].map((length, seq) => buildUdpFrame({ length, seq }));
    for (let r = 0; r < 200; r++) frames.forEach((f, i) => send(f, 1000 + r + i / 10));
    wire.flush();
    send(frames[0]!, 2000);
    wire.close();
    const s = stats();
    expect(s).toMatchObject({ received: 1201, writeErrors: 0, badChecksum: 0 });
    const c = readPcap(file);
    expect(c.records.length).toBe(1201);
    for (let r = 0; r < 1200; r++) expect([...c.records[r]!.data]).toEqual([...frames[r % 6]!]);
    const t0 = c.records[0]!;
    expect(Math.abs(t0.tsSec * 1e3 + t0.tsNsec / 1e6 - (performance.timeOrigin + 1000))).toBeLessThan(0.002);
  });

  it.skipIf(!hasTshark)("output is read by tshark without complaint", async () => {
    const file = path.join(tmp, "tshark.pcap");
    const { wire, send } = setup({ tx_pcap: file });
    const lengths = [60, 64, 1000, 1514, 9014];
    for (const length of lengths) send(buildUdpFrame({ length }));
    wire.close();
    // tshark runs owned and bounded (20 s each: it reads five frames).
    const r = await runOwned("tshark", ["-r", file, "-T", "fields", "-e", "frame.len"], { timeoutMs: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stderr.replace(/.*Running as user "root".*\n?/g, "").trim()).toBe("");
    expect(r.stdout.trim().split("\n").map(Number)).toEqual(lengths);
    // tshark also decodes our frames as IPv4/UDP with good checksums.
    const udp = await runOwned("tshark", ["-r", file, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
      "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "udp.checksum.status", "-e", "ip.checksum.status"], { timeoutMs: 20_000 });
    expect(udp.status).toBe(0);
    for (const line of udp.stdout.trim().split("\n")) expect(line.split("\t")).toEqual(["198.18.0.1", "198.18.0.2", "1", "1"]); // 1 = good
  });

  it.skipIf(!HAS_DEV_FULL)("counts write errors (disk full) in the stats instead of throwing" + (HAS_DEV_FULL ? "" : " (skipped: no /dev/full on this system)"), () => {
    const { wire, send, stats } = setup({ tx_pcap: "/dev/full" });
    const f = buildUdpFrame({ length: 1514 });
    for (let k = 0; k < 1000; k++) send(f); // ~1.5 MB: the 1 MiB buffer fills once
    expect(stats().writeErrors).toBeGreaterThan(0);
    expect(stats().lastWriteError).toBe("ENOSPC");
    wire.close();
    expect(stats()).toMatchObject({ writeErrors: 1000, received: 1000, lastWriteError: "ENOSPC" });
  });

  it("does rx and tx at once, into different files", () => {
    const file = path.join(tmp, "both.pcap");
    const { wire, take, send } = setup({ rx_pcap: FIXTURE, tx_pcap: file });
    readyAt(wire, 0);
    for (let k = 0; k < 3; k++) send(Uint8Array.from(take()));
    wire.close();
    expect(readPcap(file).records.map((r) => [...r.data])).toEqual(expected);
  });
});
